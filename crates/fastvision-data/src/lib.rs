//! fastai's data block API: a folder of photos becomes reproducible, presized batches, and every failure names
//! its file and its step.
//!
//! # Brief overview
//! - [`DataBlock`] (built with [`DataBlock::builder`]) says how to get items ([`get_image_files`]), label them
//!   ([`Labeller`]), split them ([`Splitter`]), presize them ([`ItemTransform`]) and augment batches
//!   (`fastvision_augment::BatchAugment`). [`DataBlock::summary`] walks one item through every step, and
//!   [`DataBlock::summary_all`] decodes every file.
//! - [`DataLoaders`] holds the training and validation [`DataLoader`]s: decode and presize in parallel (rayon),
//!   prefetched in a background thread, collated to u8 N×3×H×W tensors, then batch-transformed to float.
//! - [`DataLoaders::show_batch`] writes a PNG grid of a batch with its labels.
//!
//! ```no_run
//! use std::path::Path;
//! use fastvision_data::{DataBlock, ItemTransform, Labeller, Splitter};
//! # fn main() -> fastvision_data::Result<()> {
//! let pets = DataBlock::builder()
//!     .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$")?)
//!     .splitter(Splitter::random(0.2, 42))
//!     .item_tfms(ItemTransform::resize(460))
//!     .build()?;
//! println!("{}", pets.summary(Path::new("images"), 4));
//! let dls = pets.dataloaders(Path::new("images"), 64)?;
//! let batch = dls.one_batch()?;
//! assert_eq!(batch.images.dims(), &[64, 3, 460, 460]);
//! # Ok(()) }
//! ```

mod budget;
mod category;
mod datablock;
mod dataloaders;
mod decode;
mod error;
mod files;
mod jpeg;
mod label;
mod loader;
mod resize;
mod show;
mod split;
mod summary;
mod torch_rng;

pub use category::{encode, CategoryBlock};
pub use datablock::{DataBlock, DataBlockBuilder, Datasets, ItemError};
pub use dataloaders::DataLoaders;
pub use decode::{decode_rgb, DecodeLimits};
pub use error::{Error, Result};
pub use files::{get_files, get_image_files, FileFilter, Listing, SkipReason, Skipped, IMAGE_EXTENSIONS};
pub use label::Labeller;
pub use loader::{DataLoader, Epoch, Item, LoaderConfig, OnBadItem, PresizedBatch};
pub use resize::{to_chw, ItemTransform, PadMode, RandomResizedCrop, Resize, ResizeMethod};
pub use show::to_rgb_images;
pub use split::{SplitIndices, Splitter};
pub use summary::Summary;
