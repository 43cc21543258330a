//! fastai's loss objects (`CrossEntropyLossFlat`, `LabelSmoothingCrossEntropy`, `BCEWithLogitsLossFlat`) behind
//! the [`Loss`] trait the Learner calls, so users can plug in their own.

use candle::{DType, Tensor};

use crate::checks::{self, axis_index, move_axis_last};
use crate::functional::{binary_cross_entropy_with_logits, cross_entropy_with, softmax};
use crate::{BceConfig, CrossEntropyConfig, Error, Reduction, Result};
use fastvision_ops::CandleContext;

/// A loss as the Learner sees it: fastai's `loss_func` with its `activation` and `decodes`.
pub trait Loss: Send + Sync {
    /// The loss with the configured reduction (a scalar for mean and sum), differentiable in candle's autograd.
    fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor>;
    /// One loss per item (the first axis), for `get_preds(with_loss)` and top losses; items with several
    /// positions (segmentation, multi-label) get the mean over them.
    fn per_item(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor>;
    /// What turns logits into predictions (softmax, sigmoid), as `get_preds` reports them.
    fn activation(&self, logits: &Tensor) -> Result<Tensor>;
    /// Predictions to decoded labels (argmax class ids, or 0/1 per class).
    fn decodes(&self, activations: &Tensor) -> Result<Tensor>;
}

/// fastai's `CrossEntropyLossFlat`: moves the class `axis` last, flattens, then fused cross-entropy; `activation` is
/// softmax and `decodes` argmax along `axis`. `Default` = fastai's (`axis -1`, mean).
///
/// fastai swaps `axis` with the last one; this moves it (keeping the other axes in order), which is the same for
/// rank ≤ 3 and lines up with the targets for `N×C×H×W` logits.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyLossFlat {
    /// The class axis of the logits (negative counts from the end). Default: -1.
    pub axis: isize,
    /// Reduction, class weights, ignore index and label smoothing. Default: [`CrossEntropyConfig::default`].
    pub config: CrossEntropyConfig,
}

impl Default for CrossEntropyLossFlat {
    fn default() -> Self {
        Self { axis: -1, config: CrossEntropyConfig::default() }
    }
}

impl CrossEntropyLossFlat {
    /// The loss with `reduction` and everything else as fastai's default.
    pub fn new(reduction: Reduction) -> Self {
        Self { config: CrossEntropyConfig { reduction, ..CrossEntropyConfig::default() }, ..Self::default() }
    }

    fn loss(&self, logits: &Tensor, targets: &Tensor, config: &CrossEntropyConfig) -> Result<Tensor> {
        let (flat_logits, flat_targets) = flatten_classes("CrossEntropyLossFlat", logits, targets, self.axis)?;
        cross_entropy_with(&flat_logits, &flat_targets, config)
    }
}

impl Loss for CrossEntropyLossFlat {
    fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.loss(logits, targets, &self.config)
    }

    fn per_item(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let config = CrossEntropyConfig { reduction: Reduction::None, ..self.config.clone() };
        mean_per_item(self.loss(logits, targets, &config)?, logits.dims())
    }

    fn activation(&self, logits: &Tensor) -> Result<Tensor> {
        softmax(logits, axis_index(self.axis, logits.rank())?)
    }

    fn decodes(&self, activations: &Tensor) -> Result<Tensor> {
        argmax(activations, self.axis)
    }
}

/// fastai's `LabelSmoothingCrossEntropy`: `eps/C·Σ_c(-log p_c) + (1 - eps)·nll`, the reduction applied to both
/// terms and class weights only to the NLL term, fused like cross-entropy. `Default` = fastai's (`eps` 0.1, mean).
///
/// With `axis` it is also fastai's `LabelSmoothingCrossEntropyFlat` (the class axis is moved last and flattened).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSmoothingCrossEntropy {
    /// The smoothing in `[0, 1]`. Default: 0.1.
    pub eps: f64,
    /// One weight per class for the NLL term. Default: none.
    pub weight: Option<Vec<f64>>,
    /// How row losses are combined. Default: [`Reduction::Mean`].
    pub reduction: Reduction,
    /// The class axis (negative counts from the end). Default: -1.
    pub axis: isize,
}

/// fastai's flattening variant is the same type: set `axis`.
pub type LabelSmoothingCrossEntropyFlat = LabelSmoothingCrossEntropy;

impl Default for LabelSmoothingCrossEntropy {
    fn default() -> Self {
        Self { eps: 0.1, weight: None, reduction: Reduction::Mean, axis: -1 }
    }
}

impl LabelSmoothingCrossEntropy {
    /// The loss with smoothing `eps` and fastai's other defaults.
    pub fn new(eps: f64) -> Self {
        Self { eps, ..Self::default() }
    }

    fn loss(&self, logits: &Tensor, targets: &Tensor, reduction: Reduction) -> Result<Tensor> {
        let (flat_logits, flat_targets) = flatten_classes("LabelSmoothingCrossEntropy", logits, targets, self.axis)?;
        checks::check_smoothing("eps", self.eps)?;
        // fastai passes no ignore_index, so nothing is ignored.
        let config = CrossEntropyConfig {
            reduction,
            weight: self.weight.clone(),
            ignore_index: None,
            label_smoothing: self.eps,
        };
        cross_entropy_with(&flat_logits, &flat_targets, &config)
    }
}

impl Loss for LabelSmoothingCrossEntropy {
    fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.loss(logits, targets, self.reduction)
    }

    fn per_item(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        mean_per_item(self.loss(logits, targets, Reduction::None)?, logits.dims())
    }

    fn activation(&self, logits: &Tensor) -> Result<Tensor> {
        softmax(logits, axis_index(self.axis, logits.rank())?)
    }

    fn decodes(&self, activations: &Tensor) -> Result<Tensor> {
        argmax(activations, self.axis)
    }
}

/// fastai's `BCEWithLogitsLossFlat` for multi-label targets (0/1 per class, same shape as the logits): stable
/// `-[y·log σ(x) + (1 - y)·log(1 - σ(x))]`, fused; `activation` is sigmoid, `decodes` is `σ > thresh`.
/// `Default` = fastai's (`axis -1`, `thresh` 0.5, mean over every element).
#[derive(Debug, Clone, PartialEq)]
pub struct BCEWithLogitsLossFlat {
    /// The class axis (negative counts from the end). Default: -1.
    pub axis: isize,
    /// Decoding threshold on the sigmoid. Default: 0.5.
    pub thresh: f64,
    /// Reduction and per-class `weight` / `pos_weight` (indexed along `axis`). Default: [`BceConfig::default`].
    pub config: BceConfig,
}

impl Default for BCEWithLogitsLossFlat {
    fn default() -> Self {
        Self { axis: -1, thresh: 0.5, config: BceConfig::default() }
    }
}

impl BCEWithLogitsLossFlat {
    fn loss(&self, logits: &Tensor, targets: &Tensor, config: &BceConfig) -> Result<Tensor> {
        const OP: &str = "BCEWithLogitsLossFlat";
        if targets.dims() != logits.dims() {
            let what = "multi-label targets must have the logits' shape";
            let (expected, actual) = (format!("{:?}", logits.dims()), format!("{:?}", targets.dims()));
            return Err(Error::ShapeMismatch { op: OP, what, expected, actual });
        }
        let axis = axis_index(self.axis, logits.rank())?;
        let loss =
            binary_cross_entropy_with_logits(&move_axis_last(logits, axis)?, &move_axis_last(targets, axis)?, config)?;
        match config.reduction {
            // fastai flattens: with no reduction the result is one value per element.
            Reduction::None => Ok(loss.flatten_all().ctx("flattening the element losses")?),
            Reduction::Mean | Reduction::Sum => Ok(loss),
        }
    }
}

impl Loss for BCEWithLogitsLossFlat {
    fn forward(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.loss(logits, targets, &self.config)
    }

    fn per_item(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let config = BceConfig { reduction: Reduction::None, ..self.config.clone() };
        let loss = self.loss(logits, targets, &config)?;
        let n_items = logits.dims().first().copied().unwrap_or(1);
        Ok(loss.reshape((n_items, ())).and_then(|t| t.mean(1)).ctx("averaging the element losses per item")?)
    }

    fn activation(&self, logits: &Tensor) -> Result<Tensor> {
        checks::check_device("BCEWithLogitsLossFlat", logits)?;
        // 1 / (1 + exp(-x)) gives exactly 0 and 1 (not NaN) at ±1e4.
        Ok(logits.neg().and_then(|t| t.exp()).and_then(|t| t + 1.0).and_then(|t| t.recip()).ctx("sigmoid")?)
    }

    fn decodes(&self, activations: &Tensor) -> Result<Tensor> {
        Ok(activations.gt(self.thresh).ctx("thresholding the activations")?)
    }
}

/// Moves the class axis last and flattens logits to `rows × C` and targets to `rows`, checking they fit.
fn flatten_classes(op: &'static str, logits: &Tensor, targets: &Tensor, axis: isize) -> Result<(Tensor, Tensor)> {
    let rank = logits.rank();
    if rank == 0 {
        let what = "logits need a class axis";
        return Err(Error::ShapeMismatch { op, what, expected: "[n, C]".into(), actual: "[]".into() });
    }
    let axis = axis_index(axis, rank)?;
    let n_classes = logits.dims()[axis];
    let expected_targets: Vec<usize> =
        logits.dims().iter().enumerate().filter(|&(d, _)| d != axis).map(|(_, &n)| n).collect();
    let n_rows: usize = expected_targets.iter().product();
    if n_rows == 0 || n_classes == 0 {
        return Err(Error::EmptyBatch { op, shape: format!("{:?}", logits.dims()) });
    }
    if targets.elem_count() != n_rows {
        let what = "one target per position of the logits without the class axis";
        let (expected, actual) = (format!("{expected_targets:?}"), format!("{:?}", targets.dims()));
        return Err(Error::ShapeMismatch { op, what, expected, actual });
    }
    let flat_logits = move_axis_last(logits, axis)?.reshape((n_rows, n_classes)).ctx("flattening the logits")?;
    let flat_targets = targets.flatten_all().ctx("flattening the targets")?;
    Ok((flat_logits, flat_targets))
}

/// Averages flattened per-position losses per item (first axis of the logits); rank-2 logits pass through.
fn mean_per_item(loss: Tensor, logits_dims: &[usize]) -> Result<Tensor> {
    if logits_dims.len() <= 2 {
        return Ok(loss);
    }
    Ok(loss.reshape((logits_dims[0], ())).and_then(|t| t.mean(1)).ctx("averaging the losses per item")?)
}

/// Argmax along `axis` as u32 class ids.
fn argmax(activations: &Tensor, axis: isize) -> Result<Tensor> {
    let axis = axis_index(axis, activations.rank())?;
    Ok(activations.argmax(axis).and_then(|t| t.to_dtype(DType::U32)).ctx("argmax of the activations")?)
}
