//! The CUDA kernels of fastvision as PTX text, compiled from `src/*.cu` by `build.rs` with nvcc.
//!
//! Each `src/<stem>.cu` becomes `pub const <STEM>_PTX: &str`, for example [`AUGMENT_PTX`] from `src/augment.cu`.
//! The crate holds no logic: `fastvision-augment` and `fastvision-losses` load these strings through candle's
//! `CudaDevice::get_or_load_custom_func` behind their `cuda` features. It is excluded from the workspace, so a CPU
//! build never needs nvcc; README.md says how to compile it on a machine without a GPU.

include!(concat!(env!("OUT_DIR"), "/ptx.rs"));
