//! The CUDA twin of the max-pooling op (feature `cuda`): `pool.cu`'s forward records every window's argmax
//! on the device, and the backward gathers the output gradients onto those cells — the CPU op's rules and
//! summation order (checked on the host by fastvision-cuda-emu). Launched by fastvision-ops' `cuda::launch`.

use std::sync::Arc;

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::driver::CudaSlice;
use candle::cuda_backend::CudaStorageSlice;
use candle::{CudaDevice, CudaStorage, Layout, Shape};

use super::launch::PoolLaunch;
use super::PoolGeom;
use crate::cuda::{Buffer, Module};

/// `pool.cu`'s PTX, cached by candle per device under this name.
const MODULE: Module = Module { name: "fastvision_pool", ptx_by_arch: fastvision_kernels::POOL_PTX_BY_ARCH };

/// The argmax of a forward pass, kept on the device for its backward.
pub(crate) type DeviceArgmax = Arc<CudaSlice<u32>>;

fn launches(geom: &PoolGeom, n_planes: usize, hw: (usize, usize)) -> candle::Result<[PoolLaunch; 2]> {
    if geom.kernel.0 != geom.kernel.1 || geom.stride.0 != geom.stride.1 || geom.padding.0 != geom.padding.1 {
        candle::bail!("max_pool2d on CUDA takes square windows, got {geom:?}");
    }
    super::launch::max_pool2d(n_planes, hw, geom.kernel.0, geom.stride.0, geom.padding.0)
        .ok_or_else(|| candle::Error::Msg(format!("max_pool2d: {n_planes} planes of {hw:?} are too large for CUDA")))
}

fn run(dev: &CudaDevice, launch: &PoolLaunch, buffers: [Buffer<'_>; 3]) -> candle::Result<()> {
    crate::cuda::launch(dev, MODULE, &launch.with_buffers(buffers))
}

/// Forward over a contiguous f32 N×C×H×W input: the pooled output and the argmax of every window.
pub(crate) fn forward(
    geom: &PoolGeom,
    storage: &CudaStorage,
    layout: &Layout,
) -> candle::Result<(CudaStorage, Shape, DeviceArgmax)> {
    let (n, c, h, w) = layout.shape().dims4()?;
    let Some((start, end)) = layout.contiguous_offsets() else { candle::bail!("max_pool2d: input must be contiguous") };
    let CudaStorageSlice::F32(src) = &storage.slice else {
        candle::bail!("max_pool2d on CUDA: f32 only, got {:?}", storage.dtype())
    };
    let dev = storage.device().clone();
    let [fwd, _] = launches(geom, n * c, (h, w))?;
    let (oh, ow) = geom.out_hw(h, w);
    let n_out = n * c * oh * ow;
    // SAFETY: the kernel writes every output and every argmax (one thread each).
    let (out, argmax) = unsafe { (dev.alloc::<f32>(n_out)?, dev.alloc::<u32>(n_out)?) };
    run(&dev, &fwd, [&src.slice(start..end), &out, &argmax])?;
    Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from((n, c, oh, ow)), Arc::new(argmax)))
}

/// Backward: the input gradient (shape `input`) from the output gradient and the forward's argmax.
pub(crate) fn backward(
    geom: &PoolGeom,
    argmax: &DeviceArgmax,
    input: &Shape,
    storage: &CudaStorage,
    layout: &Layout,
) -> candle::Result<CudaStorage> {
    let (n, c, h, w) = input.dims4()?;
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle::bail!("max_pool2d backward: the gradient must be contiguous")
    };
    let CudaStorageSlice::F32(grad) = &storage.slice else {
        candle::bail!("max_pool2d backward on CUDA: f32 only, got {:?}", storage.dtype())
    };
    if end - start != argmax.len() {
        candle::bail!("max_pool2d backward: {} gradients for {} recorded windows", end - start, argmax.len());
    }
    let dev = storage.device().clone();
    let [_, bwd] = launches(geom, n * c, (h, w))?;
    // SAFETY: the kernel writes every input cell (one thread each).
    let dx = unsafe { dev.alloc::<f32>(n * c * h * w)? };
    run(&dev, &bwd, [&grad.slice(start..end), argmax.as_ref(), &dx])?;
    Ok(CudaStorage::wrap_cuda_slice(dx, dev))
}
