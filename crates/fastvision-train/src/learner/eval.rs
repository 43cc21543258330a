//! Evaluation: validation loss and metrics (means over items), and `get_preds` (probabilities through the loss's
//! activation, per-item losses) for interpretation.

use candle::{DType, Tensor};
use fastvision_core::{ImageBatch, Preds};
use fastvision_data::{DataLoader, LoaderConfig};
use fastvision_ops::CandleContext;

use super::fit::scalar_f32;
use super::Learner;
use crate::error::{Error, Result};
use crate::metrics::{AvgMetric, Metric};

/// Which split to predict on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetSplit {
    /// The training items, in split order, without augmentation (centre crops).
    Train,
    /// The validation items.
    Valid,
}

/// Validation loss and metrics, each a mean over items.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    /// Mean loss.
    pub loss: f64,
    /// The value of each metric, in the learner's order (written as `[name, value]` pairs);
    /// [`Validation::metric`] finds one.
    #[serde(with = "crate::metrics::named_values")]
    pub metrics: Vec<(Metric, f64)>,
}

impl Validation {
    /// The value of `metric`, if the learner computes it.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        crate::metrics::find(&self.metrics, metric)
    }
}

impl Learner {
    /// fastai's `validate()`: loss and metrics over the validation set (model in eval mode).
    pub fn validate(&mut self) -> Result<Validation> {
        self.validate_epoch(0)?.ok_or(Error::EmptySplit { split: "valid" })
    }

    /// Validation after an epoch; `None` when the validation set is empty (fastai then shows no valid loss).
    pub(super) fn validate_epoch(&mut self, epoch: usize) -> Result<Option<Validation>> {
        let valid = self.dls.valid().clone();
        if valid.n_items() == 0 {
            return Ok(None);
        }
        let mut loss = AvgMetric::default();
        let mut metrics = vec![AvgMetric::default(); self.metrics.len()];
        for (b, batch) in valid.epoch(0).enumerate() {
            let batch = batch.map_err(|source| Error::Data { context: format!("validation batch {b}"), source })?;
            let logits = self.eval_logits(&batch)?;
            let batch_loss = self
                .loss
                .forward(&logits, &batch.targets)
                .map_err(|source| Error::Loss { context: "validation loss".into(), source })?;
            loss.add(scalar_f32(&batch_loss)? as f64, batch.len());
            for (metric, avg) in self.metrics.iter().zip(metrics.iter_mut()) {
                avg.add(metric.compute(&logits, &batch.targets)?, batch.len());
            }
            self.reporter.batch(&crate::reporter::BatchProgress {
                epoch,
                batch: b,
                n_batches: valid.n_batches(),
                train: false,
                loss: loss.value(),
                items_per_sec: 0.0,
            });
        }
        let metrics = self.metrics.iter().zip(metrics).map(|(m, avg)| (*m, avg.value())).collect();
        Ok(Some(Validation { loss: loss.value(), metrics }))
    }

    /// Logits in eval mode (BatchNorm running statistics, no dropout, no gradient graph kept).
    fn eval_logits(&self, batch: &ImageBatch) -> Result<Tensor> {
        let logits = self
            .model
            .forward_t(&batch.images, false)
            .map_err(|source| Error::Model { context: "evaluation forward pass".into(), source })?;
        Ok(logits.detach())
    }

    /// fastai's `get_preds(ds_idx)`: probabilities (the loss's activation), targets and per-item losses of every
    /// item of `split`, in split order.
    pub fn get_preds(&mut self, split: DatasetSplit) -> Result<Preds> {
        let loader = match split {
            DatasetSplit::Valid => self.dls.valid().clone(),
            DatasetSplit::Train => unshuffled(self.dls.train())?,
        };
        let n_classes = self.model.n_classes();
        let (mut probs, mut targets, mut losses, mut item_ids) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (b, batch) in loader.epoch(0).enumerate() {
            let batch = batch.map_err(|source| Error::Data { context: format!("get_preds batch {b}"), source })?;
            let logits = self.eval_logits(&batch)?;
            let activations = self
                .loss
                .activation(&logits)
                .map_err(|source| Error::Loss { context: "get_preds activation".into(), source })?;
            let per_item = self
                .loss
                .per_item(&logits, &batch.targets)
                .map_err(|source| Error::Loss { context: "get_preds per-item loss".into(), source })?;
            probs.extend(to_f32_vec(&activations, "probabilities")?);
            losses.extend(to_f32_vec(&per_item, "per-item losses")?);
            targets.extend(batch.targets.to_vec1::<u32>().ctx("reading targets")?);
            item_ids.extend(batch.item_ids.iter().copied());
        }
        Preds::new(n_classes, probs, targets, losses, item_ids)
            .map_err(|source| Error::Core { context: "assembling predictions".into(), source })
    }
}

/// The training items as a validation-style loader: split order, every item, no augmentation.
fn unshuffled(train: &DataLoader) -> Result<DataLoader> {
    let config = LoaderConfig { train: false, ..train.config().clone() };
    DataLoader::new(train.items().to_vec(), config, train.batch_tfm().clone())
        .map_err(|source| Error::Data { context: "preparing the training items for get_preds".into(), source })
}

fn to_f32_vec(t: &Tensor, what: &str) -> Result<Vec<f32>> {
    let values = t.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>());
    Ok(values.ctx(&format!("reading {what}"))?)
}

impl Learner {
    /// fastai's `ClassificationInterpretation.from_learner(learn, ds_idx)`: one pass of [`Learner::get_preds`]
    /// over `split`, kept per item (prediction, target, probabilities, loss) for every view of the interpretation.
    pub fn interpretation(
        &mut self,
        split: DatasetSplit,
    ) -> Result<fastvision_interpret::ClassificationInterpretation> {
        let preds = self.get_preds(split)?;
        fastvision_interpret::ClassificationInterpretation::from_preds(preds, self.dls.vocab().clone())
            .map_err(|source| Error::Interpret { context: format!("interpreting the {split:?} predictions"), source })
    }
}
