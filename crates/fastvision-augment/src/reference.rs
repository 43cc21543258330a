//! fastai's own passes, step by step in f32 as PyTorch computes them: `affine_grid`, the perspective warp,
//! `_grid_sample` with its `area` pre-shrink, the integer crop of `RandomResizedCropGPU`, logit-space lighting.
//! This is the parity reference ([`crate::Resampling::Fastai`]) and the "two resamples" side of the quality
//! comparison; the product path is the fused kernel.

use crate::config::{AugConfig, Mode, PadMode};
use crate::cpu::{bilinear_axis, nearest_index, Border, Padding, Reflection, Zeros};
use crate::error::{Error, Result};
use crate::matrix::Mat3;
use crate::params::ImageParams;

/// A contiguous N×C×H×W batch of f32 images with values in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct FloatBatch {
    /// The values, N×C×H×W row-major.
    pub data: Vec<f32>,
    /// N.
    pub n_images: usize,
    /// C.
    pub channels: usize,
    /// H.
    pub height: usize,
    /// W.
    pub width: usize,
}

impl FloatBatch {
    /// A batch from its values; `Err` when the length does not match the shape.
    pub fn new(data: Vec<f32>, n_images: usize, channels: usize, height: usize, width: usize) -> Result<Self> {
        let expected = n_images * channels * height * width;
        if data.len() != expected {
            let what = format!("{} values for a {n_images}×{channels}×{height}×{width} batch", data.len());
            return Err(Error::PlanMismatch { what });
        }
        Ok(Self { data, n_images, channels, height, width })
    }

    fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Image `index` as C×H×W values.
    pub fn image(&self, index: usize) -> &[f32] {
        &self.data[index * self.image_len()..(index + 1) * self.image_len()]
    }
}

/// PyTorch's `F.affine_grid` for one image: normalised source `(x, y)` per output pixel, row-major, in f32.
pub fn affine_grid(affine: &[[f64; 3]; 2], out_height: usize, out_width: usize, align_corners: bool) -> Vec<[f32; 2]> {
    let xs = base_grid(out_width, align_corners);
    let ys = base_grid(out_height, align_corners);
    let t: [[f32; 3]; 2] = affine.map(|row| row.map(|v| v as f32));
    let mut coords = Vec::with_capacity(out_height * out_width);
    for &y in &ys {
        for &x in &xs {
            coords.push([t[0][0] * x + t[0][1] * y + t[0][2], t[1][0] * x + t[1][1] * y + t[1][2]]);
        }
    }
    coords
}

/// `torch.linspace(-1, 1, n)` (its CPU kernel fills the second half backwards from the end, so both ends are
/// exact), scaled by `(n - 1) / n` without `align_corners`.
fn base_grid(n: usize, align_corners: bool) -> Vec<f32> {
    if n <= 1 {
        return vec![0.0; n];
    }
    let step = 2.0 / (n as f32 - 1.0);
    let scale = if align_corners { 1.0 } else { (n as f32 - 1.0) / n as f32 };
    let value = |i: usize| if i < n / 2 { -1.0 + step * i as f32 } else { 1.0 - step * (n - i - 1) as f32 };
    (0..n).map(|i| value(i) * scale).collect()
}

/// fastai's `apply_perspective` with the warp matrix (coefficients plus a final 1).
pub fn apply_perspective(coords: &mut [[f32; 2]], warp: &Mat3) {
    let c: [[f32; 3]; 3] = warp.map(|row| row.map(|v| v as f32));
    for p in coords.iter_mut() {
        let [x, y] = *p;
        let w = c[2][0] * x + c[2][1] * y + c[2][2];
        *p = [(c[0][0] * x + c[0][1] * y + c[0][2]) / w, (c[1][0] * x + c[1][1] * y + c[1][2]) / w];
    }
}

/// PyTorch's `F.grid_sample` of one C×H×W image at normalised coordinates; returns C × `coords.len()` values.
#[allow(clippy::too_many_arguments)]
pub fn grid_sample(
    image: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    coords: &[[f32; 2]],
    mode: Mode,
    pad_mode: PadMode,
    align_corners: bool,
) -> Vec<f32> {
    let plane = height * width;
    let mut out = vec![0.0f32; channels * coords.len()];
    for (k, &[xn, yn]) in coords.iter().enumerate() {
        let x = pad(pad_mode, unnormalize(xn, width, align_corners), width, align_corners);
        let y = pad(pad_mode, unnormalize(yn, height, align_corners), height, align_corners);
        for c in 0..channels {
            let p = &image[c * plane..(c + 1) * plane];
            out[c * coords.len() + k] = match mode {
                Mode::Bilinear => {
                    let (x0, x1, wx0, wx1) = bilinear_axis(x, width);
                    let (y0, y1, wy0, wy1) = bilinear_axis(y, height);
                    p[y0 * width + x0] * (wx0 * wy0)
                        + p[y0 * width + x1] * (wx1 * wy0)
                        + p[y1 * width + x0] * (wx0 * wy1)
                        + p[y1 * width + x1] * (wx1 * wy1)
                }
                Mode::Nearest => match (nearest_index(x, width), nearest_index(y, height)) {
                    (Some(xi), Some(yi)) => p[yi * width + xi],
                    _ => 0.0,
                },
            };
        }
    }
    out
}

fn unnormalize(coord: f32, size: usize, align_corners: bool) -> f32 {
    if align_corners {
        (coord + 1.0) / 2.0 * (size as f32 - 1.0)
    } else {
        ((coord + 1.0) * size as f32 - 1.0) / 2.0
    }
}

fn pad(pad_mode: PadMode, x: f32, size: usize, align_corners: bool) -> f32 {
    match pad_mode {
        PadMode::Reflection => Reflection::pad(x, size, align_corners),
        PadMode::Zeros => Zeros::pad(x, size, align_corners),
        PadMode::Border => Border::pad(x, size, align_corners),
    }
}

/// PyTorch's `F.interpolate(mode='area')` to `out_height`×`out_width` (= `adaptive_avg_pool2d`) of one C×H×W image.
pub fn area_resize(
    image: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    out_h: usize,
    out_w: usize,
) -> Vec<f32> {
    let bounds = |o: usize, n_in: usize, n_out: usize| (o * n_in / n_out, ((o + 1) * n_in).div_ceil(n_out));
    let mut out = Vec::with_capacity(channels * out_h * out_w);
    for c in 0..channels {
        let p = &image[c * height * width..(c + 1) * height * width];
        for oy in 0..out_h {
            let (y0, y1) = bounds(oy, height, out_h);
            for ox in 0..out_w {
                let (x0, x1) = bounds(ox, width, out_w);
                let sum: f32 =
                    (y0..y1).flat_map(|y| (x0..x1).map(move |x| (y, x))).map(|(y, x)| p[y * width + x]).sum();
                out.push(sum / ((y1 - y0) * (x1 - x0)) as f32);
            }
        }
    }
    out
}

/// fastai's `_grid_sample` on a batch: when bilinear and `d = min(Hin/Hout, Win/Wout) / 2 > 1` and `d > z`
/// (`z = 2 / (max - min)` over all the batch's coordinates) it first shrinks the images by `1/d` with `area`.
#[allow(clippy::too_many_arguments)]
pub fn fastai_grid_sample(
    batch: &FloatBatch,
    coords: &[Vec<[f32; 2]>],
    out_height: usize,
    out_width: usize,
    mode: Mode,
    pad_mode: PadMode,
    align_corners: bool,
) -> FloatBatch {
    let (mut height, mut width) = (batch.height, batch.width);
    let mut images: Vec<Vec<f32>> = (0..batch.n_images).map(|n| batch.image(n).to_vec()).collect();
    if mode == Mode::Bilinear {
        let (min, max) =
            coords.iter().flatten().flatten().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let z = 1.0 / f64::from(max - min) * 2.0;
        let d = (height as f64 / out_height as f64).min(width as f64 / out_width as f64) / 2.0;
        if d > 1.0 && d > z {
            let (new_h, new_w) =
                ((height as f64 * (1.0 / d)).floor() as usize, (width as f64 * (1.0 / d)).floor() as usize);
            images = images.iter().map(|im| area_resize(im, batch.channels, height, width, new_h, new_w)).collect();
            (height, width) = (new_h, new_w);
        }
    }
    let data = images
        .iter()
        .zip(coords)
        .flat_map(|(im, xy)| grid_sample(im, batch.channels, height, width, xy, mode, pad_mode, align_corners))
        .collect();
    FloatBatch { data, n_images: batch.n_images, channels: batch.channels, height: out_height, width: out_width }
}

/// fastai's `TensorImage.affine_coord`: `affine_grid` (identity when `affine` is `None`), the optional
/// per-image warp, then `_grid_sample`.
#[allow(clippy::too_many_arguments)]
pub fn affine_coord(
    batch: &FloatBatch,
    affine: Option<&[[[f64; 3]; 2]]>,
    warps: Option<&[Option<Mat3>]>,
    out_height: usize,
    out_width: usize,
    mode: Mode,
    pad_mode: PadMode,
    align_corners: bool,
) -> FloatBatch {
    const IDENTITY: [[f64; 3]; 2] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
    let coords: Vec<Vec<[f32; 2]>> = (0..batch.n_images)
        .map(|n| {
            let mat = affine.map_or(&IDENTITY, |m| &m[n]);
            let mut xy = affine_grid(mat, out_height, out_width, align_corners);
            if let Some(Some(warp)) = warps.map(|w| &w[n]) {
                apply_perspective(&mut xy, warp);
            }
            xy
        })
        .collect();
    fastai_grid_sample(batch, &coords, out_height, out_width, mode, pad_mode, align_corners)
}

/// fastai's `logit`: clamp to [1e-7, 1 - 1e-7], then `-ln(1/x - 1)`, in f32.
pub fn logit(x: f32) -> f32 {
    let x = x.clamp(1e-7, 1.0 - 1e-7);
    -(1.0 / x - 1.0).ln()
}

/// fastai's `LightingTfm` with brightness then contrast: `sigmoid((logit(x) + logit(b)) * c)` per image.
pub fn lighting(batch: &mut FloatBatch, brightness: &[f64], contrast: &[f64]) {
    let len = batch.image_len();
    for (n, image) in batch.data.chunks_mut(len).enumerate() {
        let (b, c) = (logit(brightness[n] as f32), contrast[n] as f32);
        for v in image.iter_mut() {
            *v = 1.0 / (1.0 + (-((logit(*v) + b) * c)).exp());
        }
    }
}

/// fastai's whole batch transform replayed from recorded parameters: affine stage, random resized crop (integer
/// crop + resize with `_grid_sample`), lighting on images whose draws change it. No normalisation.
pub fn pipeline(config: &AugConfig, batch: &FloatBatch, params: &[ImageParams]) -> FloatBatch {
    let (h, w) = (batch.height, batch.width);
    let (h1, w1) = match config.size {
        Some(s) if !config.has_random_resized_crop() => (s, s),
        _ => (h, w),
    };
    let mats: Vec<_> = params.iter().map(|p| p.affine).collect();
    let warps: Vec<_> = params.iter().map(ImageParams::warp_mat).collect();
    let (mode, pad_mode, ac) = (config.mode, config.pad_mode, config.align_corners);
    let mut out = affine_coord(batch, Some(&mats), Some(&warps), h1, w1, mode, pad_mode, ac);
    if let (true, Some(size)) = (config.has_random_resized_crop(), config.size) {
        let mut data = Vec::with_capacity(batch.n_images * batch.channels * size * size);
        for (n, p) in params.iter().enumerate() {
            let crop = crop(&out, n, p);
            data.extend(affine_coord(&crop, None, None, size, size, Mode::Bilinear, PadMode::Reflection, true).data);
        }
        out = FloatBatch { data, n_images: batch.n_images, channels: batch.channels, height: size, width: size };
    }
    if params.iter().any(|p| p.draws.has_lighting()) {
        let brightness: Vec<f64> = params.iter().map(|p| p.draws.brightness).collect();
        let contrast: Vec<f64> = params.iter().map(|p| p.draws.contrast).collect();
        lighting(&mut out, &brightness, &contrast);
    }
    out
}

/// Image `n` of `batch` cut to its recorded crop, as a one-image batch.
fn crop(batch: &FloatBatch, n: usize, params: &ImageParams) -> FloatBatch {
    let full = crate::params::Crop { top: 0, left: 0, height: batch.height, width: batch.width };
    let c = params.draws.crop.unwrap_or(full);
    let image = batch.image(n);
    let mut data = Vec::with_capacity(batch.channels * c.height * c.width);
    for ch in 0..batch.channels {
        for y in c.top..c.top + c.height {
            let row = (ch * batch.height + y) * batch.width;
            data.extend_from_slice(&image[row + c.left..row + c.left + c.width]);
        }
    }
    FloatBatch { data, n_images: 1, channels: batch.channels, height: c.height, width: c.width }
}
