//! Text drawing with the embedded DejaVu Sans (ab_glyph rasteriser): every label, caption and title goes here.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

use crate::draw::blend;

/// Weight of the face used for a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weight {
    /// DejaVu Sans.
    #[default]
    Regular,
    /// DejaVu Sans Bold, for titles.
    Bold,
}

/// Direction text runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Left to right, as usual.
    #[default]
    Horizontal,
    /// Bottom to top (rotated 90° anticlockwise), for y-axis labels and crowded column labels.
    Up,
}

/// Coverage (0..1) of a rasterised line of text, `width × height`, row-major, before any rotation.
struct Mask {
    width: u32,
    height: u32,
    coverage: Vec<f32>,
}

fn font(weight: Weight) -> Option<&'static FontRef<'static>> {
    static REGULAR: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    static BOLD: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    // The fonts are embedded by the `dejavu` crate; a unit test checks they parse, so `None` means a broken build
    // and text is then skipped rather than panicking in a caller's training run.
    let (cell, bytes) = match weight {
        Weight::Regular => (&REGULAR, dejavu::sans::regular()),
        Weight::Bold => (&BOLD, dejavu::sans::bold()),
    };
    cell.get_or_init(|| FontRef::try_from_slice(bytes).ok()).as_ref()
}

/// True when the embedded fonts parse (they always should; used by tests).
pub fn fonts_available() -> bool {
    font(Weight::Regular).is_some() && font(Weight::Bold).is_some()
}

/// Width in pixels of `text` drawn at `px` pixels (regular weight).
pub fn text_width(px: f32, text: &str) -> u32 {
    text_width_weighted(px, text, Weight::Regular)
}

/// Width in pixels of `text` drawn at `px` pixels in `weight`.
pub fn text_width_weighted(px: f32, text: &str, weight: Weight) -> u32 {
    let Some(font) = font(weight) else { return 0 };
    let scaled = font.as_scaled(PxScale::from(px));
    let mut width = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = previous {
            width += scaled.kern(prev, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width.ceil().max(0.0) as u32
}

/// Height in pixels of one line of text at `px` pixels (ascent to descent, no line gap).
pub fn line_height(px: f32) -> u32 {
    let Some(font) = font(Weight::Regular) else { return px.ceil() as u32 };
    let scaled = font.as_scaled(PxScale::from(px));
    (scaled.ascent() - scaled.descent()).ceil() as u32
}

/// Draws `text` with its top-left corner at (`x`, `y`), `px` pixels high, anti-aliased over what is there.
/// Parts outside the image are clipped. Newlines are not interpreted; see [`draw_text_lines`].
pub fn draw_text(image: &mut RgbImage, x: i32, y: i32, px: f32, color: Rgb<u8>, text: &str) {
    draw_text_styled(image, x, y, px, color, text, Weight::Regular, Direction::Horizontal);
}

/// [`draw_text`] with a weight and a direction. For [`Direction::Up`], (`x`, `y`) is the top-left corner of the
/// rotated box, which is `line_height(px)` wide and `text_width(px, text)` high.
#[allow(clippy::too_many_arguments)] // a drawing call: position, size, colour, text, style
pub fn draw_text_styled(
    image: &mut RgbImage,
    x: i32,
    y: i32,
    px: f32,
    color: Rgb<u8>,
    text: &str,
    weight: Weight,
    direction: Direction,
) {
    let Some(mask) = rasterize(px, text, weight) else { return };
    for row in 0..mask.height {
        for col in 0..mask.width {
            let coverage = mask.coverage[(row * mask.width + col) as usize];
            if coverage <= 0.0 {
                continue;
            }
            let (dx, dy) = match direction {
                Direction::Horizontal => (col as i32, row as i32),
                // Rotating anticlockwise: the start of the text ends up at the bottom.
                Direction::Up => (row as i32, (mask.width - 1 - col) as i32),
            };
            blend(image, x + dx, y + dy, color, coverage);
        }
    }
}

/// Draws several lines (split on `\n`) centred horizontally on `center_x`, the first line's top at `y`.
/// Returns the total height used.
pub fn draw_text_lines(image: &mut RgbImage, center_x: i32, y: i32, px: f32, color: Rgb<u8>, text: &str) -> u32 {
    let step = line_height(px) + (px * 0.15).ceil() as u32;
    let mut top = y;
    for line in text.split('\n') {
        let width = text_width(px, line) as i32;
        draw_text(image, center_x - width / 2, top, px, color, line);
        top += step as i32;
    }
    step * text.split('\n').count() as u32
}

/// Shortens `text` with a trailing "…" until it fits in `max_width` pixels at `px`.
pub fn fit_text(px: f32, text: &str, max_width: u32) -> String {
    if text_width(px, text) <= max_width {
        return text.to_owned();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if text_width(px, &candidate) <= max_width {
            return candidate;
        }
    }
    String::new()
}

fn rasterize(px: f32, text: &str, weight: Weight) -> Option<Mask> {
    let font = font(weight)?;
    let scaled = font.as_scaled(PxScale::from(px));
    let width = text_width_weighted(px, text, weight).max(1);
    let height = line_height(px).max(1);
    let mut mask = Mask { width, height, coverage: vec![0.0; (width * height) as usize] };
    let mut caret = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = previous {
            caret += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), point(caret, scaled.ascent()));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outlined) = font.outline_glyph(glyph) else { continue };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let mx = bounds.min.x as i32 + gx as i32;
            let my = bounds.min.y as i32 + gy as i32;
            if mx >= 0 && my >= 0 && (mx as u32) < mask.width && (my as u32) < mask.height {
                let cell = &mut mask.coverage[(my as u32 * mask.width + mx as u32) as usize];
                *cell = (*cell + coverage).min(1.0);
            }
        });
    }
    Some(mask)
}
