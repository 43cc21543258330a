//! The parameter list of every kernel entry point of `src/*.cu`: the one table that the three views of a kernel
//! are checked against, so none of them can change alone.
//!
//! - The `.cu` source: fastvision-cuda-emu compiles every kernel for the host with a `static_assert` that its
//!   parameters have these kinds, so `cargo test --workspace` fails to build when a signature changes.
//! - The PTX: `cargo xtask kernels` compares the parameters of every `.entry` with this table, both ways.
//! - The Rust launch code: `fastvision-augment` and `fastvision-losses` build every launch in a `launch` module that
//!   their `cuda.rs` uses, and fastvision-cuda-emu's tests run those launches, checking each argument's kind here.
//!
//! Dependency-free on purpose: xtask and fastvision-cuda-emu's build script include this file by path.

/// The kind of one kernel parameter, as the launch code passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// A device pointer (any element type, const or not).
    Ptr,
    /// `int`.
    I32,
    /// `long long` (`int64_t`).
    I64,
    /// `float`.
    F32,
    /// `double`.
    F64,
}

/// One `extern "C" __global__` entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The file under `src/` that defines it.
    pub file: &'static str,
    /// Its (unmangled) name.
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: &'static [Param],
}

use Param::{Ptr, F32, F64, I32, I64};

/// `augment(src, params, dst, n_images, channels, in_h, in_w, out_h, out_w, mode, pad_mode, align_corners, unit)`.
const AUGMENT: &[Param] = &[Ptr, Ptr, Ptr, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32];

const fn augment(name: &'static str) -> Signature {
    Signature { file: "augment.cu", name, params: AUGMENT }
}

const fn losses(name: &'static str, params: &'static [Param]) -> Signature {
    Signature { file: "losses.cu", name, params }
}

// losses.cu: each kernel for T = float and double; `T` scalars (smoothing, scale) follow T.
/// `softmax_fwd(x, y, n_rows, n_cols, log_mode, err)`.
const SOFTMAX_FWD: &[Param] = &[Ptr, Ptr, I32, I32, I32, Ptr];
/// `softmax_bwd(y, g, dx, n_rows, n_cols, log_mode)`.
const SOFTMAX_BWD: &[Param] = &[Ptr, Ptr, Ptr, I32, I32, I32];
/// `nll_fwd(log_probs, targets, weight, n_rows, n_classes, ignore_index, has_ignore, part, err)`.
const NLL_FWD: &[Param] = &[Ptr, Ptr, Ptr, I32, I32, I64, I32, Ptr, Ptr];
/// `nll_bwd(targets, weight, grad_out, grad_per_row, norm, n_rows, n_classes, ignore_index, has_ignore, reduction,
/// dx)`.
const NLL_BWD: &[Param] = &[Ptr, Ptr, Ptr, I32, Ptr, I32, I32, I64, I32, I32, Ptr];
/// `bce_fwd(logits, targets, weight, pos_weight, n, n_classes, loss, err)`.
const BCE_FWD: &[Param] = &[Ptr, Ptr, Ptr, Ptr, I64, I32, Ptr, Ptr];
/// `sum_reduce(values, n, scale (double), out)`.
const SUM_REDUCE: &[Param] = &[Ptr, I64, F64, Ptr];

/// `max_pool2d_fwd(x, y, argmax, n_planes, h, w, oh, ow, kh, kw, sh, sw, ph, pw)`; the backward takes
/// `(dy, argmax, dx, ...)` and the same sizes.
const MAX_POOL: &[Param] = &[Ptr, Ptr, Ptr, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];

/// Every entry point of every `src/*.cu`.
pub const SIGNATURES: &[Signature] = &[
    augment("augment_u8_f32"),
    augment("augment_u8_f16"),
    augment("augment_u8_bf16"),
    augment("augment_f32_f32"),
    augment("augment_f32_f16"),
    augment("augment_f32_bf16"),
    losses("softmax_fwd_f32", SOFTMAX_FWD),
    losses("softmax_bwd_f32", SOFTMAX_BWD),
    // cross_entropy_fwd(logits, targets, weight, n_rows, n_classes, smoothing, ignore_index, has_ignore, saved,
    // part, err)
    losses("cross_entropy_fwd_f32", &[Ptr, Ptr, Ptr, I32, I32, F32, I64, I32, Ptr, Ptr, Ptr]),
    // class_reduce(part, n_rows, n_classes, smoothing, reduction, loss, saved)
    losses("class_reduce_f32", &[Ptr, I32, I32, F32, I32, Ptr, Ptr]),
    // cross_entropy_bwd(logits, targets, weight, grad_out, grad_per_row, saved, n_rows, n_classes, smoothing,
    // ignore_index, has_ignore, reduction, dx)
    losses("cross_entropy_bwd_f32", &[Ptr, Ptr, Ptr, Ptr, I32, Ptr, I32, I32, F32, I64, I32, I32, Ptr]),
    losses("nll_fwd_f32", NLL_FWD),
    losses("nll_bwd_f32", NLL_BWD),
    losses("bce_fwd_f32", BCE_FWD),
    // bce_bwd(logits, targets, weight, pos_weight, grad_out, grad_per_element, n, n_classes, scale, dx)
    losses("bce_bwd_f32", &[Ptr, Ptr, Ptr, Ptr, Ptr, I32, I64, I32, F32, Ptr]),
    losses("sum_reduce_f32", SUM_REDUCE),
    losses("softmax_fwd_f64", SOFTMAX_FWD),
    losses("softmax_bwd_f64", SOFTMAX_BWD),
    losses("cross_entropy_fwd_f64", &[Ptr, Ptr, Ptr, I32, I32, F64, I64, I32, Ptr, Ptr, Ptr]),
    losses("class_reduce_f64", &[Ptr, I32, I32, F64, I32, Ptr, Ptr]),
    losses("cross_entropy_bwd_f64", &[Ptr, Ptr, Ptr, Ptr, I32, Ptr, I32, I32, F64, I64, I32, I32, Ptr]),
    losses("nll_fwd_f64", NLL_FWD),
    losses("nll_bwd_f64", NLL_BWD),
    losses("bce_fwd_f64", BCE_FWD),
    losses("bce_bwd_f64", &[Ptr, Ptr, Ptr, Ptr, Ptr, I32, I64, I32, F64, Ptr]),
    losses("sum_reduce_f64", SUM_REDUCE),
    Signature { file: "pool.cu", name: "max_pool2d_fwd_f32", params: MAX_POOL },
    Signature { file: "pool.cu", name: "max_pool2d_bwd_f32", params: MAX_POOL },
];
