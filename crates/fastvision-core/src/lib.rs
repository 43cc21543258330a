//! Shared vocabulary of fastvision: the types and helpers every other crate speaks.
//!
//! # Brief overview
//! - [`Vocab`]: class names in fastai's order; the index is the class id.
//! - [`ImageBatch`]: a collated batch (u8 or float images, targets, item ids) as candle tensors.
//! - [`Preds`]: per-item probabilities, targets and losses, the hand-off from training to interpretation.
//! - [`rng::Rng`]: a small seeded generator, so every random choice derives from the run's seed.
//! - [`fs`]: sorted directory listing and atomic writes, so splits are reproducible and nothing is left half-written.
//! - [`bench::Report`]: the table and JSON every `cargo xtask bench NAME` prints.
//!
//! ```
//! use fastvision_core::Vocab;
//! let vocab = Vocab::from_labels(["pug", "Abyssinian", "pug"]);
//! assert_eq!(vocab.classes(), ["Abyssinian", "pug"]);
//! assert_eq!(vocab.index_of("pug"), Some(1));
//! ```

mod batch;
pub mod bench;
mod error;
pub mod fs;
mod preds;
pub mod rng;
mod vocab;

pub use batch::ImageBatch;
pub use error::{Error, Result};
pub use preds::Preds;
pub use vocab::Vocab;

/// Picks the device: CUDA ordinal 0 when `cuda` is true and candle was built with CUDA, else an error saying how.
pub fn device(cuda: bool) -> Result<candle::Device> {
    if !cuda {
        return Ok(candle::Device::Cpu);
    }
    if !candle::utils::cuda_is_available() {
        return Err(Error::CudaNotCompiled { hint: "rebuild with --features cuda" });
    }
    candle::Device::new_cuda(0).map_err(|source| Error::Candle { context: "opening CUDA device 0".into(), source })
}
