//! Colours: matplotlib's `tab10` cycle for series and its `Blues` map for heat maps, so plots look like fastai's.

use image::Rgb;

/// White background.
pub const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
/// Black text.
pub const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
/// Grey for grid lines.
pub const GRID_GREY: Rgb<u8> = Rgb([225, 225, 225]);
/// Dark grey for axes and ticks.
pub const AXIS_GREY: Rgb<u8> = Rgb([60, 60, 60]);

const TAB10: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The `index`-th colour of matplotlib's default `tab10` cycle (wrapping around).
pub fn palette(index: usize) -> Rgb<u8> {
    Rgb(TAB10[index % TAB10.len()])
}

// ColorBrewer's 9-class Blues, the anchors of matplotlib's `Blues` (fastai's confusion-matrix map).
const BLUES: [[u8; 3]; 9] = [
    [247, 251, 255],
    [222, 235, 247],
    [198, 219, 239],
    [158, 202, 225],
    [107, 174, 214],
    [66, 146, 198],
    [33, 113, 181],
    [8, 81, 156],
    [8, 48, 107],
];

/// matplotlib's `Blues` at `t` in 0..1 (near-white at 0, dark navy at 1); values outside are clamped, NaN is white.
pub fn blues(t: f64) -> Rgb<u8> {
    if t.is_nan() {
        return WHITE;
    }
    let position = t.clamp(0.0, 1.0) * (BLUES.len() - 1) as f64;
    let low = (position.floor() as usize).min(BLUES.len() - 2);
    let frac = position - low as f64;
    let mut out = [0u8; 3];
    for (channel, value) in out.iter_mut().enumerate() {
        let a = BLUES[low][channel] as f64;
        let b = BLUES[low + 1][channel] as f64;
        *value = (a + (b - a) * frac).round() as u8;
    }
    Rgb(out)
}

/// Relative luminance (0..255) of a colour, to pick black or white text over it.
pub fn luminance(color: Rgb<u8>) -> f64 {
    0.2126 * color.0[0] as f64 + 0.7152 * color.0[1] as f64 + 0.0722 * color.0[2] as f64
}
