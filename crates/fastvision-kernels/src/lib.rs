//! The CUDA kernels of fastvision as PTX text, compiled from `src/*.cu` by `build.rs` with nvcc, and the table of
//! their signatures.
//!
//! Each `src/<stem>.cu` becomes `pub const <STEM>_PTX: &str`, for example [`AUGMENT_PTX`] from `src/augment.cu`.
//! [`signatures::SIGNATURES`] lists every entry point's parameters; the `.cu` sources, their PTX and the Rust
//! launch code are all checked against it (see that module).
//! The crate holds no logic but [`ptx_for`]: `fastvision-ops`' `cuda::launch` loads these strings through candle's
//! `CudaDevice::get_or_load_custom_func` for augment, losses and models behind their `cuda` features. It is excluded from the workspace, so a CPU
//! build never needs nvcc; README.md says how to compile it on a machine without a GPU.

pub mod signatures;

include!(concat!(env!("OUT_DIR"), "/ptx.rs"));

/// The PTX of `by_arch` (one of the `*_PTX_BY_ARCH` tables) for a GPU of compute capability `major.minor`: the one
/// built for it, else for the newest older architecture (the driver JIT-compiles PTX forward). An error saying so
/// when the GPU is older than every target.
pub fn ptx_for(by_arch: &'static [(u32, &'static str)], major: i32, minor: i32) -> Result<&'static str, String> {
    let cap = u32::try_from(major * 10 + minor).unwrap_or(0);
    by_arch.iter().rev().find(|(arch, _)| *arch <= cap).map(|(_, ptx)| *ptx).ok_or_else(|| {
        let oldest = by_arch.first().map_or(0, |(arch, _)| *arch);
        format!(
            "fastvision's CUDA kernels are built for compute capability {}.{} and newer; this GPU is {major}.{minor}",
            oldest / 10,
            oldest % 10
        )
    })
}
