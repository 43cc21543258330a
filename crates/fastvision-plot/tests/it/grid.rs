//! Image grids: size formula, captions above each picture, wrapping, degenerate inputs.

use fastvision_plot::color::WHITE;
use fastvision_plot::{image_grid, text_width, with_title, wrap_text, Rgb, RgbImage};

use crate::support::{dark_pixels, pixels_near};

fn swatch(w: u32, h: u32, color: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(color))
}

#[test]
fn grid_size_and_pictures() {
    let cells: Vec<(RgbImage, String)> =
        (0..5).map(|i| (swatch(100, 50 + 10 * i, [200, 30 + 40 * i as u8, 30]), format!("cell {i}"))).collect();
    let grid = image_grid(&cells, 3, 64);
    assert_eq!(grid.width(), 10 + 3 * (64 + 10), "width = gap + ncols × (cell + gap)");
    assert!(grid.height() > 10 + 2 * (64 + 10), "two rows plus captions, got height {}", grid.height());
    // Picture 0 (100×50) scaled to 64×32: exactly that many pure pixels of its colour.
    assert_eq!(pixels_near(&grid, [200, 30, 30], 1), 64 * 32);
}

#[test]
fn captions_draw_ink_above_each_picture() {
    let with_text = image_grid(&[(swatch(64, 64, [255, 255, 255]), "beagle".into())], 1, 64);
    let without = image_grid(&[(swatch(64, 64, [255, 255, 255]), String::new())], 1, 64);
    let ink = dark_pixels(&with_text, (0, 0, with_text.width(), with_text.height() - 74), 128.0);
    assert!(ink > 30, "caption must draw dark pixels above the picture, got {ink}");
    assert_eq!(dark_pixels(&without, (0, 0, without.width(), without.height()), 128.0), 0);
    assert!(with_text.height() > without.height(), "a caption needs room");
}

#[test]
fn long_captions_wrap_within_the_cell() {
    let caption = "american_pit_bull_terrier/staffordshire_bull_terrier / 3.38 / 0.95";
    let lines = wrap_text(12.0, caption, 128);
    assert!(lines.len() >= 3, "expected wrapping into several lines, got {lines:?}");
    for line in &lines {
        assert!(text_width(12.0, line) <= 128, "line {line:?} is wider than the cell");
    }
    assert!(lines.join("").contains("3.38"), "the loss must survive wrapping: {lines:?}");
}

#[test]
fn degenerate_inputs_give_an_image() {
    let empty = image_grid(&[], 3, 64);
    assert!(empty.width() > 0 && empty.height() > 0);
    let zero_cols = image_grid(&[(swatch(10, 10, [0, 0, 0]), "x".into())], 0, 0);
    assert_eq!(zero_cols.width(), 10 + 32 + 10, "ncols 0 → 1 column, cell_px 0 → 32");
    let empty_picture = image_grid(&[(RgbImage::new(0, 0), "nothing".into())], 1, 40);
    assert!(empty_picture.pixels().any(|p| *p == WHITE));
}

#[test]
fn title_band_sits_above() {
    let grid = swatch(300, 100, [255, 255, 255]);
    let titled = with_title(&grid, "Prediction/Actual/Loss/Probability");
    let band = titled.height() - 100;
    assert!(dark_pixels(&titled, (0, 0, 300, band), 128.0) > 100, "the title must draw ink");
}
