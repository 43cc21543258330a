//! The `progress` feature: an indicatif bar per epoch with the running loss and images/s, and fastai's table rows
//! printed above the bar (on stderr, through indicatif, never from the library's own code paths).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{BatchProgress, EpochRow, FitStart, Reporter};

/// A progress bar per training/validation pass, and the epoch table above it.
#[derive(Debug)]
pub struct ProgressReporter {
    bar: Option<ProgressBar>,
    target_hidden: bool,
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressReporter {
    /// Draws on stderr.
    pub fn new() -> Self {
        Self { bar: None, target_hidden: false }
    }

    /// Draws nothing (same events, for tests of the reporter itself).
    pub fn hidden() -> Self {
        Self { bar: None, target_hidden: true }
    }

    fn new_bar(&self, len: usize, prefix: String) -> ProgressBar {
        let target = if self.target_hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(len as u64), target).with_prefix(prefix);
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed}<{eta}]") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    fn println(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.target_hidden => {
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).println(text)
            }
            None => {}
        }
    }
}

impl Reporter for ProgressReporter {
    fn fit_start(&mut self, info: &FitStart) {
        self.println(&EpochRow::header(&info.metrics));
    }

    fn batch(&mut self, p: &BatchProgress) {
        let prefix = format!("epoch {} {}", p.epoch, if p.train { "train" } else { "valid" });
        if p.batch == 0 {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
            self.bar = Some(self.new_bar(p.n_batches, prefix));
        }
        if let Some(bar) = &self.bar {
            bar.set_position(p.batch as u64 + 1);
            bar.set_message(format!("loss {:.4}, {:.1} img/s", p.loss, p.items_per_sec));
        }
    }

    fn epoch_end(&mut self, row: &EpochRow) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.println(&row.format());
    }

    fn fit_end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn message(&mut self, text: &str) {
        self.println(text);
    }
}
