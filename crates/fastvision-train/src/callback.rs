//! fastai's callback events (before/after fit, epoch, batch, backward, step) as a small trait, and the built-in
//! callbacks that decide when to stop or save: early stopping and save-best.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::metrics::Metric;
use crate::phase::Phase;
use crate::reporter::EpochRow;

/// What the training loop is doing, as callbacks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FitState {
    /// The phase.
    pub phase: Phase,
    /// The epoch within the fit (0-based).
    pub epoch: usize,
    /// Epochs in the fit.
    pub n_epochs: usize,
    /// Training iteration within the fit (0-based).
    pub iteration: usize,
    /// Training iterations in the whole fit.
    pub n_iterations: usize,
    /// The last batch loss (NaN before the first batch).
    pub loss: f64,
    /// The smoothed training loss.
    pub smooth_loss: f64,
    /// Learning rate of each group in this iteration.
    pub lrs: Vec<f64>,
}

/// What a callback asks the loop to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop the fit cleanly after this event (fastai's `CancelFitException`); not an error.
    Stop,
    /// Save a checkpoint with this name (in the learner's checkpoint folder), then go on.
    Save(String),
}

/// fastai's callback events. Every method defaults to [`Flow::Continue`], so a callback implements only what it
/// needs. Returning `Err` aborts the fit with that error.
pub trait Callback: Send {
    /// The callback's name, for messages.
    fn name(&self) -> &str;
    /// Before the first epoch.
    fn before_fit(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// Before each epoch.
    fn before_epoch(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// Before each training batch (after the schedule has set this iteration's hypers).
    fn before_batch(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// After the gradients are computed, before the optimiser step.
    fn after_backward(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// After the optimiser step.
    fn after_step(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// After each training batch.
    fn after_batch(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// After each epoch, with its table row (validation done).
    fn after_epoch(&mut self, _state: &FitState, _row: &EpochRow) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// After the last epoch (also after a stop).
    fn after_fit(&mut self, _state: &FitState) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// Which number of the epoch row a callback watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Monitor {
    /// The validation loss (lower is better).
    ValidLoss,
    /// The training loss (lower is better).
    TrainLoss,
    /// A metric column; lower is better for `error_rate`, higher for the accuracies.
    Metric(Metric),
}

impl Monitor {
    /// The watched value of `row`, signed so that lower is better; `None` when the row lacks it.
    pub fn score(&self, row: &EpochRow) -> Option<f64> {
        match self {
            Self::ValidLoss => row.valid_loss,
            Self::TrainLoss => Some(row.train_loss),
            Self::Metric(metric) => {
                let value = row.metric(*metric)?;
                Some(if metric.lower_is_better() { value } else { -value })
            }
        }
    }
}

/// fastai's `EarlyStoppingCallback`: stops when the monitored value has not improved by `min_delta` for
/// `patience` epochs.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// What to watch.
    pub monitor: Monitor,
    /// Smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    best: f64,
    waited: usize,
}

impl EarlyStopping {
    /// Watches `monitor` with fastai's defaults (`min_delta` 0, `patience` 1).
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        Self { monitor, min_delta: 0.0, patience, best: f64::INFINITY, waited: 0 }
    }
}

impl Callback for EarlyStopping {
    fn name(&self) -> &str {
        "EarlyStopping"
    }

    fn before_fit(&mut self, _state: &FitState) -> Result<Flow> {
        self.best = f64::INFINITY;
        self.waited = 0;
        Ok(Flow::Continue)
    }

    fn after_epoch(&mut self, _state: &FitState, row: &EpochRow) -> Result<Flow> {
        let Some(score) = self.monitor.score(row) else { return Ok(Flow::Continue) };
        if score < self.best - self.min_delta {
            self.best = score;
            self.waited = 0;
            return Ok(Flow::Continue);
        }
        self.waited += 1;
        Ok(if self.waited >= self.patience { Flow::Stop } else { Flow::Continue })
    }
}

/// fastai's `SaveModelCallback`: saves a checkpoint named `name` whenever the monitored value improves.
#[derive(Debug, Clone)]
pub struct SaveBest {
    /// What to watch.
    pub monitor: Monitor,
    /// The checkpoint's name.
    pub name: String,
    best: f64,
}

impl SaveBest {
    /// Saves to checkpoint `name` when `monitor` improves.
    pub fn new(monitor: Monitor, name: &str) -> Self {
        Self { monitor, name: name.to_owned(), best: f64::INFINITY }
    }
}

impl Callback for SaveBest {
    fn name(&self) -> &str {
        "SaveBest"
    }

    fn after_epoch(&mut self, _state: &FitState, row: &EpochRow) -> Result<Flow> {
        match self.monitor.score(row) {
            Some(score) if score < self.best => {
                self.best = score;
                Ok(Flow::Save(self.name.clone()))
            }
            _ => Ok(Flow::Continue),
        }
    }
}

#[cfg(test)]
mod tests;
