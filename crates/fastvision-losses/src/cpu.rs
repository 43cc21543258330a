//! The CPU reference kernels of every fused op, on contiguous row-major slices; rayon splits large batches by rows.
//!
//! Each kernel reads a row once or twice (the row stays in L1) and writes its output once. The CUDA twins in
//! `fastvision-kernels/src/losses.cu` follow the same formulas line by line.

use std::sync::Arc;

use rayon::prelude::*;

use fastvision_ops::Float;

use crate::simd;
use crate::Reduction;

/// Below this many logits a batch runs on the calling thread: rayon's hand-off costs more than it saves.
const PAR_MIN_ELEMS: usize = 1 << 15;

/// The first bad row of a kernel; the caller names the tensor and turns it into [`crate::Error`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RowError {
    /// The target is neither a class id nor the ignore index.
    Target { row: usize, value: i64 },
    /// The row holds a NaN or +inf, or is all -inf.
    NonFinite { row: usize, col: usize, value: f64 },
}

impl RowError {
    fn row(&self) -> usize {
        match self {
            RowError::Target { row, .. } | RowError::NonFinite { row, .. } => *row,
        }
    }
}

/// The parameters of a class-index loss (cross-entropy, NLL, label smoothing), shared by forward and backward.
#[derive(Debug, Clone)]
pub(crate) struct ClassParams {
    /// Size of the class axis.
    pub n_classes: usize,
    /// One weight per class, or all ones.
    pub weight: Option<Arc<[f64]>>,
    /// Rows whose target equals this are skipped (no loss, no gradient, not counted by the mean).
    pub ignore_index: Option<i64>,
    /// fastai's label-smoothing `eps`; 0 is plain cross-entropy.
    pub smoothing: f64,
    /// How the per-row losses are combined.
    pub reduction: Reduction,
}

impl ClassParams {
    /// The target's class weight, 0 for an ignored row, or the error for an out-of-range class.
    #[inline]
    fn target_weight(&self, row: usize, target: i64) -> Result<f64, RowError> {
        if self.ignore_index == Some(target) {
            return Ok(0.0);
        }
        if target < 0 || target as u64 >= self.n_classes as u64 {
            return Err(RowError::Target { row, value: target });
        }
        Ok(self.weight.as_ref().map_or(1.0, |weight| weight[target as usize]))
    }

    /// The sums the mean divides by: `(Σ target weight, number of rows not ignored)`.
    fn normalisers(&self, targets: &[i64]) -> (f64, f64) {
        let mut sum_weight = 0.0;
        let mut n_valid = 0.0;
        for (row, &target) in targets.iter().enumerate() {
            let weight = self.target_weight(row, target).unwrap_or(0.0);
            sum_weight += weight;
            n_valid += if self.ignore_index == Some(target) { 0.0 } else { 1.0 };
        }
        (sum_weight, n_valid)
    }

    /// Per-row factors `(a, b)` of the loss `a·(-log p_t) + b·Σ_c(-log p_c)` times the incoming gradient.
    fn row_factors(&self, target_weight: f64, ignored: bool, grad: f64, normalisers: (f64, f64)) -> (f64, f64) {
        if ignored {
            return (0.0, 0.0);
        }
        let eps = self.smoothing;
        let per_class = eps / self.n_classes as f64;
        match self.reduction {
            Reduction::None | Reduction::Sum => (grad * (1.0 - eps) * target_weight, grad * per_class),
            Reduction::Mean => (
                grad * (1.0 - eps) * target_weight * safe_recip(normalisers.0),
                grad * per_class * safe_recip(normalisers.1),
            ),
        }
    }
}

/// `1/x`, or 0 when nothing was counted (every row ignored): the loss is then 0, not PyTorch's NaN.
fn safe_recip(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        1.0 / x
    }
}

/// Rows per rayon task for a large batch, or `None` when the batch is small enough for the calling thread.
fn rows_per_block(n_rows: usize, n_cols: usize) -> Option<usize> {
    let n_threads = rayon::current_num_threads();
    if n_rows * n_cols < PAR_MIN_ELEMS || n_rows < 2 || n_threads < 2 {
        return None;
    }
    Some(n_rows.div_ceil(4 * n_threads).max((PAR_MIN_ELEMS / 4).div_ceil(n_cols)).max(1))
}

/// Runs `kernel(first_row, out_block)` over blocks of rows, in parallel for large batches; returns the error of the
/// lowest bad row, so the report does not depend on the thread count.
fn for_row_blocks<T, K>(
    n_rows: usize,
    n_cols: usize,
    out: &mut [T],
    out_per_row: usize,
    kernel: K,
) -> Result<(), RowError>
where
    T: Send,
    K: Fn(usize, &mut [T]) -> Result<(), RowError> + Sync,
{
    let Some(rows_per_block) = rows_per_block(n_rows, n_cols) else {
        return kernel(0, out);
    };
    let first_error = out
        .par_chunks_mut(rows_per_block * out_per_row)
        .enumerate()
        .filter_map(|(block, chunk)| kernel(block * rows_per_block, chunk).err())
        .min_by_key(RowError::row);
    first_error.map_or(Ok(()), Err)
}

/// [`for_row_blocks`] with a second, optional output of `n_cols` values per row (the kept exponentials).
fn for_row_blocks_with_rows<T, F, K>(
    n_cols: usize,
    out: &mut [T],
    rows_out: Option<&mut [F]>,
    kernel: K,
) -> Result<(), RowError>
where
    T: Send,
    F: Send,
    K: Fn(usize, &mut [T], Option<&mut [F]>) -> Result<(), RowError> + Sync,
{
    let Some(rows_per_block) = rows_per_block(out.len(), n_cols) else {
        return kernel(0, out, rows_out);
    };
    let first_error = match rows_out {
        Some(rows_out) => out
            .par_chunks_mut(rows_per_block)
            .zip(rows_out.par_chunks_mut(rows_per_block * n_cols))
            .enumerate()
            .filter_map(|(block, (chunk, rows_chunk))| kernel(block * rows_per_block, chunk, Some(rows_chunk)).err())
            .min_by_key(RowError::row),
        None => out
            .par_chunks_mut(rows_per_block)
            .enumerate()
            .filter_map(|(block, chunk)| kernel(block * rows_per_block, chunk, None).err())
            .min_by_key(RowError::row),
    };
    first_error.map_or(Ok(()), Err)
}

/// Finds the value that made a row's Σexp NaN: the first NaN or +inf, else (an all -inf row) its first entry.
pub(crate) fn non_finite<F: Float>(row_idx: usize, row: &[F]) -> RowError {
    let bad = row.iter().position(|x| x.to_f64().is_nan() || x.to_f64() == f64::INFINITY).unwrap_or(0);
    RowError::NonFinite { row: row_idx, col: bad, value: row.get(bad).map_or(f64::NAN, |x| x.to_f64()) }
}

/// Row statistics `(max, ln Σexp(x - max))`, or the row's error.
#[inline(always)]
fn row_stats<F: Float>(row_idx: usize, row: &[F]) -> Result<(F, f64), RowError> {
    let max = simd::row_max(row);
    let total = simd::sum_exp(row, max);
    if total.is_nan() {
        return Err(non_finite(row_idx, row));
    }
    Ok((max, total.ln()))
}

/// `softmax` (or `log_softmax` when `log`) of each row of a contiguous `n_rows × n_cols` matrix.
pub(crate) fn softmax<F: Float>(src: &[F], n_cols: usize, log: bool) -> Result<Vec<F>, RowError> {
    let mut dst = vec![F::ZERO; src.len()];
    for_row_blocks(src.len() / n_cols, n_cols, &mut dst, n_cols, |first_row, out| {
        softmax_block(src, n_cols, log, first_row, out)
    })?;
    Ok(dst)
}

fastvision_ops::widest! {
    /// Softmax rows `first_row..` of `src` into `out`.
    fn softmax_block / softmax_block_baseline[F: Float][F](src: &[F], n_cols: usize, log: bool, first_row: usize, out: &mut [F]) -> Result<(), RowError>, up to Avx2 {
        for (offset, out_row) in out.chunks_exact_mut(n_cols).enumerate() {
            let row_idx = first_row + offset;
            let row = &src[row_idx * n_cols..(row_idx + 1) * n_cols];
            let (max, log_total) = row_stats(row_idx, row)?;
            if log {
                // (x - max) is exact for the large values, so subtracting ln Σ in f64 rounds once.
                for (out_value, &value) in out_row.iter_mut().zip(row) {
                    *out_value = F::from_f64((value - max).to_f64() - log_total);
                }
            } else {
                let inv_total = F::from_f64((-log_total).exp());
                simd::map(out_row, row, F::NEG_INFINITY, |value| F::exp_nonpositive(value - max) * inv_total);
            }
        }
        Ok(())
    }
}

/// Backward of softmax from its output `y`: `dx = y·(g − Σ g·y)`; of log-softmax: `dx = g − exp(y)·Σ g`.
pub(crate) fn softmax_bwd<F: Float>(output: &[F], grad: &[F], n_cols: usize, log: bool) -> Vec<F> {
    let mut dst = vec![F::ZERO; output.len()];
    // The kernel cannot fail: the output of a checked forward pass is finite.
    let _ = for_row_blocks(output.len() / n_cols, n_cols, &mut dst, n_cols, |first_row, out| {
        softmax_bwd_block(output, grad, n_cols, log, first_row, out);
        Ok(())
    });
    dst
}

fastvision_ops::widest! {
    /// Softmax backward of rows `first_row..` into `out`.
    fn softmax_bwd_block / softmax_bwd_block_baseline[F: Float][F](output: &[F], grad: &[F], n_cols: usize, log: bool, first_row: usize, out: &mut [F]) -> (), up to Avx2 {
        for (offset, out_row) in out.chunks_exact_mut(n_cols).enumerate() {
            let range = (first_row + offset) * n_cols..(first_row + offset + 1) * n_cols;
            let (y_row, g_row) = (&output[range.clone()], &grad[range]);
            if log {
                let total = F::from_f64(simd::sum(g_row));
                for ((out_value, &y), &g) in out_row.iter_mut().zip(y_row).zip(g_row) {
                    *out_value = g - F::exp_nonpositive(y) * total;
                }
            } else {
                let inner = F::from_f64(simd::dot(g_row, y_row));
                for ((out_value, &y), &g) in out_row.iter_mut().zip(y_row).zip(g_row) {
                    *out_value = y * (g - inner);
                }
            }
        }
    }
}

/// What the fused cross-entropy forward returns: the reduced loss and the statistics its backward needs.
pub(crate) struct CrossEntropyForward<F> {
    /// One value per row (`Reduction::None`) or one value.
    pub loss: Vec<F>,
    /// `[max_0, ln Σ_0, …, max_{n-1}, ln Σ_{n-1}, Σ target weight, rows not ignored]`.
    pub saved: Vec<F>,
    /// `exp(x - max)` of every logit, when asked to keep them: the backward then needs no exponential.
    pub exps: Option<Vec<F>>,
}

/// Per-row pieces of the loss, combined by the reduction.
#[derive(Clone, Copy, Default)]
struct RowLoss {
    /// `ln Σ exp(x - max)`.
    log_total: f64,
    /// `max`, exact (it is one of the logits).
    max: f64,
    /// `-log p_t`, unweighted (0 for ignored rows).
    nll: f64,
    /// The target's class weight, 0 for ignored rows.
    weight: f64,
    /// `Σ_c (-log p_c)` for label smoothing (0 for ignored rows or without smoothing).
    smooth: f64,
    /// 1 unless ignored.
    valid: f64,
}

/// Fused `log_softmax` + NLL (+ fastai's label smoothing) over the rows of `logits` (`n_rows × n_classes`).
///
/// With `keep_exps` (the logits need a gradient) it also keeps `exp(x - max)`, which the backward then scales
/// instead of computing the exponentials again: one memory pass instead of one exponential per logit.
pub(crate) fn cross_entropy_fwd<F: Float>(
    logits: &[F],
    targets: &[i64],
    params: &ClassParams,
    keep_exps: bool,
) -> Result<CrossEntropyForward<F>, RowError> {
    let mut rows = vec![RowLoss::default(); targets.len()];
    let mut exps = keep_exps.then(|| vec![F::ZERO; logits.len()]);
    for_row_blocks_with_rows(params.n_classes, &mut rows, exps.as_deref_mut(), |first_row, out, exps_out| {
        cross_entropy_block(logits, targets, params, first_row, out, exps_out)
    })?;
    let (loss, saved) = combine_rows(&rows, params);
    Ok(CrossEntropyForward { loss, saved, exps })
}

fastvision_ops::widest! {
    /// The fused forward of rows `first_row..` into `out`.
    fn cross_entropy_block / cross_entropy_block_baseline[F: Float][F](logits: &[F], targets: &[i64], params: &ClassParams, first_row: usize, out: &mut [RowLoss], exps: Option<&mut [F]>) -> Result<(), RowError>, up to Avx2 {
        let n_cols = params.n_classes;
        let mut exps = exps;
        for (offset, row_loss) in out.iter_mut().enumerate() {
            let row_idx = first_row + offset;
            let row = &logits[row_idx * n_cols..(row_idx + 1) * n_cols];
            let exps_row = exps.as_deref_mut().map(|exps| &mut exps[offset * n_cols..(offset + 1) * n_cols]);
            *row_loss = cross_entropy_row(row_idx, row, targets, params, exps_row)?;
        }
        Ok(())
    }
}

/// One row of the fused forward.
#[inline(always)]
fn cross_entropy_row<F: Float>(
    row_idx: usize,
    row: &[F],
    targets: &[i64],
    params: &ClassParams,
    exps: Option<&mut [F]>,
) -> Result<RowLoss, RowError> {
    let target = targets[row_idx];
    let weight = params.target_weight(row_idx, target)?;
    let max = simd::row_max(row);
    let (total, gap) = match exps {
        Some(exps) => {
            simd::map(exps, row, F::NEG_INFINITY, |value| F::exp_nonpositive(value - max));
            let gap = if params.smoothing > 0.0 { simd::sum_gap(row, max) } else { 0.0 };
            (simd::sum(exps), gap)
        }
        None if params.smoothing > 0.0 => simd::sum_exp_and_gap(row, max),
        None => (simd::sum_exp(row, max), 0.0),
    };
    if total.is_nan() {
        return Err(non_finite(row_idx, row));
    }
    let log_total = total.ln();
    if params.ignore_index == Some(target) {
        return Ok(RowLoss { log_total, max: max.to_f64(), ..RowLoss::default() });
    }
    // -log p_t = (max - x_t) + ln Σ: no cancellation between two large numbers, even at ±1e4.
    let nll = (max - row[target as usize]).to_f64() + log_total;
    let smooth = params.n_classes as f64 * log_total + gap;
    Ok(RowLoss { log_total, max: max.to_f64(), nll, weight, smooth, valid: 1.0 })
}

/// Applies the reduction to the per-row pieces, in row order (deterministic for any thread count).
fn combine_rows<F: Float>(rows: &[RowLoss], params: &ClassParams) -> (Vec<F>, Vec<F>) {
    let eps = params.smoothing;
    let per_class = eps / params.n_classes as f64;
    let row_value = |row: &RowLoss| (1.0 - eps) * row.weight * row.nll + per_class * row.smooth;
    let (mut nll_total, mut smooth_total, mut weight_total, mut n_valid) = (0.0, 0.0, 0.0, 0.0);
    for row in rows {
        nll_total += row.weight * row.nll;
        smooth_total += row.smooth;
        weight_total += row.weight;
        n_valid += row.valid;
    }
    let loss = match params.reduction {
        Reduction::None => rows.iter().map(|row| F::from_f64(row_value(row))).collect(),
        Reduction::Sum => vec![F::from_f64((1.0 - eps) * nll_total + per_class * smooth_total)],
        Reduction::Mean => vec![F::from_f64(
            (1.0 - eps) * nll_total * safe_recip(weight_total) + per_class * smooth_total * safe_recip(n_valid),
        )],
    };
    let mut saved = Vec::with_capacity(2 * rows.len() + 2);
    for row in rows {
        saved.push(F::from_f64(row.max));
        saved.push(F::from_f64(row.log_total));
    }
    saved.push(F::from_f64(weight_total));
    saved.push(F::from_f64(n_valid));
    (loss, saved)
}

/// Fused backward: `dx = (a + b·C)·softmax(x) − b − a·onehot(t)`, one pass per row, from the saved statistics.
///
/// `exps` are the forward's kept `exp(x - max)`; without them the exponentials are computed again.
pub(crate) fn cross_entropy_bwd<F: Float>(
    logits: &[F],
    targets: &[i64],
    grad_out: &[F],
    saved: &[F],
    exps: Option<&[F]>,
    params: &ClassParams,
) -> Vec<F> {
    let n_cols = params.n_classes;
    let n_rows = targets.len();
    let normalisers = (saved[2 * n_rows].to_f64(), saved[2 * n_rows + 1].to_f64());
    let mut dst = vec![F::ZERO; logits.len()];
    // Targets were checked by the forward pass, so the kernel cannot fail.
    let _ = for_row_blocks(n_rows, n_cols, &mut dst, n_cols, |first_row, out| {
        let inputs = BackwardInputs { logits, targets, grad_out, saved, exps, normalisers };
        cross_entropy_bwd_block(&inputs, params, first_row, out);
        Ok(())
    });
    dst
}

/// What the fused backward reads besides the parameters.
struct BackwardInputs<'a, F> {
    logits: &'a [F],
    targets: &'a [i64],
    grad_out: &'a [F],
    saved: &'a [F],
    exps: Option<&'a [F]>,
    normalisers: (f64, f64),
}

fastvision_ops::widest! {
    /// The fused backward of rows `first_row..` into `out`.
    fn cross_entropy_bwd_block / cross_entropy_bwd_block_baseline[F: Float][F](inputs: &BackwardInputs<'_, F>, params: &ClassParams, first_row: usize, out: &mut [F]) -> (), up to Avx2 {
        let n_cols = params.n_classes;
        let BackwardInputs { logits, targets, grad_out, saved, exps, normalisers } = *inputs;
        for (offset, out_row) in out.chunks_exact_mut(n_cols).enumerate() {
            let row_idx = first_row + offset;
            let target = targets[row_idx];
            let ignored = params.ignore_index == Some(target);
            let weight = params.target_weight(row_idx, target).unwrap_or(0.0);
            let grad = grad_out[if grad_out.len() == 1 { 0 } else { row_idx }].to_f64();
            let (a, b) = params.row_factors(weight, ignored, grad, normalisers);
            if a == 0.0 && b == 0.0 {
                continue;
            }
            let (max, log_total) = (saved[2 * row_idx], saved[2 * row_idx + 1]);
            let shift = F::from_f64(b);
            let range = row_idx * n_cols..(row_idx + 1) * n_cols;
            match exps {
                // softmax = exp(x - max) / Σ: fold 1/Σ into the scale, one multiply-add per logit.
                Some(exps) => {
                    let scale = F::from_f64((a + b * n_cols as f64) * (-log_total.to_f64()).exp());
                    simd::map(out_row, &exps[range], F::ZERO, |exp| scale * exp - shift);
                }
                None => {
                    let scale = F::from_f64(a + b * n_cols as f64);
                    simd::map(out_row, &logits[range], F::NEG_INFINITY, |value| {
                        scale * F::exp_nonpositive(value - max - log_total) - shift
                    });
                }
            }
            let target = target as usize;
            out_row[target] = F::from_f64(out_row[target].to_f64() - a);
        }
    }
}

/// NLL from log-probabilities: `-w_t · lp[i, t]`, reduced (the mean divides by `Σ w_t`, as PyTorch does).
pub(crate) fn nll_fwd<F: Float>(log_probs: &[F], targets: &[i64], params: &ClassParams) -> Result<Vec<F>, RowError> {
    let n_cols = params.n_classes;
    let mut per_row = Vec::with_capacity(targets.len());
    for (row_idx, &target) in targets.iter().enumerate() {
        let weight = params.target_weight(row_idx, target)?;
        if params.ignore_index == Some(target) {
            per_row.push(0.0);
            continue;
        }
        let value = log_probs[row_idx * n_cols + target as usize].to_f64();
        if value.is_nan() || value == f64::INFINITY {
            return Err(RowError::NonFinite { row: row_idx, col: target as usize, value });
        }
        per_row.push(-weight * value);
    }
    let (sum_weight, _) = params.normalisers(targets);
    let total: f64 = per_row.iter().sum();
    Ok(match params.reduction {
        Reduction::None => per_row.into_iter().map(F::from_f64).collect(),
        Reduction::Sum => vec![F::from_f64(total)],
        Reduction::Mean => vec![F::from_f64(total * safe_recip(sum_weight))],
    })
}

/// NLL backward: `-a_i` at each row's target, zero elsewhere.
pub(crate) fn nll_bwd<F: Float>(targets: &[i64], grad_out: &[F], params: &ClassParams) -> Vec<F> {
    let n_cols = params.n_classes;
    let normalisers = params.normalisers(targets);
    let mut dst = vec![F::ZERO; targets.len() * n_cols];
    for (row_idx, &target) in targets.iter().enumerate() {
        let ignored = params.ignore_index == Some(target);
        let weight = params.target_weight(row_idx, target).unwrap_or(0.0);
        let grad = grad_out[if grad_out.len() == 1 { 0 } else { row_idx }].to_f64();
        let (a, _) = params.row_factors(weight, ignored, grad, normalisers);
        if a != 0.0 {
            dst[row_idx * n_cols + target as usize] = F::from_f64(-a);
        }
    }
    dst
}

/// The per-class weights of binary cross-entropy with logits (PyTorch's `weight` and `pos_weight`).
#[derive(Debug, Clone)]
pub(crate) struct BinaryParams {
    /// Size of the last axis (the class of element `k` is `k % n_classes`).
    pub n_classes: usize,
    /// Multiplies each element's loss.
    pub weight: Option<Arc<[f64]>>,
    /// Multiplies the positive term `y·log σ(x)`.
    pub pos_weight: Option<Arc<[f64]>>,
    /// How the element losses are combined (the mean is over all elements).
    pub reduction: Reduction,
}

impl BinaryParams {
    fn class_weights(&self, index: usize) -> (f64, f64) {
        let class = index % self.n_classes;
        let weight = self.weight.as_ref().map_or(1.0, |weight| weight[class]);
        let pos_weight = self.pos_weight.as_ref().map_or(1.0, |pos_weight| pos_weight[class]);
        (weight, pos_weight)
    }
}

/// `log(1 + exp(-|x|)) + max(-x, 0)` = `-log σ(x)`, stable for any finite x.
#[inline]
fn neg_log_sigmoid(x: f64) -> f64 {
    (-x.abs()).exp().ln_1p() + (-x).max(0.0)
}

/// Binary cross-entropy with logits, element-wise then reduced.
pub(crate) fn bce_fwd<F: Float>(logits: &[F], targets: &[F], params: &BinaryParams) -> Result<Vec<F>, RowError> {
    let mut per_element = Vec::with_capacity(logits.len());
    for (index, (&x, &y)) in logits.iter().zip(targets).enumerate() {
        let (x, y) = (x.to_f64(), y.to_f64());
        if !x.is_finite() {
            return Err(RowError::NonFinite { row: index / params.n_classes, col: index % params.n_classes, value: x });
        }
        let (weight, pos_weight) = params.class_weights(index);
        // PyTorch's form: (1 - y)·x + (1 + (p - 1)·y)·(-log σ(x)).
        per_element.push(weight * ((1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * neg_log_sigmoid(x)));
    }
    let total: f64 = per_element.iter().sum();
    Ok(match params.reduction {
        Reduction::None => per_element.into_iter().map(F::from_f64).collect(),
        Reduction::Sum => vec![F::from_f64(total)],
        Reduction::Mean => vec![F::from_f64(total / logits.len() as f64)],
    })
}

/// Binary cross-entropy backward: `w·((1 - y) − (1 + (p - 1)·y)·σ(−x))`, which is `w·(σ(x) − y)` without `p`.
pub(crate) fn bce_bwd<F: Float>(logits: &[F], targets: &[F], grad_out: &[F], params: &BinaryParams) -> Vec<F> {
    let scale = match params.reduction {
        Reduction::Mean => 1.0 / logits.len() as f64,
        Reduction::Sum | Reduction::None => 1.0,
    };
    let mut dst = Vec::with_capacity(logits.len());
    for (index, (&x, &y)) in logits.iter().zip(targets).enumerate() {
        let (x, y) = (x.to_f64(), y.to_f64());
        let (weight, pos_weight) = params.class_weights(index);
        let grad = grad_out[if grad_out.len() == 1 { 0 } else { index }].to_f64() * scale;
        let sigmoid_neg = 1.0 / (1.0 + x.exp());
        dst.push(F::from_f64(grad * weight * ((1.0 - y) - (1.0 + (pos_weight - 1.0) * y) * sigmoid_neg)));
    }
    dst
}

#[cfg(test)]
mod tests;
