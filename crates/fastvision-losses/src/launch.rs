//! Every CUDA launch of the loss kernels as plain data: entry point, grid, and arguments in the kernel's order.
//! `cuda.rs` pushes exactly these arguments to the GPU; fastvision-cuda-emu's tests run the same launches on the
//! CPU, so CI checks the launches and the kernels of `losses.cu` without a GPU. Compiled with or without `cuda`.
//!
//! Each function mirrors one kernel's parameter list, in order, with the buffers as `B` (however the caller names
//! a device buffer) and the scalars converted as the kernel takes them; a size that does not fit its kernel type
//! is an error naming it (fastvision-ops' `Launch` and `Arg`, shared with augment and models).

// The functions take the kernels' parameter lists, which are long.
#![allow(clippy::too_many_arguments)]

pub use fastvision_ops::launch::{Arg, Launch};
use fastvision_ops::Result;

use crate::Reduction;

/// Threads per block; the kernels' shared arrays are sized for it (`BLOCK` in losses.cu).
pub const BLOCK: u32 = 256;
/// The value of the error slot (`err`, one u64) before a launch: the kernels lower it to `row * 4 + code`.
pub const NO_ERROR: u64 = u64::MAX;

/// The float type a kernel is instantiated for (its name's suffix; its `T` scalars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float {
    /// `float`, the `_f32` kernels.
    F32,
    /// `double`, the `_f64` kernels.
    F64,
}

impl Float {
    fn kernel(self, base: &str) -> String {
        match self {
            Self::F32 => format!("{base}_f32"),
            Self::F64 => format!("{base}_f64"),
        }
    }

    /// A `T` scalar of the kernel (for f32, rounded to nearest as the CPU kernels round it).
    fn real<B>(self, value: f64) -> Arg<B> {
        match self {
            Self::F32 => Arg::F32(value as f32),
            Self::F64 => Arg::F64(value),
        }
    }
}

/// One block per row.
fn per_row<B>(float: Float, base: &str, n_rows: usize, args: Vec<Arg<B>>) -> Result<Launch<B>> {
    Launch::blocks(float.kernel(base), n_rows, BLOCK, args)
}

/// One thread per element.
fn per_element<B>(float: Float, base: &str, n: usize, args: Vec<Arg<B>>) -> Result<Launch<B>> {
    Launch::threads(float.kernel(base), n, BLOCK, args)
}

/// A single block (the reductions over rows).
fn single_block<B>(float: Float, base: &str, args: Vec<Arg<B>>) -> Result<Launch<B>> {
    Launch::blocks(float.kernel(base), 1, BLOCK, args)
}

/// `(ignore_index, has_ignore)`.
fn ignore<B>(ignore_index: Option<i64>) -> [Arg<B>; 2] {
    [Arg::I64(ignore_index.unwrap_or(0)), Arg::flag(ignore_index.is_some())]
}

fn reduction_code<B>(reduction: Reduction) -> Arg<B> {
    Arg::I32(match reduction {
        Reduction::None => 0,
        Reduction::Mean => 1,
        Reduction::Sum => 2,
    })
}

/// Length of the statistics a class-index forward saves: max and ln Σ per row, then Σ weight and rows kept.
pub fn saved_len(n_rows: usize) -> usize {
    2 * n_rows + 2
}

/// Length of the per-row parts a class-index forward hands to `class_reduce` (4 per row).
pub fn part_len(n_rows: usize) -> usize {
    4 * n_rows
}

/// `softmax_fwd(x, y, n_rows, n_cols, log_mode, err)`.
pub fn softmax_fwd<B>(float: Float, x: B, y: B, n_rows: usize, n_cols: usize, log: bool, err: B) -> Result<Launch<B>> {
    let args = vec![
        Arg::Buffer(x),
        Arg::Buffer(y),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_cols", n_cols)?,
        Arg::flag(log),
        Arg::Buffer(err),
    ];
    per_row(float, "softmax_fwd", n_rows, args)
}

/// `softmax_bwd(y, g, dx, n_rows, n_cols, log_mode)`.
pub fn softmax_bwd<B>(float: Float, y: B, g: B, dx: B, n_rows: usize, n_cols: usize, log: bool) -> Result<Launch<B>> {
    let args = vec![
        Arg::Buffer(y),
        Arg::Buffer(g),
        Arg::Buffer(dx),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_cols", n_cols)?,
        Arg::flag(log),
    ];
    per_row(float, "softmax_bwd", n_rows, args)
}

/// `cross_entropy_fwd(logits, targets, weight, n_rows, n_classes, smoothing, ignore_index, has_ignore, saved,
/// part, err)`.
pub fn cross_entropy_fwd<B>(
    float: Float,
    logits: B,
    targets: B,
    weight: B,
    n_rows: usize,
    n_classes: usize,
    smoothing: f64,
    ignore_index: Option<i64>,
    saved: B,
    part: B,
    err: B,
) -> Result<Launch<B>> {
    let mut args = vec![
        Arg::Buffer(logits),
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_classes", n_classes)?,
        float.real(smoothing),
    ];
    args.extend(ignore(ignore_index));
    args.extend([Arg::Buffer(saved), Arg::Buffer(part), Arg::Buffer(err)]);
    per_row(float, "cross_entropy_fwd", n_rows, args)
}

/// `class_reduce(part, n_rows, n_classes, smoothing, reduction, loss, saved)`: one block.
pub fn class_reduce<B>(
    float: Float,
    part: B,
    n_rows: usize,
    n_classes: usize,
    smoothing: f64,
    reduction: Reduction,
    loss: B,
    saved: B,
) -> Result<Launch<B>> {
    let args = vec![
        Arg::Buffer(part),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_classes", n_classes)?,
        float.real(smoothing),
        reduction_code(reduction),
        Arg::Buffer(loss),
        Arg::Buffer(saved),
    ];
    single_block(float, "class_reduce", args)
}

/// `cross_entropy_bwd(logits, targets, weight, grad_out, grad_per_row, saved, n_rows, n_classes, smoothing,
/// ignore_index, has_ignore, reduction, dx)`.
pub fn cross_entropy_bwd<B>(
    float: Float,
    logits: B,
    targets: B,
    weight: B,
    grad_out: B,
    grad_per_row: bool,
    saved: B,
    n_rows: usize,
    n_classes: usize,
    smoothing: f64,
    ignore_index: Option<i64>,
    reduction: Reduction,
    dx: B,
) -> Result<Launch<B>> {
    let mut args = vec![
        Arg::Buffer(logits),
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::Buffer(grad_out),
        Arg::flag(grad_per_row),
        Arg::Buffer(saved),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_classes", n_classes)?,
        float.real(smoothing),
    ];
    args.extend(ignore(ignore_index));
    args.extend([reduction_code(reduction), Arg::Buffer(dx)]);
    per_row(float, "cross_entropy_bwd", n_rows, args)
}

/// `nll_fwd(log_probs, targets, weight, n_rows, n_classes, ignore_index, has_ignore, part, err)`: one thread per
/// row.
pub fn nll_fwd<B>(
    float: Float,
    log_probs: B,
    targets: B,
    weight: B,
    n_rows: usize,
    n_classes: usize,
    ignore_index: Option<i64>,
    part: B,
    err: B,
) -> Result<Launch<B>> {
    let mut args = vec![
        Arg::Buffer(log_probs),
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_classes", n_classes)?,
    ];
    args.extend(ignore(ignore_index));
    args.extend([Arg::Buffer(part), Arg::Buffer(err)]);
    per_element(float, "nll_fwd", n_rows, args)
}

/// `nll_bwd(targets, weight, grad_out, grad_per_row, norm, n_rows, n_classes, ignore_index, has_ignore,
/// reduction, dx)`: one thread per element of `dx`.
pub fn nll_bwd<B>(
    float: Float,
    targets: B,
    weight: B,
    grad_out: B,
    grad_per_row: bool,
    norm: B,
    n_rows: usize,
    n_classes: usize,
    ignore_index: Option<i64>,
    reduction: Reduction,
    dx: B,
) -> Result<Launch<B>> {
    let mut args = vec![
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::Buffer(grad_out),
        Arg::flag(grad_per_row),
        Arg::Buffer(norm),
        Arg::int("n_rows", n_rows)?,
        Arg::int("n_classes", n_classes)?,
    ];
    args.extend(ignore(ignore_index));
    args.extend([reduction_code(reduction), Arg::Buffer(dx)]);
    per_element(float, "nll_bwd", n_rows * n_classes, args)
}

/// `bce_fwd(logits, targets, weight, pos_weight, n, n_classes, loss, err)`: one thread per element.
pub fn bce_fwd<B>(
    float: Float,
    logits: B,
    targets: B,
    weight: B,
    pos_weight: B,
    n: usize,
    n_classes: usize,
    loss: B,
    err: B,
) -> Result<Launch<B>> {
    let args = vec![
        Arg::Buffer(logits),
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::Buffer(pos_weight),
        Arg::long("n", n)?,
        Arg::int("n_classes", n_classes)?,
        Arg::Buffer(loss),
        Arg::Buffer(err),
    ];
    per_element(float, "bce_fwd", n, args)
}

/// `sum_reduce(values, n, scale, out)`: one block; `scale` is a double for both float types.
pub fn sum_reduce<B>(float: Float, values: B, n: usize, scale: f64, out: B) -> Result<Launch<B>> {
    let args = vec![Arg::Buffer(values), Arg::long("n", n)?, Arg::F64(scale), Arg::Buffer(out)];
    single_block(float, "sum_reduce", args)
}

/// `bce_bwd(logits, targets, weight, pos_weight, grad_out, grad_per_element, n, n_classes, scale, dx)`: one thread
/// per element.
pub fn bce_bwd<B>(
    float: Float,
    logits: B,
    targets: B,
    weight: B,
    pos_weight: B,
    grad_out: B,
    grad_per_element: bool,
    n: usize,
    n_classes: usize,
    scale: f64,
    dx: B,
) -> Result<Launch<B>> {
    let args = vec![
        Arg::Buffer(logits),
        Arg::Buffer(targets),
        Arg::Buffer(weight),
        Arg::Buffer(pos_weight),
        Arg::Buffer(grad_out),
        Arg::flag(grad_per_element),
        Arg::long("n", n)?,
        Arg::int("n_classes", n_classes)?,
        float.real(scale),
        Arg::Buffer(dx),
    ];
    per_element(float, "bce_bwd", n, args)
}
