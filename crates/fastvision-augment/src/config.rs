//! What to augment and how: [`AugConfig`] (fastai's `aug_transforms` arguments) and [`Normalize`].

use fastvision_core::limits::MAX_IMAGE_SIDE;
use fastvision_ops::CandleContext;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a source pixel value is read at a fractional position (fastai's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Bilinear interpolation of the four nearest pixels (fastai's default).
    #[default]
    Bilinear,
    /// The nearest pixel (ties to even, as PyTorch's `grid_sample`).
    Nearest,
}

/// What a source coordinate outside the image reads (fastai's `pad_mode`, PyTorch's `padding_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PadMode {
    /// The coordinate is mirrored back into the image (fastai's default).
    #[default]
    Reflection,
    /// Pixels outside the image read 0 (black before normalisation).
    Zeros,
    /// The coordinate is clamped to the nearest edge pixel.
    Border,
}

/// The element type of the augmented batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputDType {
    /// 32-bit float (fastai's output).
    #[default]
    F32,
    /// IEEE half precision, for mixed-precision training.
    F16,
    /// bfloat16, for mixed-precision training.
    BF16,
}

impl OutputDType {
    /// The candle element type.
    pub fn dtype(self) -> candle::DType {
        match self {
            Self::F32 => candle::DType::F32,
            Self::F16 => candle::DType::F16,
            Self::BF16 => candle::DType::BF16,
        }
    }
}

/// How the geometric transforms are resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resampling {
    /// One coordinate map, one sample per output pixel (with supersampled antialiasing where the source region is
    /// more than twice the output). Fast, and loses less detail than fastai's passes.
    #[default]
    Fused,
    /// fastai's own passes, for parity checks: affine `grid_sample` at full size, integer crop, `area` pre-shrink,
    /// `grid_sample` to the output size, lighting. CPU only and slower; CUDA tensors are processed on the CPU.
    Fastai,
}

/// The arguments of fastai's `aug_transforms`, plus the output options of the fused kernel.
///
/// `Default` equals fastai's `aug_transforms()` (golden `aug_transforms/signature_defaults`): flip, rotate up to
/// 10°, zoom 1–1.1, warp 0.2, lighting 0.2, `p_affine = p_lighting = 0.75`, bilinear, reflection padding,
/// `align_corners = true`, no resize (`size = None`), `min_scale = 1` (no random resized crop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugConfig {
    /// Multiplier of `max_rotate`, `max_lighting` and `max_warp`.
    pub mult: f64,
    /// Flip horizontally with probability 0.5.
    pub do_flip: bool,
    /// With `do_flip`: any of the 8 dihedral symmetries (fastai's `Dihedral`) instead of a horizontal flip.
    pub flip_vert: bool,
    /// Largest rotation in degrees (uniform in ±`max_rotate`), applied with probability `p_affine`.
    pub max_rotate: f64,
    /// Smallest zoom factor (1 = none).
    pub min_zoom: f64,
    /// Largest zoom factor, applied with probability `p_affine` around a random centre.
    pub max_zoom: f64,
    /// Largest brightness and contrast change, each applied with probability `p_lighting` (in logit space).
    pub max_lighting: f64,
    /// Largest perspective warp magnitude, each axis applied with probability `p_affine`.
    pub max_warp: f64,
    /// Probability of each of rotate, zoom, warp-x and warp-y.
    pub p_affine: f64,
    /// Probability of each of brightness and contrast.
    pub p_lighting: f64,
    /// Output side; `None` keeps the input size. With `min_scale < 1` the output comes from a random resized crop.
    /// At most `fastvision_core::limits::MAX_IMAGE_SIDE` (8192 px).
    pub size: Option<usize>,
    /// Smallest crop area fraction of the random resized crop (ratio 1:1); 1 means no crop (fastai: the affine
    /// transform then resizes the whole image to `size`).
    pub min_scale: f64,
    /// Interpolation of the affine sample.
    pub mode: Mode,
    /// Padding of the affine sample.
    pub pad_mode: PadMode,
    /// PyTorch's `align_corners` of the affine sample (the random resized crop always uses `true`, as fastai's).
    pub align_corners: bool,
    /// Supersample where one output pixel covers more than two source pixels (fastai pre-shrinks instead).
    pub antialias: bool,
    /// How the geometric transforms are resampled.
    pub resampling: Resampling,
    /// Element type of the output.
    pub output_dtype: OutputDType,
}

impl Default for AugConfig {
    fn default() -> Self {
        Self {
            mult: 1.0,
            do_flip: true,
            flip_vert: false,
            max_rotate: 10.0,
            min_zoom: 1.0,
            max_zoom: 1.1,
            max_lighting: 0.2,
            max_warp: 0.2,
            p_affine: 0.75,
            p_lighting: 0.75,
            size: None,
            min_scale: 1.0,
            mode: Mode::Bilinear,
            pad_mode: PadMode::Reflection,
            align_corners: true,
            antialias: true,
            resampling: Resampling::Fused,
            output_dtype: OutputDType::F32,
        }
    }
}

impl AugConfig {
    /// fastbook's batch transform: `aug_transforms(size=size, min_scale=min_scale)` with every other default.
    pub fn with_size(size: usize, min_scale: f64) -> Self {
        Self { size: Some(size), min_scale, ..Self::default() }
    }

    /// No random transform at all: the valid path of every setting, and the base of [`crate::BatchAugment::identity`].
    pub fn none() -> Self {
        Self { do_flip: false, max_rotate: 0.0, max_zoom: 1.0, max_lighting: 0.0, max_warp: 0.0, ..Self::default() }
    }

    /// Checks every field; the error names the first one out of its domain.
    pub fn validate(&self) -> Result<()> {
        let finite_non_negative = [
            ("mult", self.mult),
            ("max_rotate", self.max_rotate),
            ("max_lighting", self.max_lighting),
            ("max_warp", self.max_warp),
        ];
        for (name, value) in finite_non_negative {
            check(name, value, value.is_finite() && value >= 0.0, "a finite number >= 0")?;
        }
        for (name, value) in [("p_affine", self.p_affine), ("p_lighting", self.p_lighting)] {
            check(name, value, (0.0..=1.0).contains(&value), "a probability in [0, 1]")?;
        }
        check("min_zoom", self.min_zoom, self.min_zoom.is_finite() && self.min_zoom > 0.0, "a finite number > 0")?;
        check("max_zoom", self.max_zoom, self.max_zoom.is_finite() && self.max_zoom >= self.min_zoom, ">= min_zoom")?;
        let lighting = self.max_lighting * self.mult;
        check("max_lighting * mult", lighting, lighting < 1.0, "below 1 (contrast draws log(1 - max_lighting))")?;
        check("min_scale", self.min_scale, self.min_scale > 0.0 && self.min_scale <= 1.0, "in (0, 1]")?;
        if let Some(size) = self.size {
            check("size", size as f64, size > 0, "at least 1 pixel")?;
            check_side("size", size)?;
        } else if self.min_scale != 1.0 {
            check("min_scale", self.min_scale, false, "1 when size is None (a random resized crop needs a size)")?;
        }
        Ok(())
    }

    /// Whether the random resized crop runs (fastai adds `RandomResizedCropGPU` when `min_scale != 1`).
    pub fn has_random_resized_crop(&self) -> bool {
        self.min_scale != 1.0 && self.size.is_some()
    }
}

/// An output side above [`MAX_IMAGE_SIDE`] is refused before any batch of that size is allocated.
fn check_side(name: &'static str, side: usize) -> Result<()> {
    if side <= MAX_IMAGE_SIDE {
        return Ok(());
    }
    Err(Error::OverLimit {
        name,
        value: side as u64,
        limit: MAX_IMAGE_SIDE as u64,
        unit: "px per side",
        hint: "fastai trains at 224 px (the limit is fastvision_core::limits::MAX_IMAGE_SIDE)",
    })
}

fn check(name: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter { name, value, expected })
    }
}

/// Per-channel normalisation `(x - mean) / std` after augmentation (fastai's `Normalize`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Per-channel mean, in [0, 1] units.
    pub mean: [f32; 3],
    /// Per-channel standard deviation, in [0, 1] units.
    pub std: [f32; 3],
}

impl Normalize {
    /// ImageNet statistics (fastai's `imagenet_stats`), what pretrained torchvision weights expect.
    pub fn imagenet() -> Self {
        Self { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }

    /// Checks that every std is finite and positive and every mean finite.
    pub fn validate(&self) -> Result<()> {
        for value in self.mean {
            check("Normalize.mean", value.into(), value.is_finite(), "finite")?;
        }
        for value in self.std {
            check("Normalize.std", value.into(), value.is_finite() && value > 0.0, "finite and > 0")?;
        }
        Ok(())
    }

    /// Per-channel `(scale, offset)` so that `x * scale + offset == (x - mean) / std`.
    pub(crate) fn scale_offset(&self) -> [(f32, f32); 3] {
        std::array::from_fn(|c| (1.0 / self.std[c], -self.mean[c] / self.std[c]))
    }

    /// Undoes the normalisation of an N×3×H×W float tensor (for display), clamping to [0, 1] as fastai's `decode`.
    pub fn decode(&self, images: &candle::Tensor) -> Result<candle::Tensor> {
        let device = images.device();
        let decoded = (|| {
            let images = images.to_dtype(candle::DType::F32)?;
            let mean = candle::Tensor::new(&self.mean, device)?.reshape((1, 3, 1, 1))?;
            let std = candle::Tensor::new(&self.std, device)?.reshape((1, 3, 1, 1))?;
            images.broadcast_mul(&std)?.broadcast_add(&mean)?.clamp(0f32, 1f32)
        })();
        Ok(decoded.ctx("Normalize::decode")?)
    }
}
