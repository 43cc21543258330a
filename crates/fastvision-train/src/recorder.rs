//! fastai's `Recorder`: what happened at every training iteration (losses, learning rates, momenta) and every
//! epoch (the table rows), kept in checkpoints and drawn by `plot_loss` / `plot_sched`; and `SmoothLoss`, fastai's
//! smoothed training loss, which every fit and lr_find show.

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::reporter::EpochRow;

/// fastai's `AvgSmoothLoss`: an exponential moving average of the batch losses, debiased by `1 - beta^count`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SmoothLoss {
    beta: f64,
    val: f32,
    count: i32,
}

impl Default for SmoothLoss {
    fn default() -> Self {
        Self::new(0.98)
    }
}

impl SmoothLoss {
    /// A fresh average with smoothing factor `beta` (fastai: 0.98).
    pub fn new(beta: f64) -> Self {
        Self { beta, val: 0.0, count: 0 }
    }

    /// Adds one batch loss and returns the new debiased value.
    pub fn update(&mut self, loss: f32) -> f32 {
        self.count += 1;
        // torch.lerp(loss, val, beta) with beta >= 0.5 computes end - (end - start) * (1 - weight) with float32
        // inputs and a fused multiply-add; f64 arithmetic rounded once reproduces it (max error 0 on the golden run).
        let one_minus = (1.0 - self.beta as f32) as f64;
        let val = self.val as f64;
        self.val = (val - (val - loss as f64) * one_minus) as f32;
        self.value()
    }

    /// The debiased average (`val / (1 - beta^count)`; the divisor is computed in f64 and rounded, like fastai).
    pub fn value(&self) -> f32 {
        if self.count == 0 {
            return 0.0;
        }
        let divisor = 1.0 - self.beta.powi(self.count);
        self.val / divisor as f32
    }

    /// Forgets everything (fastai resets it at the start of each fit).
    pub fn reset(&mut self) {
        self.val = 0.0;
        self.count = 0;
    }
}

/// One training iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterRecord {
    /// The phase.
    pub phase: Phase,
    /// Epoch within the phase.
    pub epoch: usize,
    /// Iteration within the phase (0-based).
    pub iteration: usize,
    /// Raw batch loss.
    pub loss: f32,
    /// fastai's smoothed loss (debiased moving average, beta 0.98, reset at each fit).
    pub smooth_loss: f32,
    /// Learning rate of each group.
    pub lrs: Vec<f64>,
    /// Momentum of each group.
    pub moms: Vec<f64>,
}

/// Everything recorded over the learner's life (lr_find sweeps are not recorded here: they are undone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorder {
    /// One record per training iteration, across fits.
    pub iterations: Vec<IterRecord>,
    /// One row per epoch, across fits.
    pub epochs: Vec<EpochRow>,
    /// For each epoch, the number of iterations recorded when it ended.
    pub epoch_ends: Vec<usize>,
}

impl Recorder {
    /// Smoothed training losses, in order.
    pub fn smooth_losses(&self) -> Vec<f32> {
        self.iterations.iter().map(|r| r.smooth_loss).collect()
    }

    /// Learning rates of group `group`, in order (groups beyond the recorded ones are skipped).
    pub fn lrs(&self, group: usize) -> Vec<f64> {
        self.iterations.iter().filter_map(|r| r.lrs.get(group).copied()).collect()
    }

    /// Momenta of group `group`, in order.
    pub fn moms(&self, group: usize) -> Vec<f64> {
        self.iterations.iter().filter_map(|r| r.moms.get(group).copied()).collect()
    }

    /// Adds one training iteration.
    pub fn record_iteration(&mut self, record: IterRecord) {
        self.iterations.push(record);
    }

    /// Adds one epoch's table row.
    pub fn record_epoch(&mut self, row: EpochRow) {
        self.epochs.push(row);
        self.epoch_ends.push(self.iterations.len());
    }

    /// `(iteration index, valid_loss)` at the end of each epoch that validated, for plotting against training
    /// iterations like fastai's `plot_loss`.
    pub fn valid_losses(&self) -> Vec<(usize, f64)> {
        self.epochs
            .iter()
            .zip(&self.epoch_ends)
            .filter_map(|(row, &end)| row.valid_loss.map(|v| (end.saturating_sub(1), v)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
