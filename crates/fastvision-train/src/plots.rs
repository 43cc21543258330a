//! fastai's `plot_loss` and `plot_sched` from the recorder, as PNG images (through fastvision-plot).

use std::path::Path;

use fastvision_plot::{LinePlot, RgbImage, Series};

use crate::error::{Error, Result};
use crate::recorder::Recorder;

impl Recorder {
    /// fastai's `plot_loss`: the smoothed training loss per iteration and the validation loss at each epoch end.
    pub fn plot_loss(&self) -> RgbImage {
        let xs: Vec<f64> = (0..self.iterations.len()).map(|i| i as f64).collect();
        let train = self.smooth_losses().iter().map(|&l| l as f64).collect();
        let valid = self.valid_losses();
        let mut series = vec![Series::new("train", xs, train)];
        if !valid.is_empty() {
            let (vx, vy) = valid.into_iter().map(|(i, v)| (i as f64, v)).unzip();
            series.push(Series::new("valid", vx, vy));
        }
        LinePlot {
            title: "Loss".into(),
            x_label: "Iteration".into(),
            y_label: "Loss".into(),
            log_x: false,
            series,
            markers: Vec::new(),
        }
        .render(640, 480)
    }

    /// fastai's `plot_sched`: learning rate of every group and momentum against the iteration, side by side.
    pub fn plot_sched(&self) -> RgbImage {
        let xs: Vec<f64> = (0..self.iterations.len()).map(|i| i as f64).collect();
        let n_groups = self.iterations.first().map_or(0, |r| r.lrs.len());
        let lr_series = (0..n_groups).map(|g| Series::new(format!("lr group {g}"), xs.clone(), self.lrs(g))).collect();
        let lr = LinePlot {
            title: "Learning rate".into(),
            x_label: "Iteration".into(),
            y_label: "lr".into(),
            log_x: false,
            series: lr_series,
            markers: Vec::new(),
        }
        .render(480, 360);
        let mom = LinePlot {
            title: "Momentum".into(),
            x_label: "Iteration".into(),
            y_label: "mom".into(),
            log_x: false,
            series: vec![Series::new("mom", xs, self.moms(0))],
            markers: Vec::new(),
        }
        .render(480, 360);
        side_by_side(&lr, &mom)
    }

    /// Writes [`Recorder::plot_loss`] to a PNG.
    pub fn save_plot_loss(&self, path: &Path) -> Result<()> {
        save(&self.plot_loss(), path)
    }

    /// Writes [`Recorder::plot_sched`] to a PNG.
    pub fn save_plot_sched(&self, path: &Path) -> Result<()> {
        save(&self.plot_sched(), path)
    }
}

fn side_by_side(a: &RgbImage, b: &RgbImage) -> RgbImage {
    let mut out = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    for (x, y, p) in a.enumerate_pixels() {
        out.put_pixel(x, y, *p);
    }
    for (x, y, p) in b.enumerate_pixels() {
        out.put_pixel(a.width() + x, y, *p);
    }
    out
}

fn save(image: &RgbImage, path: &Path) -> Result<()> {
    fastvision_plot::save_png(image, path)
        .map_err(|source| Error::Plot { context: format!("writing {}", path.display()), source })
}
