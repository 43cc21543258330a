//! Predictions over a data set: what training hands to interpretation.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Per-item predictions: row-major probabilities (`n_items × n_classes`), targets and per-item losses, with the
/// item index in its split. Plain data, so an interpretation can be rebuilt from saved predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preds {
    /// Number of classes (row length of `probs`).
    pub n_classes: usize,
    /// Probabilities, `n_items × n_classes`, row-major.
    pub probs: Vec<f32>,
    /// Target class of each item.
    pub targets: Vec<u32>,
    /// Loss of each item.
    pub losses: Vec<f32>,
    /// Index of each item in its split.
    pub item_ids: Vec<usize>,
}

impl Preds {
    /// Checks that the arrays agree in length.
    pub fn new(
        n_classes: usize,
        probs: Vec<f32>,
        targets: Vec<u32>,
        losses: Vec<f32>,
        item_ids: Vec<usize>,
    ) -> Result<Self> {
        let n = targets.len();
        let check = |what, actual| if actual == n { Ok(()) } else { Err(Error::Length { what, expected: n, actual }) };
        check("probabilities (n_items × n_classes)", probs.len() / n_classes.max(1))?;
        check("losses", losses.len())?;
        check("item ids", item_ids.len())?;
        if probs.len() != n * n_classes {
            return Err(Error::Length { what: "probabilities", expected: n * n_classes, actual: probs.len() });
        }
        Ok(Self { n_classes, probs, targets, losses, item_ids })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The probability row of item `i`.
    pub fn probs_of(&self, i: usize) -> &[f32] {
        &self.probs[i * self.n_classes..(i + 1) * self.n_classes]
    }

    /// The predicted class of each item (argmax; the first maximum on ties, like PyTorch).
    pub fn decoded(&self) -> Vec<u32> {
        (0..self.len())
            .map(|i| {
                let row = self.probs_of(i);
                let mut best = 0;
                for (j, &p) in row.iter().enumerate() {
                    if p > row[best] {
                        best = j;
                    }
                }
                best as u32
            })
            .collect()
    }

    /// Fraction of items whose prediction differs from the target.
    pub fn error_rate(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let wrong = self.decoded().iter().zip(&self.targets).filter(|(p, t)| p != t).count();
        wrong as f64 / self.len() as f64
    }
}
