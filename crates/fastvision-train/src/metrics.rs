//! Validation metrics (fastai's `error_rate`, `accuracy`, `top_k_accuracy`), averaged per item over a data set
//! like fastai's `AvgMetric`.

use std::fmt;
use std::str::FromStr;

use candle::Tensor;
use fastvision_ops::CandleContext;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A classification metric, computed from logits (N×C) and u32 targets (N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Metric {
    /// Fraction of items whose argmax differs from the target (`1 - accuracy`).
    ErrorRate,
    /// Fraction of items whose argmax equals the target.
    Accuracy,
    /// Fraction of items whose target is among the `k` highest scores.
    TopKAccuracy(usize),
}

impl Metric {
    /// The column name in the epoch table (fastai's names).
    pub fn name(&self) -> String {
        match self {
            Self::ErrorRate => "error_rate".into(),
            Self::Accuracy => "accuracy".into(),
            Self::TopKAccuracy(k) => format!("top_{k}_accuracy"),
        }
    }

    /// Whether a lower value is better (`error_rate`) or a higher one (the accuracies).
    pub fn lower_is_better(&self) -> bool {
        matches!(self, Self::ErrorRate)
    }

    /// The metric over one batch (a mean over its items).
    pub fn compute(&self, logits: &Tensor, targets: &Tensor) -> Result<f64> {
        let (rows, targets) = rows_and_targets(logits, targets)?;
        Ok(self.from_rows(&rows, &targets))
    }

    /// The metric on host data: one score row per item.
    pub fn from_rows(&self, rows: &[Vec<f32>], targets: &[u32]) -> f64 {
        if rows.is_empty() {
            return 0.0;
        }
        let k = match self {
            Self::TopKAccuracy(k) => *k,
            _ => 1,
        };
        let hits = rows.iter().zip(targets).filter(|(row, &t)| in_top_k(row, t, k)).count();
        let accuracy = hits as f64 / rows.len() as f64;
        match self {
            Self::ErrorRate => 1.0 - accuracy,
            _ => accuracy,
        }
    }
}

impl fmt::Display for Metric {
    /// fastai's name, as in [`Metric::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Metric {
    type Err = Error;

    /// Reads [`Metric::name`] back: `error_rate`, `accuracy` or `top_K_accuracy`.
    fn from_str(name: &str) -> Result<Self> {
        let top_k = name.strip_prefix("top_").and_then(|rest| rest.strip_suffix("_accuracy"));
        match (name, top_k.and_then(|k| k.parse().ok())) {
            ("error_rate", _) => Ok(Self::ErrorRate),
            ("accuracy", _) => Ok(Self::Accuracy),
            (_, Some(k)) => Ok(Self::TopKAccuracy(k)),
            _ => Err(Error::InvalidParameter {
                name: "metric",
                value: name.to_owned(),
                why: "known metrics are error_rate, accuracy and top_K_accuracy (e.g. top_5_accuracy)",
            }),
        }
    }
}

/// Metric values as `metrics.json` and checkpoints write them: `[["error_rate", 0.25], …]`, fastai's names.
pub(crate) mod named_values {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Metric;

    /// Writes each `(metric, value)` as `[name, value]`.
    pub fn serialize<S: Serializer>(values: &[(Metric, f64)], serializer: S) -> Result<S::Ok, S::Error> {
        let named: Vec<(String, f64)> = values.iter().map(|(m, v)| (m.name(), *v)).collect();
        named.serialize(serializer)
    }

    /// Reads `[name, value]` pairs back, failing on an unknown name.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(Metric, f64)>, D::Error> {
        let named = Vec::<(String, f64)>::deserialize(deserializer)?;
        named.into_iter().map(|(name, v)| name.parse().map(|m| (m, v)).map_err(D::Error::custom)).collect()
    }
}

/// The value of `metric` among `(metric, value)` pairs, if it was computed.
pub(crate) fn find(values: &[(Metric, f64)], metric: Metric) -> Option<f64> {
    values.iter().find(|(m, _)| *m == metric).map(|(_, v)| *v)
}

/// fastai's `error_rate` over one batch.
pub fn error_rate(logits: &Tensor, targets: &Tensor) -> Result<f64> {
    Metric::ErrorRate.compute(logits, targets)
}

/// fastai's `accuracy` over one batch.
pub fn accuracy(logits: &Tensor, targets: &Tensor) -> Result<f64> {
    Metric::Accuracy.compute(logits, targets)
}

/// fastai's `top_k_accuracy` over one batch.
pub fn top_k_accuracy(logits: &Tensor, targets: &Tensor, k: usize) -> Result<f64> {
    Metric::TopKAccuracy(k).compute(logits, targets)
}

/// True when `target` is among the `k` best scores of `row`. For k = 1 this is torch's argmax (the first maximum
/// wins ties); for k > 1 an earlier equal score ranks first, like a stable top-k.
fn in_top_k(row: &[f32], target: u32, k: usize) -> bool {
    let t = target as usize;
    let Some(&score) = row.get(t) else { return false };
    let better = row.iter().enumerate().filter(|&(j, &v)| v > score || (v == score && j < t)).count();
    better < k
}

/// Copies logits and targets to the host and checks their shapes.
fn rows_and_targets(logits: &Tensor, targets: &Tensor) -> Result<(Vec<Vec<f32>>, Vec<u32>)> {
    let rows = logits
        .to_dtype(candle::DType::F32)
        .and_then(|l| l.to_vec2::<f32>())
        .ctx("reading logits for a metric (expected N×C)")?;
    let targets = targets.to_vec1::<u32>().ctx("reading targets for a metric (expected N u32 class ids)")?;
    if rows.len() != targets.len() {
        return Err(Error::InvalidParameter {
            name: "metric inputs",
            value: format!("{} logit rows, {} targets", rows.len(), targets.len()),
            why: "logits and targets must have one row per item",
        });
    }
    Ok((rows, targets))
}

/// fastai's `AvgMetric`: the per-batch values weighted by batch size, so the result is a mean over items.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AvgMetric {
    total: f64,
    count: usize,
}

impl AvgMetric {
    /// Adds a batch of `n_items` whose mean value is `value`.
    pub fn add(&mut self, value: f64, n_items: usize) {
        self.total += value * n_items as f64;
        self.count += n_items;
    }

    /// The mean over all items added (0 when none).
    pub fn value(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.total / self.count as f64
    }
}

#[cfg(test)]
mod tests;
