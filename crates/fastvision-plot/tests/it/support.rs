//! Pixel-counting helpers shared by the plot tests.

use fastvision_plot::RgbImage;

/// Pixels inside `(x, y, w, h)` whose luminance is below `threshold` (ink on a white background).
pub fn dark_pixels(image: &RgbImage, (x, y, w, h): (u32, u32, u32, u32), threshold: f64) -> usize {
    let mut count = 0;
    for yy in y..(y + h).min(image.height()) {
        for xx in x..(x + w).min(image.width()) {
            if luminance(image, xx, yy) < threshold {
                count += 1;
            }
        }
    }
    count
}

/// Luminance (0..255) of one pixel.
pub fn luminance(image: &RgbImage, x: u32, y: u32) -> f64 {
    let p = image.get_pixel(x, y).0;
    0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64
}

/// Mean luminance over a rectangle.
pub fn mean_luminance(image: &RgbImage, (x, y, w, h): (u32, u32, u32, u32)) -> f64 {
    let mut sum = 0.0;
    for yy in y..y + h {
        for xx in x..x + w {
            sum += luminance(image, xx, yy);
        }
    }
    sum / (w * h) as f64
}

/// Pixels anywhere in `image` exactly equal to `color`, or within `tolerance` per channel.
pub fn pixels_near(image: &RgbImage, color: [u8; 3], tolerance: u8) -> usize {
    image.pixels().filter(|p| p.0.iter().zip(color).all(|(&a, b)| a.abs_diff(b) <= tolerance)).count()
}
