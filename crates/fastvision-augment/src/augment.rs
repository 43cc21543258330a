//! [`BatchAugment`]: plans the per-image draws from a seed and runs the fused kernel on the images' device as a
//! candle custom op (CPU: [`crate::cpu`], CUDA: `cuda.rs`), or replays fastai's passes ([`reference`](mod@crate::reference)).

use candle::{CpuStorage, Layout, Shape, Tensor};
use fastvision_core::rng::Rng;
use fastvision_ops::CandleContext;

use crate::config::{AugConfig, Normalize, OutputDType, Resampling};
use crate::cpu;
use crate::error::{Error, Result};
use crate::launch::FusedLaunch;
use crate::params::{self, ImageParams};
use crate::reference::{self, FloatBatch};
use crate::sampler::{Geometry, ImageKernel};

/// fastai's batch transforms (`aug_transforms` + `IntToFloatTensor` + `Normalize`) as one pass over the batch.
///
/// Training batches go through [`BatchAugment::apply_train`], validation batches through
/// [`BatchAugment::apply_valid`]. Per image the training draws come from `Rng::derive(seed, image_index)`, so a batch
/// replays exactly from its seed, and [`BatchAugment::plan_train`] + [`BatchAugment::apply_planned`] replay or show it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchAugment {
    config: AugConfig,
    normalize: Option<Normalize>,
}

impl BatchAugment {
    /// The batch transform of `config`, normalised with `normalize` when given; `Err` names an invalid field.
    pub fn new(config: AugConfig, normalize: Option<Normalize>) -> Result<Self> {
        config.validate()?;
        if let Some(normalize) = &normalize {
            normalize.validate()?;
        }
        Ok(Self { config, normalize })
    }

    /// Only u8 → float (/255) and normalisation: fastai's `IntToFloatTensor` + `Normalize` without augmentation.
    pub fn identity(normalize: Option<Normalize>) -> Result<Self> {
        Self::new(AugConfig::none(), normalize)
    }

    /// The configuration.
    pub fn config(&self) -> &AugConfig {
        &self.config
    }

    /// The normalisation, if any.
    pub fn normalize(&self) -> Option<&Normalize> {
        self.normalize.as_ref()
    }

    /// Output height and width for `height`×`width` inputs.
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        self.config.size.map_or((height, width), |s| (s, s))
    }

    /// The training draws for a batch of `n_images` `height`×`width` images: image `i` draws from
    /// `Rng::derive(seed, i)`.
    pub fn plan_train(&self, n_images: usize, height: usize, width: usize, seed: u64) -> Result<Vec<ImageParams>> {
        self.plan_batch(n_images, height, width, Some(seed))
    }

    /// The validation plan for a batch of `n_images` `height`×`width` images: no draw at all (centre crop,
    /// identity, no lighting), so there is no seed.
    pub fn plan_valid(&self, n_images: usize, height: usize, width: usize) -> Result<Vec<ImageParams>> {
        self.plan_batch(n_images, height, width, None)
    }

    /// Augments an N×C×H×W training batch (u8 in 0..=255, or f32 in [0, 1]) on its device with the draws of
    /// [`BatchAugment::plan_train`]: N×C×S×S in the configured float type, or N×C×H×W without a `size`.
    pub fn apply_train(&self, images: &Tensor, seed: u64) -> Result<Tensor> {
        let (n, _, h, w) = check_images(images)?;
        self.apply_planned(images, &self.plan_train(n, h, w, seed)?)
    }

    /// Transforms an N×C×H×W validation batch as [`BatchAugment::apply_train`] does, with the plan of
    /// [`BatchAugment::plan_valid`]: the centre crop, resize and normalisation, nothing random.
    pub fn apply_valid(&self, images: &Tensor) -> Result<Tensor> {
        let (n, _, h, w) = check_images(images)?;
        self.apply_planned(images, &self.plan_valid(n, h, w)?)
    }

    /// Applies recorded parameters (from [`BatchAugment::plan_train`] or [`BatchAugment::plan_valid`], or built by hand
    /// for a replay).
    pub fn apply_planned(&self, images: &Tensor, params: &[ImageParams]) -> Result<Tensor> {
        check_device(images.device())?;
        let geometry = self.geometry(images, params)?;
        match self.config.resampling {
            Resampling::Fused => {
                let op = self.fused_op(geometry, params);
                let images = images.contiguous().ctx("making the images contiguous")?;
                Ok(images.apply_op1_no_bwd(&op).ctx("running the fused augmentation kernel")?)
            }
            Resampling::Fastai => {
                self.apply_fastai(images, params, geometry.channels, geometry.in_height, geometry.in_width)
            }
        }
    }

    /// The launch of the fused CUDA kernel that [`BatchAugment::apply_planned`] makes for `images` on a GPU, as
    /// data (for any device: the images only give the shape and element type). fastvision-cuda-emu's tests run it
    /// on the CPU against [`BatchAugment::apply_planned`] on the CPU.
    pub fn cuda_launch(&self, images: &Tensor, params: &[ImageParams]) -> Result<FusedLaunch> {
        let geometry = self.geometry(images, params)?;
        FusedLaunch::new(&self.fused_op(geometry, params), images.dtype())
    }

    /// One plan per image: drawn from `Rng::derive(seed, image_index)` with a training seed, undrawn without one.
    fn plan_batch(&self, n_images: usize, height: usize, width: usize, seed: Option<u64>) -> Result<Vec<ImageParams>> {
        if height == 0 || width == 0 {
            return Err(Error::EmptyImage { height, width });
        }
        let plan_one = |index: usize| {
            let mut rng = seed.map(|seed| Rng::derive(seed, index as u64));
            params::plan_image(&self.config, height, width, rng.as_mut())
        };
        Ok((0..n_images).map(plan_one).collect())
    }

    /// The batch geometry, after checking the images and the plan.
    fn geometry(&self, images: &Tensor, params: &[ImageParams]) -> Result<Geometry> {
        let (n, channels, h, w) = check_images(images)?;
        if self.normalize.is_some() && channels != 3 {
            return Err(Error::ChannelMismatch { channels });
        }
        check_plan(params, n, h, w)?;
        let (out_height, out_width) = self.output_size(h, w);
        Ok(Geometry {
            n_images: n,
            channels,
            in_height: h,
            in_width: w,
            out_height,
            out_width,
            mode: self.config.mode,
            pad_mode: self.config.pad_mode,
            align_corners: self.config.align_corners,
        })
    }

    /// The fused kernel's op: per-image maps, taps and lighting, and the normalisation.
    fn fused_op(&self, geometry: Geometry, params: &[ImageParams]) -> AugmentOp {
        let images = params.iter().map(|p| ImageKernel::new(&self.config, p, &geometry)).collect();
        AugmentOp {
            geometry,
            channel_affine: self.channel_affine(geometry.channels),
            images,
            output: self.config.output_dtype,
        }
    }

    /// Per-channel `(scale, offset)` of the normalisation (identity without one).
    fn channel_affine(&self, channels: usize) -> Vec<(f32, f32)> {
        match &self.normalize {
            Some(normalize) => normalize.scale_offset().to_vec(),
            None => vec![(1.0, 0.0); channels],
        }
    }

    /// fastai's passes on the CPU, for parity; the result goes back to the images' device.
    fn apply_fastai(
        &self,
        images: &Tensor,
        params: &[ImageParams],
        channels: usize,
        h: usize,
        w: usize,
    ) -> Result<Tensor> {
        let n = params.len();
        let host = images.flatten_all().and_then(|t| t.to_device(&candle::Device::Cpu)).ctx("copying")?;
        let values: Vec<f32> = match host.dtype() {
            candle::DType::U8 => {
                host.to_vec1::<u8>().ctx("reading u8 images")?.into_iter().map(|v| f32::from(v) / 255.0).collect()
            }
            _ => host.to_vec1::<f32>().ctx("reading f32 images")?,
        };
        let batch = FloatBatch::new(values, n, channels, h, w)?;
        let mut out = reference::pipeline(&self.config, &batch, params);
        let plane = out.height * out.width;
        for (k, chunk) in out.data.chunks_mut(plane).enumerate() {
            let (scale, offset) = self.channel_affine(channels)[k % channels];
            chunk.iter_mut().for_each(|v| *v = *v * scale + offset);
        }
        let shape = (n, channels, out.height, out.width);
        let tensor = Tensor::from_vec(out.data, shape, images.device())
            .and_then(|t| t.to_dtype(self.config.output_dtype.dtype()));
        Ok(tensor.ctx("building the output of the fastai passes")?)
    }
}

/// The batch dimensions, or the error that says what is wrong with the tensor.
fn check_images(images: &Tensor) -> Result<(usize, usize, usize, usize)> {
    let (n, c, h, w) = images.dims4().map_err(|_| Error::NotABatch { shape: images.dims().to_vec() })?;
    let dtype = images.dtype();
    if !matches!(dtype, candle::DType::U8 | candle::DType::F32) {
        return Err(Error::UnsupportedDType { dtype });
    }
    if h == 0 || w == 0 || c == 0 {
        return Err(Error::EmptyImage { height: h, width: w });
    }
    Ok((n, c, h, w))
}

fn check_device(device: &candle::Device) -> Result<()> {
    match device {
        candle::Device::Cpu => Ok(()),
        candle::Device::Cuda(_) if cfg!(feature = "cuda") => Ok(()),
        candle::Device::Cuda(_) => Err(Error::CudaNotCompiled { hint: "rebuild with --features cuda" }),
        other => Err(Error::UnsupportedDevice { device: format!("{:?}", other.location()) }),
    }
}

fn check_plan(params: &[ImageParams], n: usize, h: usize, w: usize) -> Result<()> {
    if params.len() != n {
        return Err(Error::PlanMismatch { what: format!("{} parameter sets for {n} images", params.len()) });
    }
    for (index, p) in params.iter().enumerate() {
        if (p.source_height, p.source_width) != (h, w) {
            let what = format!("image {index} was planned for {}×{}, is {h}×{w}", p.source_height, p.source_width);
            return Err(Error::PlanMismatch { what });
        }
        if !p.is_finite() {
            return Err(Error::PlanMismatch { what: format!("image {index} has a NaN or infinite parameter") });
        }
        if let Some(c) = p.draws.crop {
            if c.height == 0 || c.width == 0 || c.top + c.height > h || c.left + c.width > w {
                return Err(Error::PlanMismatch { what: format!("image {index}: crop {c:?} is not inside {h}×{w}") });
            }
        }
    }
    Ok(())
}

/// The fused kernel as a candle custom op: one output tensor from the images, on their device.
pub(crate) struct AugmentOp {
    pub geometry: Geometry,
    pub channel_affine: Vec<(f32, f32)>,
    pub images: Vec<ImageKernel>,
    pub output: OutputDType,
}

impl AugmentOp {
    pub(crate) fn out_shape(&self) -> Shape {
        let g = &self.geometry;
        Shape::from((g.n_images, g.channels, g.out_height, g.out_width))
    }

    fn run_cpu<S: cpu::SourcePixel>(&self, source: &[S]) -> CpuStorage {
        let len = self.out_shape().elem_count();
        let g = &self.geometry;
        match self.output {
            OutputDType::F32 => {
                let mut out = vec![0.0f32; len];
                cpu::advise_huge_pages(&out);
                cpu::augment(source, g, &self.channel_affine, &self.images, &mut out);
                CpuStorage::F32(out)
            }
            OutputDType::F16 => {
                let mut out = vec![half::f16::ZERO; len];
                cpu::advise_huge_pages(&out);
                cpu::augment(source, g, &self.channel_affine, &self.images, &mut out);
                CpuStorage::F16(out)
            }
            OutputDType::BF16 => {
                let mut out = vec![half::bf16::ZERO; len];
                cpu::advise_huge_pages(&out);
                cpu::augment(source, g, &self.channel_affine, &self.images, &mut out);
                CpuStorage::BF16(out)
            }
        }
    }
}

impl candle::CustomOp1 for AugmentOp {
    fn name(&self) -> &'static str {
        "fastvision-augment"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle::bail!("fastvision-augment: the images must be contiguous")
        };
        let out = match storage {
            CpuStorage::U8(values) => self.run_cpu(&values[start..end]),
            CpuStorage::F32(values) => self.run_cpu(&values[start..end]),
            other => {
                use candle::backend::BackendStorage;
                candle::bail!("fastvision-augment: images must be u8 or f32, got {:?}", other.dtype())
            }
        };
        Ok((out, self.out_shape()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, storage: &candle::CudaStorage, layout: &Layout) -> candle::Result<(candle::CudaStorage, Shape)> {
        crate::cuda::forward(self, storage, layout)
    }
}
