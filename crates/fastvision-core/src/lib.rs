//! Shared vocabulary of fastvision: the types and helpers every other crate speaks.
//!
//! # Brief overview
//! - [`Vocab`]: class names in fastai's order; the index is the class id.
//! - [`ImageBatch`]: a collated batch (u8 or float images, targets, item ids) as candle tensors.
//! - [`Preds`]: per-item probabilities, targets and losses, the hand-off from training to interpretation.
//! - [`rng::Rng`]: a small seeded generator, so every random choice derives from the run's seed.
//! - [`fs`]: sorted directory listing and atomic writes, so splits are reproducible and nothing is left half-written;
//!   [`fs::mark_output_dir`] marks a run's output folder so that no listing reads it back as data.
//! - [`limits`]: the image-side and batch-size limits every crate checks before it allocates.
//! - [`DeviceChoice`]: the one device switch (`auto`, `cpu`, `cuda[:N]`) every command's `--device` parses.
//! - [`bench::Report`]: the table and JSON every `cargo xtask bench NAME` prints.
//! - [`testing::assert_close`]: the one closeness check of every crate's tests, with named [`testing::Tolerance`]s.
//!
//! ```
//! use fastvision_core::Vocab;
//! let vocab = Vocab::from_labels(["pug", "Abyssinian", "pug"]);
//! assert_eq!(vocab.classes(), ["Abyssinian", "pug"]);
//! assert_eq!(vocab.index_of("pug"), Some(1));
//! ```

mod batch;
pub mod bench;
pub mod device;
mod error;
pub mod fs;
pub mod limits;
mod preds;
pub mod rng;
pub mod testing;
mod vocab;

pub use batch::ImageBatch;
pub use device::{DeviceChoice, OpenedDevice};
pub use error::{Error, Result};
pub use preds::Preds;
pub use vocab::Vocab;
