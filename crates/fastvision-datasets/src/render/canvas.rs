//! A floating-point RGB canvas with anti-aliased drawing through signed distances: the only pixel code of the
//! default data set, kept free of randomness so that a scene draws the same everywhere.

use fastvision_core::rng::Rng;

/// An RGB colour with channels in `[0, 1]`.
pub(crate) type Rgb = [f32; 3];

/// An RGB image in `[0, 1]`, row-major.
pub(crate) struct Canvas {
    pub width: usize,
    pub height: usize,
    pixels: Vec<Rgb>,
}

/// A placement in the image: centre, scale in pixels per unit, and rotation, so shapes are defined once in
/// unit coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pose {
    pub center: [f32; 2],
    /// Pixels per unit along the shape's own x and y axes (unequal values stretch it).
    pub scale: [f32; 2],
    /// Rotation in radians.
    pub angle: f32,
}

impl Pose {
    /// The pixel `(x, y)` in the shape's unit coordinates.
    fn to_unit(self, x: f32, y: f32, cos: f32, sin: f32) -> [f32; 2] {
        let (dx, dy) = (x - self.center[0], y - self.center[1]);
        [(dx * cos + dy * sin) / self.scale[0], (-dx * sin + dy * cos) / self.scale[1]]
    }

    /// How far (in pixels) a unit-coordinate point may be from the centre, for bounding boxes.
    fn reach(self, unit_radius: f32) -> f32 {
        unit_radius * self.scale[0].max(self.scale[1])
    }
}

impl Canvas {
    /// A canvas filled by `fill(x, y)`.
    pub fn from_fn(width: usize, height: usize, fill: impl Fn(f32, f32) -> Rgb) -> Self {
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                pixels.push(fill(x as f32 + 0.5, y as f32 + 0.5));
            }
        }
        Self { width, height, pixels }
    }

    /// The colour at pixel `(x, y)`, clamped to the canvas.
    pub fn at(&self, x: f32, y: f32) -> Rgb {
        let xi = (x.max(0.0) as usize).min(self.width - 1);
        let yi = (y.max(0.0) as usize).min(self.height - 1);
        self.pixels[yi * self.width + xi]
    }

    /// Draws a shape given by its signed distance in unit coordinates (negative inside), anti-aliased over one
    /// pixel; `paint(unit_point, pixels_per_unit)` gives its colour and opacity at each covered pixel.
    pub fn draw(
        &mut self,
        pose: Pose,
        unit_radius: f32,
        sdf: impl Fn([f32; 2]) -> f32,
        paint: impl Fn([f32; 2], f32) -> (Rgb, f32),
    ) {
        let (sin, cos) = pose.angle.sin_cos();
        let min_scale = pose.scale[0].min(pose.scale[1]);
        let reach = pose.reach(unit_radius) + 2.0;
        let x0 = (pose.center[0] - reach).floor().max(0.0) as usize;
        let y0 = (pose.center[1] - reach).floor().max(0.0) as usize;
        let x1 = ((pose.center[0] + reach).ceil().max(0.0) as usize).min(self.width);
        let y1 = ((pose.center[1] + reach).ceil().max(0.0) as usize).min(self.height);
        for y in y0..y1 {
            for x in x0..x1 {
                let unit = pose.to_unit(x as f32 + 0.5, y as f32 + 0.5, cos, sin);
                let coverage = (0.5 - sdf(unit) * min_scale).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    let (color, alpha) = paint(unit, min_scale);
                    blend(&mut self.pixels[y * self.width + x], color, coverage * alpha);
                }
            }
        }
    }

    /// A 3×3 box blur (a slightly out-of-focus photo).
    pub fn box_blur(&mut self) {
        let (w, h) = (self.width, self.height);
        let source = self.pixels.clone();
        for y in 0..h {
            for x in 0..w {
                let mut sum = [0.0f32; 3];
                for (xn, yn) in [x.saturating_sub(1), x, (x + 1).min(w - 1)]
                    .into_iter()
                    .flat_map(|xn| [y.saturating_sub(1), y, (y + 1).min(h - 1)].map(|yn| (xn, yn)))
                {
                    let p = source[yn * w + xn];
                    (0..3).for_each(|c| sum[c] += p[c]);
                }
                self.pixels[y * w + x] = sum.map(|s| s / 9.0);
            }
        }
    }

    /// Adds sensor-like noise: per channel, roughly Gaussian with standard deviation `sigma`.
    pub fn add_noise(&mut self, sigma: f32, rng: &mut Rng) {
        // Irwin–Hall: the sum of four 16-bit uniforms from one 64-bit draw has variance 4/12; cheap and portable.
        let norm = sigma / (4.0f32 / 12.0).sqrt();
        for pixel in &mut self.pixels {
            for channel in pixel.iter_mut() {
                let bits = rng.next_u64();
                let sum: f32 = (0..4).map(|k| ((bits >> (16 * k)) & 0xFFFF) as f32 / 65535.0).sum();
                *channel += (sum - 2.0) * norm;
            }
        }
    }

    /// The canvas as 8-bit RGB bytes, row-major.
    pub fn to_rgb8(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)).collect()
    }
}

fn blend(pixel: &mut Rgb, color: Rgb, alpha: f32) {
    for c in 0..3 {
        pixel[c] += (color[c] - pixel[c]) * alpha;
    }
}

/// Mixes `a` towards `b` by `t` in `[0, 1]`.
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// Relative luminance (Rec. 601 weights), to keep the object visible against its background.
pub(crate) fn luminance(c: Rgb) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// HSV (hue in turns) to RGB.
pub(crate) fn hsv(hue: f32, saturation: f32, value: f32) -> Rgb {
    let h = hue.rem_euclid(1.0) * 6.0;
    let sector = h.floor();
    let f = h - sector;
    let (p, q, t) =
        (value * (1.0 - saturation), value * (1.0 - saturation * f), value * (1.0 - saturation * (1.0 - f)));
    match sector as u32 {
        0 => [value, t, p],
        1 => [q, value, p],
        2 => [p, value, t],
        3 => [p, q, value],
        4 => [t, p, value],
        _ => [value, p, q],
    }
}

#[cfg(test)]
mod tests;
