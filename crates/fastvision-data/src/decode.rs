//! Decoding any supported file to RGB8, with EXIF orientation and decode limits, and errors that name the file.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use crate::{jpeg, Error, Result};

/// Limits that keep a hostile or broken file from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc_bytes: u64,
}

impl Default for DecodeLimits {
    /// 20 000 px per side and 1 GiB, far above any camera photo.
    fn default() -> Self {
        Self { max_side: 20_000, max_alloc_bytes: 1 << 30 }
    }
}

/// Decodes `path` to RGB8: greyscale, RGBA (alpha dropped, as PIL's `convert('RGB')`), palette, 16-bit and CMYK all
/// become 8-bit RGB, and the EXIF orientation is applied (phone photos come out upright).
///
/// JPEG goes through libjpeg-turbo with Pillow's settings, so its pixels are exactly the ones fastai sees; the other
/// formats go through `image`.
pub fn decode_rgb(path: &Path, limits: DecodeLimits) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { action: "reading", path: path.into(), source })?;
    if bytes.is_empty() {
        return Err(Error::Decode { path: path.into(), reason: "the file is empty (0 bytes)".into() });
    }
    if jpeg::is_jpeg(&bytes) {
        return jpeg::decode(path, &bytes, limits);
    }
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Io { action: "reading", path: path.into(), source })?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(image_limits);
    let to_err = |e| image_error(path, e);
    let mut decoder = reader.into_decoder().map_err(to_err)?;
    let orientation = decoder.orientation().map_err(to_err)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(to_err)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

fn image_error(path: &Path, error: ImageError) -> Error {
    match error {
        ImageError::Limits(limit) => Error::TooLarge { path: path.into(), reason: limit.to_string() },
        ImageError::Unsupported(e) => {
            Error::Decode { path: path.into(), reason: format!("{e} (not an image format fastvision reads)") }
        }
        ImageError::IoError(e) => Error::Io { action: "reading", path: path.into(), source: e },
        other => Error::Decode { path: path.into(), reason: other.to_string() },
    }
}
