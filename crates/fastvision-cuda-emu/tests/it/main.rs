//! The one integration-test binary of fastvision-cuda-emu: the emulator itself, then the CUDA kernels of
//! fastvision-kernels against the CPU kernels of fastvision-augment and fastvision-losses on the same inputs,
//! through the launches those crates' `cuda.rs` make (their `launch` modules).

mod augment;
mod losses;
mod pool;
mod shim;

use std::ffi::c_void;

use candle::{DType, Tensor};
use fastvision_core::rng::Rng;
use fastvision_ops::launch::{Arg, Launch};

/// Runs a launch description of augment, losses or models' pooling (fastvision-ops' `Launch`, the value their
/// `cuda.rs` hands to the driver) on the emulator.
///
/// # Safety
/// The launch's buffers hold what the kernel indexes.
pub unsafe fn run(kernel: Launch<*mut c_void>) {
    let args: Vec<fastvision_cuda_emu::Arg> = kernel
        .args
        .iter()
        .map(|arg| match *arg {
            Arg::Buffer(ptr) => fastvision_cuda_emu::Arg::Ptr(ptr),
            Arg::I32(v) => fastvision_cuda_emu::Arg::I32(v),
            Arg::I64(v) => fastvision_cuda_emu::Arg::I64(v),
            Arg::F32(v) => fastvision_cuda_emu::Arg::F32(v),
            Arg::F64(v) => fastvision_cuda_emu::Arg::F64(v),
        })
        .collect();
    // SAFETY: passed on from the caller.
    unsafe { fastvision_cuda_emu::launch(&kernel.kernel, kernel.grid, kernel.block, 0, &args) }
        .expect("emulated launch");
}

/// Prints one comparison's measured difference (`cargo test -- --nocapture` shows them all).
// Reporting the measured differences is the point of this helper.
#[allow(clippy::print_stderr)]
pub fn report(what: &str, max_abs_diff: f64, tolerance: &str) {
    eprintln!("{what:<58} max abs diff {max_abs_diff:.3e}  ({tolerance})");
}

/// Seeded uniform values in `[lo, hi)`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

/// The largest `|a - b|`; infinite when a value is NaN on one side only or the lengths differ.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter().zip(b).map(|(&x, &y)| if x.is_nan() && y.is_nan() { 0.0 } else { (x - y).abs() }).fold(0.0, |m, d| {
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    })
}

/// Every value of a tensor as f64, row-major.
pub fn values(tensor: &Tensor) -> Vec<f64> {
    tensor.to_dtype(DType::F64).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("tensor values")
}
