//! The CUDA kernels of fastvision as PTX text, compiled from `src/*.cu` by `build.rs` with nvcc, and the table of
//! their signatures.
//!
//! Each `src/<stem>.cu` becomes `pub const <STEM>_PTX: &str`, for example [`AUGMENT_PTX`] from `src/augment.cu`.
//! [`signatures::SIGNATURES`] lists every entry point's parameters; the `.cu` sources, their PTX and the Rust
//! launch code are all checked against it (see that module).
//! The crate holds no logic: `fastvision-augment` and `fastvision-losses` load these strings through candle's
//! `CudaDevice::get_or_load_custom_func` behind their `cuda` features. It is excluded from the workspace, so a CPU
//! build never needs nvcc; README.md says how to compile it on a machine without a GPU.

pub mod signatures;

include!(concat!(env!("OUT_DIR"), "/ptx.rs"));
