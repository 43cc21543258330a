//! PNG output for fastvision: image grids with captions, log-x line plots, heat-map tables.
//!
//! Three crates need pictures (show_batch, the lr_find and loss plots, the confusion matrix and top losses); this
//! small leaf draws them so none grows its own drawing code. It takes plain numbers and `image::RgbImage`s and
//! knows nothing of tensors or training. Text is DejaVu Sans (embedded by the `dejavu` crate) rasterised with
//! `ab_glyph`.
//!
//! # Brief overview
//! - [`image_grid`]: pictures in rows with a caption above each (fastai's `show_batch`, `plot_top_losses`).
//! - [`LinePlot`]: [`Series`] and labelled [`Marker`]s, optionally on a log-x axis (fastai's `plot_lr_find`).
//! - [`Heatmap`]: a coloured table with labels on both axes and text in the cells (`plot_confusion_matrix`).
//! - [`draw_text`] for anything else, and [`save_png`] to write the result atomically.
//!
//! ```
//! use fastvision_plot::{image_grid, save_png, Heatmap, LinePlot, Marker, RgbImage, Series};
//!
//! let red = RgbImage::from_pixel(40, 30, fastvision_plot::image::Rgb([200, 30, 30]));
//! let grid = image_grid(&[(red.clone(), "pug".into()), (red, "beagle".into())], 2, 64);
//!
//! let lrs: Vec<f64> = (0..50).map(|i| 1e-6 * 10f64.powf(i as f64 / 10.0)).collect();
//! let losses: Vec<f64> = lrs.iter().map(|lr| 2.0 - 0.3 * lr.log10().abs().min(4.0) / 4.0).collect();
//! let plot = LinePlot {
//!     x_label: "Learning Rate".into(),
//!     y_label: "Loss".into(),
//!     log_x: true,
//!     series: vec![Series::new("", lrs, losses)],
//!     markers: vec![Marker::new("valley", 1e-3, 1.8)],
//!     ..Default::default()
//! }
//! .render(480, 320);
//!
//! let confusion = Heatmap {
//!     row_labels: vec!["beagle".into(), "pug".into()],
//!     col_labels: vec!["beagle".into(), "pug".into()],
//!     values: vec![5.0, 1.0, 0.0, 6.0],
//!     cell_text: vec!["5".into(), "1".into(), "0".into(), "6".into()],
//!     ..Default::default()
//! };
//! confusion.check()?;
//! let dir = tempfile::tempdir()?;
//! save_png(&confusion.render(), &dir.path().join("confusion_matrix.png"))?;
//! assert_eq!(grid.width(), 10 + 2 * (64 + 10));
//! assert_eq!(plot.dimensions(), (480, 320));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod color;
pub mod draw;
mod error;
mod grid;
mod heatmap;
mod line;
mod png;
mod text;
pub mod ticks;

pub use error::{Error, Result};
pub use grid::{image_grid, with_title, wrap_text};
pub use heatmap::{Heatmap, HeatmapLayout};
pub use image;
pub use image::{Rgb, RgbImage};
pub use line::{LinePlot, Marker, Series};
pub use png::{encode_png, save_png};
pub use text::{
    draw_text, draw_text_lines, draw_text_styled, fit_text, fonts_available, line_height, text_width,
    text_width_weighted, Direction, Weight,
};
