//! JPEG decoding through libjpeg-turbo's decoder (as vendored by mozjpeg-sys), so pixels match Pillow's exactly.
//!
//! fastai reads photos with Pillow, which decodes JPEG with libjpeg-turbo using the accurate integer IDCT (ISLOW)
//! and "fancy" (triangular) chroma upsampling. Other decoders (zune-jpeg, behind `image`) differ by a few levels
//! per pixel, enough to flip a trained model's prediction on some images, so JPEG goes through the same C code with
//! the same settings. Everything else here mirrors what Pillow + `convert('RGB')` do: greyscale is replicated,
//! CMYK/YCCK are read as Adobe-inverted CMYK and converted with Pillow's formula, a truncated file is an error,
//! and recoverable "corrupt data" warnings are ignored.
//!
//! libjpeg reports fatal errors through a callback that must not return. The callback unwinds with
//! [`std::panic::resume_unwind`] (which skips the panic hook, so nothing is printed) through the C frames (built with
//! `-fexceptions` by mozjpeg-sys' `unwinding` feature) to a `catch_unwind` here, which turns it into an [`Error`].

use std::ffi::{c_int, c_ulong};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, RgbImage};
use mozjpeg_sys as ffi;

use crate::decode::{within_sides, DecodeLimits, Header};
use crate::{Error, Result};

/// Whether `bytes` start like a JPEG (SOI followed by a marker): the same test `image` uses to guess the format.
pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Decodes the JPEG `bytes` of `path` to RGB8 with libjpeg-turbo (ISLOW IDCT, fancy upsampling), applying the EXIF
/// orientation; `admit` sees the header before any pixel buffer is allocated (see `decode::decode_admitted`).
pub(crate) fn decode<T>(
    path: &Path,
    bytes: &[u8],
    limits: DecodeLimits,
    admit: impl FnOnce(&Header) -> std::result::Result<T, String>,
) -> Result<(RgbImage, T)> {
    let decoded = match catch_unwind(AssertUnwindSafe(|| decode_unwinding(bytes, limits, admit))) {
        Ok(decoded) => decoded,
        Err(payload) => match payload.downcast::<LibjpegError>() {
            Ok(error) => Err(Refusal::Corrupt(error.0)),
            // A real bug (ours or the library's), not a bad file: keep panicking.
            Err(payload) => resume_unwind(payload),
        },
    };
    let (image, orientation, admitted) = decoded.map_err(|refusal| match refusal {
        Refusal::Corrupt(reason) => Error::Decode { path: path.into(), reason },
        Refusal::TooLarge(reason) => Error::TooLarge { path: path.into(), reason },
    })?;
    if orientation == Orientation::NoTransforms {
        return Ok((image, admitted));
    }
    let mut image = DynamicImage::ImageRgb8(image);
    image.apply_orientation(orientation);
    Ok((image.into_rgb8(), admitted))
}

/// Why a file was not decoded, before the path is attached.
enum Refusal {
    Corrupt(String),
    TooLarge(String),
}

/// The payload of the unwind started by [`error_exit`]: libjpeg's own message.
struct LibjpegError(String);

/// Owns a decompressor and destroys it however the decode ends (also while unwinding out of libjpeg, which the
/// libjpeg documentation allows after `error_exit`).
struct Decompressor {
    cinfo: Box<ffi::jpeg_decompress_struct>,
    // Pointed to by `cinfo.common.err`; boxed so the address stays put.
    _err: Box<ffi::jpeg_error_mgr>,
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `cinfo` was initialised by `jpeg_create_decompress` (see `Decompressor::new`), and destroying is
        // allowed in any state, including after a fatal error.
        unsafe { ffi::jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

impl Decompressor {
    fn new() -> Self {
        // SAFETY: both structs are plain C data for which all-zero is the documented "not yet initialised" state;
        // `jpeg_std_error` fills the error manager, and `jpeg_create_decompress` needs only `err` set beforehand.
        unsafe {
            let mut err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
            ffi::jpeg_std_error(&mut err);
            err.error_exit = Some(error_exit);
            err.emit_message = Some(emit_message);
            err.output_message = Some(output_message);
            let mut cinfo: Box<ffi::jpeg_decompress_struct> = Box::new(std::mem::zeroed());
            cinfo.common.err = &mut *err;
            ffi::jpeg_create_decompress(&mut *cinfo);
            Self { cinfo, _err: err }
        }
    }
}

// Not bound by mozjpeg-sys; part of the same statically linked library (jdapimin.c).
extern "C-unwind" {
    fn jpeg_has_multiple_scans(cinfo: *mut ffi::jpeg_decompress_struct) -> ffi::boolean;
}

/// libjpeg's `JPEG_APP0 + 1`: the APP1 segment that holds EXIF.
const APP1: c_int = 0xE1;
/// libjpeg's `JMSG_LENGTH_MAX`: the buffer `format_message` writes to.
const JMSG_LENGTH_MAX: usize = 200;

/// The decode proper; libjpeg errors unwind out of it with a [`LibjpegError`].
fn decode_unwinding<T>(
    bytes: &[u8],
    limits: DecodeLimits,
    admit: impl FnOnce(&Header) -> std::result::Result<T, String>,
) -> std::result::Result<(RgbImage, Orientation, T), Refusal> {
    let mut d = Decompressor::new();
    let cinfo = &mut *d.cinfo;
    // SAFETY: `cinfo` is a created decompressor whose error manager unwinds on fatal errors; `bytes` outlives it
    // (it is dropped at the end of this function); the output rows point into `pixels`, which holds
    // `output_height` rows of `output_width * 3` bytes, as checked before reading.
    unsafe {
        ffi::jpeg_mem_src(cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
        ffi::jpeg_save_markers(cinfo, APP1, 0xFFFF);
        // require_image = TRUE: a tables-only file is a fatal error (it unwinds), like any other bad header.
        ffi::jpeg_read_header(cinfo, 1);

        let (width, height) = (cinfo.image_width, cinfo.image_height);
        within_sides(width, height, limits).map_err(Refusal::TooLarge)?;
        // The saved APP1 markers are complete once the header is read.
        let orientation = exif_orientation(cinfo);
        let cmyk = matches!(cinfo.jpeg_color_space, ffi::J_COLOR_SPACE::JCS_CMYK | ffi::J_COLOR_SPACE::JCS_YCCK);
        // CMYK comes out as 4 bytes per pixel and is then converted to RGB.
        let (color, converted) = if cmyk { (ColorType::Rgba8, true) } else { (ColorType::Rgb8, false) };
        let mut header = Header::new(width, height, color, orientation, converted);
        // Progressive (multi-scan) files also keep the whole-image DCT coefficients (2 bytes per sample per
        // component, at most).
        if jpeg_has_multiple_scans(cinfo) != 0 {
            let coefficients = width as u64 * height as u64 * 2 * cinfo.num_components.max(0) as u64;
            header.bytes = header.bytes.saturating_add(coefficients);
            header.what.push_str(" + the progressive coefficients");
        }
        let admitted = admit(&header).map_err(Refusal::TooLarge)?;

        // Pillow's settings (libjpeg's defaults, set explicitly so they cannot drift).
        cinfo.out_color_space = if cmyk { ffi::J_COLOR_SPACE::JCS_CMYK } else { ffi::J_COLOR_SPACE::JCS_RGB };
        cinfo.dct_method = ffi::J_DCT_METHOD::JDCT_ISLOW;
        cinfo.do_fancy_upsampling = 1;
        cinfo.do_block_smoothing = 1;
        ffi::jpeg_start_decompress(cinfo);

        let (w, h) = (cinfo.output_width as usize, cinfo.output_height as usize);
        let channels = cinfo.output_components as usize;
        let expected = if cmyk { 4 } else { 3 };
        if channels != expected {
            return Err(Refusal::Corrupt(format!("libjpeg produced {channels} channels, expected {expected}")));
        }
        let stride = w * channels;
        let mut out: Vec<u8> = Vec::new();
        if out.try_reserve_exact(stride * h).is_err() {
            return Err(Refusal::TooLarge(format!("{w}×{h} pixels do not fit in memory")));
        }
        out.resize(stride * h, 0);
        let mut rows: Vec<*mut u8> = out.chunks_exact_mut(stride.max(1)).map(<[u8]>::as_mut_ptr).collect();
        while (cinfo.output_scanline as usize) < h {
            let next = cinfo.output_scanline as usize;
            let read = ffi::jpeg_read_scanlines(cinfo, rows.as_mut_ptr().add(next), (h - next) as u32);
            if read == 0 {
                // Only a suspending data source returns 0 rows; the memory source never suspends.
                return Err(Refusal::Corrupt("libjpeg stopped before the last row".into()));
            }
        }
        ffi::jpeg_finish_decompress(cinfo);

        let rgb = if cmyk { cmyk_to_rgb(&out) } else { out };
        let image = RgbImage::from_raw(w as u32, h as u32, rgb)
            .ok_or_else(|| Refusal::Corrupt("libjpeg returned fewer pixels than its header announced".into()))?;
        Ok((image, orientation, admitted))
    }
}

/// The orientation from the first APP1 segment that holds EXIF (as `image` reads it), upright when absent or invalid.
///
/// # Safety
/// `cinfo` must have read its header with APP1 markers saved; the list stays valid until the decompressor is
/// destroyed.
unsafe fn exif_orientation(cinfo: &ffi::jpeg_decompress_struct) -> Orientation {
    let mut marker = cinfo.marker_list;
    // SAFETY: libjpeg's saved-marker list is a null-terminated linked list of `data_length`-byte buffers.
    while let Some(m) = unsafe { marker.as_ref() } {
        if c_int::from(m.marker) == APP1 && !m.data.is_null() {
            let data = unsafe { std::slice::from_raw_parts(m.data, m.data_length as usize) };
            if let Some(tiff) = data.strip_prefix(b"Exif\0\0") {
                return Orientation::from_exif_chunk(tiff).unwrap_or(Orientation::NoTransforms);
            }
        }
        marker = m.next;
    }
    Orientation::NoTransforms
}

/// Pillow's `CMYK;I` raw mode (it assumes Adobe's inverted CMYK in every CMYK JPEG) followed by its `cmyk2rgb`:
/// `R = 255 - K' - C' * (255 - K') / 255` in integer arithmetic, on the un-inverted values.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    // Pillow's MULDIV255: a * b / 255, rounded, without a division.
    fn muldiv255(a: u32, b: u32) -> u32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let [c, m, y, k] = [255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3]].map(u32::from);
        let nk = 255 - k;
        for v in [c, m, y] {
            rgb.push(nk.saturating_sub(muldiv255(v, nk)) as u8);
        }
    }
    rgb
}

/// libjpeg's message for the current error or warning, e.g. "Not a JPEG file: starts with 0x89 0x50".
///
/// # Safety
/// `cinfo.err` must point to a `jpeg_std_error`-initialised error manager.
unsafe fn message(cinfo: &mut ffi::jpeg_common_struct) -> String {
    let mut buffer = [0u8; JMSG_LENGTH_MAX];
    // SAFETY: as the caller promises; mozjpeg-sys declares the buffer as 80 bytes, but libjpeg writes up to
    // JMSG_LENGTH_MAX, so it is passed a buffer of that size through a correctly typed pointer.
    let format = unsafe { (*cinfo.err).format_message };
    if let Some(format) = format {
        type Format = unsafe extern "C-unwind" fn(&mut ffi::jpeg_common_struct, *mut u8);
        let format: Format = unsafe { std::mem::transmute(format) };
        unsafe { format(cinfo, buffer.as_mut_ptr()) };
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Fatal errors: unwind to `decode` with the message (libjpeg requires that this never returns).
extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    // SAFETY: libjpeg calls this with the decompressor whose error manager was set up in `Decompressor::new`.
    let text = unsafe { message(cinfo) };
    resume_unwind(Box::new(LibjpegError(text)));
}

/// Warnings and trace messages. A premature end of file is fatal (Pillow refuses truncated files too); other
/// warnings (e.g. extraneous bytes before a marker) are ignored, as Pillow ignores them.
extern "C-unwind" fn emit_message(cinfo: &mut ffi::jpeg_common_struct, level: c_int) {
    // SAFETY: as in `error_exit`.
    let code = unsafe { (*cinfo.err).msg_code };
    if level < 0 && code == ffi::JWRN_JPEG_EOF {
        let text = unsafe { message(cinfo) };
        resume_unwind(Box::new(LibjpegError(format!("{text} (the file is truncated)"))));
    }
}

/// libjpeg's default prints to stderr; a library must not.
extern "C-unwind" fn output_message(_cinfo: &mut ffi::jpeg_common_struct) {}
