//! What the one fused kernel computes, shared by its CPU ([`crate::cpu`]) and CUDA twins: the batch geometry and,
//! per image, one 3×3 map from output pixel to source pixel (crop ∘ resize ∘ affine ∘ warp composed), the
//! antialiasing taps and the lighting constants, packed as 16 floats.

use crate::config::{AugConfig, Mode, PadMode};
use crate::matrix::{self, Mat3};
use crate::params::ImageParams;

/// Floats per image in the packed parameters (the CUDA kernel reads the same layout).
pub(crate) const PARAM_STRIDE: usize = 16;
/// Most supersampling taps per axis (a 460 px crop to 16 px needs 15).
const MAX_TAPS: f64 = 16.0;

/// The shape and sampling options common to a whole batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geometry {
    pub n_images: usize,
    pub channels: usize,
    pub in_height: usize,
    pub in_width: usize,
    pub out_height: usize,
    pub out_width: usize,
    pub mode: Mode,
    pub pad_mode: PadMode,
    pub align_corners: bool,
}

/// One image's kernel parameters: `map` (row-major 3×3, output `(j, i, 1)` → source pixel, homogeneous),
/// supersampling taps per axis, and lighting in logit space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ImageKernel {
    pub map: [f32; 9],
    pub taps_x: u32,
    pub taps_y: u32,
    pub lighting: bool,
    pub brightness_logit: f32,
    pub contrast: f32,
}

impl ImageKernel {
    /// The kernel parameters of one planned image.
    pub fn new(config: &AugConfig, params: &ImageParams, geometry: &Geometry) -> Self {
        let map = output_to_source(config, params, geometry);
        let (taps_x, taps_y) = if config.antialias && config.mode == Mode::Bilinear {
            antialias_taps(&map, geometry.out_height, geometry.out_width)
        } else {
            (1, 1)
        };
        let draws = &params.draws;
        Self {
            map: std::array::from_fn(|k| map[k / 3][k % 3] as f32),
            taps_x,
            taps_y,
            lighting: draws.has_lighting(),
            brightness_logit: fastai_logit(draws.brightness) as f32,
            contrast: draws.contrast as f32,
        }
    }

    /// The 16 floats the CUDA kernel reads.
    pub fn pack(&self) -> [f32; PARAM_STRIDE] {
        let mut packed = [0.0; PARAM_STRIDE];
        packed[..9].copy_from_slice(&self.map);
        packed[9] = self.taps_x as f32;
        packed[10] = self.taps_y as f32;
        packed[11] = f32::from(u8::from(self.lighting));
        packed[12] = self.brightness_logit;
        packed[13] = self.contrast;
        packed
    }
}

/// The composed map from output pixel `(j, i)` to source pixel, homogeneous.
///
/// fastai's passes, written as matrices: the output pixel goes through the random-resized-crop resize (always
/// `align_corners = true`) into the crop, from the affine stage's pixels to its normalised grid, through the affine
/// matrix and the perspective warp, and back to source pixels. Composing them samples the source once.
fn output_to_source(config: &AugConfig, params: &ImageParams, geometry: &Geometry) -> Mat3 {
    let (in_h, in_w) = (geometry.in_height, geometry.in_width);
    let (out_h, out_w) = (geometry.out_height, geometry.out_width);
    let ac = config.align_corners;
    let output_to_affine_norm = match params.draws.crop {
        Some(crop) => {
            let to_crop_norm =
                matrix::scale_offset(matrix::pixel_to_norm(out_w, true), matrix::pixel_to_norm(out_h, true));
            let to_crop_px =
                matrix::scale_offset(matrix::norm_to_pixel(crop.width, true), matrix::norm_to_pixel(crop.height, true));
            let shift = matrix::scale_offset((1.0, crop.left as f64), (1.0, crop.top as f64));
            let to_norm = matrix::scale_offset(matrix::pixel_to_norm(in_w, ac), matrix::pixel_to_norm(in_h, ac));
            matrix::mul(&to_norm, &matrix::mul(&shift, &matrix::mul(&to_crop_px, &to_crop_norm)))
        }
        None => matrix::scale_offset(matrix::pixel_to_norm(out_w, ac), matrix::pixel_to_norm(out_h, ac)),
    };
    let mut affine = matrix::mul(&matrix::from_rows(&params.affine), &output_to_affine_norm);
    if let Some(warp) = params.warp_mat() {
        affine = matrix::mul(&warp, &affine);
    }
    let to_source_px = matrix::scale_offset(matrix::norm_to_pixel(in_w, ac), matrix::norm_to_pixel(in_h, ac));
    matrix::mul(&to_source_px, &affine)
}

/// Supersampling taps per axis: where one output step covers `s > 2` source pixels (fastai's pre-shrink trigger
/// `d = s / 2 > 1`), `ceil(s / 2)` bilinear taps spread over the output pixel, so the effective filter spans the
/// whole footprint as fastai's area pre-shrink + 2× bilinear does, but along the real (rotated, warped) footprint.
fn antialias_taps(map: &Mat3, out_h: usize, out_w: usize) -> (u32, u32) {
    let (jc, ic) = ((out_w as f64 - 1.0) / 2.0, (out_h as f64 - 1.0) / 2.0);
    let at = |j: f64, i: f64| {
        let [x, y, w] = matrix::apply(map, j, i);
        (x / w, y / w)
    };
    let step = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let scale_x = step(at(jc + 0.5, ic), at(jc - 0.5, ic));
    let scale_y = step(at(jc, ic + 0.5), at(jc, ic - 0.5));
    let taps = |s: f64| if s.is_finite() && s > 2.0 { (s / 2.0).ceil().min(MAX_TAPS) as u32 } else { 1 };
    (taps(scale_x), taps(scale_y))
}

/// fastai's `logit`: `x` clamped to [1e-7, 1 - 1e-7], then `-ln(1/x - 1)`.
pub(crate) fn fastai_logit(x: f64) -> f64 {
    let x = x.clamp(1e-7, 1.0 - 1e-7);
    -(1.0 / x - 1.0).ln()
}
