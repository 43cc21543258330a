//! Named downloads into a cache for fastvision: a built-in default data set rendered offline, fastai's
//! `untar_data` for real data sets by name, and torchvision's pretrained ImageNet weights by architecture name
//! through PyTorch's hub cache. This is the only fastvision crate that touches the network.
//!
//! # Brief overview
//! - [`default_dataset`]: ten classes × 60 rendered JPEGs (`Disc_7.jpg`, `spotted_star_12.jpg`, ...) that differ
//!   in shape and texture under random pose, scale, colour, clutter and noise; deterministic from a seed, cached,
//!   written atomically. Read it with [`default_preset`], fastbook's regex labeller.
//! - [`Dataset`]: a named download (`pets`, `imagenette`, `cifar10`) with its address, size, checksum and the
//!   [`Preset`] (labelling, split, images folder) its data block needs; [`Dataset::datablock`] is that data
//!   block (fastvision-data's `Labeller` and `Splitter` set), ready for transforms.
//! - [`untar_data`]: download with resume and a progress callback, size and checksum check, extraction into
//!   [`UntarConfig`]'s cache (`$FASTVISION_HOME` or `~/.fastvision`), with nothing half-done left behind.
//! - [`imagenet_weights`]: the checkpoint `vision_learner(dls, resnet34)` starts from (`resnet34-b627a593.pth`,
//!   see [`IMAGENET_CHECKPOINTS`]), from [`torch_hub_checkpoints`] (shared with PyTorch) or downloaded into it with
//!   resume, its SHA-256 checked against the hash prefix in its name every time; [`HubOptions`] changes the cache
//!   folder and the server (`$FASTVISION_WEIGHTS_URL`).
//!
//! ```
//! use fastvision_datasets::{render_default_dataset, Dataset, DefaultDatasetConfig, ImagenetCheckpoint, Labelling};
//!
//! let cache = tempfile::tempdir()?;
//! let config = DefaultDatasetConfig { n_per_class: 1, min_side: 64, max_side: 128, ..Default::default() };
//! let folder = render_default_dataset(cache.path(), &config)?;
//! assert!(folder.join("Disc_1.jpg").is_file() && folder.join("spotted_star_1.jpg").is_file());
//!
//! let pets = Dataset::by_name("pets")?;
//! assert_eq!(pets.preset.images, "images");
//! assert_eq!(pets.preset.labelling, Labelling::Regex(r"(.+)_\d+.jpg$".into()));
//!
//! let resnet34 = ImagenetCheckpoint::by_arch("resnet34")?;
//! assert_eq!(resnet34.file_name, "resnet34-b627a593.pth");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod datablock;
mod download;
mod error;
mod extract;
mod pretrained;
mod registry;
mod render;
mod untar;

pub use download::{Progress, Stage};
pub use error::{Error, Result};
pub use pretrained::{
    cached_checkpoint, hub_checkpoint, imagenet_weights, torch_hub_checkpoints, HubOptions, ImagenetCheckpoint,
    IMAGENET_CHECKPOINTS, TORCHVISION_WEIGHTS_URL, WEIGHTS_URL_ENV,
};
#[allow(deprecated)]
pub use registry::Split;
pub use registry::{Dataset, Labelling, Preset, SplitRule, DATASET_NAMES};
pub use render::{
    default_dataset, default_preset, render_default_dataset, render_item, DefaultDatasetConfig, COMPLETE_MARKER,
    DEFAULT_CLASSES, DEFAULT_DATASET_FOLDER,
};
pub use untar::{fastvision_home, untar_data, UntarConfig, HOME_ENV};
