//! One picture of the default data set: a cluttered, shaded background and one object of the class's shape and
//! texture under a random pose, scale and colour, then blur and noise. Every draw comes from the item's own
//! seeded stream, so items render independently (in parallel) and identically on every run.

use fastvision_core::rng::Rng;

use super::canvas::{hsv, luminance, mix, Canvas, Pose, Rgb};
use super::shapes::{sd_box, Shape, Texture, TextureParams, SHAPE_REACH};

/// Renders one image of `shape`/`texture` at a random size in `min_side..=max_side` (never square).
pub(crate) fn render_scene(shape: Shape, texture: Texture, min_side: u32, max_side: u32, rng: &mut Rng) -> Canvas {
    let (width, height) = sample_size(min_side, max_side, rng);
    let mut canvas = background(width, height, rng);
    let short_side = width.min(height) as f32;
    let n_clutter = 2 + rng.below(6);
    let n_occluders = rng.below(2);
    for _ in 0..n_clutter {
        draw_clutter(&mut canvas, short_side, rng);
    }
    draw_object(&mut canvas, shape, texture, rng);
    for _ in 0..n_occluders {
        draw_clutter(&mut canvas, short_side, rng);
    }
    if rng.bernoulli(0.3) {
        canvas.box_blur();
    }
    let sigma = rng.uniform(0.005, 0.03) as f32;
    canvas.add_noise(sigma, rng);
    canvas
}

/// Width and height uniform in `min_side..=max_side`, at least 8% apart so no image is square, and at most 3:2
/// like a photo (a 3:1 picture loses two thirds of itself to the square crop of presizing, object included).
fn sample_size(min_side: u32, max_side: u32, rng: &mut Rng) -> (usize, usize) {
    let span = (max_side - min_side + 1) as usize;
    let width = min_side as usize + rng.below(span);
    for _ in 0..64 {
        let height = min_side as usize + rng.below(span);
        let (long, short) = (width.max(height), width.min(height));
        if (width.abs_diff(height) * 100 >= 8 * long) && 2 * long <= 3 * short {
            return (width, height);
        }
    }
    // Rare: move the height away from the width, towards whichever bound leaves room.
    let step = (width * 8).div_ceil(100).max(1);
    let height = if width + step <= max_side as usize { width + step } else { width.saturating_sub(step) };
    (width, height.max(1))
}

/// A two-colour gradient with a few large soft blotches and, sometimes, faint stripes.
fn background(width: usize, height: usize, rng: &mut Rng) -> Canvas {
    // Muted backgrounds, so the (saturated) object is the thing that stands out, as in a photo of a pet.
    let start = random_color(rng, 0.0, 0.35, 0.3, 0.85);
    let end = random_color(rng, 0.0, 0.35, 0.3, 0.85);
    let angle = rng.uniform(0.0, std::f64::consts::TAU) as f32;
    let (dx, dy) = (angle.cos(), angle.sin());
    let extent = (width as f32).hypot(height as f32);
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let mut canvas = Canvas::from_fn(width, height, |x, y| {
        let t = (((x - cx) * dx + (y - cy) * dy) / extent + 0.5).clamp(0.0, 1.0);
        mix(start, end, t)
    });
    let short_side = width.min(height) as f32;
    for _ in 0..(1 + rng.below(4)) {
        let color = random_color(rng, 0.0, 0.5, 0.2, 0.95);
        let alpha = rng.uniform(0.15, 0.35) as f32;
        let radius = rng.uniform(0.15, 0.5) as f32 * short_side;
        let squash = rng.uniform(0.5, 1.0) as f32;
        let pose = random_pose(rng, width, height, [radius, radius * squash]);
        canvas.draw(pose, 1.0, |p| p[0].hypot(p[1]) - 1.0, |p, _| (color, alpha * soft_edge(p)));
    }
    if rng.bernoulli(0.2) {
        let color = random_color(rng, 0.0, 0.5, 0.3, 0.9);
        let stripes = TextureParams { texture: Texture::Stripes, period: 0.08, angle: 0.0, salt: 0 };
        let pose = random_pose(rng, width, height, [extent, extent]);
        canvas.draw(pose, 1.0, |_| -1.0, |p, ppu| (color, 0.15 * stripes.weight(p, ppu)));
    }
    canvas
}

/// Opacity falling from 1 at the centre to 0 at the edge of a unit disc.
fn soft_edge(p: [f32; 2]) -> f32 {
    let r = p[0].hypot(p[1]);
    (1.0 - r * r).clamp(0.0, 1.0)
}

/// A small distractor: a line, a dot or a little box, in any colour.
fn draw_clutter(canvas: &mut Canvas, short_side: f32, rng: &mut Rng) {
    let color = random_color(rng, 0.0, 1.0, 0.05, 1.0);
    let (width, height) = (canvas.width, canvas.height);
    let (half_x, half_y, round) = match rng.below(3) {
        // A line: long and one to four pixels thick.
        0 => (rng.uniform(0.05, 0.25) as f32 * short_side, rng.uniform(0.6, 2.0) as f32, false),
        // A dot.
        1 => {
            let radius = rng.uniform(0.015, 0.07) as f32 * short_side;
            (radius, radius, true)
        }
        // A little box.
        _ => (rng.uniform(0.015, 0.07) as f32 * short_side, rng.uniform(0.015, 0.07) as f32 * short_side, false),
    };
    // Isotropic pixels-per-unit keeps the signed distance exact, so edges stay one pixel wide.
    let unit = half_x.min(half_y);
    let half = [half_x / unit, half_y / unit];
    let pose = random_pose(rng, width, height, [unit, unit]);
    let reach = half[0].hypot(half[1]);
    if round {
        canvas.draw(pose, reach, |p| p[0].hypot(p[1]) - half[0], |_, _| (color, 1.0));
    } else {
        canvas.draw(pose, reach, |p| sd_box(p, half), |_, _| (color, 1.0));
    }
}

/// The class's object: 25–42% of the short side in radius, mostly inside the central square (what presizing's
/// centre crop keeps, so a validation picture shows its object), rotated, slightly stretched, coloured to stand
/// out from what is behind it, textured in its own frame and lit from one side.
fn draw_object(canvas: &mut Canvas, shape: Shape, texture: Texture, rng: &mut Rng) {
    let short_side = canvas.width.min(canvas.height) as f32;
    let radius = rng.uniform(0.25, 0.42) as f32 * short_side;
    let stretch = rng.uniform(0.85, 1.15) as f32;
    let scale = [radius * stretch, radius / stretch];
    let margin = 0.8 * radius;
    let square = [(canvas.width as f32 - short_side) / 2.0, (canvas.height as f32 - short_side) / 2.0];
    let center = [
        rng.uniform((square[0] + margin) as f64, (square[0] + short_side - margin) as f64) as f32,
        rng.uniform((square[1] + margin) as f64, (square[1] + short_side - margin) as f64) as f32,
    ];
    let angle = rng.uniform(0.0, std::f64::consts::TAU) as f32;
    let pose = Pose { center, scale, angle };
    let behind = canvas.at(center[0], center[1]);
    let base = contrasting_color(rng, luminance(behind), 0.35);
    let pattern = contrasting_color(rng, luminance(base), 0.3);
    let texture = TextureParams {
        texture,
        period: rng.uniform(0.35, 0.5) as f32,
        angle: rng.uniform(0.0, std::f64::consts::PI) as f32,
        salt: rng.next_u64(),
    };
    let light_angle = rng.uniform(0.0, std::f64::consts::TAU) as f32;
    let light = [light_angle.cos() * 0.15, light_angle.sin() * 0.15];
    canvas.draw(
        pose,
        SHAPE_REACH,
        |p| shape.sdf(p),
        |p, ppu| {
            let color = mix(base, pattern, texture.weight(p, ppu));
            let shade = 1.0 + light[0] * p[0] + light[1] * p[1];
            (color.map(|c| c * shade), 1.0)
        },
    );
}

/// A pose centred anywhere in the image with the given half sizes in pixels and a random angle.
fn random_pose(rng: &mut Rng, width: usize, height: usize, half_size: [f32; 2]) -> Pose {
    let center = [rng.uniform(0.0, width as f64) as f32, rng.uniform(0.0, height as f64) as f32];
    let angle = rng.uniform(0.0, std::f64::consts::TAU) as f32;
    Pose { center, scale: half_size, angle }
}

fn random_color(rng: &mut Rng, sat_lo: f64, sat_hi: f64, val_lo: f64, val_hi: f64) -> Rgb {
    let hue = rng.next_f64() as f32;
    hsv(hue, rng.uniform(sat_lo, sat_hi) as f32, rng.uniform(val_lo, val_hi) as f32)
}

/// A saturated random colour whose luminance differs from `against` by at least `min_gap`.
fn contrasting_color(rng: &mut Rng, against: f32, min_gap: f32) -> Rgb {
    let mut color = random_color(rng, 0.5, 1.0, 0.1, 1.0);
    for _ in 0..32 {
        if (luminance(color) - against).abs() >= min_gap {
            return color;
        }
        color = random_color(rng, 0.5, 1.0, 0.1, 1.0);
    }
    // Bounded search: fall back to a dark or light grey, whichever is further away.
    if against > 0.5 {
        [0.1; 3]
    } else {
        [0.9; 3]
    }
}
