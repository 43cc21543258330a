//! The CUDA twin of the fused kernel: launches `augment.cu` (`fastvision_kernels::AUGMENT_PTX`, one thread per
//! output pixel) from [`AugmentOp`]'s `cuda_fwd` through fastvision-ops' `cuda::launch`, inputs and outputs on the
//! device. The launch itself (entry point, grid, packed parameters, arguments in order) comes from
//! [`crate::launch`], which fastvision-cuda-emu's tests run on the CPU; the CPU kernel is the reference, and
//! `fastvision gpu-check` compares the two on a GPU (docs/gpu.md).

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr};
use candle::cuda_backend::{CudaDType, CudaStorageSlice};
use candle::{CudaDevice, CudaStorage, Layout, Shape};
use fastvision_ops::cuda::{Buffer, Module};

use crate::augment::AugmentOp;
use crate::config::OutputDType;
use crate::launch::FusedLaunch;

/// `augment.cu`'s PTX, cached by candle per device under this name.
const MODULE: Module = Module { name: "fastvision_augment", ptx_by_arch: fastvision_kernels::AUGMENT_PTX_BY_ARCH };

/// Runs the op on the images' CUDA device.
pub(crate) fn forward(op: &AugmentOp, storage: &CudaStorage, layout: &Layout) -> candle::Result<(CudaStorage, Shape)> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle::bail!("fastvision-augment: the images must be contiguous")
    };
    let fused = FusedLaunch::new(op, storage.dtype()).map_err(candle::Error::wrap)?;
    let dev = storage.device();
    let params = dev.clone_htod(&fused.params)?;
    let out = match &storage.slice {
        CudaStorageSlice::U8(src) => by_output(op, dev, &fused, &src.slice(start..end), &params)?,
        CudaStorageSlice::F32(src) => by_output(op, dev, &fused, &src.slice(start..end), &params)?,
        _ => candle::bail!("fastvision-augment: images must be u8 or f32, got {:?}", storage.dtype()),
    };
    Ok((out, op.out_shape()))
}

fn by_output<S>(
    op: &AugmentOp,
    dev: &CudaDevice,
    fused: &FusedLaunch,
    src: &CudaView<'_, S>,
    params: &CudaSlice<f32>,
) -> candle::Result<CudaStorage> {
    match op.output {
        OutputDType::F32 => run::<S, f32>(dev, fused, src, params),
        OutputDType::F16 => run::<S, half::f16>(dev, fused, src, params),
        OutputDType::BF16 => run::<S, half::bf16>(dev, fused, src, params),
    }
}

fn run<S, D: DeviceRepr + CudaDType>(
    dev: &CudaDevice,
    fused: &FusedLaunch,
    src: &CudaView<'_, S>,
    params: &CudaSlice<f32>,
) -> candle::Result<CudaStorage> {
    // SAFETY: every element is written by the kernel below (one thread per output pixel, all channels).
    let out = unsafe { dev.alloc::<D>(fused.out_len)? };
    if let Some(launch) = fused.launch::<Buffer>(src, params, &out) {
        fastvision_ops::cuda::launch(dev, MODULE, &launch)?;
    }
    Ok(CudaStorage::wrap_cuda_slice(out, dev.clone()))
}
