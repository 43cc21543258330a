//! fastai's hyper-parameter schedules: cosine pieces, the one-cycle policy, discriminative learning rates
//! (`LrRange::slice`) and fine_tune's two phases, reproduced to the last bit where fastai computes in float32.

use serde::{Deserialize, Serialize};

use crate::error::{check_positive, Error, Result};

/// fastai's `sched_cos`: a half cosine from `start` (pos 0) to `end` (pos 1).
pub fn sched_cos(start: f64, end: f64, pos: f64) -> f64 {
    // Same operation order as fastai, so the f64 results are identical.
    start + (1.0 + (std::f64::consts::PI * (1.0 - pos)).cos()) * (end - start) / 2.0
}

/// fastai's `sched_lin`: a straight line from `start` to `end`.
pub fn sched_lin(start: f64, end: f64, pos: f64) -> f64 {
    start + pos * (end - start)
}

/// fastai's `sched_exp`: geometric interpolation, the lr_find schedule.
pub fn sched_exp(start: f64, end: f64, pos: f64) -> f64 {
    start * (end / start).powf(pos)
}

/// fastai's `combined_cos(pct, start, middle, end)`: cosine from `start` up (or down) to `middle` during the first
/// `pct_start` of training, then cosine to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CombinedCos {
    /// Fraction of the run spent in the first piece.
    pub pct_start: f64,
    /// Value at position 0.
    pub start: f64,
    /// Value at position `pct_start`.
    pub middle: f64,
    /// Value approached at position 1.
    pub end: f64,
}

impl CombinedCos {
    /// The value at `pos` in [0, 1].
    ///
    /// fastai's `combine_scheds` keeps the piece boundaries in a float32 tensor and computes the position inside a
    /// piece in float32; this does the same, so the schedules match fastai's bit for bit.
    pub fn at(&self, pos: f64) -> f64 {
        // torch.cumsum accumulates float32 in float64 on the CPU, then rounds.
        let end = (self.pct_start as f32 as f64 + (1.0 - self.pct_start) as f32 as f64) as f32;
        let pcts = [0.0f32, self.pct_start as f32, end];
        let pos32 = pos as f32;
        let idx = if pos32 >= pcts[1] { 1 } else { 0 };
        let actual = ((pos32 - pcts[idx]) / (pcts[idx + 1] - pcts[idx])) as f64;
        if idx == 0 {
            sched_cos(self.start, self.middle, actual)
        } else {
            sched_cos(self.middle, self.end, actual)
        }
    }
}

/// fastai's training position: iteration `iter` of `total` gives `iter / total`, so the last step of a fit is at
/// `(total - 1) / total`, never 1.
pub fn position(iter: usize, total: usize) -> f64 {
    if total == 0 {
        return 0.0;
    }
    iter as f64 / total as f64
}

/// fastai's `even_mults(start, stop, n)`: `n` values spread geometrically from `start` to `stop`.
pub fn even_mults(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![stop];
    }
    let step = (stop / start).powf(1.0 / (n - 1) as f64);
    (0..n).map(|i| start * step.powi(i as i32)).collect()
}

/// Learning rates for the parameter groups, like fastai's `lr_max` argument: one value, or a `slice`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LrRange {
    /// The same learning rate for every group.
    Single(f64),
    /// fastai's `slice(lo, hi)`: with `lo`, spread geometrically over the groups (`even_mults`); without, `hi / 10`
    /// for every group but the last, which gets `hi`.
    Slice {
        /// Learning rate of the first group (`None`: `hi / 10` for all but the last group).
        lo: Option<f64>,
        /// Learning rate of the last group (the head).
        hi: f64,
    },
}

impl LrRange {
    /// fastai's `slice(lo, hi)`: discriminative learning rates from `lo` (first group) to `hi` (head).
    pub fn slice(lo: f64, hi: f64) -> Self {
        Self::Slice { lo: Some(lo), hi }
    }

    /// fastai's `slice(hi)`: `hi / 10` for the body groups and `hi` for the head.
    pub fn upto(hi: f64) -> Self {
        Self::Slice { lo: None, hi }
    }

    /// The learning rate of each of `n_groups` groups.
    pub fn group_lrs(&self, n_groups: usize) -> Vec<f64> {
        match *self {
            Self::Single(lr) => vec![lr; n_groups],
            Self::Slice { lo: Some(lo), hi } => even_mults(lo, hi, n_groups),
            Self::Slice { lo: None, hi } => {
                let mut lrs = vec![hi / 10.0; n_groups.saturating_sub(1)];
                lrs.push(hi);
                lrs
            }
        }
    }

    /// Checks that every learning rate is finite and positive.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Single(lr) => check_positive("lr", lr),
            Self::Slice { lo, hi } => {
                if let Some(lo) = lo {
                    check_positive("slice lo", lo)?;
                }
                check_positive("slice hi", hi)
            }
        }
    }
}

impl From<f64> for LrRange {
    fn from(lr: f64) -> Self {
        Self::Single(lr)
    }
}

/// The one-cycle policy's settings (fastai's `fit_one_cycle` keywords; `Default` = fastai's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OneCycleConfig {
    /// Start learning rate = `lr_max / div`.
    pub div: f64,
    /// Final learning rate = `lr_max / div_final`.
    pub div_final: f64,
    /// Fraction of the iterations spent warming up.
    pub pct_start: f64,
    /// Momentum at the start, at `pct_start` and at the end.
    pub moms: (f64, f64, f64),
}

impl Default for OneCycleConfig {
    fn default() -> Self {
        Self { div: 25.0, div_final: 1e5, pct_start: 0.25, moms: (0.95, 0.85, 0.95) }
    }
}

impl OneCycleConfig {
    /// Checks the settings: divisors positive, `pct_start` in [0, 1], momenta in [0, 1).
    pub fn validate(&self) -> Result<()> {
        check_positive("div", self.div)?;
        check_positive("div_final", self.div_final)?;
        if !(0.0..=1.0).contains(&self.pct_start) {
            return Err(Error::InvalidParameter {
                name: "pct_start",
                value: self.pct_start.to_string(),
                why: "must be between 0 and 1",
            });
        }
        let (a, b, c) = self.moms;
        if [a, b, c].iter().any(|m| !(0.0..1.0).contains(m)) {
            return Err(Error::InvalidParameter {
                name: "moms",
                value: format!("{:?}", self.moms),
                why: "each momentum must be in [0, 1)",
            });
        }
        Ok(())
    }
}

/// Learning rate and momentum of one parameter group at one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupHypers {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (Adam's beta1).
    pub mom: f64,
}

/// A per-iteration schedule of every group's learning rate and momentum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// Constant learning rates and momentum (fastai's plain `fit`).
    Constant {
        /// Learning rate per group.
        lrs: Vec<f64>,
        /// Momentum for every group.
        mom: f64,
    },
    /// fastai's one-cycle policy.
    OneCycle {
        /// Learning-rate schedule per group.
        lrs: Vec<CombinedCos>,
        /// Momentum schedule (the same for every group).
        mom: CombinedCos,
    },
    /// lr_find's exponential sweep: the same learning rate for every group.
    Exponential {
        /// Learning rate at position 0.
        start: f64,
        /// Learning rate at position 1.
        end: f64,
        /// Number of groups.
        n_groups: usize,
        /// Momentum for every group.
        mom: f64,
    },
}

impl Schedule {
    /// fastai's `fit_one_cycle` schedule for groups whose peak learning rates are `lr_max`.
    pub fn one_cycle(lr_max: &[f64], config: &OneCycleConfig) -> Self {
        let lrs = lr_max
            .iter()
            .map(|&lr| CombinedCos {
                pct_start: config.pct_start,
                start: lr / config.div,
                middle: lr,
                end: lr / config.div_final,
            })
            .collect();
        let (start, middle, end) = config.moms;
        Self::OneCycle { lrs, mom: CombinedCos { pct_start: config.pct_start, start, middle, end } }
    }

    /// Every group's hyper-parameters at training position `pos` (see [`position`]).
    pub fn at(&self, pos: f64) -> Vec<GroupHypers> {
        match self {
            Self::Constant { lrs, mom } => lrs.iter().map(|&lr| GroupHypers { lr, mom: *mom }).collect(),
            Self::OneCycle { lrs, mom } => {
                let mom = mom.at(pos);
                lrs.iter().map(|s| GroupHypers { lr: s.at(pos), mom }).collect()
            }
            Self::Exponential { start, end, n_groups, mom } => {
                vec![GroupHypers { lr: sched_exp(*start, *end, pos), mom: *mom }; *n_groups]
            }
        }
    }
}

/// fastai's `fine_tune` settings; `Default` = fastai's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FineTuneConfig {
    /// Learning rate of the head in the frozen phase; the unfrozen phase peaks at `base_lr / 2`.
    pub base_lr: f64,
    /// Epochs trained frozen (head and BatchNorm only) first.
    pub freeze_epochs: usize,
    /// Ratio between the head's and the first group's learning rate after unfreezing.
    pub lr_mult: f64,
    /// `pct_start` of the unfrozen phase (the frozen phase uses 0.99).
    pub pct_start: f64,
    /// `div` of the unfrozen phase (the frozen phase uses the one-cycle default 25).
    pub div: f64,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self { base_lr: 2e-3, freeze_epochs: 1, lr_mult: 100.0, pct_start: 0.3, div: 5.0 }
    }
}

/// One phase of a fine_tune: how many groups are frozen, for how long, with which one-cycle settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTunePhase {
    /// Groups below this index are frozen (`freeze_to`); 0 = all trainable.
    pub frozen_groups: usize,
    /// Epochs in this phase.
    pub n_epochs: usize,
    /// Learning rates given to `fit_one_cycle`.
    pub lr_max: LrRange,
    /// One-cycle settings.
    pub one_cycle: OneCycleConfig,
}

impl FineTuneConfig {
    /// fastai's two phases for `epochs` unfrozen epochs on a model with `n_groups` groups: `freeze()` then
    /// `fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)`; `unfreeze()` then
    /// `fit_one_cycle(epochs, slice(base_lr/2/lr_mult, base_lr/2), pct_start, div)`.
    /// The frozen phase is left out when `freeze_epochs` is 0.
    pub fn phases(&self, epochs: usize, n_groups: usize) -> Result<Vec<FineTunePhase>> {
        check_positive("base_lr", self.base_lr)?;
        check_positive("lr_mult", self.lr_mult)?;
        let mut phases = Vec::with_capacity(2);
        if self.freeze_epochs > 0 {
            phases.push(FineTunePhase {
                frozen_groups: n_groups.saturating_sub(1),
                n_epochs: self.freeze_epochs,
                lr_max: LrRange::upto(self.base_lr),
                one_cycle: OneCycleConfig { pct_start: 0.99, ..OneCycleConfig::default() },
            });
        }
        // fastai divides base_lr in place first, then by lr_mult: same order, same bits.
        let half = self.base_lr / 2.0;
        let one_cycle = OneCycleConfig { pct_start: self.pct_start, div: self.div, ..OneCycleConfig::default() };
        one_cycle.validate()?;
        phases.push(FineTunePhase {
            frozen_groups: 0,
            n_epochs: epochs,
            lr_max: LrRange::slice(half / self.lr_mult, half),
            one_cycle,
        });
        Ok(phases)
    }
}

#[cfg(test)]
mod tests;
