//! Item transforms on the CPU: fastai's `Resize` (crop / pad / squish) and `RandomResizedCrop`, resampled with
//! Pillow's antialiased bilinear filter (via `fast_image_resize`), output u8 — the "presizing" step.

use std::borrow::Cow;

use fast_image_resize::images::{Image as FirImage, ImageRef as FirImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use fastvision_core::limits::MAX_IMAGE_SIDE;
use fastvision_core::rng::Rng;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How `Resize` fits an image of another aspect ratio (fastai's `ResizeMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMethod {
    /// Crop to the target aspect ratio, then resize (random position on training items, centre on validation).
    #[default]
    Crop,
    /// Pad to the target aspect ratio, then resize.
    Pad(PadMode),
    /// Resize without keeping the aspect ratio.
    Squish,
}

/// How padding is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PadMode {
    /// Black.
    Zeros,
    /// Repeat the edge pixel.
    Border,
    /// Mirror the image without repeating the edge (fastai's default).
    #[default]
    Reflection,
}

/// fastai's item `Resize(size, method)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Resize {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// How the aspect ratio is handled.
    pub method: ResizeMethod,
}

/// fastai's item `RandomResizedCrop(size, min_scale, ratio)`; validation items get a centre crop of a slightly
/// larger resize (fastai's `val_xtra = 0.14`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RandomResizedCrop {
    /// Output side (square).
    pub size: usize,
    /// Smallest fraction of the area kept.
    pub min_scale: f64,
    /// Largest fraction of the area kept.
    pub max_scale: f64,
    /// Range of aspect ratios of the crop.
    pub ratio: (f64, f64),
    /// Extra margin of the validation resize before the centre crop.
    pub val_xtra: f64,
}

impl RandomResizedCrop {
    /// fastai's defaults: `min_scale 0.08`, `ratio (3/4, 4/3)`, `val_xtra 0.14`.
    pub fn new(size: usize) -> Self {
        Self { size, min_scale: 0.08, max_scale: 1.0, ratio: (3.0 / 4.0, 4.0 / 3.0), val_xtra: 0.14 }
    }
}

/// The per-item transform of a `DataBlock`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemTransform {
    /// `Resize(size, method)`.
    Resize(Resize),
    /// `RandomResizedCrop(size, ..)`.
    RandomResizedCrop(RandomResizedCrop),
}

impl ItemTransform {
    /// fastai's presizing default: `Resize(size)` with a random crop on training items.
    pub fn resize(size: usize) -> Self {
        Self::Resize(Resize { height: size, width: size, method: ResizeMethod::Crop })
    }

    /// Output (height, width).
    pub fn output_size(&self) -> (usize, usize) {
        match self {
            Self::Resize(r) => (r.height, r.width),
            Self::RandomResizedCrop(r) => (r.size, r.size),
        }
    }

    /// Checks the parameters, so a bad size is reported when the `DataBlock` is built, not mid-epoch: each side
    /// in 1..=[`MAX_IMAGE_SIDE`] (8192 px).
    pub fn validate(&self) -> Result<()> {
        let (h, w) = self.output_size();
        if h == 0 || w == 0 || h > MAX_IMAGE_SIDE || w > MAX_IMAGE_SIDE {
            return Err(Error::Parameter {
                name: "item transform size (presize)",
                value: format!("{h}×{w}"),
                expected: format!(
                    "between 1 and {MAX_IMAGE_SIDE} pixels per side (fastvision_core::limits::MAX_IMAGE_SIDE; \
                     fastai's presizing uses 460)"
                ),
            });
        }
        if let Self::RandomResizedCrop(r) = self {
            r.validate()?;
        }
        Ok(())
    }

    /// Peak bytes [`ItemTransform::apply`] allocates for a `width`×`height` image besides the image itself
    /// (the crop or pad canvas and the output), and how they were reckoned; checked before the image is decoded.
    pub(crate) fn working_bytes(&self, width: u32, height: u32) -> (u64, String) {
        let (w, h) = (width as i64, height as i64);
        let rgb = |w: i64, h: i64| (w.max(0) as u64).saturating_mul(h.max(0) as u64).saturating_mul(3);
        let (out_h, out_w) = self.output_size();
        let output = rgb(out_w as i64, out_h as i64);
        match self {
            Self::Resize(resize) => {
                let (cw, ch) = resize.box_size(w, h);
                let canvas = if (cw, ch) == (w, h) { 0 } else { rgb(cw, ch) };
                (canvas.saturating_add(output), format!("a {cw}×{ch} px crop/pad canvas + the output"))
            }
            Self::RandomResizedCrop(rrc) => {
                // Training crops at most the whole image; validation resizes the whole image to the larger side.
                let big = rrc.size as i64 + rrc.val_xtra_px() as i64;
                let bytes = rgb(w, h).saturating_add(rgb(big, big)).saturating_add(output.saturating_mul(2));
                (bytes, format!("a crop of up to {w}×{h} px, a {big}×{big} px resize + the output"))
            }
        }
    }
    /// Applies the transform; `rng` is `Some` for training items (random crop) and `None` for validation.
    pub fn apply(&self, image: &RgbImage, rng: Option<&mut Rng>) -> Result<RgbImage> {
        match self {
            Self::Resize(resize) => {
                let pcts = rng.map_or((0.5, 0.5), |r| (r.next_f64(), r.next_f64()));
                resize.apply_with_pcts(image, pcts)
            }
            Self::RandomResizedCrop(rrc) => rrc.apply(image, rng),
        }
    }
}

impl Resize {
    /// Applies the resize with an explicit crop/pad position `pcts` = (x, y) in `[0, 1]` (fastai's `pcts`).
    pub fn apply_with_pcts(&self, image: &RgbImage, pcts: (f64, f64)) -> Result<RgbImage> {
        let (w, h) = (image.width() as i64, image.height() as i64);
        let (cw, ch) = self.box_size(w, h);
        let left = (pcts.0 * (w - cw) as f64) as i64;
        let top = (pcts.1 * (h - ch) as f64) as i64;
        let box_ = CropBox { left, top, width: cw, height: ch };
        let pad_mode = if let ResizeMethod::Pad(mode) = self.method { mode } else { PadMode::Zeros };
        crop_pad_resize(image, box_, pad_mode, self.width, self.height)
    }

    /// Size of the box cut from (or padded around) a `w`×`h` image before the resample.
    fn box_size(&self, w: i64, h: i64) -> (i64, i64) {
        let (tw, th) = (self.width as f64, self.height as f64);
        match self.method {
            ResizeMethod::Squish => (w, h),
            ResizeMethod::Crop | ResizeMethod::Pad(_) => {
                // fastai: crop uses the smaller ratio (fit inside), pad the larger one (cover).
                let (rw, rh) = (w as f64 / tw, h as f64 / th);
                let m = if (self.method == ResizeMethod::Crop) == (rw < rh) { rw } else { rh };
                ((m * tw) as i64, (m * th) as i64)
            }
        }
    }
}

impl RandomResizedCrop {
    /// The scale and ratio ranges must be non-empty and the validation margin sane (`val_xtra` in [0, 1]).
    fn validate(&self) -> Result<()> {
        if !(0.0 < self.min_scale && self.min_scale <= self.max_scale && self.max_scale <= 1.0) {
            return Err(Error::Parameter {
                name: "RandomResizedCrop scale",
                value: format!("({}, {})", self.min_scale, self.max_scale),
                expected: "0 < min_scale <= max_scale <= 1".into(),
            });
        }
        let (lo, hi) = self.ratio;
        if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi) {
            return Err(Error::Parameter {
                name: "RandomResizedCrop ratio",
                value: format!("({lo}, {hi})"),
                expected: "finite, 0 < low <= high (fastai: (3/4, 4/3))".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.val_xtra) {
            return Err(Error::Parameter {
                name: "RandomResizedCrop val_xtra",
                value: self.val_xtra.to_string(),
                expected: "in [0, 1] (fastai: 0.14)".into(),
            });
        }
        Ok(())
    }

    /// fastai's validation margin: `size * val_xtra`, rounded up to a multiple of 8.
    fn val_xtra_px(&self) -> usize {
        ((self.size as f64 * self.val_xtra / 8.0).ceil() * 8.0) as usize
    }

    fn apply(&self, image: &RgbImage, rng: Option<&mut Rng>) -> Result<RgbImage> {
        let (w, h) = (image.width() as i64, image.height() as i64);
        let Some(rng) = rng else {
            // fastai: resize the whole image to size + xtra (rounded up to a multiple of 8), then centre-crop.
            let xtra = self.val_xtra_px();
            let big = crop_pad_resize(image, CropBox::whole(w, h), PadMode::Zeros, self.size + xtra, self.size + xtra)?;
            let off = (xtra / 2) as i64;
            let side = self.size as i64;
            let centre = CropBox { left: off, top: off, width: side, height: side };
            return crop_pad_resize(&big, centre, PadMode::Zeros, self.size, self.size);
        };
        let crop = self.draw_crop(w, h, rng);
        crop_pad_resize(image, crop, PadMode::Zeros, self.size, self.size)
    }

    fn draw_crop(&self, w: i64, h: i64, rng: &mut Rng) -> CropBox {
        let (log_lo, log_hi) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _attempt in 0..10 {
            let area = rng.uniform(self.min_scale, self.max_scale) * (w * h) as f64;
            let ratio = rng.uniform(log_lo, log_hi).exp();
            let nw = (area * ratio).sqrt().round() as i64;
            let nh = (area / ratio).sqrt().round() as i64;
            if nw <= w && nh <= h && nw > 0 && nh > 0 {
                let left = rng.below((w - nw + 1) as usize) as i64;
                let top = rng.below((h - nh + 1) as usize) as i64;
                return CropBox { left, top, width: nw, height: nh };
            }
        }
        let aspect = w as f64 / h as f64;
        let (cw, ch) = if aspect < self.ratio.0 {
            (w, (w as f64 / self.ratio.0) as i64)
        } else if aspect > self.ratio.1 {
            ((h as f64 * self.ratio.1) as i64, h)
        } else {
            (w, h)
        };
        CropBox { left: (w - cw) / 2, top: (h - ch) / 2, width: cw, height: ch }
    }
}

/// A rectangle in source pixels; it may extend outside the image (then it is padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CropBox {
    left: i64,
    top: i64,
    width: i64,
    height: i64,
}

impl CropBox {
    fn whole(w: i64, h: i64) -> Self {
        Self { left: 0, top: 0, width: w, height: h }
    }

    fn inside(&self, w: i64, h: i64) -> bool {
        self.left >= 0 && self.top >= 0 && self.left + self.width <= w && self.top + self.height <= h
    }
}

/// Crops (padding where the box leaves the image) and resizes with Pillow's antialiased bilinear filter.
fn crop_pad_resize(image: &RgbImage, box_: CropBox, pad: PadMode, out_w: usize, out_h: usize) -> Result<RgbImage> {
    let (w, h) = (image.width() as i64, image.height() as i64);
    if box_.width <= 0 || box_.height <= 0 {
        return Err(Error::Parameter {
            name: "crop box",
            value: format!("{}×{}", box_.width, box_.height),
            expected: "a non-empty crop; the image may be too small for this transform".into(),
        });
    }
    // Crop into a new image first, as Pillow does: the resampling filter then clamps at the crop's edges instead
    // of reading the pixels beyond them (fast_image_resize's own crop option would, and differ from fastai).
    // The whole image needs no copy: a full-size decode is the largest buffer of the item stage.
    let cropped = if box_ == CropBox::whole(w, h) {
        Cow::Borrowed(image)
    } else if box_.inside(w, h) {
        let (left, top, width, height) = (box_.left as u32, box_.top as u32, box_.width as u32, box_.height as u32);
        Cow::Owned(image::imageops::crop_imm(image, left, top, width, height).to_image())
    } else {
        Cow::Owned(pad_to_box(image, box_, pad))
    };
    resample(&cropped, out_w, out_h)
}

/// The box's pixels, with out-of-image positions filled according to `pad`.
fn pad_to_box(image: &RgbImage, box_: CropBox, pad: PadMode) -> RgbImage {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let mut out = RgbImage::new(box_.width as u32, box_.height as u32);
    for y in 0..box_.height {
        let sy = source_index(box_.top + y, h, pad);
        for x in 0..box_.width {
            let sx = source_index(box_.left + x, w, pad);
            if let (Some(sx), Some(sy)) = (sx, sy) {
                out.put_pixel(x as u32, y as u32, *image.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    out
}

fn source_index(i: i64, n: i64, pad: PadMode) -> Option<i64> {
    if (0..n).contains(&i) {
        return Some(i);
    }
    match pad {
        PadMode::Zeros => None,
        PadMode::Border => Some(i.clamp(0, n - 1)),
        PadMode::Reflection if n == 1 => Some(0),
        PadMode::Reflection => {
            // Mirror without repeating the edge (torchvision's "reflect"), periodic with period 2(n-1).
            let period = 2 * (n - 1);
            let m = i.rem_euclid(period);
            Some(if m < n { m } else { period - m })
        }
    }
}

fn resample(image: &RgbImage, out_w: usize, out_h: usize) -> Result<RgbImage> {
    let to_err = |e: &dyn std::fmt::Display| Error::Parameter {
        name: "resize",
        value: format!("{}×{} → {out_w}×{out_h}", image.width(), image.height()),
        expected: format!("a resizable image ({e})"),
    };
    if (image.width() as usize, image.height() as usize) == (out_w, out_h) {
        return Ok(image.clone());
    }
    let src =
        FirImageRef::new(image.width(), image.height(), image.as_raw(), PixelType::U8x3).map_err(|e| to_err(&e))?;
    let mut dst = FirImage::new(out_w as u32, out_h as u32, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| to_err(&e))?;
    RgbImage::from_raw(out_w as u32, out_h as u32, dst.into_vec())
        .ok_or_else(|| to_err(&"the resized buffer has the wrong size"))
}

/// Converts an HWC RGB image to planar CHW bytes (the layout of an N×3×H×W batch).
pub fn to_chw(image: &RgbImage) -> Vec<u8> {
    let plane = (image.width() * image.height()) as usize;
    let mut chw = vec![0u8; 3 * plane];
    for (i, px) in image.as_raw().chunks_exact(3).enumerate() {
        chw[i] = px[0];
        chw[plane + i] = px[1];
        chw[2 * plane + i] = px[2];
    }
    chw
}
