//! The fused batch augmentation of fastvision: one coordinate map, one sample, lighting and normalisation, on the
//! CPU and in CUDA.
//!
//! fastai's `aug_transforms` resamples a batch two or three times (affine at full size, then the random resized
//! crop, each with PyTorch's `grid_sample`) and then runs lighting and `Normalize` as further passes. Here every
//! geometric draw of an image (flip, rotation, zoom, perspective warp, crop, resize) is composed into one 3×3 map
//! from output pixel to source pixel, and one kernel computes each output pixel once: source coordinate, sample of
//! the u8 source with the padding mode, u8 → float, brightness/contrast in logit space, normalisation, store.
//!
//! # Brief overview
//! - [`AugConfig`]: fastai's `aug_transforms` arguments; `Default` equals fastai's defaults.
//! - [`Normalize`]: per-channel statistics ([`Normalize::imagenet`]) and [`Normalize::decode`] for display.
//! - [`BatchAugment`]: [`BatchAugment::apply_train`] a training batch from a seed and
//!   [`BatchAugment::apply_valid`] a validation batch, or [`BatchAugment::plan_train`] the per-image [`ImageParams`]
//!   and [`BatchAugment::apply_planned`] them to replay or show a batch.
//! - [`reference`](mod@reference): fastai's own passes in f32 ([`Resampling::Fastai`]), the parity reference; [`matrix`]: fastai's
//!   elementary matrices.
//! - [`launch`]: the CUDA kernel's launch as data ([`BatchAugment::cuda_launch`]), which fastvision-cuda-emu runs
//!   on the CPU to check the kernel without a GPU.
//!
//! The CPU kernel is the reference for the CUDA twin (feature `cuda`); without it, images on a CUDA device give
//! [`Error::CudaNotCompiled`]. Where one output pixel covers more than two source pixels (fastai's trigger for
//! its `area` pre-shrink) the fused kernel averages `ceil(s/2)` bilinear taps per axis over the pixel's footprint;
//! see DESIGN.md.
//!
//! ```
//! use fastvision_augment::{AugConfig, BatchAugment, Normalize};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Two presized 3×40×48 u8 images, as the loader collates them.
//! let pixels: Vec<u8> = (0..2 * 3 * 40 * 48).map(|i| (i * 7 % 256) as u8).collect();
//! let images = candle::Tensor::from_vec(pixels, (2, 3, 40, 48), &candle::Device::Cpu)?;
//!
//! let augment = BatchAugment::new(AugConfig::with_size(16, 0.75), Some(Normalize::imagenet()))?;
//! let train = augment.apply_train(&images, 42)?;
//! assert_eq!(train.dims(), &[2, 3, 16, 16]);
//! assert_eq!(train.dtype(), candle::DType::F32);
//!
//! // The same seed replays the same batch; the validation path draws nothing.
//! let again = augment.apply_planned(&images, &augment.plan_train(2, 40, 48, 42)?)?;
//! assert_eq!(train.flatten_all()?.to_vec1::<f32>()?, again.flatten_all()?.to_vec1::<f32>()?);
//! let valid = augment.apply_valid(&images)?;
//! assert_eq!(valid.dims(), &[2, 3, 16, 16]);
//! # Ok(())
//! # }
//! ```

mod augment;
mod config;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod error;
pub mod launch;
mod lighting;
pub mod matrix;
mod params;
pub mod reference;
mod sampler;

pub use augment::BatchAugment;
pub use config::{AugConfig, Mode, Normalize, OutputDType, PadMode, Resampling};
pub use error::{Error, Result};
pub use params::{Crop, Draws, ImageParams};
