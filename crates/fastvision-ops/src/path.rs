//! Which path an op takes: fastvision's CPU kernels, or the generic candle composition that every other device
//! (CUDA) runs. Forcing the generic path on the CPU lets CPU-only CI exercise, and compare against the native
//! kernels, exactly the code a GPU tensor goes through (the forced-fallback tests).

use std::cell::Cell;
use std::sync::OnceLock;

use candle::{DType, Tensor};

/// The environment variable that forces the generic path for a whole process (`1`).
pub const FORCE_GENERIC_ENV: &str = "FASTVISION_FORCE_GENERIC";

thread_local! {
    /// This thread's choice; `None` follows the environment. Per thread, so tests running side by side in one
    /// process do not see each other's choice (ops decide their path on the calling thread).
    static FORCED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Forces (or stops forcing) the generic path for the ops this thread calls, as if every tensor were on a GPU.
/// For tests and comparisons; training is slower with it.
pub fn force_generic(force: bool) {
    FORCED.with(|f| f.set(Some(force)));
}

/// Whether the generic path is forced on this thread (by [`force_generic`], else `FASTVISION_FORCE_GENERIC=1`).
pub fn generic_forced() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    FORCED
        .with(Cell::get)
        .unwrap_or_else(|| *FROM_ENV.get_or_init(|| std::env::var_os(FORCE_GENERIC_ENV).is_some_and(|v| v == "1")))
}

/// Whether `t` may use fastvision's CPU kernels: it is on the CPU and the generic path is not forced.
pub fn cpu_native(t: &Tensor) -> bool {
    t.device().is_cpu() && !generic_forced()
}

thread_local! {
    /// The half-precision type convolutions and matrix products compute in on this thread (`None`: their inputs').
    static AUTOCAST: Cell<Option<DType>> = const { Cell::new(None) };
}

/// Runs `f` with convolutions and matrix products of f32 tensors computed in `dtype` (bf16 or f16), their outputs
/// cast back to f32 — PyTorch's `autocast` for the ops that gain from tensor cores, while BatchNorm, the loss and
/// the master weights stay f32 (fastai's `to_fp16()`). `None` computes in the inputs' type. Restored afterwards.
pub fn autocast<T>(dtype: Option<DType>, f: impl FnOnce() -> T) -> T {
    let before = AUTOCAST.with(|a| a.replace(dtype));
    let result = f();
    AUTOCAST.with(|a| a.set(before));
    result
}

/// The type an f32 `t` is computed in by [`autocast`]ing ops, when it is not its own.
pub fn autocast_dtype(t: &Tensor) -> Option<DType> {
    AUTOCAST.with(Cell::get).filter(|&d| t.dtype() == DType::F32 && d != DType::F32)
}

/// `a · bᵀ`-style products under [`autocast`]: `f(a, b)` computed in the autocast type and cast back to f32.
pub fn autocast_binary(
    a: &Tensor,
    b: &Tensor,
    f: impl FnOnce(&Tensor, &Tensor) -> candle::Result<Tensor>,
) -> candle::Result<Tensor> {
    match autocast_dtype(a) {
        Some(dtype) if b.dtype() == DType::F32 => f(&a.to_dtype(dtype)?, &b.to_dtype(dtype)?)?.to_dtype(DType::F32),
        _ => f(a, b),
    }
}
