//! torchvision-compatible ResNets, CIFAR ResNets and fastai's learner model for candle, loaded from safetensors or
//! PyTorch checkpoints.
//!
//! # Brief overview
//! - [`VisionModel`]: fastai's `Sequential(create_body(arch), create_head(nf, n_classes))` with fastai's names
//!   (`0.*`, `1.*`), head initialisation, three parameter groups and `freeze_to`/`unfreeze` that detach frozen
//!   weights. [`VisionModel::load_body`] puts pretrained torchvision weights under a new head.
//! - [`ResNet`] ([`Arch`]: 18/34/50/101/152) with torchvision's structure and names, and [`CifarResNet`]
//!   ([`CifarArch`]: 20/32/44/56/110, option A shortcuts).
//! - Pooling candle lacks, with gradients: [`max_pool2d`] with padding, [`adaptive_avg_pool2d`],
//!   [`adaptive_max_pool2d`], [`adaptive_concat_pool2d`].
//!
//! BatchNorm runs in training mode when `forward_t(xs, true)` (batch statistics; running statistics updated with
//! momentum 0.1 and the unbiased variance, like PyTorch) and uses the running statistics otherwise. Weight files
//! are safetensors or PyTorch checkpoints (zip or legacy `torch.save`), read by content through fastvision-weights
//! (`load`, `load_body`; `load_state`, `load_body_state` take a `fastvision_weights::StateDict` read with chosen
//! options). They may store f32, f16 or bf16, converted to the model's type, and a file that does not fit is an
//! [`Error::StateMismatch`] listing every missing, unexpected and mismatched tensor.
//!
//! ```
//! # fn main() -> fastvision_models::Result<()> {
//! use candle::{DType, Device, Tensor};
//! use fastvision_models::{Arch, VisionModel};
//!
//! let device = Device::Cpu;
//! let mut model = VisionModel::new(Arch::ResNet18, 37, &device, 42)?;
//! model.freeze(); // fine_tune's first phase: only the head and BatchNorm layers train
//! let images = Tensor::zeros((2, 3, 32, 32), DType::F32, &device).unwrap();
//! let logits = model.forward_t(&images, false)?;
//! assert_eq!(logits.dims(), &[2, 37]);
//! let trainable = model.params().iter().filter(|p| p.trainable).count();
//! assert_eq!(model.params()[0].name, "0.0.weight");
//! assert_eq!(model.n_groups(), 3);
//! assert!(trainable < model.params().len());
//! # Ok(()) }
//! ```

mod cifar;
mod error;
mod init;
mod layers;
mod pool;
mod resnet;
mod vision;
mod weights;

pub use cifar::{CifarArch, CifarResNet};
pub use error::{Error, MismatchReport, Result, ShapeMismatch};
pub use pool::{adaptive_avg_pool2d, adaptive_concat_pool2d, adaptive_max_pool2d, max_pool2d};
pub use resnet::{Arch, ResNet};
pub use vision::{Backbone, HeadConfig, VisionConfig, VisionModel};
pub use weights::Param;

/// `pool.cu`'s launches as data (fastvision-cuda-emu's tests run them); they live in the kernel layer.
pub use fastvision_ops::pool::launch as pool_launch;

// The kernel layer under its short name: `crate::ops::relu` is fastvision-ops' ReLU with PyTorch's gradient.
use fastvision_ops as ops;
