//! Fused, numerically stable classification losses with their gradients, as candle custom ops.
//!
//! # Brief overview
//! - [`cross_entropy`] (and [`cross_entropy_with`] for class weights, an ignore index and label smoothing):
//!   log-softmax and NLL in one pass over the logits; the forward keeps each row's `max` and `ln Σexp`, and the
//!   backward writes `(softmax − onehot)·scale` in one more pass. [`softmax`], [`log_softmax`], [`nll_loss`] and
//!   [`binary_cross_entropy_with_logits`] are fused the same way. All of them work inside candle's autograd.
//! - [`Loss`]: what the Learner calls (`forward`, `per_item`, `activation`, `decodes`), implemented by fastai's
//!   [`CrossEntropyLossFlat`], [`LabelSmoothingCrossEntropy`] and [`BCEWithLogitsLossFlat`].
//! - [`Error`]: bad input is an error, never garbage: a target out of range names the row and the class, NaN
//!   logits name the row, and shape mismatches and empty batches say what was expected.
//!
//! f32 and f64 run natively (f16 and bf16 are widened to f32). The CPU kernels vectorise and split large batches
//! over rayon; with the `cuda` feature the same ops run the kernels of `fastvision-kernels/src/losses.cu`, launched
//! as [`launch`] describes them (fastvision-cuda-emu runs those launches on the CPU to check the kernels in CI).
//!
//! ```
//! use candle::{Device, Tensor, Var};
//! use fastvision_losses::{cross_entropy, CrossEntropyLossFlat, Loss, Reduction};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let logits = Var::from_slice(&[2.0f32, 1.0, 0.1, 0.5, 2.5, 0.3], (2, 3), &Device::Cpu)?;
//! let targets = Tensor::new(&[0u32, 1], &Device::Cpu)?;
//! let loss = cross_entropy(logits.as_tensor(), &targets, Reduction::Mean)?;
//! let grads = loss.backward()?;
//! let grad = grads.get(&logits).expect("logits are a variable").to_vec2::<f32>()?;
//! // The gradient of each row is (softmax - onehot) / n_rows: it sums to zero.
//! assert!(grad.iter().all(|row| row.iter().sum::<f32>().abs() < 1e-6));
//!
//! let loss_func = CrossEntropyLossFlat::default();
//! let decoded = loss_func.decodes(&loss_func.activation(logits.as_tensor())?)?;
//! assert_eq!(decoded.to_vec1::<u32>()?, [0, 1]);
//! # Ok(())
//! # }
//! ```
//!
//! # The maths
//! For logits `x` of one row and target `t`, cross-entropy is `-log softmax(x)_t = ln Σ_c exp(x_c) − x_t`.
//! Computed as written, `exp(1000)` overflows to inf and the loss becomes NaN. Subtracting the row's maximum `m`
//! first changes nothing mathematically (`ln Σ exp(x_c) = m + ln Σ exp(x_c − m)`) but every exponent is then ≤ 0,
//! the largest term is exactly 1, and the sum lies in `[1, C]`: no overflow, no log of 0. The loss is evaluated as
//! `(m − x_t) + ln Σ exp(x_c − m)`, two non-negative terms, so at ±1e4 logits nothing cancels.
//! The derivative is `∂loss/∂x_j = softmax(x)_j − [j = t]`: the probabilities minus the one-hot target, times the
//! reduction's scale (1/n for the mean). fastai's label smoothing adds `eps/C·Σ_c(−log p_c)`, whose derivative is
//! `eps·softmax(x)_j − eps/C`; both fit in the same single backward pass.

mod checks;
mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
mod custom_ops;
mod error;
mod functional;
pub mod launch;
mod losses;
mod simd;

pub use error::{Error, Result};
pub use functional::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, log_softmax, nll_loss, nll_loss_with, softmax,
    BceConfig, CrossEntropyConfig, NllConfig, Reduction,
};
pub use losses::{
    BCEWithLogitsLossFlat, CrossEntropyLossFlat, LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyFlat, Loss,
};
