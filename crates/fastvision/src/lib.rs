//! fastvision: fastai's vision-classification workflow in Rust, on candle — data blocks with presizing, one fused
//! batch augmentation, fused losses, ResNets with fastai's head, `fine_tune` with `lr_find`, one-cycle and
//! discriminative learning rates, and an interpretation of what the model confuses.
//!
//! This crate is the table of contents: each sub-crate is re-exported as a module, and [`prelude`] brings the
//! names a training script needs. Every crate's error converts into [`Error`], so a script's `?` works throughout.
//!
//! # Quick start
//! ```no_run
//! use fastvision::prelude::*;
//! # fn main() -> Result<(), fastvision::Error> {
//! fastvision::ops::malloc::retain_freed_memory(); // a program that trains: glibc recycles each step's buffers
//! let path = std::path::Path::new("images");
//! let pets = DataBlock::builder()
//!     .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$")?)
//!     .item_tfms(ItemTransform::resize(460))
//!     .batch_tfms(BatchAugment::new(AugConfig::with_size(224, 0.75), None)?)
//!     .build()?;
//! let dls = pets.dataloaders(path, 64)?;
//! dls.show_batch(3, 3, "batch.png".as_ref())?;
//! // torchvision's ImageNet weights, from the torch hub cache or downloaded into it (fastai's pretrained=True).
//! let mut learn = vision_learner(dls, Arch::ResNet34, Pretrained::imagenet(), vec![Metric::ErrorRate])?;
//! let lr = learn.lr_find(&LrFindConfig::default())?.suggestions.map_or(2e-3, |s| s.valley.lr);
//! learn.fine_tune(2, lr)?;
//! let interp = ClassificationInterpretation::from_preds(learn.get_preds(DatasetSplit::Valid)?, learn.dls().vocab().clone())?;
//! println!("{:?}", interp.most_confused(2));
//! learn.export("model.safetensors".as_ref())?;
//! let inference = load_learner("model.safetensors".as_ref(), &Device::Cpu)?;
//! let prediction = inference.predict("my_cat.jpg".as_ref())?;
//! println!("{} ({:.2})", prediction.label, prediction.probs[prediction.index]);
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//! - `cuda`: the augmentation and loss kernels and candle on NVIDIA GPUs (needs nvcc at build time).
//! - `datasets` (default): [`datasets`] (the built-in data set, `untar_data`) and `Pretrained::ImageNet`
//!   (torchvision's weights through the hub cache), the only code that touches the network. Without it
//!   (`default-features = false`) nothing downloads, and the HTTP, tar and checksum crates are not built.
//! - `progress`: `train::ProgressReporter`, fastai's epoch table with an indicatif progress bar per pass (the
//!   `fastvision` binary's output); the library itself never prints.
//!
//! # Crates
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | fastvision-core | shared vocabulary: `Vocab`, `ImageBatch`, `Preds`, seeds, atomic files |
//! | [`data`] | fastvision-data | `DataBlock`, labellers, splitters, presizing loaders, `summary`, `show_batch` |
//! | [`augment`] | fastvision-augment | the fused batch augmentation (CPU and CUDA) |
//! | [`losses`] | fastvision-losses | fused cross-entropy and friends with their gradients |
//! | [`ops`] | fastvision-ops | the kernel layer: `conv2d`, fused BatchNorm, `malloc::retain_freed_memory` |
//! | [`models`] | fastvision-models | ResNets with torchvision names, fastai's head, weight loading |
//! | [`weights`] | fastvision-weights | safetensors and PyTorch checkpoints read by content, never running code |
//! | [`train`] | fastvision-train | `Learner`, `fit_one_cycle`, `fine_tune`, `lr_find`, freezing |
//! | [`interpret`] | fastvision-interpret | confusion matrix, `most_confused`, top losses |
//! | [`plot`] | fastvision-plot | PNG grids, line plots and heat maps |
//! | `datasets` | fastvision-datasets | the built-in default data set and `untar_data` (feature `datasets`) |

mod error;

pub use candle;
pub use error::{Error, Result};
pub use fastvision_augment as augment;
pub use fastvision_core as core;
pub use fastvision_data as data;
#[cfg(feature = "datasets")]
pub use fastvision_datasets as datasets;
pub use fastvision_interpret as interpret;
pub use fastvision_losses as losses;
pub use fastvision_models as models;
pub use fastvision_ops as ops;
pub use fastvision_plot as plot;
pub use fastvision_train as train;
pub use fastvision_weights as weights;

/// The names a training script needs.
pub mod prelude {
    pub use crate::augment::{AugConfig, BatchAugment, Normalize};
    pub use crate::candle::{Device, Tensor};
    pub use crate::core::{ImageBatch, Preds, Vocab};
    pub use crate::data::{
        get_image_files, CategoryBlock, DataBlock, DataLoaders, ItemTransform, Labeller, OnBadItem, Splitter,
    };
    pub use crate::interpret::ClassificationInterpretation;
    pub use crate::losses::{CrossEntropyLossFlat, LabelSmoothingCrossEntropy, Loss};
    pub use crate::models::{Arch, Backbone, VisionModel};
    pub use crate::train::{
        load_learner, vision_learner, DatasetSplit, FineTuneConfig, Learner, LrFindConfig, LrRange, Metric,
        PredictConfig, Prediction, Pretrained, Tta,
    };
}

// The README's library example compiles as a doc test of the facade.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;
