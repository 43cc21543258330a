//! The `progress` feature: fastai's output in a terminal — a heading and the epoch table for each fit, written to
//! a chosen writer (stderr by default, stdout for the `fastvision` binary), and an indicatif bar per pass on
//! stderr (drawn only when stderr is a terminal). The one progress reporter of the workspace.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{BatchProgress, EpochRow, FitStart, Reporter};
use crate::phase::Phase;

/// fastai's output: a heading and table header per fit and one row per epoch on the table writer, a live bar per
/// training or validation pass on stderr, notices above the bar.
pub struct ProgressReporter {
    bar: Option<ProgressBar>,
    hidden: bool,
    table: Box<dyn Write + Send>,
}

impl std::fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressReporter").field("hidden", &self.hidden).finish_non_exhaustive()
    }
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressReporter {
    /// The table and the bars on stderr.
    pub fn new() -> Self {
        Self::with_table(std::io::stderr())
    }

    /// The table on `table` (e.g. `std::io::stdout()`, as the `fastvision` binary does), the bars on stderr.
    pub fn with_table(table: impl Write + Send + 'static) -> Self {
        Self { bar: None, hidden: false, table: Box::new(table) }
    }

    /// No bars, the table on `table` (same events, for tests of the reporter itself).
    pub fn hidden(table: impl Write + Send + 'static) -> Self {
        Self { bar: None, hidden: true, table: Box::new(table) }
    }

    fn new_bar(&self, n_batches: usize) -> ProgressBar {
        let target = if self.hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(n_batches as u64), target);
        if let Ok(style) = ProgressStyle::with_template("{msg:>6} [{bar:30}] {pos}/{len} {elapsed_precise} {per_sec}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(500));
        bar
    }

    fn clear_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// A reporter must never fail training: write errors are ignored.
    fn table_line(&mut self, text: &str) {
        let _ = writeln!(self.table, "{text}");
    }
}

impl Reporter for ProgressReporter {
    fn fit_start(&mut self, info: &FitStart) {
        let plural = if info.n_epochs == 1 { "" } else { "s" };
        self.table_line(&format!("\n{} ({} epoch{plural})", info.phase, info.n_epochs));
        if info.phase != Phase::LrFind {
            self.table_line(&EpochRow::header(&info.metrics));
        }
    }

    fn batch(&mut self, progress: &BatchProgress) {
        if self.bar.is_none() {
            self.bar = Some(self.new_bar(progress.n_batches));
        }
        if let Some(bar) = &self.bar {
            bar.set_length(progress.n_batches as u64);
            bar.set_message(if progress.train { "train" } else { "valid" });
            bar.set_position(progress.batch as u64 + 1);
        }
        if progress.batch + 1 == progress.n_batches {
            self.clear_bar();
        }
    }

    fn epoch_end(&mut self, row: &EpochRow) {
        self.clear_bar();
        self.table_line(&row.format());
    }

    fn fit_end(&mut self) {
        self.clear_bar();
    }

    fn message(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.hidden => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            None => {}
        }
    }
}
