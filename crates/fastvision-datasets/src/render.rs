//! The built-in default data set: ten classes of rendered objects that differ in shape and texture, written as
//! JPEGs named like the Oxford-IIIT Pet files, so the first run needs no network and no download.

mod canvas;
mod scene;
mod shapes;

use std::io::Write;
use std::path::{Path, PathBuf};

use fastvision_core::rng::Rng;
use rayon::prelude::*;

use crate::error::io_err;
use crate::registry::{Labelling, Preset, SplitRule};
use crate::{Error, Result};
use shapes::{Shape, Texture};

/// The folder [`default_dataset`] renders into, under the cache root. The version changes whenever the pictures do.
pub const DEFAULT_DATASET_FOLDER: &str = "fastvision-default-v2";

/// The file inside a finished data set folder that records what was rendered; its presence means "complete".
pub const COMPLETE_MARKER: &str = ".fastvision-complete";

/// The class names of the default data set, in file-name form (`<class>_<n>.jpg`). Capitalised names sort
/// before lower-case ones, as fastai's vocabulary does with the pets' cat breeds.
pub const DEFAULT_CLASSES: [&str; 10] = [
    "Disc",
    "Ring",
    "checked_square",
    "cross",
    "spotted_star",
    "spotted_triangle",
    "square",
    "star",
    "striped_disc",
    "triangle",
];

/// The recipe of each class in [`DEFAULT_CLASSES`] order: pairs share a shape or a texture, so neither alone is
/// enough to tell every class apart.
const RECIPES: [(Shape, Texture); 10] = [
    (Shape::Disc, Texture::Plain),
    (Shape::Ring, Texture::Plain),
    (Shape::Square, Texture::Checks),
    (Shape::Cross, Texture::Plain),
    (Shape::Star, Texture::Spots),
    (Shape::Triangle, Texture::Spots),
    (Shape::Square, Texture::Plain),
    (Shape::Star, Texture::Plain),
    (Shape::Disc, Texture::Stripes),
    (Shape::Triangle, Texture::Plain),
];

/// What [`render_default_dataset`] draws. `Default` is the built-in data set: 10 classes × 60 images, seed 0,
/// sides 160–480 pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultDatasetConfig {
    /// Images per class (numbered `1..=n_per_class` in file names).
    pub n_per_class: usize,
    /// The seed every picture derives from.
    pub seed: u64,
    /// Smallest width or height in pixels (at least 32).
    pub min_side: u32,
    /// Largest width or height in pixels (at most 4096, and at least `min_side + 32` so no image is square).
    pub max_side: u32,
}

impl Default for DefaultDatasetConfig {
    fn default() -> Self {
        Self { n_per_class: 60, seed: 0, min_side: 160, max_side: 480 }
    }
}

impl DefaultDatasetConfig {
    /// The folder name under the cache root: [`DEFAULT_DATASET_FOLDER`] for the default, a longer name otherwise.
    pub fn folder_name(&self) -> String {
        if *self == Self::default() {
            return DEFAULT_DATASET_FOLDER.to_string();
        }
        let Self { n_per_class, seed, min_side, max_side } = self;
        format!("{DEFAULT_DATASET_FOLDER}-n{n_per_class}-seed{seed}-{min_side}to{max_side}")
    }

    /// Number of images rendered.
    pub fn n_images(&self) -> usize {
        self.n_per_class * DEFAULT_CLASSES.len()
    }

    fn validate(&self) -> Result<()> {
        if self.n_per_class == 0 || self.n_per_class > 100_000 {
            let hint = format!("n_per_class must be in 1..=100000, got {}", self.n_per_class);
            return Err(Error::InvalidConfig { what: "n_per_class", hint });
        }
        if self.min_side < 32 || self.max_side > 4096 || self.max_side < self.min_side + 32 {
            let hint = format!(
                "need 32 <= min_side and min_side + 32 <= max_side <= 4096, got {}..{}",
                self.min_side, self.max_side
            );
            return Err(Error::InvalidConfig { what: "image side range", hint });
        }
        Ok(())
    }

    /// The marker file's text: what a finished folder must hold to be reused.
    fn marker_text(&self) -> String {
        let Self { n_per_class, seed, min_side, max_side } = self;
        let count = self.n_images();
        format!(
            "{DEFAULT_DATASET_FOLDER}\ncount={count}\nclasses={}\nn_per_class={n_per_class}\nseed={seed}\n\
             min_side={min_side}\nmax_side={max_side}\n",
            DEFAULT_CLASSES.len()
        )
    }
}

/// The built-in default data set under `cache_root`, rendered on first use (about 600 JPEGs, a few seconds) and
/// reused afterwards. Returns the folder holding the `<class>_<n>.jpg` files; label them with
/// [`default_preset`].
pub fn default_dataset(cache_root: &Path) -> Result<PathBuf> {
    render_default_dataset(cache_root, &DefaultDatasetConfig::default())
}

/// [`default_dataset`] with another size or seed. The folder is rendered beside its final place and renamed into
/// it when complete, so an interrupted run never leaves a partial data set.
pub fn render_default_dataset(cache_root: &Path, config: &DefaultDatasetConfig) -> Result<PathBuf> {
    config.validate()?;
    let folder = cache_root.join(config.folder_name());
    if is_complete(&folder, config) {
        return Ok(folder);
    }
    std::fs::create_dir_all(cache_root).map_err(io_err("creating", cache_root))?;
    let temp = cache_root.join(format!(".{}.tmp-{}", config.folder_name(), std::process::id()));
    let rendered = render_into(&temp, config).and_then(|()| publish(&temp, &folder, config));
    if temp.exists() {
        // Best effort: the temporary folder is ours and must not be left behind, whatever happened.
        let _ = std::fs::remove_dir_all(&temp);
    }
    rendered.map(|()| folder)
}

/// The data block preset for the default data set: labels from `(.+)_\d+.jpg$`, a seeded 20% random validation
/// split, images at the top of the folder.
pub fn default_preset() -> Preset {
    Preset {
        images: String::new(),
        labelling: Labelling::Regex(r"(.+)_\d+.jpg$".to_string()),
        split: SplitRule::Random { valid_pct: 0.2, seed: 42 },
    }
}

/// Renders item `n` (1-based) of class `class_idx` (an index into [`DEFAULT_CLASSES`]) exactly as the data set
/// holds it before JPEG compression.
pub fn render_item(config: &DefaultDatasetConfig, class_idx: usize, n: usize) -> Result<image::RgbImage> {
    config.validate()?;
    let Some(&(shape, texture)) = RECIPES.get(class_idx) else {
        let hint = format!("class_idx must be below {}, got {class_idx}", DEFAULT_CLASSES.len());
        return Err(Error::InvalidConfig { what: "class_idx", hint });
    };
    // One stream per item: items render in any order, in parallel, and always the same.
    let mut rng = Rng::derive(config.seed, ((class_idx as u64) << 32) | n as u64);
    let canvas = scene::render_scene(shape, texture, config.min_side, config.max_side, &mut rng);
    let (width, height) = (canvas.width as u32, canvas.height as u32);
    image::RgbImage::from_raw(width, height, canvas.to_rgb8()).ok_or_else(|| Error::InvalidConfig {
        what: "image size",
        hint: format!("{width}x{height} does not fit in memory"),
    })
}

fn is_complete(folder: &Path, config: &DefaultDatasetConfig) -> bool {
    std::fs::read_to_string(folder.join(COMPLETE_MARKER)).is_ok_and(|text| text == config.marker_text())
}

fn render_into(temp: &Path, config: &DefaultDatasetConfig) -> Result<()> {
    if temp.exists() {
        std::fs::remove_dir_all(temp).map_err(io_err("removing stale", temp))?;
    }
    std::fs::create_dir_all(temp).map_err(io_err("creating", temp))?;
    let items: Vec<(usize, usize)> =
        (0..DEFAULT_CLASSES.len()).flat_map(|c| (1..=config.n_per_class).map(move |n| (c, n))).collect();
    items.par_iter().try_for_each(|&(class_idx, n)| write_item(temp, config, class_idx, n))?;
    let marker = temp.join(COMPLETE_MARKER);
    fastvision_core::fs::atomic_write_bytes(&marker, config.marker_text().as_bytes())
        .map_err(|source| Error::Core { context: "writing the default data set's marker", source: source.into() })
}

/// Writes one JPEG at a per-item quality of 70–95. The file lives in the temporary folder that is renamed as a
/// whole, so a plain write is as safe as `atomic_write` here and spares 600 syncs.
fn write_item(temp: &Path, config: &DefaultDatasetConfig, class_idx: usize, n: usize) -> Result<()> {
    let picture = render_item(config, class_idx, n)?;
    let path = temp.join(format!("{}_{n}.jpg", DEFAULT_CLASSES[class_idx]));
    let quality = 70 + (Rng::derive(config.seed ^ 0x5151, ((class_idx as u64) << 32) | n as u64).below(26) as u8);
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&picture)
        .map_err(|source| Error::Encode { path: path.clone(), source })?;
    let mut file = std::fs::File::create(&path).map_err(io_err("creating", &path))?;
    file.write_all(&bytes).map_err(io_err("writing", &path))
}

/// Renames the finished temporary folder into place. If another process finished first, its folder is kept.
fn publish(temp: &Path, folder: &Path, config: &DefaultDatasetConfig) -> Result<()> {
    if folder.exists() && !is_complete(folder, config) {
        // An older or interrupted folder of ours under the same name: replace it.
        std::fs::remove_dir_all(folder).map_err(io_err("removing incomplete", folder))?;
    }
    match std::fs::rename(temp, folder) {
        Ok(()) => Ok(()),
        Err(_) if is_complete(folder, config) => Ok(()),
        Err(source) => Err(Error::Io { action: "renaming into place", path: folder.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests;
