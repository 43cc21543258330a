//! Fast CPU training kernels for fastvision as candle custom ops with their own backward passes.
//!
//! # Brief overview
//! - [`conv2d`] with a [`Conv2dConfig`]: 2-D convolution whose forward, input gradient and weight gradient are packed matrix products
//!   (im2col/col2im per tile, the `gemm` crate's kernels, rayon over images), replacing candle's CPU convolution
//!   and its naive `conv_transpose2d` input gradient. Gradients are computed only for arguments that track one.
//! - [`batch_norm_train`] / [`batch_norm_eval`] with a [`BatchNormConfig`]: BatchNorm (optionally fused with ReLU) in
//!   one pass forward and two backward, returning the [`BatchStats`] for the caller's running-average update.
//! - [`add_relu()`]: `relu(a + b)`, the end of every residual block, as one op; [`relu()`] with PyTorch's gradient
//!   at 0; [`pool::max_pool2d`] with padding and its argmax-recording backward (CPU and CUDA).
//! - The kernel layer the other kernel crates (augment, losses, models) stand on, as candle-core is for
//!   candle-nn: one [`Float`] trait, one run-time CPU dispatch ([`simd::Level`], [`widest!`]), one
//!   vectorisable [`fastmath`] module, one candle-error helper ([`CandleContext`]) and one float custom-op
//!   skeleton ([`custom_op`], [`float_custom_op!`]), kernel launches as data ([`launch`]) and, with feature
//!   `cuda`, the one launch sequence (`cuda::launch`).
//! - [`malloc::retain_freed_memory`]: glibc settings that let one training step reuse the previous step's buffers
//!   instead of page-faulting fresh ones. A process-wide setting, so no library calls it: a program that trains
//!   calls it once at the start of `main`, as the `fastvision` binary does (speed only; the bits are the same).
//!
//! Other devices and dtypes fall back to candle's own operations, so the functions are safe to call everywhere;
//! [`path::force_generic`] sends CPU tensors down that generic path too, for tests that compare the two.
//!
//! ```
//! use candle::{DType, Device, Tensor, Var};
//! use fastvision_ops::{batch_norm_train, conv2d, Activation, BatchNormConfig, Conv2dConfig};
//! let x = Tensor::randn(0f32, 1.0, (2, 3, 8, 8), &Device::Cpu)?;
//! let w = Var::randn(0f32, 0.1, (4, 3, 3, 3), &Device::Cpu)?;
//! let gamma = Var::ones(4, DType::F32, &Device::Cpu)?;
//! let beta = Var::zeros(4, DType::F32, &Device::Cpu)?;
//! let y = conv2d(&x, &w, &Conv2dConfig::default().with_padding(1))?;
//! let relu = BatchNormConfig::default().with_activation(Activation::Relu);
//! let (y, stats) = batch_norm_train(&y, &gamma, &beta, &relu)?;
//! let grads = y.sum_all()?.backward()?;
//! assert_eq!(grads.get(&w).expect("weight gradient").dims(), &[4, 3, 3, 3]);
//! assert_eq!(stats.count, 2 * 8 * 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod add_relu;
mod batchnorm;
mod context;
mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod custom_op;
mod error;
pub mod fastmath;
mod float;
pub mod launch;
pub mod malloc;
pub mod path;
pub mod pool;
pub mod profile;
mod relu;
mod scratch;
pub mod simd;

pub use add_relu::add_relu;
pub use batchnorm::{batch_norm_eval, batch_norm_train, Activation, BatchNormConfig, BatchStats};
pub use context::{CandleContext, CandleFailure};
pub use conv::{conv2d, conv2d_backward, Conv2dConfig, ConvGrads};
pub use error::{Error, Result};
pub use float::Float;
pub use relu::relu;

/// candle, for the paths the exported macros expand to (the calling crate may name it otherwise).
#[doc(hidden)]
pub use candle as __candle;
