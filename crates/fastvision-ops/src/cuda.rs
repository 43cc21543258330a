//! The one CUDA launch sequence of the kernel crates (feature `cuda`): pick the PTX built for the device's
//! architecture, load the entry point through candle's custom-function cache, push a [`Launch`]'s arguments in
//! order and launch it. augment, losses and models' pooling describe their launches as data ([`crate::launch`]);
//! this file is the only place they reach the driver.

use candle::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchArgs, LaunchConfig, PushKernelArg};
use candle::cuda_backend::WrapErr;
use candle::{CudaDevice, CudaStorage, Layout};

use crate::launch::{Arg, Launch};

/// A PTX module of fastvision-kernels: the name candle caches it under and its PTX per architecture (one of the
/// `*_PTX_BY_ARCH` tables).
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// The cache key, one per `.cu` file.
    pub name: &'static str,
    /// `(compute capability × 10, PTX)`, oldest first.
    pub ptx_by_arch: &'static [(u32, &'static str)],
}

/// A device buffer as a kernel argument: lets views and slices of different element types share one list.
pub trait DeviceArg {
    /// Pushes the buffer's device pointer.
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

/// What a [`Launch`] takes as a buffer on the device.
pub type Buffer<'a> = &'a dyn DeviceArg;

/// Launches `launch` from `module` on `dev`; a launch of no blocks (an empty batch) launches nothing.
///
/// The caller guarantees what the driver cannot check: the arguments are the entry point's parameters in order
/// (fastvision-kernels' `signatures.rs`, checked against the kernels and the launch descriptions by
/// fastvision-cuda-emu) and the buffers hold what the kernel indexes.
pub fn launch(dev: &CudaDevice, module: Module, launch: &Launch<Buffer<'_>>) -> candle::Result<()> {
    if launch.grid == 0 {
        return Ok(());
    }
    let ptx = ptx_for_device(dev, module.ptx_by_arch)?;
    let func = dev.get_or_load_custom_func(&launch.kernel, module.name, ptx)?;
    let cfg = LaunchConfig { grid_dim: (launch.grid, 1, 1), block_dim: (launch.block, 1, 1), shared_mem_bytes: 0 };
    let mut builder = func.builder();
    for arg in &launch.args {
        match arg {
            Arg::Buffer(buffer) => buffer.push(&mut builder),
            Arg::I32(value) => {
                builder.arg(value);
            }
            Arg::I64(value) => {
                builder.arg(value);
            }
            Arg::F32(value) => {
                builder.arg(value);
            }
            Arg::F64(value) => {
                builder.arg(value);
            }
        }
    }
    // SAFETY: the arguments are the kernel's parameters in order and the buffers hold what it indexes (this
    // function's contract, kept by every launch description and checked by fastvision-cuda-emu).
    unsafe { builder.launch(cfg) }.w()?;
    Ok(())
}

/// The PTX of `by_arch` built for this GPU's architecture, else the newest older one (JIT-compiled by the driver).
pub fn ptx_for_device(dev: &CudaDevice, by_arch: &'static [(u32, &'static str)]) -> candle::Result<&'static str> {
    let (major, minor) = dev.cuda_stream().context().compute_capability().map_err(candle::Error::wrap)?;
    fastvision_kernels::ptx_for(by_arch, major, minor).map_err(candle::Error::Msg)
}

/// The contiguous part of a CUDA storage that `layout` covers, as elements of `T`; `op` names the op in the error.
pub fn view<'a, T: candle::cuda_backend::CudaDType>(
    storage: &'a CudaStorage,
    layout: &Layout,
    op: &str,
) -> candle::Result<CudaView<'a, T>> {
    let slice = storage.as_cuda_slice::<T>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(slice.slice(start..end)),
        None => Err(candle::Error::Msg(format!("{op}: the op needs contiguous inputs"))),
    }
}
