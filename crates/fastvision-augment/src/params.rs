//! The per-image random draws ([`Draws`]), what they become ([`ImageParams`]), and how they are drawn from a
//! seed: fastai's distributions and its random-resized-crop retry rule, one generator per image.

use fastvision_core::rng::Rng;

use crate::config::AugConfig;
use crate::matrix::{self, Mat3};

/// A crop rectangle in source pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl Crop {
    /// The centre square of side `min(height, width)` (fastai's validation crop with ratio 1:1).
    pub fn centre_square(height: usize, width: usize) -> Self {
        let side = height.min(width);
        Self { top: (height - side) / 2, left: (width - side) / 2, height: side, width: side }
    }
}

/// The values drawn for one image, in fastai's terms; a transform that was not applied holds its neutral value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draws {
    /// Dihedral symmetry 0..8 (0 = none, 1 = horizontal flip, the only other value without `flip_vert`).
    pub dihedral: u8,
    /// Rotation in degrees.
    pub rotate_deg: f64,
    /// Zoom factor (1 = none).
    pub zoom: f64,
    /// Horizontal zoom centre in [0, 1].
    pub zoom_col_pct: f64,
    /// Vertical zoom centre in [0, 1].
    pub zoom_row_pct: f64,
    /// Perspective warp magnitude along x (0 = none).
    pub warp_x: f64,
    /// Perspective warp magnitude along y (0 = none).
    pub warp_y: f64,
    /// Random resized crop (`None` without one).
    pub crop: Option<Crop>,
    /// Brightness change in (0, 1), added in logit space as `logit(brightness)` (0.5 = none).
    pub brightness: f64,
    /// Contrast factor, multiplying in logit space (1 = none).
    pub contrast: f64,
}

impl Draws {
    /// No transform: what the validation path uses (plus its centre crop).
    pub fn neutral() -> Self {
        Self {
            dihedral: 0,
            rotate_deg: 0.0,
            zoom: 1.0,
            zoom_col_pct: 0.5,
            zoom_row_pct: 0.5,
            warp_x: 0.0,
            warp_y: 0.0,
            crop: None,
            brightness: 0.5,
            contrast: 1.0,
        }
    }

    /// fastai's affine matrix for these draws: `flip · rotate · zoom` (before `_prepare_mat`).
    pub fn affine_mat(&self) -> Mat3 {
        let flip_rotate = matrix::mul(&matrix::dihedral_mat(self.dihedral), &matrix::rotate_mat(self.rotate_deg));
        matrix::mul(&flip_rotate, &matrix::zoom_mat(self.zoom, self.zoom_col_pct, self.zoom_row_pct))
    }

    /// Whether brightness or contrast differ from neutral.
    pub fn has_lighting(&self) -> bool {
        self.brightness != 0.5 || self.contrast != 1.0
    }
}

/// Everything the sampler needs for one image: the draws and the prepared affine matrix they give.
///
/// `affine` is the 2×3 matrix in fastai's normalised coordinates after `_prepare_mat` (what fastai passes to
/// `F.affine_grid`). [`ImageParams::from_draws`] derives it; a replay may set it directly (the golden files record
/// it, not the angles).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageParams {
    /// Source image height the parameters were planned for.
    pub source_height: usize,
    /// Source image width the parameters were planned for.
    pub source_width: usize,
    /// The draws.
    pub draws: Draws,
    /// The prepared 2×3 affine matrix (rows x, y) in normalised coordinates.
    pub affine: [[f64; 3]; 2],
}

impl ImageParams {
    /// Parameters from draws for a `height`×`width` source.
    pub fn from_draws(draws: Draws, height: usize, width: usize) -> Self {
        let affine = matrix::prepare_mat(&draws.affine_mat(), height, width);
        Self { source_height: height, source_width: width, draws, affine }
    }

    /// The perspective warp matrix, `None` when there is none (or it is degenerate, where fastai skips it too).
    pub fn warp_mat(&self) -> Option<Mat3> {
        if self.draws.warp_x == 0.0 && self.draws.warp_y == 0.0 {
            return None;
        }
        matrix::warp_mat(self.draws.warp_x, self.draws.warp_y)
    }

    /// Checks that every number is finite (a replayed plan may come from anywhere).
    pub(crate) fn is_finite(&self) -> bool {
        let d = &self.draws;
        let values =
            [d.rotate_deg, d.zoom, d.zoom_col_pct, d.zoom_row_pct, d.warp_x, d.warp_y, d.brightness, d.contrast];
        values.iter().chain(self.affine.iter().flatten()).all(|v| v.is_finite())
    }
}

/// Draws one image's parameters for training (every draw from `rng`) or, without an `rng`, validation (no draw).
pub(crate) fn plan_image(config: &AugConfig, height: usize, width: usize, rng: Option<&mut Rng>) -> ImageParams {
    let mut draws = Draws::neutral();
    match rng {
        Some(rng) => {
            if config.has_random_resized_crop() {
                draws.crop = Some(random_resized_crop(config.min_scale, height, width, rng));
            }
            draw_affine(config, rng, &mut draws);
            draw_lighting(config, rng, &mut draws);
        }
        None if config.has_random_resized_crop() => draws.crop = Some(Crop::centre_square(height, width)),
        None => {}
    }
    ImageParams::from_draws(draws, height, width)
}

fn draw_affine(config: &AugConfig, rng: &mut Rng, draws: &mut Draws) {
    if config.do_flip && rng.bernoulli(0.5) {
        draws.dihedral = if config.flip_vert { rng.below(8) as u8 } else { 1 };
    }
    let max_rotate = config.max_rotate * config.mult;
    if max_rotate != 0.0 && rng.bernoulli(config.p_affine) {
        draws.rotate_deg = rng.uniform(-max_rotate, max_rotate);
    }
    if config.min_zoom < 1.0 || config.max_zoom > 1.0 {
        if rng.bernoulli(config.p_affine) {
            draws.zoom = rng.uniform(config.min_zoom, config.max_zoom);
        }
        draws.zoom_col_pct = rng.next_f64();
        draws.zoom_row_pct = rng.next_f64();
    }
    let max_warp = config.max_warp * config.mult;
    if max_warp != 0.0 {
        // fastai masks the two axes independently.
        if rng.bernoulli(config.p_affine) {
            draws.warp_x = rng.uniform(-max_warp, max_warp);
        }
        if rng.bernoulli(config.p_affine) {
            draws.warp_y = rng.uniform(-max_warp, max_warp);
        }
    }
}

fn draw_lighting(config: &AugConfig, rng: &mut Rng, draws: &mut Draws) {
    let max_lighting = config.max_lighting * config.mult;
    if max_lighting == 0.0 {
        return;
    }
    if rng.bernoulli(config.p_lighting) {
        draws.brightness = rng.uniform(0.5 * (1.0 - max_lighting), 0.5 * (1.0 + max_lighting));
    }
    if rng.bernoulli(config.p_lighting) {
        let log_max = (1.0 - max_lighting).ln();
        draws.contrast = rng.uniform(log_max, -log_max).exp();
    }
}

/// fastai's `RandomResizedCropGPU.before_call` with ratio (1, 1): up to 10 draws of the area, a side that does not
/// fit is redrawn, then the centre crop.
fn random_resized_crop(min_scale: f64, height: usize, width: usize, rng: &mut Rng) -> Crop {
    let area_full = (height * width) as f64;
    for _ in 0..10 {
        let side = round_half_even((rng.uniform(min_scale, 1.0) * area_full).sqrt()) as usize;
        if side <= width && side <= height && side > 0 {
            let top = rng.below(height - side + 1);
            let left = rng.below(width - side + 1);
            return Crop { top, left, height: side, width: side };
        }
    }
    Crop::centre_square(height, width)
}

/// Python's `round` (ties to even).
fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

#[cfg(test)]
mod tests;
