//! The CUDA kernels of `fastvision-kernels`, run on the CPU: test infrastructure, so that `cargo test` checks the
//! kernels against the CPU implementations on a machine without a GPU (CI has none).
//!
//! `build.rs` compiles every `.cu` as C++ with a CUDA shim (`cuda/emu.h`: built-in variables, `__shared__`
//! memory, `__syncthreads`, warp shuffles and votes, atomics, intrinsics, `__half`/`__nv_bfloat16`) and a runtime
//! (`cuda/runtime.cpp`) that runs every thread of a block as a fiber on the calling thread. Everything is built
//! with AddressSanitizer and UBSan (out-of-bounds accesses and undefined behaviour abort the test with a report)
//! and `-ffp-contract=off` (no fused multiply-add, as the GPU build with `--fmad=false`).
//!
//! [`launch`] runs a kernel by name, checking the arguments' kinds against the kernel's parameters
//! (`crates/fastvision-kernels/src/signatures.rs`, which the build also checks against the compiled `.cu`).
//! What the emulation cannot show: timing, races between threads (a fiber runs until it waits, so a missing
//! barrier can go unnoticed), and the last ulp of `expf`/`logf` (libm's, not the GPU's).

mod error;

use std::ffi::{c_void, CStr};

pub use error::{Error, Result};

mod ffi {
    //! The generated launchers (`$OUT_DIR/launchers.rs`).
    use super::{Arg, Dim3};
    use std::ffi::{c_char, c_void};

    include!(concat!(env!("OUT_DIR"), "/launchers.rs"));
}

/// Grid or block dimensions, CUDA's `dim3`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dim3 {
    /// Fastest-varying dimension.
    pub x: u32,
    /// Middle dimension.
    pub y: u32,
    /// Slowest dimension.
    pub z: u32,
}

impl From<u32> for Dim3 {
    fn from(x: u32) -> Self {
        Self { x, y: 1, z: 1 }
    }
}

impl From<(u32, u32, u32)> for Dim3 {
    fn from((x, y, z): (u32, u32, u32)) -> Self {
        Self { x, y, z }
    }
}

/// One kernel argument, as a launch passes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    /// A pointer to memory the kernel reads or writes (host memory here).
    Ptr(*mut c_void),
    /// `int`.
    I32(i32),
    /// `long long`.
    I64(i64),
    /// `float`.
    F32(f32),
    /// `double`.
    F64(f64),
}

impl Arg {
    /// A pointer argument to the first element of `values` (which the kernel may write).
    pub fn slice<T>(values: &mut [T]) -> Self {
        Self::Ptr(values.as_mut_ptr().cast())
    }

    /// The one-letter kind `signatures.rs`' parameters have in the generated table.
    fn kind(&self) -> char {
        match self {
            Self::Ptr(_) => 'p',
            Self::I32(_) => 'i',
            Self::I64(_) => 'l',
            Self::F32(_) => 'f',
            Self::F64(_) => 'd',
        }
    }

    // The accessors of the generated dispatch; kinds are checked before, so the defaults are never used.
    fn ptr(&self) -> *mut c_void {
        if let Self::Ptr(p) = *self {
            p
        } else {
            std::ptr::null_mut()
        }
    }

    fn i32(&self) -> i32 {
        if let Self::I32(v) = *self {
            v
        } else {
            0
        }
    }

    fn i64(&self) -> i64 {
        if let Self::I64(v) = *self {
            v
        } else {
            0
        }
    }

    fn f32(&self) -> f32 {
        if let Self::F32(v) = *self {
            v
        } else {
            0.0
        }
    }

    fn f64(&self) -> f64 {
        if let Self::F64(v) = *self {
            v
        } else {
            0.0
        }
    }
}

/// The names of the kinds in `codes`, for messages: `ptr, i32, f32`.
fn kind_names(codes: impl Iterator<Item = char>) -> String {
    let name = |code| match code {
        'p' => "ptr",
        'i' => "i32",
        'l' => "i64",
        'f' => "f32",
        'd' => "f64",
        _ => "?",
    };
    codes.map(name).collect::<Vec<_>>().join(", ")
}

/// Runs `kernel` on the CPU with CUDA's launch configuration: `grid` blocks of `block` threads, `shared_bytes` of
/// dynamic shared memory, and `args` in the kernel's parameter order. Returns when every thread has finished.
///
/// Fails without running anything when the kernel is unknown or an argument has the wrong kind, and with the
/// emulator's message when the configuration is invalid or the kernel does something CUDA leaves undefined.
/// An out-of-bounds access or undefined behaviour aborts the process with the sanitizer's report.
///
/// # Safety
/// Every [`Arg::Ptr`] must point to memory the kernel may access as it would on a GPU (the buffers the kernel
/// indexes, with the sizes it assumes); nothing else may use that memory during the call.
pub unsafe fn launch(
    kernel: &str,
    grid: impl Into<Dim3>,
    block: impl Into<Dim3>,
    shared_bytes: u32,
    args: &[Arg],
) -> Result<()> {
    let Some(&(_, kinds)) = ffi::KERNELS.iter().find(|(name, _)| *name == kernel) else {
        return Err(Error::UnknownKernel { name: kernel.to_string() });
    };
    if !args.iter().map(Arg::kind).eq(kinds.chars()) {
        return Err(Error::Arguments {
            kernel: kernel.to_string(),
            expected: kind_names(kinds.chars()),
            given: kind_names(args.iter().map(Arg::kind)),
        });
    }
    // SAFETY: the kinds match the launcher's parameters (checked above); the caller vouches for the pointers.
    let message = unsafe { ffi::call(kernel, grid.into(), block.into(), shared_bytes, args) };
    match message {
        None => Err(Error::UnknownKernel { name: kernel.to_string() }),
        Some(message) if message.is_null() => Ok(()),
        // SAFETY: a non-null message is a NUL-terminated string the runtime keeps until the next launch.
        Some(message) => Err(Error::Kernel { message: unsafe { CStr::from_ptr(message) }.to_string_lossy().into() }),
    }
}

/// The names of every emulated kernel (those of `signatures.rs`, and the emulator's own test kernels).
pub fn kernel_names() -> impl Iterator<Item = &'static str> {
    ffi::KERNELS.iter().map(|&(name, _)| name)
}

extern "C" {
    fn emu_f32_to_f16_bits(value: f32) -> u16;
    fn emu_f16_bits_to_f32(bits: u16) -> f32;
    fn emu_f32_to_bf16_bits(value: f32) -> u16;
    fn emu_sanitized() -> i32;
}

/// The shim's `__float2half_rn`: IEEE binary16 bits, round to nearest even.
pub fn f32_to_f16_bits(value: f32) -> u16 {
    // SAFETY: a pure function of its argument.
    unsafe { emu_f32_to_f16_bits(value) }
}

/// The shim's `__half2float`.
pub fn f16_bits_to_f32(bits: u16) -> f32 {
    // SAFETY: a pure function of its argument.
    unsafe { emu_f16_bits_to_f32(bits) }
}

/// The shim's `__float2bfloat16_rn`: bfloat16 bits, round to nearest even.
pub fn f32_to_bf16_bits(value: f32) -> u16 {
    // SAFETY: a pure function of its argument.
    unsafe { emu_f32_to_bf16_bits(value) }
}

/// Whether the kernels were compiled with AddressSanitizer (and UBSan): false only when the build set
/// `FASTVISION_CUDA_EMU_SANITIZE=0`.
pub fn sanitized() -> bool {
    // SAFETY: returns a constant.
    unsafe { emu_sanitized() != 0 }
}
