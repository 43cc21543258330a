//! PNG encoding and atomic saving, so a plot on disk is always complete.

use std::path::Path;

use image::{ImageEncoder, RgbImage};

use crate::{Error, Result};

/// Encodes `image` as PNG bytes.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>> {
    encode(image, Path::new("<memory>"))
}

/// Saves `image` as a PNG at `path`, atomically (a temporary file renamed over `path`); parent folders are created.
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    let bytes = encode(image, path)?;
    fastvision_core::fs::atomic_write_bytes(path, &bytes).map_err(Error::Write)
}

fn encode(image: &RgbImage, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .map_err(|source| Error::Encode {
            path: path.to_path_buf(),
            width: image.width(),
            height: image.height(),
            source,
        })?;
    Ok(bytes)
}
