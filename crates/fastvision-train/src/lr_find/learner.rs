//! `Learner::lr_find`: the sweep of `LrFinder` on a learner's real batches, after which the model, optimiser and
//! data position are put back exactly as they were (in memory: no temporary files).

use std::path::Path;

use fastvision_plot::{LinePlot, Marker, Series};
use serde::{Deserialize, Serialize};

use super::{LrFindConfig, LrFindStop, LrFinder, Suggestions};
use crate::callback::FitState;
use crate::error::{Error, Result};
use crate::learner::Learner;
use crate::phase::Phase;
use crate::reporter::{BatchProgress, FitStart};

/// What an lr_find sweep saw and suggests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFindResult {
    /// Learning rate of each iteration.
    pub lrs: Vec<f64>,
    /// Smoothed loss of each iteration.
    pub losses: Vec<f32>,
    /// fastai's four suggestions; `None` when the sweep was too short to suggest anything.
    pub suggestions: Option<Suggestions>,
    /// Why it ended.
    pub stop: LrFindStop,
    /// The `num_it` used (the suggestions skip its first tenth).
    pub num_it: usize,
}

impl LrFindResult {
    /// fastai's `plot_lr_find`: loss against learning rate (log x), suggestions marked, as an image.
    pub fn plot(&self) -> fastvision_plot::RgbImage {
        // fastai drops the last 5 points from the plot too (skip_end=5).
        let n = self.lrs.len().saturating_sub(5).max(self.lrs.len().min(1));
        let series = Series::new("loss", self.lrs[..n].to_vec(), self.losses[..n].iter().map(|&l| l as f64).collect());
        let markers = self
            .suggestions
            .map(|s| {
                s.named()
                    .iter()
                    .map(|(name, sug)| Marker {
                        label: format!("{name}: {:.2e}", sug.lr),
                        x: sug.point_lr,
                        y: sug.point_loss,
                        color: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        LinePlot {
            title: "lr_find".into(),
            x_label: "Learning Rate".into(),
            y_label: "Loss".into(),
            log_x: true,
            series: vec![series],
            markers,
        }
        .render(640, 480)
    }

    /// Writes [`LrFindResult::plot`] to a PNG (atomically).
    pub fn save_plot(&self, path: &Path) -> Result<()> {
        fastvision_plot::save_png(&self.plot(), path)
            .map_err(|source| Error::Plot { context: format!("writing the lr_find plot {}", path.display()), source })
    }
}

impl Learner {
    /// fastai's `lr_find`: trains with learning rates growing exponentially from `start_lr` to `end_lr` over
    /// `num_it` iterations (all groups alike, current freezing), records the smoothed loss, stops early when it
    /// exceeds 4× the best, then restores the model, optimiser and data position. Validation is skipped.
    pub fn lr_find(&mut self, config: &LrFindConfig) -> Result<LrFindResult> {
        let n_batches = self.dls.train().n_batches();
        if n_batches == 0 {
            return Err(Error::EmptySplit { split: "train" });
        }
        let mut finder = LrFinder::new(*config)?;
        let snapshot = self.snapshot()?;
        let swept = self.sweep(&mut finder, n_batches);
        // Restore even when the sweep failed: lr_find must never leave the learner changed.
        let restored = self.restore(&snapshot);
        self.reporter.fit_end();
        let stop = swept?;
        restored?;
        let num_it = finder.config().num_it;
        let suggestions = finder.suggestions().ok();
        Ok(LrFindResult { lrs: finder.lrs().to_vec(), losses: finder.losses().to_vec(), suggestions, stop, num_it })
    }

    fn sweep(&mut self, finder: &mut LrFinder, n_batches: usize) -> Result<LrFindStop> {
        let num_it = finder.config().num_it;
        let n_epochs = num_it / n_batches + 1;
        self.reporter.fit_start(&FitStart {
            phase: Phase::LrFind,
            n_epochs,
            n_train_batches: n_batches,
            n_valid_batches: 0,
            metrics: Vec::new(),
        });
        let mut iter = 0;
        for _ in 0..n_epochs {
            let data_epoch = self.data_epoch;
            self.data_epoch += 1;
            for (b, batch) in self.dls.train().epoch(data_epoch).enumerate() {
                let batch =
                    batch.map_err(|source| Error::Data { context: format!("lr_find iteration {iter}"), source })?;
                let lr = finder.lr_at(iter);
                self.opt.set_lrs(&vec![lr; self.opt.n_groups()])?;
                let state = FitState {
                    phase: Phase::LrFind,
                    epoch: 0,
                    n_epochs,
                    iteration: iter,
                    n_iterations: num_it,
                    loss: f64::NAN,
                    smooth_loss: f64::NAN,
                    lrs: vec![lr],
                };
                // lr_find runs no user callbacks (fastai runs it with its own); an empty list.
                let loss = self.train_batch(&batch, &mut [], &state)?.loss;
                let stop = finder.record(lr, loss);
                let smooth = finder.losses().last().copied().unwrap_or(f32::NAN);
                let progress = BatchProgress {
                    epoch: 0,
                    batch: b,
                    n_batches,
                    train: true,
                    loss: smooth as f64,
                    items_per_sec: 0.0,
                };
                self.reporter.batch(&progress);
                if self.interrupt.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return Err(Error::Interrupted {
                        epoch: 0,
                        iteration: iter,
                        what: "lr_find stopped; the learner is as it was before lr_find (nothing was trained)".into(),
                    });
                }
                iter += 1;
                if let Some(stop) = stop {
                    return Ok(stop);
                }
            }
        }
        Ok(LrFindStop::Finished)
    }
}
