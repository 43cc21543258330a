//! The CUDA twin of the fused kernel: launches `augment.cu` (`fastvision_kernels::AUGMENT_PTX`, one thread per
//! output pixel) from [`AugmentOp`]'s `cuda_fwd`, inputs and outputs on the device. The CPU kernel is the
//! reference; `examples/cuda_check.rs` compares the two on a GPU.

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg};
use candle::cuda_backend::{CudaDType, CudaStorageSlice, WrapErr};
use candle::{CudaDevice, CudaStorage, Layout, Shape};

use crate::augment::AugmentOp;
use crate::config::{Mode, OutputDType, PadMode};

/// The module name under which the PTX is cached per device.
const MODULE: &str = "fastvision_augment";
const BLOCK: u32 = 256;
/// The kernel keeps its per-channel accumulators in registers, unrolled to this many channels.
pub(crate) const MAX_CHANNELS: usize = 4;

/// Runs the op on the images' CUDA device.
pub(crate) fn forward(op: &AugmentOp, storage: &CudaStorage, layout: &Layout) -> candle::Result<(CudaStorage, Shape)> {
    let g = &op.geometry;
    if g.channels > MAX_CHANNELS {
        candle::bail!("fastvision-augment: the CUDA kernel takes at most {MAX_CHANNELS} channels, got {}", g.channels);
    }
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle::bail!("fastvision-augment: the images must be contiguous")
    };
    let dev = storage.device();
    let mut packed: Vec<f32> = op.channel_affine.iter().flat_map(|&(scale, offset)| [scale, offset]).collect();
    op.images.iter().for_each(|image| packed.extend_from_slice(&image.pack()));
    let params = dev.clone_htod(&packed)?;
    let out = match &storage.slice {
        CudaStorageSlice::U8(src) => by_output(op, dev, "u8", &src.slice(start..end), &params, 255.0)?,
        CudaStorageSlice::F32(src) => by_output(op, dev, "f32", &src.slice(start..end), &params, 1.0)?,
        _ => candle::bail!("fastvision-augment: images must be u8 or f32, got {:?}", storage.dtype()),
    };
    Ok((out, op.out_shape()))
}

fn by_output<S: DeviceRepr>(
    op: &AugmentOp,
    dev: &CudaDevice,
    input: &str,
    src: &CudaView<'_, S>,
    params: &CudaSlice<f32>,
    unit: f32,
) -> candle::Result<CudaStorage> {
    match op.output {
        OutputDType::F32 => launch::<S, f32>(op, dev, &format!("augment_{input}_f32"), src, params, unit),
        OutputDType::F16 => launch::<S, half::f16>(op, dev, &format!("augment_{input}_f16"), src, params, unit),
        OutputDType::BF16 => launch::<S, half::bf16>(op, dev, &format!("augment_{input}_bf16"), src, params, unit),
    }
}

fn launch<S: DeviceRepr, D: DeviceRepr + CudaDType>(
    op: &AugmentOp,
    dev: &CudaDevice,
    function: &str,
    src: &CudaView<'_, S>,
    params: &CudaSlice<f32>,
    unit: f32,
) -> candle::Result<CudaStorage> {
    let g = &op.geometry;
    let n_pixels = g.n_images * g.out_height * g.out_width;
    // SAFETY: every element is written by the kernel below (one thread per output pixel, all channels).
    let out = unsafe { dev.alloc::<D>(n_pixels * g.channels)? };
    if n_pixels > 0 {
        let func = dev.get_or_load_custom_func(function, MODULE, fastvision_kernels::AUGMENT_PTX)?;
        let cfg = LaunchConfig {
            grid_dim: (u32::try_from(n_pixels.div_ceil(BLOCK as usize)).map_err(candle::Error::wrap)?, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        let dims = [g.n_images, g.channels, g.in_height, g.in_width, g.out_height, g.out_width];
        let dims: Vec<i32> =
            dims.iter().map(|&d| i32::try_from(d).map_err(candle::Error::wrap)).collect::<candle::Result<_>>()?;
        let mode = match g.mode {
            Mode::Bilinear => 0i32,
            Mode::Nearest => 1,
        };
        let pad_mode = match g.pad_mode {
            PadMode::Reflection => 0i32,
            PadMode::Zeros => 1,
            PadMode::Border => 2,
        };
        let mut builder = func.builder();
        builder.arg(src);
        builder.arg(params);
        builder.arg(&out);
        for d in &dims {
            builder.arg(d);
        }
        candle::builder_arg!(builder, mode, pad_mode, i32::from(g.align_corners), unit);
        // SAFETY: the argument list matches `AUGMENT_ENTRY` in augment.cu; the buffers hold what the kernel indexes.
        unsafe { builder.launch(cfg) }.w()?;
    }
    Ok(CudaStorage::wrap_cuda_slice(out, dev.clone()))
}
