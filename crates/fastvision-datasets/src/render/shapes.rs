//! The class recipes of the default data set: shapes as signed distance functions in unit coordinates (about one
//! unit from centre to edge) and surface textures, so each class is a shape and a texture, never a colour.

/// The outline of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Disc,
    Ring,
    Square,
    Triangle,
    Star,
    Cross,
}

/// The surface pattern of an object, in its own (rotating) frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Texture {
    Plain,
    Stripes,
    Checks,
    Spots,
}

/// The unit radius that encloses every shape, for bounding boxes.
pub(crate) const SHAPE_REACH: f32 = 1.2;

impl Shape {
    /// Signed distance from `p` to the outline, in units (negative inside).
    pub fn sdf(self, p: [f32; 2]) -> f32 {
        match self {
            Shape::Disc => length(p) - 1.0,
            Shape::Ring => (length(p) - 0.72).abs() - 0.28,
            Shape::Square => sd_box(p, [0.82, 0.82]),
            Shape::Triangle => sd_triangle(p, 1.0),
            Shape::Star => sd_star5(p, 1.12, 0.45),
            Shape::Cross => sd_box(p, [1.0, 0.34]).min(sd_box(p, [0.34, 1.0])),
        }
    }
}

/// Texture parameters drawn per image (in units of the object's radius).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextureParams {
    pub texture: Texture,
    /// Stripe period, check size or spot grid step.
    pub period: f32,
    /// Stripe direction (radians) in the object's frame.
    pub angle: f32,
    /// Seeds the spot positions.
    pub salt: u64,
}

impl TextureParams {
    /// How much of the texture colour shows at `p` (0 = base colour, 1 = texture colour), with edges about one
    /// pixel wide given `pixels_per_unit`.
    pub fn weight(&self, p: [f32; 2], pixels_per_unit: f32) -> f32 {
        let period_px = self.period * pixels_per_unit;
        match self.texture {
            Texture::Plain => 0.0,
            Texture::Stripes => {
                let along = p[0] * self.angle.cos() + p[1] * self.angle.sin();
                let wave = (std::f32::consts::TAU * along / self.period).sin();
                (0.5 + wave * period_px / std::f32::consts::TAU).clamp(0.0, 1.0)
            }
            Texture::Checks => {
                let pi = std::f32::consts::PI;
                let wave = (pi * p[0] / self.period).sin() * (pi * p[1] / self.period).sin();
                (0.5 + wave * period_px / pi).clamp(0.0, 1.0)
            }
            Texture::Spots => self.spot_weight(p, pixels_per_unit),
        }
    }

    /// Spots on a jittered grid: each cell holds one spot that stays inside it, so only one cell is looked at.
    fn spot_weight(&self, p: [f32; 2], pixels_per_unit: f32) -> f32 {
        let cell = [(p[0] / self.period).floor(), (p[1] / self.period).floor()];
        let bits = hash3(cell[0] as i64 as u64, cell[1] as i64 as u64, self.salt);
        let unit = |shift: u32| ((bits >> shift) & 0xFFFF) as f32 / 65535.0;
        let center = [(cell[0] + 0.3 + 0.4 * unit(0)) * self.period, (cell[1] + 0.3 + 0.4 * unit(16)) * self.period];
        let radius = self.period * (0.2 + 0.08 * unit(32));
        let distance = length([p[0] - center[0], p[1] - center[1]]) - radius;
        (0.5 - distance * pixels_per_unit).clamp(0.0, 1.0)
    }
}

fn length(p: [f32; 2]) -> f32 {
    (p[0] * p[0] + p[1] * p[1]).sqrt()
}

/// Axis-aligned box with half sizes `half`.
pub(crate) fn sd_box(p: [f32; 2], half: [f32; 2]) -> f32 {
    let d = [p[0].abs() - half[0], p[1].abs() - half[1]];
    length([d[0].max(0.0), d[1].max(0.0)]) + d[0].max(d[1]).min(0.0)
}

/// Equilateral triangle with half side `r` (Inigo Quilez's formula).
fn sd_triangle(p: [f32; 2], r: f32) -> f32 {
    let k = 3.0f32.sqrt();
    let (mut x, mut y) = (p[0].abs() - r, p[1] + r / k);
    if x + k * y > 0.0 {
        (x, y) = ((x - k * y) / 2.0, (-k * x - y) / 2.0);
    }
    x -= x.clamp(-2.0 * r, 0.0);
    -length([x, y]) * y.signum()
}

/// Five-pointed star with outer radius `r` and inner ratio `inner` (Inigo Quilez's formula).
fn sd_star5(p: [f32; 2], r: f32, inner: f32) -> f32 {
    let k1 = [0.809_017f32, -0.587_785];
    let k2 = [-k1[0], k1[1]];
    let mut q = [p[0].abs(), p[1]];
    for k in [k1, k2] {
        let d = 2.0 * (k[0] * q[0] + k[1] * q[1]).max(0.0);
        q = [q[0] - d * k[0], q[1] - d * k[1]];
    }
    q = [q[0].abs(), q[1] - r];
    let ba = [inner * -k1[1], inner * k1[0] - 1.0];
    let h = ((q[0] * ba[0] + q[1] * ba[1]) / (ba[0] * ba[0] + ba[1] * ba[1])).clamp(0.0, r);
    length([q[0] - ba[0] * h, q[1] - ba[1] * h]) * (q[1] * ba[0] - q[0] * ba[1]).signum()
}

/// A well-mixed hash of three integers (SplitMix64 finaliser), for positions that must not depend on drawing order.
fn hash3(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(21).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ c;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
