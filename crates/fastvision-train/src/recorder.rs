//! fastai's `Recorder`: what happened at every training iteration (losses, learning rates, momenta) and every
//! epoch (the table rows), kept in checkpoints and drawn by `plot_loss` / `plot_sched`.

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::reporter::EpochRow;

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
