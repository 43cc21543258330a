//! Heat-map tables (the confusion matrix): labelled rows and columns, a colour per cell, text in the cells and a
//! colour bar, laid out so 37 long class names stay readable.

use image::RgbImage;

use crate::color::{blues, luminance, AXIS_GREY, BLACK, WHITE};
use crate::draw::{fill_rect, stroke_rect};
use crate::text::{draw_text, draw_text_styled, fit_text, line_height, text_width, Direction, Weight};
use crate::ticks::{format_linear, linear_step, linear_ticks};
use crate::{Error, Result};

/// Longest label, in pixels, before it is shortened with "…".
const MAX_LABEL_PX: u32 = 280;
const TITLE_PX: f32 = 16.0;
const AXIS_LABEL_PX: f32 = 14.0;
const BAR_WIDTH: u32 = 18;

/// A table of coloured cells: matplotlib's `imshow` with the `Blues` map plus tick labels and cell text, as
/// fastai's `plot_confusion_matrix` draws it. Rows go down, columns go right; `values` is row-major.
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    /// Title above the table (empty for none).
    pub title: String,
    /// One label per row, drawn at the left (e.g. actual classes).
    pub row_labels: Vec<String>,
    /// One label per column, drawn below (rotated when they do not fit across a cell).
    pub col_labels: Vec<String>,
    /// `rows × cols` values, row-major; they pick each cell's colour. Missing or NaN cells stay white.
    pub values: Vec<f64>,
    /// Text per cell, row-major (e.g. counts); empty for no text.
    pub cell_text: Vec<String>,
    /// Label under the column labels (e.g. "Predicted").
    pub x_label: String,
    /// Label left of the row labels, rotated (e.g. "Actual").
    pub y_label: String,
    /// Cell side in pixels; 0 picks one that fits the cell text (at least 24 px).
    pub cell_px: u32,
    /// Colour scale limits; `None` uses the smallest and largest finite value.
    pub value_range: Option<(f64, f64)>,
    /// Draw a colour bar with ticks at the right.
    pub color_bar: bool,
}

/// Where a [`Heatmap`]'s parts land in the rendered image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatmapLayout {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// x of the table's left edge.
    pub grid_left: u32,
    /// y of the table's top edge.
    pub grid_top: u32,
    /// Cell side.
    pub cell_px: u32,
    /// Number of rows.
    pub n_rows: usize,
    /// Number of columns.
    pub n_cols: usize,
    /// Font size of the row and column labels.
    pub label_px: u32,
    /// Font size of the cell text.
    pub cell_text_px: u32,
    /// True when column labels run bottom to top.
    pub rotated_col_labels: bool,
}

impl HeatmapLayout {
    /// The pixel rectangle `(x, y, width, height)` of cell (`row`, `col`).
    pub fn cell_rect(&self, row: usize, col: usize) -> (u32, u32, u32, u32) {
        let x = self.grid_left + col as u32 * self.cell_px;
        let y = self.grid_top + row as u32 * self.cell_px;
        (x, y, self.cell_px, self.cell_px)
    }
}

impl Heatmap {
    /// Checks that `values` (and `cell_text`, when given) hold one entry per cell.
    pub fn check(&self) -> Result<()> {
        let expected = self.row_labels.len() * self.col_labels.len();
        if self.values.len() != expected {
            return Err(Error::HeatmapShape { what: "values", expected, actual: self.values.len() });
        }
        if !self.cell_text.is_empty() && self.cell_text.len() != expected {
            return Err(Error::HeatmapShape { what: "cell_text", expected, actual: self.cell_text.len() });
        }
        Ok(())
    }

    /// Computes sizes and positions without drawing.
    pub fn layout(&self) -> HeatmapLayout {
        let (n_rows, n_cols) = (self.row_labels.len(), self.col_labels.len());
        let n_max = n_rows.max(n_cols).max(1) as u32;
        let base_cell = (760 / n_max).clamp(24, 64);
        let cell_text_px = (base_cell as f32 * 0.42).clamp(10.0, 16.0);
        let widest_text = self.cell_text.iter().map(|t| text_width(cell_text_px, t)).max().unwrap_or(0);
        let cell_px = if self.cell_px > 0 { self.cell_px } else { base_cell.max(widest_text + 8) };
        let label_px = (cell_px as f32 * 0.5).clamp(11.0, 14.0);
        let row_label_width = self.row_labels.iter().map(|l| text_width(label_px, l)).max().unwrap_or(0);
        let col_label_width = self.col_labels.iter().map(|l| text_width(label_px, l)).max().unwrap_or(0);
        let rotated_col_labels = col_label_width + 6 > cell_px;
        let col_label_extent =
            if rotated_col_labels { col_label_width.min(MAX_LABEL_PX) } else { line_height(label_px) };
        let y_label_width = if self.y_label.is_empty() { 0 } else { line_height(AXIS_LABEL_PX) + 10 };
        let grid_left = 12 + y_label_width + row_label_width.min(MAX_LABEL_PX) + 8;
        let grid_top = if self.title.is_empty() { 12 } else { line_height(TITLE_PX) + 22 };
        let x_label_height = if self.x_label.is_empty() { 0 } else { line_height(AXIS_LABEL_PX) + 8 };
        let bar_width = if self.color_bar { 20 + BAR_WIDTH + 8 + self.bar_label_width(label_px) } else { 0 };
        let grid_width = n_cols as u32 * cell_px;
        let width = (grid_left + grid_width + bar_width + 16).max(text_width(TITLE_PX, &self.title) + 24);
        let height = grid_top + n_rows as u32 * cell_px + 8 + col_label_extent + 8 + x_label_height + 10;
        HeatmapLayout {
            width,
            height,
            grid_left,
            grid_top,
            cell_px,
            n_rows,
            n_cols,
            label_px: label_px as u32,
            cell_text_px: cell_text_px as u32,
            rotated_col_labels,
        }
    }

    /// Draws the table. Mismatched arrays do not fail here (missing cells stay white); call [`Heatmap::check`]
    /// first to reject them.
    pub fn render(&self) -> RgbImage {
        let layout = self.layout();
        let mut canvas = RgbImage::from_pixel(layout.width, layout.height, WHITE);
        let range = self.range();
        self.draw_cells(&mut canvas, &layout, range);
        self.draw_row_labels(&mut canvas, &layout);
        self.draw_col_labels(&mut canvas, &layout);
        self.draw_titles(&mut canvas, &layout);
        if self.color_bar {
            self.draw_color_bar(&mut canvas, &layout, range);
        }
        canvas
    }

    fn range(&self) -> (f64, f64) {
        if let Some(range) = self.value_range {
            return range;
        }
        let finite = self.values.iter().copied().filter(|v| v.is_finite());
        finite
            .fold(None, |acc: Option<(f64, f64)>, v| Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))))
            .unwrap_or((0.0, 1.0))
    }

    fn draw_cells(&self, canvas: &mut RgbImage, layout: &HeatmapLayout, (lo, hi): (f64, f64)) {
        let text_px = layout.cell_text_px as f32;
        for row in 0..layout.n_rows {
            for col in 0..layout.n_cols {
                let index = row * layout.n_cols + col;
                let value = self.values.get(index).copied().unwrap_or(f64::NAN);
                let t = if hi > lo { (value - lo) / (hi - lo) } else { 0.0 };
                let color = blues(t);
                let (x, y, side, _) = layout.cell_rect(row, col);
                // A one-pixel white gap between cells lets the eye follow a row across 37 columns.
                fill_rect(canvas, x as i32, y as i32, side - 1, side - 1, color);
                let Some(text) = self.cell_text.get(index).filter(|t| !t.is_empty()) else { continue };
                let text = fit_text(text_px, text, side.saturating_sub(2));
                let ink = if luminance(color) < 140.0 { WHITE } else { BLACK };
                let tx = x as i32 + (side as i32 - text_width(text_px, &text) as i32) / 2;
                let ty = y as i32 + (side as i32 - line_height(text_px) as i32) / 2;
                draw_text(canvas, tx, ty, text_px, ink, &text);
            }
        }
        let (grid_w, grid_h) = (layout.n_cols as u32 * layout.cell_px, layout.n_rows as u32 * layout.cell_px);
        stroke_rect(canvas, layout.grid_left as i32 - 1, layout.grid_top as i32 - 1, grid_w + 1, grid_h + 1, AXIS_GREY);
    }

    fn draw_row_labels(&self, canvas: &mut RgbImage, layout: &HeatmapLayout) {
        let px = layout.label_px as f32;
        for (row, label) in self.row_labels.iter().enumerate() {
            let label = fit_text(px, label, MAX_LABEL_PX);
            let (_, y, side, _) = layout.cell_rect(row, 0);
            let x = layout.grid_left as i32 - 8 - text_width(px, &label) as i32;
            draw_text(canvas, x, y as i32 + (side as i32 - line_height(px) as i32) / 2, px, BLACK, &label);
        }
    }

    fn draw_col_labels(&self, canvas: &mut RgbImage, layout: &HeatmapLayout) {
        let px = layout.label_px as f32;
        let top = (layout.grid_top + layout.n_rows as u32 * layout.cell_px + 8) as i32;
        for (col, label) in self.col_labels.iter().enumerate() {
            let label = fit_text(px, label, MAX_LABEL_PX);
            let (x, _, side, _) = layout.cell_rect(0, col);
            if layout.rotated_col_labels {
                // As matplotlib's rotation=90: the label hangs below its column, its end next to the table.
                let left = x as i32 + (side as i32 - line_height(px) as i32) / 2;
                draw_text_styled(canvas, left, top, px, BLACK, &label, Weight::Regular, Direction::Up);
            } else {
                let left = x as i32 + (side as i32 - text_width(px, &label) as i32) / 2;
                draw_text(canvas, left, top, px, BLACK, &label);
            }
        }
    }

    fn draw_titles(&self, canvas: &mut RgbImage, layout: &HeatmapLayout) {
        let grid_center_x = (layout.grid_left + layout.n_cols as u32 * layout.cell_px / 2) as i32;
        let grid_center_y = (layout.grid_top + layout.n_rows as u32 * layout.cell_px / 2) as i32;
        if !self.title.is_empty() {
            let x = (grid_center_x - text_width(TITLE_PX, &self.title) as i32 / 2).max(8);
            draw_text_styled(canvas, x, 10, TITLE_PX, BLACK, &self.title, Weight::Bold, Direction::Horizontal);
        }
        if !self.x_label.is_empty() {
            let x = grid_center_x - text_width(AXIS_LABEL_PX, &self.x_label) as i32 / 2;
            let y = layout.height as i32 - 10 - line_height(AXIS_LABEL_PX) as i32;
            draw_text(canvas, x, y, AXIS_LABEL_PX, BLACK, &self.x_label);
        }
        if !self.y_label.is_empty() {
            let y = grid_center_y - text_width(AXIS_LABEL_PX, &self.y_label) as i32 / 2;
            draw_text_styled(canvas, 12, y, AXIS_LABEL_PX, BLACK, &self.y_label, Weight::Regular, Direction::Up);
        }
    }

    fn bar_ticks(&self, (lo, hi): (f64, f64)) -> Vec<(f64, String)> {
        if hi <= lo {
            return vec![(lo, format_linear(lo, 1.0))];
        }
        let step = linear_step(lo, hi, 5);
        linear_ticks(lo, hi, 5).into_iter().map(|v| (v, format_linear(v, step))).collect()
    }

    fn bar_label_width(&self, px: f32) -> u32 {
        self.bar_ticks(self.range()).iter().map(|(_, label)| text_width(px, label)).max().unwrap_or(0)
    }

    fn draw_color_bar(&self, canvas: &mut RgbImage, layout: &HeatmapLayout, (lo, hi): (f64, f64)) {
        let left = layout.grid_left + layout.n_cols as u32 * layout.cell_px + 20;
        let (top, height) = (layout.grid_top, (layout.n_rows as u32 * layout.cell_px).max(2));
        for offset in 0..height {
            let t = 1.0 - offset as f64 / (height - 1) as f64;
            fill_rect(canvas, left as i32, (top + offset) as i32, BAR_WIDTH, 1, blues(t));
        }
        stroke_rect(canvas, left as i32 - 1, top as i32 - 1, BAR_WIDTH + 2, height + 2, AXIS_GREY);
        let px = layout.label_px as f32;
        for (value, label) in self.bar_ticks((lo, hi)) {
            let t = if hi > lo { (value - lo) / (hi - lo) } else { 0.0 };
            let y = top as i32 + ((1.0 - t) * (height - 1) as f64).round() as i32;
            fill_rect(canvas, (left + BAR_WIDTH) as i32, y, 4, 1, AXIS_GREY);
            let text_y = y - line_height(px) as i32 / 2;
            draw_text(canvas, (left + BAR_WIDTH + 7) as i32, text_y, px, BLACK, &label);
        }
    }
}
