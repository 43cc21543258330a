//! Terminal output of downloads: a progress bar for each `untar_data` stage (hidden when stderr is not a
//! terminal). Training's table and bars are the library's `ProgressReporter` (feature `progress`).

use fastvision::datasets::{Progress, Stage};
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
