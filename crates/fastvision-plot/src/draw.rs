//! Anti-aliased drawing primitives (rectangles, lines, discs) on an `RgbImage`, clipped to the image.

use image::{Rgb, RgbImage};

/// Mixes `color` into the pixel at (`x`, `y`) with weight `alpha` (0..1); outside the image it does nothing.
pub fn blend(image: &mut RgbImage, x: i32, y: i32, color: Rgb<u8>, alpha: f32) {
    if x < 0 || y < 0 || x as u32 >= image.width() || y as u32 >= image.height() {
        return;
    }
    let alpha = alpha.clamp(0.0, 1.0);
    let pixel = image.get_pixel_mut(x as u32, y as u32);
    for channel in 0..3 {
        let old = pixel.0[channel] as f32;
        pixel.0[channel] = (old + (color.0[channel] as f32 - old) * alpha).round() as u8;
    }
}

/// Fills the rectangle with top-left (`x`, `y`) and size `width × height`.
pub fn fill_rect(image: &mut RgbImage, x: i32, y: i32, width: u32, height: u32, color: Rgb<u8>) {
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = (x + width as i32).min(image.width() as i32);
    let y1 = (y + height as i32).min(image.height() as i32);
    for yy in y0..y1 {
        for xx in x0..x1 {
            image.put_pixel(xx as u32, yy as u32, color);
        }
    }
}

/// Draws a one-pixel outline of the rectangle with top-left (`x`, `y`) and size `width × height`.
pub fn stroke_rect(image: &mut RgbImage, x: i32, y: i32, width: u32, height: u32, color: Rgb<u8>) {
    if width == 0 || height == 0 {
        return;
    }
    fill_rect(image, x, y, width, 1, color);
    fill_rect(image, x, y + height as i32 - 1, width, 1, color);
    fill_rect(image, x, y, 1, height, color);
    fill_rect(image, x + width as i32 - 1, y, 1, height, color);
}

/// Draws an anti-aliased segment from (`x0`, `y0`) to (`x1`, `y1`), `thickness` pixels wide, with round ends.
pub fn draw_line(image: &mut RgbImage, from: (f32, f32), to: (f32, f32), thickness: f32, color: Rgb<u8>) {
    let half = thickness.max(0.5) / 2.0;
    let (x0, y0) = from;
    let (x1, y1) = to;
    if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
        return;
    }
    let (dx, dy) = (x1 - x0, y1 - y0);
    let length_sq = dx * dx + dy * dy;
    let min_x = (x0.min(x1) - half - 1.0).floor().max(0.0) as i32;
    let max_x = (x0.max(x1) + half + 1.0).ceil().min(image.width() as f32) as i32;
    let min_y = (y0.min(y1) - half - 1.0).floor().max(0.0) as i32;
    let max_y = (y0.max(y1) + half + 1.0).ceil().min(image.height() as f32) as i32;
    for y in min_y..max_y {
        for x in min_x..max_x {
            // Distance from the pixel centre to the segment gives the coverage of a 1-px anti-aliased edge.
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if length_sq > 0.0 { (((px - x0) * dx + (py - y0) * dy) / length_sq).clamp(0.0, 1.0) } else { 0.0 };
            let (cx, cy) = (x0 + t * dx - px, y0 + t * dy - py);
            let coverage = half + 0.5 - (cx * cx + cy * cy).sqrt();
            if coverage > 0.0 {
                blend(image, x, y, color, coverage.min(1.0));
            }
        }
    }
}

/// Fills an anti-aliased disc of `radius` pixels centred on `center`.
pub fn fill_circle(image: &mut RgbImage, center: (f32, f32), radius: f32, color: Rgb<u8>) {
    draw_line(image, center, center, radius * 2.0, color);
}
