//! fastai's learning-rate finder: without the model, the exponential sweep, the stop-on-divergence rule and the four
//! suggestion functions, each computed exactly like fastai (float32 where fastai uses float32 tensors); and, in
//! `lr_find/learner.rs`, `Learner::lr_find`, which runs it on a learner.

use serde::{Deserialize, Serialize};

use crate::error::{check_positive, Error, Result};
use crate::recorder::SmoothLoss;
use crate::schedule::sched_exp;

mod learner;

pub use learner::LrFindResult;

/// `lr_find` settings; `Default` = fastai's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrFindConfig {
    /// Learning rate of the first iteration.
    pub start_lr: f64,
    /// Learning rate approached at the end (never reached: the last iteration is at `(num_it-1)/num_it`).
    pub end_lr: f64,
    /// Number of iterations (at least 6, like fastai).
    pub num_it: usize,
    /// Stop as soon as the smoothed loss exceeds 4× the best one.
    pub stop_div: bool,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        Self { start_lr: 1e-7, end_lr: 10.0, num_it: 100, stop_div: true }
    }
}

/// Why an lr_find sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrFindStop {
    /// All `num_it` iterations ran.
    Finished,
    /// The smoothed loss exceeded 4× the best one.
    Diverged,
    /// The loss was NaN or infinite.
    NonFinite,
}

/// The sweep as a state machine: ask [`LrFinder::lr_at`] before each batch, [`LrFinder::record`] the batch loss
/// after it, until `record` says stop. The learner runs the batches; this keeps the rules testable without a model.
#[derive(Debug, Clone)]
pub struct LrFinder {
    config: LrFindConfig,
    smooth: SmoothLoss,
    best: f32,
    lrs: Vec<f64>,
    losses: Vec<f32>,
}

impl LrFinder {
    /// A sweep with `config` (`num_it` raised to 6 when smaller, like fastai).
    pub fn new(mut config: LrFindConfig) -> Result<Self> {
        check_positive("start_lr", config.start_lr)?;
        check_positive("end_lr", config.end_lr)?;
        config.num_it = config.num_it.max(6);
        Ok(Self { config, smooth: SmoothLoss::default(), best: f32::INFINITY, lrs: Vec::new(), losses: Vec::new() })
    }

    /// The settings in use.
    pub fn config(&self) -> &LrFindConfig {
        &self.config
    }

    /// The learning rate of iteration `iter`: `start * (end/start)^(iter/num_it)`.
    pub fn lr_at(&self, iter: usize) -> f64 {
        sched_exp(self.config.start_lr, self.config.end_lr, iter as f64 / self.config.num_it as f64)
    }

    /// Records the raw loss of the iteration that used `lr`; returns `Some(reason)` when the sweep must stop.
    pub fn record(&mut self, lr: f64, loss: f32) -> Option<LrFindStop> {
        let smooth = self.smooth.update(loss);
        self.lrs.push(lr);
        self.losses.push(smooth);
        if !smooth.is_finite() {
            return Some(LrFindStop::NonFinite);
        }
        if smooth < self.best {
            self.best = smooth;
        }
        if self.config.stop_div && smooth > 4.0 * self.best {
            return Some(LrFindStop::Diverged);
        }
        (self.lrs.len() >= self.config.num_it).then_some(LrFindStop::Finished)
    }

    /// Learning rates recorded so far.
    pub fn lrs(&self) -> &[f64] {
        &self.lrs
    }

    /// Smoothed losses recorded so far.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// fastai's suggestions on the recorded points (see [`suggest_from_recorder`]).
    pub fn suggestions(&self) -> Result<Suggestions> {
        suggest_from_recorder(&self.lrs, &self.losses, self.config.num_it)
    }
}

/// A suggested learning rate and the point (lr, loss) to mark on the plot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The suggested learning rate.
    pub lr: f64,
    /// Learning rate of the marked point (for `minimum`, 10× the suggestion).
    pub point_lr: f64,
    /// Loss of the marked point.
    pub point_loss: f64,
}

/// The four fastai suggestions; `valley` is fastai's default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Suggestions {
    /// One tenth of the learning rate at the minimum loss.
    pub minimum: Suggestion,
    /// Where the loss falls fastest.
    pub steep: Suggestion,
    /// fastai's default: in the longest valley.
    pub valley: Suggestion,
    /// The interval slide rule.
    pub slide: Suggestion,
}

impl Suggestions {
    /// `(name, suggestion)` pairs in fastai's order.
    pub fn named(&self) -> [(&'static str, Suggestion); 4] {
        [("minimum", self.minimum), ("steep", self.steep), ("valley", self.valley), ("slide", self.slide)]
    }
}

/// What fastai's `lr_find` does with the recorder: convert to float32, drop the first `num_it / 10` and the last 5
/// points, cut at the first NaN, then run the four suggestion functions.
pub fn suggest_from_recorder(lrs: &[f64], losses: &[f32], num_it: usize) -> Result<Suggestions> {
    let end = lrs.len().min(losses.len()).saturating_sub(5);
    let start = (num_it / 10).min(end);
    let mut lrs: Vec<f32> = lrs[start..end].iter().map(|&lr| lr as f32).collect();
    let mut losses = losses[start..end].to_vec();
    if let Some(nan) = losses.iter().position(|l| l.is_nan()) {
        lrs.truncate(nan);
        losses.truncate(nan);
    }
    suggest(&lrs, &losses)
}

/// The four suggestion functions on the same points (float32, as fastai hands them over).
pub fn suggest(lrs: &[f32], losses: &[f32]) -> Result<Suggestions> {
    if lrs.len() != losses.len() || lrs.len() < 2 {
        return Err(Error::InvalidParameter {
            name: "lr_find points",
            value: format!("{} learning rates, {} losses", lrs.len(), losses.len()),
            why: "suggestions need at least 2 points of each, as many losses as rates: run lr_find with more \
                  iterations (num_it >= 20) or more training batches",
        });
    }
    Ok(Suggestions {
        minimum: minimum(lrs, losses),
        steep: steep(lrs, losses),
        valley: valley(lrs, losses),
        slide: slide(lrs, losses, 15, 0.005, 1.0),
    })
}

/// Index of the first smallest value (torch's `argmin` on CPU).
fn argmin(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v < values[best] {
            best = i;
        }
    }
    best
}

/// fastai's `minimum`: one tenth of the learning rate at the lowest loss.
pub fn minimum(lrs: &[f32], losses: &[f32]) -> Suggestion {
    let i = argmin(losses);
    let lr_min = lrs[i] as f64;
    Suggestion { lr: lr_min / 10.0, point_lr: lr_min, point_loss: losses[i] as f64 }
}

/// fastai's `steep`: the learning rate where d loss / d log(lr) is lowest.
pub fn steep(lrs: &[f32], losses: &[f32]) -> Suggestion {
    let grads: Vec<f32> =
        (0..losses.len() - 1).map(|i| (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln())).collect();
    let i = argmin(&grads);
    Suggestion { lr: lrs[i] as f64, point_lr: lrs[i] as f64, point_loss: losses[i] as f64 }
}

/// fastai's `valley`: the longest decreasing run of losses (longest decreasing subsequence); the suggestion sits
/// halfway down its middle third.
pub fn valley(lrs: &[f32], losses: &[f32]) -> Suggestion {
    let n = losses.len();
    // isize: fastai's max_start can be -1 (a valley starting at the first point), and Python's lrs[-1] then
    // picks the last point. Reproduced on purpose, so the suggestion equals fastai's.
    let (mut max_start, mut max_end) = (0isize, 0usize);
    let mut lds = vec![1usize; n];
    // Same O(n²) loops as fastai, including where max_end is updated, so ties resolve identically.
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end as isize - lds[max_end] as isize;
            }
        }
    }
    let sections = (max_end as isize - max_start) as f64 / 3.0;
    let idx = max_start + sections as isize + (sections / 2.0) as isize;
    let idx = if idx < 0 { (idx + n as isize) as usize } else { idx as usize };
    Suggestion { lr: lrs[idx] as f64, point_lr: lrs[idx] as f64, point_loss: losses[idx] as f64 }
}

/// fastai's `slide`: walks left from the end until the loss gradient (numpy's `gradient`) differs by at most
/// `thresh` across `lr_diff` points; the point's loss is interpolated on log10(lr) like fastai (in f64).
pub fn slide(lrs: &[f32], losses: &[f32], lr_diff: usize, thresh: f32, adjust_value: f64) -> Suggestion {
    let n = losses.len() as isize;
    let grad = numpy_gradient(losses);
    let at = |i: isize| (i + n) as usize; // negative (Python) index to position
    let mut r_idx: isize = -1;
    let mut l_idx = r_idx - lr_diff as isize;
    let mut local_min_lr = lrs[at(l_idx.max(-n))];
    while l_idx >= -n && (grad[at(r_idx)] - grad[at(l_idx)]).abs() > thresh {
        local_min_lr = lrs[at(l_idx)];
        r_idx -= 1;
        l_idx -= 1;
    }
    let suggestion = local_min_lr as f64 * adjust_value;
    let xp: Vec<f64> = lrs.iter().map(|&lr| lr.log10() as f64).collect();
    let fp: Vec<f64> = losses.iter().map(|&l| l as f64).collect();
    let point_loss = numpy_interp(suggestion.log10(), &xp, &fp);
    Suggestion { lr: suggestion, point_lr: suggestion, point_loss }
}

/// numpy's `gradient` with unit spacing and first-order edges, in float32.
fn numpy_gradient(f: &[f32]) -> Vec<f32> {
    let n = f.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mut out = vec![0.0f32; n];
    for i in 1..n - 1 {
        out[i] = (f[i + 1] - f[i - 1]) / 2.0;
    }
    out[0] = f[1] - f[0];
    out[n - 1] = f[n - 1] - f[n - 2];
    out
}

/// numpy's `interp` (clamped at both ends) for increasing `xp`.
fn numpy_interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if x <= xp[0] {
        return fp[0];
    }
    if x >= xp[last] {
        return fp[last];
    }
    let j = xp.partition_point(|&v| v <= x) - 1;
    if xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (x - xp[j]) + fp[j]
}

#[cfg(test)]
mod tests;
