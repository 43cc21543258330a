//! `show_batch`: a PNG grid of training images as the model sees them, decoded back from the float batch.

use std::path::Path;

use candle::{DType, Tensor};
use fastvision_augment::Normalize;
use fastvision_core::Vocab;
use fastvision_ops::CandleContext;
use image::RgbImage;

use crate::loader::DataLoader;
use crate::{Error, Result};

/// Writes `nrows × ncols` images of the first batch of `loader` with their labels to `path`.
pub(crate) fn show_batch(loader: &DataLoader, vocab: &Vocab, nrows: usize, ncols: usize, path: &Path) -> Result<()> {
    if nrows == 0 || ncols == 0 {
        return Err(Error::Parameter {
            name: "show_batch grid",
            value: format!("{nrows}×{ncols}"),
            expected: "at least 1×1".into(),
        });
    }
    let batch = loader.one_batch()?;
    let n = (nrows * ncols).min(batch.len());
    let images = to_rgb_images(&batch.images.narrow(0, 0, n).ctx("show_batch")?, loader.batch_tfm().normalize())?;
    let targets = batch.targets.to_vec1::<u32>().ctx("show_batch targets")?;
    let cells: Vec<(RgbImage, String)> = images
        .into_iter()
        .zip(&targets)
        .map(|(image, &t)| (image, vocab.name(t as usize).unwrap_or("?").to_owned()))
        .collect();
    let grid = fastvision_plot::image_grid(&cells, ncols, 192);
    fastvision_plot::save_png(&grid, path).map_err(Error::Plot)
}

/// Turns a float N×3×H×W batch (normalised with `normalize`, or in [0, 1]) back into RGB images.
pub fn to_rgb_images(images: &Tensor, normalize: Option<&Normalize>) -> Result<Vec<RgbImage>> {
    let (n, c, h, w) = images.dims4().ctx("show_batch expects N×3×H×W images")?;
    let data = images
        .to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .ctx("reading images back")?;
    let plane = h * w;
    let (mean, std) = normalize.map_or(([0.0; 3], [1.0; 3]), |n| (n.mean, n.std));
    let images = (0..n)
        .map(|i| {
            let base = i * c * plane;
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let p = y as usize * w + x as usize;
                let value = |ch: usize| {
                    let v = data[base + ch.min(c - 1) * plane + p] * std[ch] + mean[ch];
                    (v * 255.0).round().clamp(0.0, 255.0) as u8
                };
                image::Rgb([value(0), value(1), value(2)])
            })
        })
        .collect();
    Ok(images)
}
