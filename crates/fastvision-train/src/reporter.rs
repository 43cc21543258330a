//! How training reports progress without printing: a `Reporter` receives events (fit start, batch progress, the
//! epoch table row) and the application decides where they go. Quiet, plain-text and progress-bar reporters.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::metrics::Metric;
use crate::phase::Phase;

/// What a fit is about to do.
#[derive(Debug, Clone, PartialEq)]
pub struct FitStart {
    /// Which fit starts.
    pub phase: Phase,
    /// Number of epochs.
    pub n_epochs: usize,
    /// Training batches per epoch.
    pub n_train_batches: usize,
    /// Validation batches per epoch (0 when validation is skipped).
    pub n_valid_batches: usize,
    /// The metric columns, in order.
    pub metrics: Vec<Metric>,
}

/// Progress inside an epoch, sent after every batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchProgress {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The batch just finished (0-based).
    pub batch: usize,
    /// Batches in this pass.
    pub n_batches: usize,
    /// True for training batches, false for validation.
    pub train: bool,
    /// The running (smoothed) training loss, or the batch loss in validation.
    pub loss: f64,
    /// Images per second since the pass started.
    pub items_per_sec: f64,
}

/// One row of fastai's epoch table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// The phase this epoch belongs to.
    pub phase: Phase,
    /// The epoch within its phase (0-based, like fastai's table).
    pub epoch: usize,
    /// The smoothed training loss at the end of the epoch (fastai shows the recorder's smooth loss).
    pub train_loss: f64,
    /// Mean validation loss over items, if validation ran.
    pub valid_loss: Option<f64>,
    /// Metric values, in the learner's order (written as `[name, value]` pairs); [`EpochRow::metric`] finds one.
    #[serde(with = "crate::metrics::named_values")]
    pub metrics: Vec<(Metric, f64)>,
    /// Wall time of the epoch, training and validation.
    pub seconds: f64,
}

impl EpochRow {
    /// The value of `metric` in this row, if the learner computes it and validation ran.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        crate::metrics::find(&self.metrics, metric)
    }

    /// The table header for these metrics: `epoch  train_loss  valid_loss  error_rate  time`.
    pub fn header(metrics: &[Metric]) -> String {
        let mut cols = vec!["epoch".to_owned(), "train_loss".into(), "valid_loss".into()];
        cols.extend(metrics.iter().map(Metric::name));
        cols.push("time".into());
        cols.iter().map(|c| format!("{c:<12}")).collect::<String>().trim_end().to_owned()
    }

    /// The row formatted under [`EpochRow::header`], with fastai's `mm:ss` time.
    pub fn format(&self) -> String {
        let mut cols = vec![self.epoch.to_string(), format!("{:.6}", self.train_loss)];
        cols.push(self.valid_loss.map_or_else(|| "None".into(), |v| format!("{v:.6}")));
        cols.extend(self.metrics.iter().map(|(_, v)| format!("{v:.6}")));
        let secs = self.seconds.round() as u64;
        cols.push(format!("{:02}:{:02}", secs / 60, secs % 60));
        cols.iter().map(|c| format!("{c:<12}")).collect::<String>().trim_end().to_owned()
    }
}

/// Receives training events. Every method has an empty default, so a reporter implements only what it shows.
pub trait Reporter: Send {
    /// A fit (or lr_find) starts.
    fn fit_start(&mut self, _info: &FitStart) {}
    /// An epoch starts.
    fn epoch_start(&mut self, _epoch: usize) {}
    /// A batch finished.
    fn batch(&mut self, _progress: &BatchProgress) {}
    /// An epoch finished: fastai's table row.
    fn epoch_end(&mut self, _row: &EpochRow) {}
    /// The fit ended (normally or not).
    fn fit_end(&mut self) {}
    /// A one-line notice (lr_find stopped early, checkpoint written, ...).
    fn message(&mut self, _text: &str) {}
}

/// Shows nothing: tests and library use.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Reporter for Quiet {}

/// Writes the epoch table and notices as plain text to any writer (a log file, or stderr in an application).
#[derive(Debug)]
pub struct TableWriter<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> TableWriter<W> {
    /// Reports into `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Reporter for TableWriter<W> {
    fn fit_start(&mut self, info: &FitStart) {
        // A reporter must never fail training: write errors are ignored.
        let _ = writeln!(self.out, "{}", EpochRow::header(&info.metrics));
    }

    fn epoch_end(&mut self, row: &EpochRow) {
        let _ = writeln!(self.out, "{}", row.format());
    }

    fn message(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
}

#[cfg(feature = "progress")]
mod progress;
#[cfg(feature = "progress")]
pub use progress::ProgressReporter;

#[cfg(test)]
mod tests;
