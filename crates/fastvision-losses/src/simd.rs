//! Row primitives written so LLVM vectorises them: max, Σexp, sums and dot products (the vectorisable `exp` is
//! fastvision-ops' `fastmath`).
//!
//! Every loop keeps `LANES` independent accumulators combined in a fixed order at the end, so the result does not
//! depend on the vector width the compiler picked (SSE2 or AVX2 give the same bits).

use fastvision_ops::Float;

/// Independent accumulators per loop: enough for two AVX2 registers of f32 and to hide add latency.
pub(crate) const LANES: usize = 8;

/// The largest value of `row` (NaN entries are skipped here; [`sum_exp`] reports them).
#[inline(always)]
pub(crate) fn row_max<F: Float>(row: &[F]) -> F {
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
pub(crate) fn sum_exp<F: Float>(row: &[F], max: F) -> f64 {
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
pub(crate) fn sum_exp_and_gap<F: Float>(row: &[F], max: F) -> (f64, f64) {
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
pub(crate) fn sum_gap<F: Float>(row: &[F], max: F) -> f64 {
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
fn exp_chunk<F: Float>(chunk: &[F], max: F) -> [F; LANES] {
    let mut out = [F::ZERO; LANES];
    for (out_value, &value) in out.iter_mut().zip(chunk) {
        *out_value = F::exp_nonpositive(value - max);
    }
    out
}

/// `exp(x - max)` of the values after `n_main` (fewer than `LANES`), zero in the other lanes. It runs as one full
/// chunk: the row's last `LANES` values with the already-counted lanes masked out, so no copy and no scalar loop.
#[inline(always)]
fn exp_tail<F: Float>(row: &[F], n_main: usize, max: F) -> [F; LANES] {
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
fn add_lanes<F: Float>(acc: &mut [f64; LANES], chunk: [F; LANES]) {
    for lane in 0..LANES {
        acc[lane] += chunk[lane].to_f64();
    }
}

/// Writes `op(x)` for every `x` of `src` into `dst` (same length). The whole chunks run as one plain loop (which
/// the loop vectoriser takes); the tail runs as the row's last full chunk, rewriting a few values with the same
/// results, so narrow rows (37 classes) vectorise too.
#[inline(always)]
pub(crate) fn map<F: Float>(dst: &mut [F], src: &[F], pad: F, op: impl Fn(F) -> F) {
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
fn padded<F: Float>(values: &[F], pad: F) -> [F; LANES] {
    let mut chunk = [pad; LANES];
    chunk[..values.len()].copy_from_slice(values);
    chunk
}

/// `Σ a·b` in f64 lanes (the softmax backward's row dot product).
#[inline(always)]
pub(crate) fn dot<F: Float>(a: &[F], b: &[F]) -> f64 {
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
pub(crate) fn sum<F: Float>(row: &[F]) -> f64 {
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
