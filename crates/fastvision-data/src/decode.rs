//! Decoding any supported file to RGB8, with EXIF orientation and errors that name the file. Every format's
//! header is read first, and an image whose pixels would not fit the limits is refused before they are allocated.

use std::io::Read;
use std::path::Path;

use fastvision_core::limits::human_bytes;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use crate::files::file_kind;
use crate::{jpeg, Error, Result};

/// Limits that keep a hostile or broken file from exhausting memory, checked against its header before any pixel
/// is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Most memory one image may take, in bytes: the file itself, and the decoded pixels (width × height ×
    /// channels × bytes per sample, plus the 8-bit RGB copy when the file is in another layout or rotated). In a
    /// loader, the item transform's crop or pad canvas counts too. An image over it is an error naming it.
    pub max_alloc_bytes: u64,
    /// Most bytes a loader's parallel decodes hold at once, summed over its threads: a decode waits until its
    /// share is free, so the item stage stays within `max(max_in_flight_bytes, max_alloc_bytes)` whatever the
    /// thread count. A single [`decode_rgb`] call does not use it.
    pub max_in_flight_bytes: u64,
}

impl Default for DecodeLimits {
    /// 20 000 px per side, 1 GiB per image (a 150-megapixel photo is 450 MB as RGB8), 2 GiB in flight.
    fn default() -> Self {
        Self { max_side: 20_000, max_alloc_bytes: 1 << 30, max_in_flight_bytes: 2 << 30 }
    }
}

/// What an image's header says, read before any pixel is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// Width after the EXIF orientation.
    pub width: u32,
    /// Height after the EXIF orientation.
    pub height: u32,
    /// Peak bytes of the decode (see [`DecodeLimits::max_alloc_bytes`]).
    pub bytes: u64,
    /// How `bytes` was reckoned, for error messages: "20000×20000 px × 3 channels × 1 byte".
    pub what: String,
}

impl Header {
    /// The header of a `width`×`height` image that the decoder outputs as `color`; `converted` when that is not
    /// 8-bit RGB (the conversion then needs a copy), and a rotating `orientation` needs one more.
    pub fn new(width: u32, height: u32, color: ColorType, orientation: Orientation, converted: bool) -> Self {
        let pixels = width as u64 * height as u64;
        let (channels, per_sample) = (color.channel_count() as u64, color.bytes_per_pixel() as u64);
        let per_sample = per_sample / channels.max(1);
        let mut what = format!("{width}×{height} px × {channels} channels × {per_sample} byte(s)");
        let mut bytes = pixels.saturating_mul(channels * per_sample);
        for (needed, why) in [(converted, "the 8-bit RGB copy"), (rotates(orientation), "the rotated copy")] {
            if needed {
                bytes = bytes.saturating_add(pixels.saturating_mul(3));
                what.push_str(&format!(" + {why}"));
            }
        }
        let (width, height) = if rotates(orientation) { (height, width) } else { (width, height) };
        Self { width, height, bytes, what }
    }
}

/// Decodes `path` to RGB8: greyscale, RGBA (alpha dropped, as PIL's `convert('RGB')`), palette, 16-bit and CMYK all
/// become 8-bit RGB, and the EXIF orientation is applied (phone photos come out upright).
///
/// The header is read first: an image over `limits` is an [`Error::TooLarge`] naming it, its size and the limit,
/// and nothing of its size is allocated. A path that is not a regular file (a FIFO would block) is an
/// [`Error::NotAFile`].
///
/// JPEG goes through libjpeg-turbo with Pillow's settings, so its pixels are exactly the ones fastai sees; the other
/// formats go through `image`.
pub fn decode_rgb(path: &Path, limits: DecodeLimits) -> Result<RgbImage> {
    let (image, ()) = decode_admitted(path, limits, |header| within_limit(header.bytes, &header.what, limits))?;
    Ok(image)
}

/// [`decode_rgb`], where `admit` decides from the header whether the decode goes ahead (`Err` is the reason it
/// does not) and returns what must live as long as the image (a loader's share of its memory budget).
pub(crate) fn decode_admitted<T>(
    path: &Path,
    limits: DecodeLimits,
    admit: impl FnOnce(&Header) -> std::result::Result<T, String>,
) -> Result<(RgbImage, T)> {
    let bytes = read_regular_file(path, limits)?;
    if bytes.is_empty() {
        return Err(Error::Decode { path: path.into(), reason: "the file is empty (0 bytes)".into() });
    }
    if jpeg::is_jpeg(&bytes) {
        return jpeg::decode(path, &bytes, limits, admit);
    }
    decode_other(path, bytes, limits, admit)
}

/// `Ok` when `bytes` fit `limits.max_alloc_bytes`, else the reason, saying how to raise the limit.
pub(crate) fn within_limit(bytes: u64, what: &str, limits: DecodeLimits) -> std::result::Result<(), String> {
    if bytes <= limits.max_alloc_bytes {
        return Ok(());
    }
    Err(format!(
        "{what} = {} ({bytes} bytes), more than the limit of {} per image; resize it, or raise the limit \
         (`DecodeLimits::max_alloc_bytes`, `--decode-limit-mib` on the command line)",
        human_bytes(bytes),
        human_bytes(limits.max_alloc_bytes),
    ))
}

/// The side check shared by every format.
pub(crate) fn within_sides(width: u32, height: u32, limits: DecodeLimits) -> std::result::Result<(), String> {
    if width <= limits.max_side && height <= limits.max_side {
        return Ok(());
    }
    Err(format!(
        "{width}×{height} px, more than the {} px per side allowed (`DecodeLimits::max_side`); resize it",
        limits.max_side
    ))
}

/// The bytes of `path`, which must be a regular file no larger than the per-image limit.
fn read_regular_file(path: &Path, limits: DecodeLimits) -> Result<Vec<u8>> {
    let io_err = |source| Error::Io { action: "reading", path: path.into(), source };
    let mut file = open_without_blocking(path).map_err(io_err)?;
    // Checked on the open file, so the answer is about what is read; opening did not block even on a FIFO.
    let meta = file.metadata().map_err(io_err)?;
    if let Some(kind) = file_kind(&meta) {
        return Err(Error::NotAFile { path: path.into(), kind });
    }
    within_limit(meta.len(), "the file itself", limits)
        .map_err(|reason| Error::TooLarge { path: path.into(), reason })?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // `take` bounds the read even if the file grows meanwhile.
    file.by_ref().take(limits.max_alloc_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io_err)?;
    within_limit(bytes.len() as u64, "the file (it grew while being read)", limits)
        .map_err(|reason| Error::TooLarge { path: path.into(), reason })?;
    Ok(bytes)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK returns at once (and changes nothing
    // for the regular files that are then read).
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Every format but JPEG, through `image`: header, admission, then the pixels.
fn decode_other<T>(
    path: &Path,
    bytes: Vec<u8>,
    limits: DecodeLimits,
    admit: impl FnOnce(&Header) -> std::result::Result<T, String>,
) -> Result<(RgbImage, T)> {
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Io { action: "reading", path: path.into(), source })?;
    // `image`'s own limits bound the decoders' working buffers; the output is checked against the header below
    // (`from_decoder` allocates it without consulting `max_alloc`).
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    let to_err = |e| image_error(path, e, limits);
    let mut decoder = reader.into_decoder().map_err(to_err)?;
    let (width, height) = decoder.dimensions();
    within_sides(width, height, limits).map_err(|reason| Error::TooLarge { path: path.into(), reason })?;
    let orientation = decoder.orientation().map_err(to_err)?;
    let color = decoder.color_type();
    let header = Header::new(width, height, color, orientation, color != ColorType::Rgb8);
    let admitted = admit(&header).map_err(|reason| Error::TooLarge { path: path.into(), reason })?;
    let image = DynamicImage::from_decoder(decoder).map_err(to_err)?;
    // Converted first, so a rotation copies 3-byte pixels (the same pixels either way).
    let mut image = DynamicImage::ImageRgb8(image.into_rgb8());
    image.apply_orientation(orientation);
    Ok((image.into_rgb8(), admitted))
}

/// Whether applying `orientation` allocates a transposed copy (flips and 180° work in place).
pub(crate) fn rotates(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

fn image_error(path: &Path, error: ImageError, limits: DecodeLimits) -> Error {
    match error {
        ImageError::Limits(limit) => Error::TooLarge {
            path: path.into(),
            reason: format!(
                "{limit} (the limits are {} px per side and {} per image: `DecodeLimits`)",
                limits.max_side,
                human_bytes(limits.max_alloc_bytes)
            ),
        },
        ImageError::Unsupported(e) => {
            Error::Decode { path: path.into(), reason: format!("{e} (not an image format fastvision reads)") }
        }
        ImageError::IoError(e) => Error::Io { action: "reading", path: path.into(), source: e },
        other => Error::Decode { path: path.into(), reason: other.to_string() },
    }
}
