//! Row primitives written so LLVM vectorises them: max, Σexp and a branch-free `exp` for f32.
//!
//! Every loop keeps `LANES` independent accumulators combined in a fixed order at the end, so the result does not
//! depend on the vector width the compiler picked (SSE2 or AVX2 give the same bits).

use std::ops::{Add, Mul, Neg, Sub};

/// Independent accumulators per loop: enough for two AVX2 registers of f32 and to hide add latency.
pub(crate) const LANES: usize = 8;

/// The float types the CPU kernels run on (f16 and bf16 are widened to f32 before).
pub(crate) trait Real:
    candle::WithDType
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + Send
    + Sync
{
    /// Minus infinity, the neutral element of max.
    const NEG_INFINITY: Self;
    /// Zero.
    const ZERO: Self;
    /// `exp(x)` for `x <= 0` (and `-inf`); NaN in gives NaN out, so bad rows stay visible.
    fn exp_nonpositive(x: Self) -> Self;
}

impl Real for f32 {
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn exp_nonpositive(x: Self) -> Self {
        exp_f32(x)
    }
}

impl Real for f64 {
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn exp_nonpositive(x: Self) -> Self {
        // f64 is the reference precision: libm's exp is correctly rounded to within 1 ulp.
        x.exp()
    }
}

/// Branch-free `exp` for f32 (Cephes' `expf` polynomial, within 2 ulp), vectorisable because it uses only
/// compares, selects, multiplies and integer bit tricks.
///
/// Results below `f32::MIN_POSITIVE` (x < -87.33) are flushed to 0 (absolute error < 1.2e-38): producing a
/// subnormal costs a microcode assist of ~100 cycles per lane, and the padded tails of every row (exp(-inf)) would
/// pay it.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    /// Below this, exp(x) is under f32::MIN_POSITIVE.
    const SMALLEST: f32 = -87.33;
    // 1.5 * 2^23: adding it rounds to the nearest integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let flushed = x < SMALLEST;
    // Written as compares so NaN passes through (f32::max would turn NaN into the bound).
    let x = if x < SMALLEST { SMALLEST } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // n is in [-126, 127], so 2^n is a normal float. Wrapping arithmetic: overflow checks (on in test builds)
    // would add branches and stop vectorisation.
    let n = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits((n.wrapping_add(127) << 23) as u32);
    let value = p * scale;
    if flushed {
        0.0
    } else {
        value
    }
}

/// The largest value of `row` (NaN entries are skipped here; [`sum_exp`] reports them).
#[inline(always)]
pub(crate) fn row_max<F: Real>(row: &[F]) -> F {
    let mut acc = [F::NEG_INFINITY; LANES];
    let mut max_into = |chunk: &[F]| {
        for lane in 0..LANES {
            acc[lane] = if chunk[lane] > acc[lane] { chunk[lane] } else { acc[lane] };
        }
    };
    let n_main = row.len() / LANES * LANES;
    row[..n_main].chunks_exact(LANES).for_each(&mut max_into);
    if n_main < row.len() {
        // Max is idempotent, so the tail can be the row's last full chunk, overlapping the main part.
        match row.len().checked_sub(LANES) {
            Some(start) => max_into(&row[start..]),
            None => max_into(&padded(row, F::NEG_INFINITY)),
        }
    }
    acc.into_iter().fold(F::NEG_INFINITY, |best, value| if value > best { value } else { best })
}

/// `Σ exp(x - max)` accumulated in f64; NaN when the row holds a NaN or +inf or is all -inf.
#[inline(always)]
pub(crate) fn sum_exp<F: Real>(row: &[F], max: F) -> f64 {
    let mut acc = [0.0f64; LANES];
    let n_main = row.len() / LANES * LANES;
    for chunk in row[..n_main].chunks_exact(LANES) {
        add_lanes(&mut acc, exp_chunk(chunk, max));
    }
    if n_main < row.len() {
        add_lanes(&mut acc, exp_tail(row, n_main, max));
    }
    fold_sum(acc)
}

/// `Σ exp(x - max)` and `Σ (max - x)` in one pass, both in f64 (the second is the label-smoothing term).
#[inline(always)]
pub(crate) fn sum_exp_and_gap<F: Real>(row: &[F], max: F) -> (f64, f64) {
    let mut acc_exp = [0.0f64; LANES];
    let mut acc_gap = [0.0f64; LANES];
    let n_main = row.len() / LANES * LANES;
    for chunk in row[..n_main].chunks_exact(LANES) {
        add_lanes(&mut acc_exp, exp_chunk(chunk, max));
        for lane in 0..LANES {
            acc_gap[lane] += (max - chunk[lane]).to_f64();
        }
    }
    if n_main < row.len() {
        add_lanes(&mut acc_exp, exp_tail(row, n_main, max));
        for &value in &row[n_main..] {
            acc_gap[0] += (max - value).to_f64();
        }
    }
    (fold_sum(acc_exp), fold_sum(acc_gap))
}

/// `Σ (max - x)` in f64 lanes (the label-smoothing term, without cancellation: every term is ≥ 0).
#[inline(always)]
pub(crate) fn sum_gap<F: Real>(row: &[F], max: F) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            acc[lane] += (max - chunk[lane]).to_f64();
        }
    }
    for &value in chunks.remainder() {
        acc[0] += (max - value).to_f64();
    }
    fold_sum(acc)
}

/// `exp(x - max)` of one chunk of `LANES` values, into registers (a local array is what lets the compiler use
/// full-width vectors for the exponential).
#[inline(always)]
fn exp_chunk<F: Real>(chunk: &[F], max: F) -> [F; LANES] {
    let mut out = [F::ZERO; LANES];
    for (out_value, &value) in out.iter_mut().zip(chunk) {
        *out_value = F::exp_nonpositive(value - max);
    }
    out
}

/// `exp(x - max)` of the values after `n_main` (fewer than `LANES`), zero in the other lanes. It runs as one full
/// chunk: the row's last `LANES` values with the already-counted lanes masked out, so no copy and no scalar loop.
#[inline(always)]
fn exp_tail<F: Real>(row: &[F], n_main: usize, max: F) -> [F; LANES] {
    let Some(start) = row.len().checked_sub(LANES) else {
        return exp_chunk(&padded(row, F::NEG_INFINITY), max);
    };
    let chunk = exp_chunk(&row[start..], max);
    let first_new = n_main - start;
    let mut out = [F::ZERO; LANES];
    for lane in 0..LANES {
        out[lane] = if lane >= first_new { chunk[lane] } else { F::ZERO };
    }
    out
}

/// Adds a chunk to f64 accumulators, lane by lane.
#[inline(always)]
fn add_lanes<F: Real>(acc: &mut [f64; LANES], chunk: [F; LANES]) {
    for lane in 0..LANES {
        acc[lane] += chunk[lane].to_f64();
    }
}

/// Writes `op(x)` for every `x` of `src` into `dst` (same length). The whole chunks run as one plain loop (which
/// the loop vectoriser takes); the tail runs as the row's last full chunk, rewriting a few values with the same
/// results, so narrow rows (37 classes) vectorise too.
#[inline(always)]
pub(crate) fn map<F: Real>(dst: &mut [F], src: &[F], pad: F, op: impl Fn(F) -> F) {
    let n_main = src.len() / LANES * LANES;
    for (out, &value) in dst[..n_main].iter_mut().zip(&src[..n_main]) {
        *out = op(value);
    }
    if n_main == src.len() {
        return;
    }
    let start = src.len().saturating_sub(LANES);
    let chunk = if src.len() >= LANES { padded(&src[start..], pad) } else { padded(src, pad) };
    let mut out = [pad; LANES];
    for (out_value, &value) in out.iter_mut().zip(&chunk) {
        *out_value = op(value);
    }
    let dst_tail = &mut dst[start..];
    let n_tail = dst_tail.len();
    dst_tail.copy_from_slice(&out[..n_tail]);
}

/// The first `values.len() <= LANES` values followed by `pad`.
#[inline(always)]
fn padded<F: Real>(values: &[F], pad: F) -> [F; LANES] {
    let mut chunk = [pad; LANES];
    chunk[..values.len()].copy_from_slice(values);
    chunk
}

/// `Σ a·b` in f64 lanes (the softmax backward's row dot product).
#[inline(always)]
pub(crate) fn dot<F: Real>(a: &[F], b: &[F]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks_a = a.chunks_exact(LANES);
    let mut chunks_b = b.chunks_exact(LANES);
    for (chunk_a, chunk_b) in (&mut chunks_a).zip(&mut chunks_b) {
        for lane in 0..LANES {
            acc[lane] += chunk_a[lane].to_f64() * chunk_b[lane].to_f64();
        }
    }
    for (&value_a, &value_b) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
        acc[0] += value_a.to_f64() * value_b.to_f64();
    }
    fold_sum(acc)
}

/// `Σ x` in f64 lanes.
#[inline(always)]
pub(crate) fn sum<F: Real>(row: &[F]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            acc[lane] += chunk[lane].to_f64();
        }
    }
    for &value in chunks.remainder() {
        acc[0] += value.to_f64();
    }
    fold_sum(acc)
}

/// Pairwise sum of the lanes, always in the same order.
#[inline(always)]
fn fold_sum(acc: [f64; LANES]) -> f64 {
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests;
