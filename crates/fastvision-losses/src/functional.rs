//! The free functions (PyTorch's `F.softmax`, `F.log_softmax`, `F.nll_loss`, `F.cross_entropy`,
//! `F.binary_cross_entropy_with_logits`) and their configs; each applies one fused op.

use std::sync::Arc;

use candle::shape::Dim;
use candle::Tensor;

use crate::checks::{self, apply, float_input, restore_dtype};
use crate::cpu::{BinaryParams, ClassParams};
use crate::custom_ops::{BceOp, CrossEntropyOp, NllOp, OpState, SoftmaxOp};
use crate::{Error, Result};
use fastvision_ops::CandleContext;

/// How per-item losses are combined, as PyTorch's `reduction` argument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reduction {
    /// One loss per item (row).
    None,
    /// The (weighted) mean over items: PyTorch's and fastai's default.
    #[default]
    Mean,
    /// The sum over items.
    Sum,
}

/// Options of [`cross_entropy_with`]; `Default` is PyTorch's `nn.CrossEntropyLoss()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyConfig {
    /// How row losses are combined. Default: [`Reduction::Mean`].
    pub reduction: Reduction,
    /// One weight per class, multiplying the NLL term of rows of that class; the mean then divides by the sum of
    /// the targets' weights, as PyTorch does. Default: none (all 1).
    pub weight: Option<Vec<f64>>,
    /// Rows whose target equals this get no loss and no gradient and are not counted by the mean.
    /// Default: `Some(-100)`, PyTorch's value (it never matches u32 targets).
    pub ignore_index: Option<i64>,
    /// fastai's label-smoothing `eps` in `[0, 1]`: loss = `(1 - eps)·nll + eps/C·Σ_c(-log p_c)`. Default: 0.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyConfig {
    fn default() -> Self {
        Self { reduction: Reduction::Mean, weight: None, ignore_index: Some(-100), label_smoothing: 0.0 }
    }
}

/// Options of [`nll_loss_with`]; `Default` is PyTorch's `F.nll_loss` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct NllConfig {
    /// How row losses are combined. Default: [`Reduction::Mean`].
    pub reduction: Reduction,
    /// One weight per class; the mean divides by the sum of the targets' weights. Default: none.
    pub weight: Option<Vec<f64>>,
    /// Rows whose target equals this are skipped. Default: `Some(-100)`.
    pub ignore_index: Option<i64>,
}

impl Default for NllConfig {
    fn default() -> Self {
        Self { reduction: Reduction::Mean, weight: None, ignore_index: Some(-100) }
    }
}

/// Options of [`binary_cross_entropy_with_logits`]; `Default` is PyTorch's `nn.BCEWithLogitsLoss()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BceConfig {
    /// How element losses are combined; the mean is over every element. Default: [`Reduction::Mean`].
    pub reduction: Reduction,
    /// One weight per class (last axis), multiplying each element's loss. Default: none.
    pub weight: Option<Vec<f64>>,
    /// One weight per class for the positive term, PyTorch's `pos_weight`. Default: none.
    pub pos_weight: Option<Vec<f64>>,
}

/// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`, exact 0 and 1 at ±1e4 logits, never NaN for finite input.
///
/// Differentiable (its own backward: `y·(g − Σ g·y)`). Errors on NaN or +inf logits, naming the row.
pub fn softmax<D: Dim>(logits: &Tensor, axis: D) -> Result<Tensor> {
    softmax_impl(logits, axis, false)
}

/// Log-softmax along `axis`: `(x - max) - ln Σ exp(x - max)`, finite for any finite input (−2000, not −inf).
///
/// Differentiable (its own backward: `g − softmax·Σ g`). Errors on NaN or +inf logits, naming the row.
pub fn log_softmax<D: Dim>(logits: &Tensor, axis: D) -> Result<Tensor> {
    softmax_impl(logits, axis, true)
}

fn softmax_impl<D: Dim>(logits: &Tensor, axis: D, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    let (logits, dtype) = float_input(op, "logits", logits)?;
    if logits.elem_count() == 0 {
        return Err(Error::EmptyBatch { op, shape: format!("{:?}", logits.dims()) });
    }
    let axis = axis.to_index(logits.shape(), op).ctx("resolving the softmax axis")?;
    let last = logits.rank() - 1;
    // Swapping twice is the identity, so the output comes back in the caller's layout.
    let moved = if axis == last { logits } else { logits.transpose(axis, last).ctx("moving the axis last")? };
    let moved = moved.contiguous().ctx("making the logits contiguous")?;
    let state = Arc::new(OpState::default());
    let output = apply(&state, op, || moved.apply_op1(SoftmaxOp { log, state: state.clone() }))?;
    let output = if axis == last { output } else { output.transpose(axis, last).ctx("moving the axis back")? };
    restore_dtype(output, dtype)
}

/// Negative log-likelihood of class-id `targets` (`n`, integer) under `log_probs` (`n × C`), PyTorch's `F.nll_loss`.
pub fn nll_loss(log_probs: &Tensor, targets: &Tensor, reduction: Reduction) -> Result<Tensor> {
    nll_loss_with(log_probs, targets, &NllConfig { reduction, ..NllConfig::default() })
}

/// [`nll_loss`] with class weights and an ignore index.
pub fn nll_loss_with(log_probs: &Tensor, targets: &Tensor, config: &NllConfig) -> Result<Tensor> {
    const OP: &str = "nll_loss";
    let (log_probs, dtype) = float_input(OP, "log-probabilities", log_probs)?;
    let (n_rows, n_classes) = checks::matrix(OP, &log_probs)?;
    let targets = checks::class_targets(OP, targets, n_rows, log_probs.device())?;
    let params = ClassParams {
        n_classes,
        weight: checks::class_weights(OP, "weight", &config.weight, n_classes)?,
        ignore_index: config.ignore_index,
        smoothing: 0.0,
        reduction: config.reduction,
    };
    let log_probs = log_probs.contiguous().ctx("making the log-probabilities contiguous")?;
    let state = Arc::new(OpState::default());
    let loss = apply(&state, OP, || log_probs.apply_op2(&targets, NllOp { params, state: state.clone() }))?;
    restore_dtype(loss, dtype)
}

/// Cross-entropy of `logits` (`n × C`) against class ids (`n`, integer): log-softmax and NLL in one fused pass,
/// with a fused backward `(softmax − onehot)·scale`.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor, reduction: Reduction) -> Result<Tensor> {
    cross_entropy_with(logits, targets, &CrossEntropyConfig { reduction, ..CrossEntropyConfig::default() })
}

/// [`cross_entropy`] with class weights, an ignore index and fastai's label smoothing.
pub fn cross_entropy_with(logits: &Tensor, targets: &Tensor, config: &CrossEntropyConfig) -> Result<Tensor> {
    const OP: &str = "cross_entropy";
    checks::check_smoothing("label_smoothing", config.label_smoothing)?;
    let (logits, dtype) = float_input(OP, "logits", logits)?;
    let (n_rows, n_classes) = checks::matrix(OP, &logits)?;
    let targets = checks::class_targets(OP, targets, n_rows, logits.device())?;
    let params = ClassParams {
        n_classes,
        weight: checks::class_weights(OP, "weight", &config.weight, n_classes)?,
        ignore_index: config.ignore_index,
        smoothing: config.label_smoothing,
        reduction: config.reduction,
    };
    let logits = logits.contiguous().ctx("making the logits contiguous")?;
    let state = Arc::new(OpState::default());
    // Keeping exp(x - max) costs one write per logit and saves the backward an exponential per logit.
    let keep_exps = logits.track_op();
    let op = CrossEntropyOp { params, state: state.clone(), keep_exps };
    let loss = apply(&state, OP, || logits.apply_op2(&targets, op))?;
    restore_dtype(loss, dtype)
}

/// Binary cross-entropy of `logits` against same-shaped 0/1 (or soft) `targets`, stable for any finite logit;
/// the classes are the last axis. With [`Reduction::None`] the result has the logits' shape.
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor, config: &BceConfig) -> Result<Tensor> {
    const OP: &str = "binary_cross_entropy_with_logits";
    let (logits, dtype) = float_input(OP, "logits", logits)?;
    if targets.dims() != logits.dims() {
        let what = "targets must have the logits' shape (one 0/1 value per class)";
        let (expected, actual) = (format!("{:?}", logits.dims()), format!("{:?}", targets.dims()));
        return Err(Error::ShapeMismatch { op: OP, what, expected, actual });
    }
    let n_classes = logits.dims().last().copied().unwrap_or(1);
    if logits.elem_count() == 0 {
        return Err(Error::EmptyBatch { op: OP, shape: format!("{:?}", logits.dims()) });
    }
    checks::check_same_device(OP, logits.device(), targets)?;
    let params = BinaryParams {
        n_classes,
        weight: checks::class_weights(OP, "weight", &config.weight, n_classes)?,
        pos_weight: checks::class_weights(OP, "pos_weight", &config.pos_weight, n_classes)?,
        reduction: config.reduction,
    };
    let flat_logits = logits.flatten_all().and_then(|t| t.contiguous()).ctx("flattening the logits")?;
    let flat_targets = targets
        .to_dtype(logits.dtype())
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.contiguous())
        .ctx("converting the targets to the logits' dtype")?;
    let state = Arc::new(OpState::default());
    let loss = apply(&state, OP, || flat_logits.apply_op2(&flat_targets, BceOp { params, state: state.clone() }))?;
    let loss = match config.reduction {
        Reduction::None => loss.reshape(logits.dims()).ctx("reshaping the element losses")?,
        Reduction::Mean | Reduction::Sum => loss,
    };
    restore_dtype(loss, dtype)
}
