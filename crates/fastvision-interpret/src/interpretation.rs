//! `ClassificationInterpretation`: one pass over the predictions keeps, per item, the prediction, target,
//! probabilities and loss; every view (confusion matrix, most_confused, top losses, report) reads from that.

use serde::Serialize;

use fastvision_core::{Preds, Vocab};

use crate::{ClassificationReport, Confusion, ConfusionMatrix, Error, Result};

/// fastai's `ClassificationInterpretation` for a single-label classifier, built from the learner's predictions.
///
/// Holds the [`Preds`] as given (probabilities, targets, losses, item ids: no copy) plus one decoded class per item
/// and the confusion matrix, both computed in the single pass of [`ClassificationInterpretation::from_preds`].
#[derive(Debug, Clone)]
pub struct ClassificationInterpretation {
    preds: Preds,
    vocab: Vocab,
    decoded: Vec<u32>,
    confusion: ConfusionMatrix,
}

/// Everything known about one item, e.g. for a top-losses caption.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemResult {
    /// Position of the item in the predictions (what [`ClassificationInterpretation::top_losses`] returns).
    pub index: usize,
    /// The item's index in its split (what `DataLoader::item_path` takes).
    pub item_id: usize,
    /// Actual class id.
    pub actual: u32,
    /// Predicted class id (argmax of the probabilities).
    pub predicted: u32,
    /// The item's loss.
    pub loss: f32,
    /// Probability of the predicted class (fastai's caption shows this maximum).
    pub probability: f32,
}

impl ClassificationInterpretation {
    /// Builds the interpretation from predictions (the learner's `get_preds`) and the class vocabulary.
    /// Errors when there are no items, when the vocabulary size differs from `preds.n_classes`, when the arrays
    /// disagree in length, or when a target is not a class id.
    pub fn from_preds(preds: Preds, vocab: Vocab) -> Result<Self> {
        check_shapes(&preds, &vocab)?;
        let n_classes = preds.n_classes;
        let mut decoded = Vec::with_capacity(preds.len());
        for (position, (row, &target)) in preds.probs.chunks_exact(n_classes).zip(&preds.targets).enumerate() {
            if target as usize >= n_classes {
                return Err(Error::TargetOutOfRange { position, target, n_classes });
            }
            decoded.push(argmax(row));
        }
        let pairs = preds.targets.iter().copied().zip(decoded.iter().copied());
        let confusion = ConfusionMatrix::from_pairs(n_classes, pairs);
        Ok(Self { preds, vocab, decoded, confusion })
    }

    /// The class vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The predictions as given.
    pub fn preds(&self) -> &Preds {
        &self.preds
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.preds.len()
    }

    /// Always false: an interpretation is never built from empty predictions.
    pub fn is_empty(&self) -> bool {
        self.preds.is_empty()
    }

    /// Predicted class of each item (argmax; the first maximum on ties, like PyTorch).
    pub fn decoded(&self) -> &[u32] {
        &self.decoded
    }

    /// Actual class of each item.
    pub fn targets(&self) -> &[u32] {
        &self.preds.targets
    }

    /// Loss of each item, as given (fastai's `interp.losses`).
    pub fn losses(&self) -> &[f32] {
        &self.preds.losses
    }

    /// Probabilities of item `index` (`None` past the end).
    pub fn probs_of(&self, index: usize) -> Option<&[f32]> {
        let n_classes = self.preds.n_classes;
        self.preds.probs.get(index * n_classes..(index + 1) * n_classes)
    }

    /// Everything about item `index` (position in the predictions); `None` past the end.
    pub fn item(&self, index: usize) -> Option<ItemResult> {
        let predicted = *self.decoded.get(index)?;
        Some(ItemResult {
            index,
            item_id: self.preds.item_ids[index],
            actual: self.preds.targets[index],
            predicted,
            loss: self.preds.losses[index],
            probability: self.probs_of(index)?[predicted as usize],
        })
    }

    /// Fraction of items predicted correctly.
    pub fn accuracy(&self) -> f64 {
        let correct = self.decoded.iter().zip(&self.preds.targets).filter(|(p, t)| p == t).count();
        correct as f64 / self.len() as f64
    }

    /// The confusion matrix: rows actual, columns predicted.
    pub fn confusion_matrix(&self) -> &ConfusionMatrix {
        &self.confusion
    }

    /// fastai's `most_confused(min_val)`: `(actual, predicted, count)` for off-diagonal cells with
    /// `count ≥ min_val`, count descending, ties in row-major order. fastai's default is `min_val = 1`.
    pub fn most_confused(&self, min_val: u64) -> Vec<Confusion> {
        self.confusion.most_confused(&self.vocab, min_val)
    }

    /// fastai's `top_losses(k)`: the `k` largest losses as `(loss, index)`, largest first; equal losses keep
    /// index order, NaN counts as largest (as in `torch.topk`). `k` larger than the set gives every item.
    pub fn top_losses(&self, k: usize) -> Vec<(f32, usize)> {
        let losses = &self.preds.losses;
        let mut order: Vec<usize> = (0..losses.len()).collect();
        // A stable sort keeps equal losses in index order, so the result does not depend on the sort algorithm.
        order.sort_by(|&a, &b| losses[b].total_cmp(&losses[a]));
        order.into_iter().take(k).map(|index| (losses[index], index)).collect()
    }

    /// The per-class report (precision, recall, F1, support, accuracy, averages), as scikit-learn computes it.
    pub fn classification_report(&self) -> ClassificationReport {
        ClassificationReport::from_confusion(&self.confusion, &self.vocab)
    }

    /// The most-confused pairs as a plain-text table (for a CLI to print).
    pub fn most_confused_table(&self, min_val: u64) -> String {
        let pairs = self.most_confused(min_val);
        let actual_width = pairs.iter().map(|c| c.actual.chars().count()).max().unwrap_or(0).max("actual".len());
        let predicted_width =
            pairs.iter().map(|c| c.predicted.chars().count()).max().unwrap_or(0).max("predicted".len());
        let mut out = format!("{:<actual_width$}  {:<predicted_width$}  {:>5}\n", "actual", "predicted", "count");
        for c in &pairs {
            out.push_str(&format!("{:<actual_width$}  {:<predicted_width$}  {:>5}\n", c.actual, c.predicted, c.count));
        }
        out
    }
}

fn check_shapes(preds: &Preds, vocab: &Vocab) -> Result<()> {
    if preds.is_empty() {
        return Err(Error::EmptyPreds);
    }
    if preds.n_classes != vocab.len() || preds.n_classes == 0 {
        return Err(Error::VocabMismatch { n_classes: preds.n_classes, vocab_len: vocab.len() });
    }
    let n_items = preds.len();
    let check = |what, expected, actual| {
        if expected == actual {
            Ok(())
        } else {
            Err(Error::Length { what, expected, actual })
        }
    };
    check("probabilities (n_items × n_classes)", n_items * preds.n_classes, preds.probs.len())?;
    check("losses", n_items, preds.losses.len())?;
    check("item ids", n_items, preds.item_ids.len())
}

/// Index of the first maximum, as `Preds::decoded` computes it (a NaN only wins in first place).
fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (index, &p) in row.iter().enumerate() {
        if p > row[best] {
            best = index;
        }
    }
    best as u32
}
