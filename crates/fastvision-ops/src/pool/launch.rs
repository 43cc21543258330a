//! The CUDA launches of `fastvision-kernels/src/pool.cu` (max pooling with argmax, forward and backward) as
//! data: kernel name, grid and block, and the sizes that follow the three buffers. The `cuda` code launches
//! exactly these, and fastvision-cuda-emu's tests run them on the host against the CPU op.

use crate::launch::{grid_for, Arg, Launch};

/// One launch of a `pool.cu` kernel; its buffers are `(x, y, argmax)` forward and `(dy, argmax, dx)` backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLaunch {
    /// The entry point.
    pub kernel: &'static str,
    /// Blocks (one thread per output forward, per input cell backward).
    pub grid: u32,
    /// Threads per block.
    pub block: u32,
    /// `n_planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw`.
    pub sizes: [i32; 11],
}

const BLOCK: u32 = 256;

impl PoolLaunch {
    /// The launch over the three buffers, as fastvision-ops' `cuda::launch` (and fastvision-cuda-emu) take it.
    pub fn with_buffers<B>(&self, buffers: [B; 3]) -> Launch<B> {
        let mut args: Vec<Arg<B>> = buffers.into_iter().map(Arg::Buffer).collect();
        args.extend(self.sizes.map(Arg::I32));
        Launch { kernel: self.kernel.to_owned(), grid: self.grid, block: self.block, args }
    }
}

/// The forward and backward launches for `n_planes` planes of `h`×`w` pooled with square `kernel`, `stride` and
/// `padding` (PyTorch's floor mode); `None` when a size does not fit the kernels' 32-bit arguments.
pub fn max_pool2d(
    n_planes: usize,
    (h, w): (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Option<[PoolLaunch; 2]> {
    let out = |n: usize| (n + 2 * padding).checked_sub(kernel).map(|d| d / stride.max(1) + 1);
    let (oh, ow) = (out(h)?, out(w)?);
    let int = |v: usize| i32::try_from(v).ok();
    let sizes = [
        int(n_planes)?,
        int(h)?,
        int(w)?,
        int(oh)?,
        int(ow)?,
        int(kernel)?,
        int(kernel)?,
        int(stride)?,
        int(stride)?,
        int(padding)?,
        int(padding)?,
    ];
    // Flat indices within a plane are u32 in the argmax buffer.
    u32::try_from(h.checked_mul(w)?).ok()?;
    let grid = |n: usize| grid_for(n, BLOCK).ok();
    Some([
        PoolLaunch { kernel: "max_pool2d_fwd_f32", grid: grid(n_planes.checked_mul(oh * ow)?)?, block: BLOCK, sizes },
        PoolLaunch { kernel: "max_pool2d_bwd_f32", grid: grid(n_planes.checked_mul(h * w)?)?, block: BLOCK, sizes },
    ])
}
