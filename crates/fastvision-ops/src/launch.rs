//! A CUDA kernel launch as plain data (entry point, grid, block, arguments in the kernel's order), shared by the
//! kernel crates: their `cuda` code hands it to `cuda::launch` (feature `cuda`) and fastvision-cuda-emu's tests
//! run the same value on the CPU. Sizes become kernel arguments and grids through `try_from`, so a size that does not fit
//! is an error naming it, never a silently truncated launch. Compiled with or without `cuda`.

use crate::error::{Error, Result};

/// One kernel argument: a device buffer (`B`, however the caller names one) or a scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<B> {
    /// A buffer.
    Buffer(B),
    /// `int`.
    I32(i32),
    /// `long long`.
    I64(i64),
    /// `float`.
    F32(f32),
    /// `double`.
    F64(f64),
}

impl<B> Arg<B> {
    /// An `int` holding the size `value`; [`Error::LaunchArgument`] naming `what` when it does not fit.
    pub fn int(what: &'static str, value: usize) -> Result<Self> {
        i32::try_from(value).map(Arg::I32).map_err(|_| too_large(what, value, "a CUDA `int`"))
    }

    /// A `long long` holding the size `value`; [`Error::LaunchArgument`] naming `what` when it does not fit.
    pub fn long(what: &'static str, value: usize) -> Result<Self> {
        i64::try_from(value).map(Arg::I64).map_err(|_| too_large(what, value, "a CUDA `long long`"))
    }

    /// An `int` flag: 1 for true, 0 for false.
    pub fn flag(value: bool) -> Self {
        Arg::I32(i32::from(value))
    }
}

/// One launch of a kernel, with no dynamic shared memory and a one-dimensional grid and block.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch<B> {
    /// The entry point.
    pub kernel: String,
    /// Blocks, along x.
    pub grid: u32,
    /// Threads per block, along x.
    pub block: u32,
    /// The arguments, in the kernel's parameter order.
    pub args: Vec<Arg<B>>,
}

impl<B> Launch<B> {
    /// `n_blocks` blocks of `block` threads (one block per row, or a single block for a reduction).
    pub fn blocks(kernel: impl Into<String>, n_blocks: usize, block: u32, args: Vec<Arg<B>>) -> Result<Self> {
        let grid = u32::try_from(n_blocks).map_err(|_| too_large("the number of blocks", n_blocks, "a CUDA grid"))?;
        Ok(Self { kernel: kernel.into(), grid, block, args })
    }

    /// Enough blocks of `block` threads for `n_threads` threads (one per element or output pixel).
    pub fn threads(kernel: impl Into<String>, n_threads: usize, block: u32, args: Vec<Arg<B>>) -> Result<Self> {
        Ok(Self { kernel: kernel.into(), grid: grid_for(n_threads, block)?, block, args })
    }
}

/// The blocks of `block` threads that cover `n_threads` threads; [`Error::LaunchArgument`] when they do not fit
/// a CUDA grid.
pub fn grid_for(n_threads: usize, block: u32) -> Result<u32> {
    let too_many = || too_large("the number of threads", n_threads, "a CUDA grid");
    let n_blocks = u64::try_from(n_threads).map_err(|_| too_many())?.div_ceil(u64::from(block.max(1)));
    u32::try_from(n_blocks).map_err(|_| too_many())
}

fn too_large(what: &'static str, value: usize, limit: &'static str) -> Error {
    Error::LaunchArgument { what, value, limit }
}
