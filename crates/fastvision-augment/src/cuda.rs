//! The CUDA twin of the fused kernel: launches `augment.cu` (`fastvision_kernels::AUGMENT_PTX`, one thread per
//! output pixel) from [`AugmentOp`]'s `cuda_fwd`, inputs and outputs on the device. The launch itself (entry
//! point, grid, packed parameters, arguments in order) comes from [`crate::launch`], which fastvision-cuda-emu's
//! tests run on the CPU; the CPU kernel is the reference, and `fastvision gpu-check` compares the two on a GPU (docs/gpu.md).

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, LaunchArgs, LaunchConfig, PushKernelArg};
use candle::cuda_backend::{CudaDType, CudaStorageSlice, WrapErr};
use candle::{CudaDevice, CudaStorage, Layout, Shape};

use crate::augment::AugmentOp;
use crate::config::OutputDType;
use crate::launch::{Arg, FusedLaunch, Launch};

/// The module name under which the PTX is cached per device.
const MODULE: &str = "fastvision_augment";

/// A device buffer as a kernel argument: lets views and slices of different element types share one list.
trait DeviceArg {
    fn push<'a>(&'a self, builder: &mut LaunchArgs<'a>);
}

impl<T> DeviceArg for CudaSlice<T> {
    fn push<'a>(&'a self, builder: &mut LaunchArgs<'a>) {
        builder.arg(self);
    }
}

impl<T> DeviceArg for CudaView<'_, T> {
    fn push<'a>(&'a self, builder: &mut LaunchArgs<'a>) {
        builder.arg(self);
    }
}

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
    if let Some(launch) = fused.launch::<&dyn DeviceArg>(src, params, &out) {
        push_and_launch(dev, &launch)?;
    }
    Ok(CudaStorage::wrap_cuda_slice(out, dev.clone()))
}

fn push_and_launch(dev: &CudaDevice, launch: &Launch<&dyn DeviceArg>) -> candle::Result<()> {
    let ptx = ptx_for_device(dev, fastvision_kernels::AUGMENT_PTX_BY_ARCH)?;
    let func = dev.get_or_load_custom_func(&launch.kernel, MODULE, ptx)?;
    let cfg = LaunchConfig { grid_dim: (launch.grid, 1, 1), block_dim: (launch.block, 1, 1), shared_mem_bytes: 0 };
    let mut builder = func.builder();
    for arg in &launch.args {
        match arg {
            Arg::Buffer(buffer) => buffer.push(&mut builder),
            Arg::I32(value) => {
                builder.arg(value);
            }
            Arg::F32(value) => {
                builder.arg(value);
            }
        }
    }
    // SAFETY: the arguments are `augment.cu`'s parameters in order (fastvision-kernels' signatures.rs, checked
    // against the kernel and this launch by fastvision-cuda-emu); the buffers hold what the kernel indexes.
    unsafe { builder.launch(cfg) }.w()?;
    Ok(())
}

/// The kernels' PTX built for this GPU's architecture, else the newest older one (JIT-compiled by the driver).
fn ptx_for_device(dev: &CudaDevice, by_arch: &'static [(u32, &'static str)]) -> candle::Result<&'static str> {
    let (major, minor) = dev.cuda_stream().context().compute_capability().map_err(candle::Error::wrap)?;
    fastvision_kernels::ptx_for(by_arch, major, minor).map_err(candle::Error::Msg)
}
