//! Image grids with captions (show_batch, plot_top_losses): each picture fitted into a square cell, text above it.

use image::imageops::FilterType;
use image::RgbImage;

use crate::color::{BLACK, WHITE};
use crate::text::{draw_text_lines, draw_text_styled, fit_text, line_height, text_width, Direction, Weight};

/// Most caption lines kept per cell; a longer caption is cut with "…".
const MAX_CAPTION_LINES: usize = 4;
/// Space between cells and around the grid, in pixels.
const GAP: u32 = 10;

/// Lays `cells` out in rows of `ncols`, each picture scaled (aspect kept, centred across, top-aligned) into a
/// `cell_px` square with its caption above it, like fastai's `show_batch` titles. Captions are wrapped at spaces,
/// `/`, `_`, `-` and `\n`. A `ncols` of 0 is taken as 1 and more columns than cells are dropped; `cell_px` is at
/// least 32. No cells gives a small blank image.
pub fn image_grid(cells: &[(RgbImage, String)], ncols: usize, cell_px: u32) -> RgbImage {
    let cell_px = cell_px.max(32);
    let ncols = ncols.clamp(1, cells.len().max(1));
    let nrows = cells.len().div_ceil(ncols).max(1);
    let font_px = caption_px(cell_px);
    let captions: Vec<Vec<String>> = cells.iter().map(|(_, text)| wrap_text(font_px, text, cell_px)).collect();
    let n_lines = captions.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let caption_height = if n_lines == 0 { 0 } else { n_lines * line_step(font_px) + 4 };
    let block_height = caption_height + cell_px;
    let width = GAP + ncols as u32 * (cell_px + GAP);
    let height = GAP + nrows as u32 * (block_height + GAP);
    let mut canvas = RgbImage::from_pixel(width, height, WHITE);
    for (index, ((picture, _), lines)) in cells.iter().zip(&captions).enumerate() {
        let left = GAP + (index % ncols) as u32 * (cell_px + GAP);
        let top = GAP + (index / ncols) as u32 * (block_height + GAP);
        if !lines.is_empty() {
            // Bottom-align the caption block so short captions sit just above their picture.
            let caption_top = top + caption_height - 4 - lines.len() as u32 * line_step(font_px);
            let center_x = (left + cell_px / 2) as i32;
            draw_text_lines(&mut canvas, center_x, caption_top as i32, font_px, BLACK, &lines.join("\n"));
        }
        paste_fitted(&mut canvas, picture, left, top + caption_height, cell_px);
    }
    canvas
}

/// Puts a bold `title` centred above `image` (fastai's figure title, e.g. "Prediction/Actual/Loss/Probability").
pub fn with_title(image: &RgbImage, title: &str) -> RgbImage {
    let px = 18.0;
    let band = line_height(px) + 16;
    let title = fit_text(px, title, image.width().saturating_sub(8));
    let mut canvas = RgbImage::from_pixel(image.width(), image.height() + band, WHITE);
    image::imageops::replace(&mut canvas, image, 0, band as i64);
    let x = (image.width() as i32 - text_width(px, &title) as i32) / 2;
    draw_text_styled(&mut canvas, x, 10, px, BLACK, &title, Weight::Bold, Direction::Horizontal);
    canvas
}

/// Breaks `text` into lines no wider than `max_width` at `px`, at spaces, `/`, `_`, `-` and `\n`.
pub fn wrap_text(px: f32, text: &str, max_width: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n').filter(|p| !p.trim().is_empty()) {
        let mut line = String::new();
        for piece in break_pieces(paragraph) {
            let candidate = format!("{line}{piece}");
            if line.is_empty() || text_width(px, candidate.trim_end()) <= max_width {
                line = candidate;
            } else {
                lines.push(line.trim_end().to_owned());
                line = piece.trim_start().to_owned();
            }
        }
        lines.push(line.trim_end().to_owned());
    }
    if lines.len() > MAX_CAPTION_LINES {
        lines.truncate(MAX_CAPTION_LINES);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines.into_iter().map(|line| fit_text(px, &line, max_width)).collect()
}

/// Caption font size for a cell: legible (≥ 11 px) on small cells, not shouting on large ones.
fn caption_px(cell_px: u32) -> f32 {
    (cell_px as f32 / 14.0).clamp(11.0, 16.0)
}

fn line_step(px: f32) -> u32 {
    line_height(px) + (px * 0.15).ceil() as u32
}

/// Splits after each break opportunity, keeping the delimiter with the piece before it.
fn break_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (offset, c) in text.char_indices() {
        if matches!(c, ' ' | '/' | '_' | '-') {
            let end = offset + c.len_utf8();
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

fn paste_fitted(canvas: &mut RgbImage, picture: &RgbImage, left: u32, top: u32, cell_px: u32) {
    if picture.width() == 0 || picture.height() == 0 {
        return;
    }
    let scale = cell_px as f64 / picture.width().max(picture.height()) as f64;
    let width = ((picture.width() as f64 * scale).round() as u32).clamp(1, cell_px);
    let height = ((picture.height() as f64 * scale).round() as u32).clamp(1, cell_px);
    let resized = if (width, height) == picture.dimensions() {
        picture.clone()
    } else {
        image::imageops::resize(picture, width, height, FilterType::Triangle)
    };
    // Top-aligned, so a landscape picture stays next to its caption.
    let x = left + (cell_px - width) / 2;
    image::imageops::replace(canvas, &resized, x as i64, top as i64);
}
