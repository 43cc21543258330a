//! The CUDA launch of the fused kernel as plain data: entry point, grid, buffers to upload and arguments in the
//! kernel's order (fastvision-ops' `Launch`). `cuda.rs` hands exactly this to fastvision-ops' `cuda::launch`;
//! fastvision-cuda-emu's tests run the same launch on the CPU, so CI checks the launch and the kernel without a
//! GPU. Compiled with or without `cuda`.

use crate::augment::AugmentOp;
use crate::config::{Mode, OutputDType, PadMode};
use crate::error::{Error, Result};

/// Threads per block (one per output pixel).
pub const BLOCK: u32 = 256;
/// The kernel keeps its per-channel accumulators in registers, unrolled to this many channels.
pub const MAX_CHANNELS: usize = 4;

pub use fastvision_ops::launch::{Arg, Launch};

/// The fused kernel's launch for one batch, before any device buffer exists: what to upload, what to allocate,
/// and then the [`Launch`] over the caller's buffers. From [`crate::BatchAugment::cuda_launch`].
#[derive(Debug, Clone, PartialEq)]
pub struct FusedLaunch {
    kernel: String,
    /// The `params` buffer: `(scale, offset)` of the normalisation per channel, then 16 floats per image
    /// (`PARAM_STRIDE` in augment.cu).
    pub params: Vec<f32>,
    /// Elements of the output buffer (N·C·Ho·Wo) in the configured output type.
    pub out_len: usize,
    n_pixels: usize,
    /// Blocks of [`BLOCK`] threads, one thread per output pixel.
    grid: u32,
    /// `n_images, channels, in_h, in_w, out_h, out_w, mode, pad_mode, align_corners` as the kernel reads them.
    ints: [i32; 9],
    /// The source value of white: 255 for u8 images, 1 for f32.
    unit: f32,
}

impl FusedLaunch {
    /// The launch of `op` over images of element type `source` (u8 or f32).
    pub(crate) fn new(op: &AugmentOp, source: candle::DType) -> Result<Self> {
        let g = &op.geometry;
        if g.channels > MAX_CHANNELS {
            let what = format!("{} channels (it takes at most {MAX_CHANNELS})", g.channels);
            return Err(Error::CudaLimit { what });
        }
        let (input, unit) = match source {
            candle::DType::U8 => ("u8", 255.0),
            candle::DType::F32 => ("f32", 1.0),
            dtype => return Err(Error::UnsupportedDType { dtype }),
        };
        let output = match op.output {
            OutputDType::F32 => "f32",
            OutputDType::F16 => "f16",
            OutputDType::BF16 => "bf16",
        };
        let mode = match g.mode {
            Mode::Bilinear => 0,
            Mode::Nearest => 1,
        };
        let pad_mode = match g.pad_mode {
            PadMode::Reflection => 0,
            PadMode::Zeros => 1,
            PadMode::Border => 2,
        };
        let dims = [g.n_images, g.channels, g.in_height, g.in_width, g.out_height, g.out_width];
        let mut ints = [0i32; 9];
        for (int, &dim) in ints.iter_mut().zip(&dims) {
            *int = i32::try_from(dim).map_err(|_| Error::CudaLimit { what: format!("a dimension of {dim}") })?;
        }
        ints[6..].copy_from_slice(&[mode, pad_mode, i32::from(g.align_corners)]);
        let n_pixels = g.n_images * g.out_height * g.out_width;
        let grid = fastvision_ops::launch::grid_for(n_pixels, BLOCK)
            .map_err(|_| Error::CudaLimit { what: format!("{n_pixels} output pixels") })?;
        let mut params: Vec<f32> = op.channel_affine.iter().flat_map(|&(scale, offset)| [scale, offset]).collect();
        op.images.iter().for_each(|image| params.extend_from_slice(&image.pack()));
        Ok(Self {
            kernel: format!("augment_{input}_{output}"),
            params,
            out_len: n_pixels * g.channels,
            n_pixels,
            grid,
            ints,
            unit,
        })
    }

    /// The launch over the device buffers `src` (the images), `params` (holding [`FusedLaunch::params`]) and `dst`
    /// (room for [`FusedLaunch::out_len`] outputs); `None` for an empty batch, which launches nothing.
    pub fn launch<B>(&self, src: B, params: B, dst: B) -> Option<Launch<B>> {
        if self.n_pixels == 0 {
            return None;
        }
        let mut args = vec![Arg::Buffer(src), Arg::Buffer(params), Arg::Buffer(dst)];
        args.extend(self.ints.iter().map(|&v| Arg::I32(v)));
        args.push(Arg::F32(self.unit));
        Some(Launch { kernel: self.kernel.clone(), grid: self.grid, block: BLOCK, args })
    }
}
