//! Text drawing: the embedded font loads, text leaves ink where it is drawn and nowhere else, clipping is safe.

use fastvision_plot::color::{BLACK, WHITE};
use fastvision_plot::{
    draw_text, draw_text_styled, fit_text, fonts_available, line_height, text_width, Direction, RgbImage, Weight,
};

use crate::support::dark_pixels;

#[test]
fn embedded_fonts_parse() {
    assert!(fonts_available(), "DejaVu Sans from the `dejavu` crate must parse with ab_glyph");
}

#[test]
fn text_draws_ink_inside_its_box_only() {
    let mut image = RgbImage::from_pixel(200, 60, WHITE);
    draw_text(&mut image, 10, 20, 16.0, BLACK, "Abyssinian 42");
    let (w, h) = (text_width(16.0, "Abyssinian 42"), line_height(16.0));
    let inside = dark_pixels(&image, (10, 20, w, h), 128.0);
    let total = dark_pixels(&image, (0, 0, 200, 60), 128.0);
    assert!(inside > 60, "expected glyph ink inside the {w}×{h} text box, got {inside} dark pixels");
    assert_eq!(inside, total, "ink outside the text box: {} pixels", total - inside);
}

#[test]
fn wider_text_is_wider() {
    let short = text_width(12.0, "pug");
    let long = text_width(12.0, "american_pit_bull_terrier");
    assert!(short > 10 && long > 4 * short, "widths: pug {short}, long name {long}");
    assert!(text_width(24.0, "pug") > short, "a larger size must be wider");
    assert_eq!(text_width(12.0, ""), 0);
}

#[test]
fn rotated_text_runs_up_in_a_tall_box() {
    let mut image = RgbImage::from_pixel(60, 200, WHITE);
    let text = "great_pyrenees";
    draw_text_styled(&mut image, 20, 10, 14.0, BLACK, text, Weight::Regular, Direction::Up);
    let (w, h) = (line_height(14.0), text_width(14.0, text));
    let inside = dark_pixels(&image, (20, 10, w, h), 128.0);
    assert!(inside > 60, "rotated text must leave ink in its {w}×{h} box, got {inside}");
    assert_eq!(inside, dark_pixels(&image, (0, 0, 60, 200), 128.0), "rotated ink escaped its box");
}

#[test]
fn bold_is_heavier_than_regular() {
    let mut regular = RgbImage::from_pixel(200, 40, WHITE);
    let mut bold = regular.clone();
    draw_text_styled(&mut regular, 4, 4, 16.0, BLACK, "Confusion", Weight::Regular, Direction::Horizontal);
    draw_text_styled(&mut bold, 4, 4, 16.0, BLACK, "Confusion", Weight::Bold, Direction::Horizontal);
    let (r, b) = (dark_pixels(&regular, (0, 0, 200, 40), 128.0), dark_pixels(&bold, (0, 0, 200, 40), 128.0));
    assert!(b > r, "bold ink {b} should exceed regular ink {r}");
}

#[test]
fn text_off_the_image_is_clipped_without_panic() {
    let mut image = RgbImage::from_pixel(30, 10, WHITE);
    draw_text(&mut image, -50, -5, 20.0, BLACK, "clipped text that runs far past the edge");
    draw_text(&mut image, 1000, 1000, 20.0, BLACK, "nowhere");
    draw_text_styled(&mut image, -3, -100, 20.0, BLACK, "up", Weight::Bold, Direction::Up);
    draw_text(&mut image, 0, 0, 12.0, BLACK, "");
}

#[test]
fn fit_text_shortens_with_an_ellipsis() {
    let long = "staffordshire_bull_terrier";
    let fitted = fit_text(12.0, long, 80);
    assert!(fitted.ends_with('…') && text_width(12.0, &fitted) <= 80, "got {fitted:?}");
    assert_eq!(fit_text(12.0, "pug", 80), "pug");
}
