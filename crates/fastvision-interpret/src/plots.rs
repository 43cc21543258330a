//! The interpretation's pictures and files: confusion-matrix and top-losses PNGs, most_confused.json, the report.

use std::path::{Path, PathBuf};

use fastvision_plot::{image_grid, save_png, with_title, Heatmap, RgbImage};
use serde::Serialize;

use crate::{ClassificationInterpretation, Confusion, Error, Result};

/// Side of each picture in the top-losses grid.
const TOP_LOSS_CELL_PX: u32 = 224;

/// `most_confused.json`: the pairs and what they were computed from.
#[derive(Serialize)]
struct MostConfusedFile<'a> {
    min_val: u64,
    n_items: usize,
    accuracy: f64,
    pairs: &'a [Confusion],
}

/// What the cells of a confusion-matrix plot show (fastai's `plot_confusion_matrix(normalize=...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfusionCells {
    /// How many items of each actual class got each prediction (fastai's default, `normalize=False`).
    #[default]
    Counts,
    /// Each row divided by its total, with 2 decimals (fastai's `normalize=True`, `norm_dec=2`).
    Normalized,
}

impl ClassificationInterpretation {
    /// The confusion matrix as a heat map: `cells` chooses counts or row-normalised values, colours come from the
    /// shown values, "Actual" down and "Predicted" across.
    pub fn confusion_heatmap(&self, cells: ConfusionCells) -> Heatmap {
        let matrix = self.confusion_matrix();
        let normalize = cells == ConfusionCells::Normalized;
        let (values, cell_text): (Vec<f64>, Vec<String>) = if normalize {
            matrix.normalized().into_iter().map(|v| (v, format!("{v:.2}"))).unzip()
        } else {
            matrix.counts().iter().map(|&c| (c as f64, c.to_string())).unzip()
        };
        let classes = self.vocab().classes().to_vec();
        Heatmap {
            title: "Confusion matrix".into(),
            row_labels: classes.clone(),
            col_labels: classes,
            values,
            cell_text,
            x_label: "Predicted".into(),
            y_label: "Actual".into(),
            value_range: normalize.then_some((0.0, 1.0)),
            color_bar: true,
            ..Default::default()
        }
    }

    /// fastai's `plot_confusion_matrix(normalize)`, saved as a PNG at `path` (atomically).
    pub fn plot_confusion_matrix(&self, cells: ConfusionCells, path: &Path) -> Result<()> {
        let image = self.confusion_heatmap(cells).render();
        save_png(&image, path).map_err(|source| Error::Plot { path: path.to_path_buf(), source })
    }

    /// The `k` highest-loss items as a grid, each captioned "predicted/actual / loss / probability" as fastai's
    /// `plot_top_losses` titles them. `image_of(item_id)` supplies each picture (decoded for display, e.g. from the
    /// normalised tensor); `item_id` is the item's index in its split.
    pub fn render_top_losses<F, E>(&self, k: usize, mut image_of: F) -> Result<RgbImage>
    where
        F: FnMut(usize) -> Result<RgbImage, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let top = self.top_losses(k);
        if top.is_empty() {
            return Err(Error::NothingToPlot);
        }
        let mut cells = Vec::with_capacity(top.len());
        for (_, index) in top {
            let Some(item) = self.item(index) else { continue };
            let picture =
                image_of(item.item_id).map_err(|e| Error::ImageSource { item_id: item.item_id, source: e.into() })?;
            cells.push((picture, self.caption(&item)));
        }
        // fastai's get_grid: a square-ish grid of ceil(sqrt(k)) columns.
        let ncols = (cells.len() as f64).sqrt().ceil() as usize;
        let grid = image_grid(&cells, ncols, TOP_LOSS_CELL_PX);
        Ok(with_title(&grid, "Prediction/Actual/Loss/Probability"))
    }

    /// [`ClassificationInterpretation::render_top_losses`] saved as a PNG at `path` (atomically).
    pub fn plot_top_losses<F, E>(&self, k: usize, path: &Path, image_of: F) -> Result<()>
    where
        F: FnMut(usize) -> Result<RgbImage, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let image = self.render_top_losses(k, image_of)?;
        save_png(&image, path).map_err(|source| Error::Plot { path: path.to_path_buf(), source })
    }

    /// Writes `confusion_matrix.png` (counts), `most_confused.json` (`min_val` 1) and `classification_report.txt`
    /// into `dir` (created if needed). Returns the paths written.
    pub fn write_outputs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let confusion_path = dir.join("confusion_matrix.png");
        self.plot_confusion_matrix(ConfusionCells::Counts, &confusion_path)?;
        let json_path = dir.join("most_confused.json");
        self.write_most_confused_json(1, &json_path)?;
        let report_path = dir.join("classification_report.txt");
        let report = self.classification_report().to_text(2);
        fastvision_core::fs::atomic_write_bytes(&report_path, report.as_bytes()).map_err(Error::Write)?;
        Ok(vec![confusion_path, json_path, report_path])
    }

    /// [`ClassificationInterpretation::write_outputs`] plus `top_losses.png` with the `k` highest losses.
    pub fn write_outputs_with_images<F, E>(&self, dir: &Path, k: usize, image_of: F) -> Result<Vec<PathBuf>>
    where
        F: FnMut(usize) -> Result<RgbImage, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut written = self.write_outputs(dir)?;
        let top_path = dir.join("top_losses.png");
        self.plot_top_losses(k, &top_path, image_of)?;
        written.push(top_path);
        Ok(written)
    }

    /// Writes `most_confused(min_val)` as JSON: `{"min_val", "n_items", "accuracy", "pairs": [{"actual",
    /// "predicted", "count"}]}`.
    pub fn write_most_confused_json(&self, min_val: u64, path: &Path) -> Result<()> {
        let pairs = self.most_confused(min_val);
        let file = MostConfusedFile { min_val, n_items: self.len(), accuracy: self.accuracy(), pairs: &pairs };
        let json = serde_json::to_vec_pretty(&file).map_err(|source| Error::Json { what: "most_confused", source })?;
        fastvision_core::fs::atomic_write_bytes(path, &json).map_err(Error::Write)
    }

    fn caption(&self, item: &crate::ItemResult) -> String {
        let name = |id: u32| self.vocab().name(id as usize).unwrap_or("?").to_owned();
        format!("{}/{} / {:.2} / {:.2}", name(item.predicted), name(item.actual), item.loss, item.probability)
    }
}
