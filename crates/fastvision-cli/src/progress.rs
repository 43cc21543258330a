//! Terminal output of long steps: a download bar for `untar_data` and a `Reporter` that prints fastai's epoch
//! table with a progress bar per pass (bars are hidden when stderr is not a terminal).

use std::time::Duration;

use fastvision::datasets::{Progress, Stage};
use fastvision::train::{BatchProgress, EpochRow, FitStart, Phase, Reporter};
use indicatif::{ProgressBar, ProgressStyle};

/// Runs `f` with a callback that draws a progress bar for each `untar_data` stage.
pub fn with_download_bar<T>(f: impl FnOnce(&mut dyn FnMut(Progress)) -> T) -> T {
    let mut bar: Option<(Stage, ProgressBar)> = None;
    let mut report = |p: Progress| {
        if bar.as_ref().is_none_or(|(stage, _)| *stage != p.stage) {
            if let Some((_, old)) = bar.take() {
                old.finish();
            }
            let new = ProgressBar::new(p.total_bytes.unwrap_or(0));
            new.set_style(bytes_style());
            new.set_message(format!("{:?}", p.stage).to_lowercase());
            bar = Some((p.stage, new));
        }
        if let Some((_, b)) = &bar {
            if let Some(total) = p.total_bytes {
                b.set_length(total);
            }
            b.set_position(p.done_bytes);
        }
    };
    let result = f(&mut report);
    if let Some((_, b)) = bar {
        b.finish();
    }
    result
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// fastai's output: a header per fit, one table row per epoch on stdout, a live bar on stderr.
#[derive(Default)]
pub struct TerminalReporter {
    bar: Option<ProgressBar>,
}

impl Reporter for TerminalReporter {
    fn fit_start(&mut self, info: &FitStart) {
        println!("\n{} ({} epoch{})", info.phase, info.n_epochs, if info.n_epochs == 1 { "" } else { "s" });
        if info.phase != Phase::LrFind {
            println!("{}", EpochRow::header(&info.metrics));
        }
    }

    fn batch(&mut self, progress: &BatchProgress) {
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(progress.n_batches as u64);
            bar.set_style(
                ProgressStyle::with_template("{msg:>6} [{bar:30}] {pos}/{len} {elapsed_precise} {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        bar.set_length(progress.n_batches as u64);
        bar.set_message(if progress.train { "train" } else { "valid" });
        bar.set_position(progress.batch as u64 + 1);
        if progress.batch + 1 == progress.n_batches {
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
        }
    }

    fn epoch_end(&mut self, row: &EpochRow) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!("{}", row.format());
    }

    fn fit_end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn message(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}
