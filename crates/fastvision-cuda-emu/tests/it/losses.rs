//! `losses.cu` against the CPU kernels of fastvision-losses: the same logits and targets through the public
//! functions on the CPU (values, and gradients through candle's autograd for a random upstream gradient) and
//! through the launches of `fastvision_losses::launch` in the order `cuda.rs` makes them, run by the emulator.
//!
//! Tolerances: `|emulated − cpu| <= rel·|cpu| + abs`, rel 1e-12 and abs 1e-14 in f64, rel 2e-5 and abs 1e-6 in f32.
//! The f32 relative bound is the GPU parity test's (fastvision-losses' `tests/it/cuda.rs`); its absolute bound of
//! 1e-7 is not reachable by design: losses.cu sums a row in float where the CPU sums in f64 (and its `exp` is
//! within 2 ulp), so Σ g·y and softmax's p_t differ by an ulp of values near 1, and `g − Σ g·y` and `p_t − 1`
//! cancel down to that ulp: measured 1.2e-7 (softmax_bwd, 300×3) and 1.2e-7 (cross_entropy_bwd at the target).
//! 1e-6 is a few ulp of the operands here (|g·w| <= 2.5).

use std::ffi::c_void;

use candle::{Device, Tensor, Var, WithDType};
use fastvision_core::rng::Rng;
use fastvision_losses::launch::{self, Arg, Float, NO_ERROR};
use fastvision_losses::{
    binary_cross_entropy_with_logits, cross_entropy_with, log_softmax, nll_loss_with, softmax, BceConfig,
    CrossEntropyConfig, Error, NllConfig, Reduction,
};

use crate::{report, run, uniform, values};

/// The float types the kernels are instantiated for.
trait Real: WithDType {
    const FLOAT: Float;
    /// `(rel, abs)`.
    const TOLERANCE: (f64, f64);
}

impl Real for f32 {
    const FLOAT: Float = Float::F32;
    const TOLERANCE: (f64, f64) = (2e-5, 1e-6);
}

impl Real for f64 {
    const FLOAT: Float = Float::F64;
    const TOLERANCE: (f64, f64) = (1e-12, 1e-14);
}

/// Host memory as a kernel's buffer argument.
fn ptr<T>(values: &mut [T]) -> *mut c_void {
    values.as_mut_ptr().cast()
}

/// A fresh output buffer: NaN, so an element a kernel never writes fails the comparison.
fn unwritten<T: Real>(len: usize) -> Vec<T> {
    vec![T::from_f64(f64::NAN); len]
}

/// Per-class weights as `cuda.rs` uploads them: the given ones, or all ones.
fn class_weights<T: Real>(weight: Option<&[f64]>, n_classes: usize) -> Vec<T> {
    match weight {
        Some(weight) => weight.iter().map(|&w| T::from_f64(w)).collect(),
        None => vec![T::from_f64(1.0); n_classes],
    }
}

/// The kernel's error slot as `(row, code)`, `None` when nothing was flagged.
fn flagged(err: u64) -> Option<(usize, u64)> {
    (err != NO_ERROR).then_some(((err / 4) as usize, err % 4))
}

/// `|emulated − cpu| <= rel·|cpu| + abs`; false for NaN.
fn close(emulated: f64, cpu: f64, rel: f64, abs: f64) -> bool {
    (emulated - cpu).abs() <= rel * cpu.abs() + abs
}

/// What `emulated` came to against `cpu`: fails past `T::TOLERANCE`, else reports the largest difference.
fn check<T: Real>(what: &str, emulated: &[T], cpu: &[f64]) {
    let emulated: Vec<f64> = emulated.iter().map(|v| v.to_f64()).collect();
    let (rel, abs) = T::TOLERANCE;
    assert_eq!(emulated.len(), cpu.len(), "{what}: {} values, the CPU gave {}", emulated.len(), cpu.len());
    let bad: Vec<String> = emulated
        .iter()
        .zip(cpu)
        .enumerate()
        .filter(|&(_, (&e, &c))| !close(e, c, rel, abs))
        .take(8)
        .map(|(i, (e, c))| format!("  [{i}] cpu {c:e}, emulated {e:e}"))
        .collect();
    assert!(bad.is_empty(), "{what}: emulated CUDA kernel off (rel {rel:e}, abs {abs:e}):\n{}", bad.join("\n"));
    report(what, crate::max_abs_diff(&emulated, cpu), &format!("rel {rel:e} + abs {abs:e}"));
}

/// Value and gradient of `loss(x)` on the CPU for the upstream gradient `grad_out` (the loss's shape).
fn cpu_value_and_grad(x: &Tensor, grad_out: &Tensor, loss: impl Fn(&Tensor) -> Tensor) -> (Vec<f64>, Vec<f64>) {
    let var = Var::from_tensor(x).expect("var");
    let out = loss(var.as_tensor());
    let weighted = out.broadcast_mul(grad_out).and_then(|t| t.sum_all()).expect("loss · grad");
    let grads = weighted.backward().expect("backward");
    (values(&out), values(grads.get(&var).expect("a gradient")))
}

/// `(n_rows, n_classes)`: tiny, odd, rows longer than a block (256), more rows than a block, and random ones.
fn shapes(seed: u64) -> Vec<(usize, usize)> {
    let mut rng = Rng::new(seed);
    let mut shapes = vec![(1, 1), (3, 5), (7, 300), (64, 37), (300, 3), (2, 1000)];
    shapes.extend((0..2).map(|_| (1 + rng.below(40), 1 + rng.below(700))));
    shapes
}

fn tensor<T: WithDType>(values: &[T], shape: &[usize]) -> Tensor {
    Tensor::from_slice(values, shape, &Device::Cpu).expect("tensor")
}

fn logits<T: Real>(seed: u64, n: usize, scale: f64) -> Vec<T> {
    uniform(seed, n, -scale, scale).into_iter().map(T::from_f64).collect()
}

/// Class ids in `0..n_classes`, every fifth row the ignore index when `ignore` is set.
fn targets(seed: u64, n_rows: usize, n_classes: usize, ignore: Option<i64>) -> Vec<i64> {
    let mut rng = Rng::derive(seed, 1);
    (0..n_rows)
        .map(|row| match ignore {
            Some(index) if row % 5 == 1 => index,
            _ => rng.below(n_classes) as i64,
        })
        .collect()
}

/// The upstream gradient: one value per row for `Reduction::None`, else one value.
fn upstream<T: Real>(seed: u64, reduction: Reduction, n: usize) -> Vec<T> {
    let len = if reduction == Reduction::None { n } else { 1 };
    uniform(seed ^ 0x5eed, len, -1.0, 1.0).into_iter().map(T::from_f64).collect()
}

/// The options of one class-index loss run.
struct ClassCase<'a> {
    n_classes: usize,
    weight: Option<&'a [f64]>,
    smoothing: f64,
    ignore_index: Option<i64>,
    reduction: Reduction,
}

/// Cross-entropy as `cuda.rs` runs it: forward, `class_reduce`, backward. `Err` holds the flagged row and code.
fn emulate_cross_entropy<T: Real>(
    logits: &[T],
    targets: &[i64],
    case: &ClassCase<'_>,
    grad_out: &[T],
) -> Result<(Vec<T>, Vec<T>), (usize, u64)> {
    let (n_rows, n_classes) = (targets.len(), case.n_classes);
    let (mut logits, mut targets) = (logits.to_vec(), targets.to_vec());
    let mut weight = class_weights::<T>(case.weight, n_classes);
    let mut saved = vec![T::zero(); launch::saved_len(n_rows)];
    let mut part = vec![T::zero(); launch::part_len(n_rows)];
    let mut err = vec![NO_ERROR];
    let (smoothing, ignore, reduction) = (case.smoothing, case.ignore_index, case.reduction);
    let forward = launch::cross_entropy_fwd(
        T::FLOAT,
        ptr(&mut logits),
        ptr(&mut targets),
        ptr(&mut weight),
        n_rows,
        n_classes,
        smoothing,
        ignore,
        ptr(&mut saved),
        ptr(&mut part),
        ptr(&mut err),
    )
    .expect("launchable sizes");
    // SAFETY: every buffer has the length losses.cu indexes for n_rows × n_classes (as cuda.rs allocates them).
    unsafe { run(forward) };
    if let Some(flag) = flagged(err[0]) {
        return Err(flag);
    }
    let mut loss = vec![T::zero(); if reduction == Reduction::None { n_rows } else { 1 }];
    let reduce = launch::class_reduce(
        T::FLOAT,
        ptr(&mut part),
        n_rows,
        n_classes,
        smoothing,
        reduction,
        ptr(&mut loss),
        ptr(&mut saved),
    )
    .expect("launchable sizes");
    // SAFETY: as above.
    unsafe { run(reduce) };
    let mut grad = grad_out.to_vec();
    let mut dx = unwritten::<T>(n_rows * n_classes);
    let backward = launch::cross_entropy_bwd(
        T::FLOAT,
        ptr(&mut logits),
        ptr(&mut targets),
        ptr(&mut weight),
        ptr(&mut grad),
        grad_out.len() > 1,
        ptr(&mut saved),
        n_rows,
        n_classes,
        smoothing,
        ignore,
        reduction,
        ptr(&mut dx),
    )
    .expect("launchable sizes");
    // SAFETY: as above.
    unsafe { run(backward) };
    Ok((loss, dx))
}

/// NLL as `cuda.rs` runs it: forward, `class_reduce`, backward with the saved normalisers.
fn emulate_nll<T: Real>(
    log_probs: &[T],
    targets: &[i64],
    case: &ClassCase<'_>,
    grad_out: &[T],
) -> Result<(Vec<T>, Vec<T>), (usize, u64)> {
    let (n_rows, n_classes) = (targets.len(), case.n_classes);
    let (mut log_probs, mut targets) = (log_probs.to_vec(), targets.to_vec());
    let mut weight = class_weights::<T>(case.weight, n_classes);
    let mut saved = vec![T::zero(); launch::saved_len(n_rows)];
    let mut part = vec![T::zero(); launch::part_len(n_rows)];
    let mut err = vec![NO_ERROR];
    let (ignore, reduction) = (case.ignore_index, case.reduction);
    let forward = launch::nll_fwd(
        T::FLOAT,
        ptr(&mut log_probs),
        ptr(&mut targets),
        ptr(&mut weight),
        n_rows,
        n_classes,
        ignore,
        ptr(&mut part),
        ptr(&mut err),
    )
    .expect("launchable sizes");
    // SAFETY: every buffer has the length losses.cu indexes (as cuda.rs allocates them).
    unsafe { run(forward) };
    if let Some(flag) = flagged(err[0]) {
        return Err(flag);
    }
    let mut loss = vec![T::zero(); if reduction == Reduction::None { n_rows } else { 1 }];
    let reduce = launch::class_reduce(
        T::FLOAT,
        ptr(&mut part),
        n_rows,
        n_classes,
        0.0,
        reduction,
        ptr(&mut loss),
        ptr(&mut saved),
    )
    .expect("launchable sizes");
    // SAFETY: as above.
    unsafe { run(reduce) };
    let mut grad = grad_out.to_vec();
    let mut dx = unwritten::<T>(n_rows * n_classes);
    let norm = ptr(&mut saved[2 * n_rows..]);
    let backward = launch::nll_bwd(
        T::FLOAT,
        ptr(&mut targets),
        ptr(&mut weight),
        ptr(&mut grad),
        grad_out.len() > 1,
        norm,
        n_rows,
        n_classes,
        ignore,
        reduction,
        ptr(&mut dx),
    )
    .expect("launchable sizes");
    // SAFETY: as above; `norm` is the last two values of `saved`.
    unsafe { run(backward) };
    Ok((loss, dx))
}

fn cross_entropy_and_nll<T: Real>(seed: u64) {
    let dtype = T::DTYPE;
    for (n_rows, n_classes) in shapes(seed) {
        let x = logits::<T>(seed + n_rows as u64, n_rows * n_classes, 8.0);
        let weight: Vec<f64> = (0..n_classes).map(|k| 0.5 + (k % 3) as f64).collect();
        for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
            for (smoothing, weight, ignore) in [(0.0, None, None), (0.1, Some(&weight[..]), Some(-100))] {
                let case = ClassCase { n_classes, weight, smoothing, ignore_index: ignore, reduction };
                let t = targets(seed, n_rows, n_classes, ignore);
                let grad = upstream::<T>(seed, reduction, n_rows);
                let what = format!("{dtype:?} {n_rows}x{n_classes} {reduction:?} eps {smoothing}");
                let config = CrossEntropyConfig {
                    reduction,
                    weight: weight.map(<[f64]>::to_vec),
                    ignore_index: ignore.or(Some(-100)),
                    label_smoothing: smoothing,
                };
                let (targets_t, grad_t) = (tensor(&t, &[n_rows]), tensor(&grad, &upstream_shape(reduction, n_rows)));
                let (value, dx) = cpu_value_and_grad(&tensor(&x, &[n_rows, n_classes]), &grad_t, |x| {
                    cross_entropy_with(x, &targets_t, &config).expect("CPU cross-entropy")
                });
                let (emu_value, emu_dx) = emulate_cross_entropy(&x, &t, &case, &grad).expect("no bad input");
                check(&format!("cross_entropy_fwd+class_reduce {what}"), &emu_value, &value);
                check(&format!("cross_entropy_bwd {what}"), &emu_dx, &dx);

                // NLL of the CPU's log-softmax of the same logits (no label smoothing in NLL).
                let log_probs_t = log_softmax(&tensor(&x, &[n_rows, n_classes]), 1).expect("log_softmax");
                let log_probs: Vec<T> = log_probs_t.flatten_all().and_then(|t| t.to_vec1()).expect("values");
                let nll_config =
                    NllConfig { reduction, weight: weight.map(<[f64]>::to_vec), ignore_index: config.ignore_index };
                let (value, dx) = cpu_value_and_grad(&log_probs_t, &grad_t, |lp| {
                    nll_loss_with(lp, &targets_t, &nll_config).expect("CPU NLL")
                });
                let (emu_value, emu_dx) = emulate_nll(&log_probs, &t, &case, &grad).expect("no bad input");
                check(&format!("nll_fwd+class_reduce {what}"), &emu_value, &value);
                check(&format!("nll_bwd {what}"), &emu_dx, &dx);
            }
        }
    }
}

fn upstream_shape(reduction: Reduction, n: usize) -> Vec<usize> {
    if reduction == Reduction::None {
        vec![n]
    } else {
        vec![]
    }
}

#[test]
fn cross_entropy_and_nll_f32_match_the_cpu() {
    cross_entropy_and_nll::<f32>(11);
}

#[test]
fn cross_entropy_and_nll_f64_match_the_cpu() {
    cross_entropy_and_nll::<f64>(12);
}

/// Softmax (or log-softmax) forward and backward as `cuda.rs` runs them.
fn emulate_softmax<T: Real>(x: &[T], n_cols: usize, log: bool, grad: &[T]) -> Result<(Vec<T>, Vec<T>), (usize, u64)> {
    let n_rows = x.len() / n_cols;
    let (mut x, mut y, mut err) = (x.to_vec(), unwritten::<T>(x.len()), vec![NO_ERROR]);
    let forward = launch::softmax_fwd(T::FLOAT, ptr(&mut x), ptr(&mut y), n_rows, n_cols, log, ptr(&mut err))
        .expect("launchable sizes");
    // SAFETY: x and y hold n_rows × n_cols values, err one.
    unsafe { run(forward) };
    if let Some(flag) = flagged(err[0]) {
        return Err(flag);
    }
    let (mut g, mut dx) = (grad.to_vec(), unwritten::<T>(x.len()));
    let backward = launch::softmax_bwd(T::FLOAT, ptr(&mut y), ptr(&mut g), ptr(&mut dx), n_rows, n_cols, log)
        .expect("launchable sizes");
    // SAFETY: as above.
    unsafe { run(backward) };
    Ok((y, dx))
}

fn softmaxes<T: Real>(seed: u64) {
    for (n_rows, n_cols) in shapes(seed) {
        let x = logits::<T>(seed + n_cols as u64, n_rows * n_cols, 20.0);
        let g = logits::<T>(seed + 1, n_rows * n_cols, 1.0);
        let (x_t, g_t) = (tensor(&x, &[n_rows, n_cols]), tensor(&g, &[n_rows, n_cols]));
        for log in [false, true] {
            let what = format!("{:?} {n_rows}x{n_cols} log {log}", T::DTYPE);
            let (value, dx) = cpu_value_and_grad(&x_t, &g_t, |x| {
                if log { log_softmax(x, 1) } else { softmax(x, 1) }.expect("CPU softmax")
            });
            let (emu_value, emu_dx) = emulate_softmax(&x, n_cols, log, &g).expect("no bad input");
            check(&format!("softmax_fwd {what}"), &emu_value, &value);
            check(&format!("softmax_bwd {what}"), &emu_dx, &dx);
        }
    }
}

#[test]
fn softmax_f32_matches_the_cpu() {
    softmaxes::<f32>(21);
}

#[test]
fn softmax_f64_matches_the_cpu() {
    softmaxes::<f64>(22);
}

/// Per-class weights of one BCE run.
struct BinaryCase<'a> {
    n_classes: usize,
    weight: Option<&'a [f64]>,
    pos_weight: Option<&'a [f64]>,
    reduction: Reduction,
}

/// BCE with logits as `cuda.rs` runs it: per-element forward, `sum_reduce` unless `Reduction::None`, backward.
fn emulate_bce<T: Real>(
    logits: &[T],
    targets: &[T],
    case: &BinaryCase<'_>,
    grad_out: &[T],
) -> Result<(Vec<T>, Vec<T>), (usize, u64)> {
    let (n, n_classes) = (logits.len(), case.n_classes);
    let (mut logits, mut targets) = (logits.to_vec(), targets.to_vec());
    let mut weight = class_weights::<T>(case.weight, n_classes);
    let mut pos_weight = class_weights::<T>(case.pos_weight, n_classes);
    let (mut per_element, mut err) = (unwritten::<T>(n), vec![NO_ERROR]);
    let forward = launch::bce_fwd(
        T::FLOAT,
        ptr(&mut logits),
        ptr(&mut targets),
        ptr(&mut weight),
        ptr(&mut pos_weight),
        n,
        n_classes,
        ptr(&mut per_element),
        ptr(&mut err),
    )
    .expect("launchable sizes");
    // SAFETY: n logits, targets and losses, n_classes weights, one error slot.
    unsafe { run(forward) };
    if let Some(flag) = flagged(err[0]) {
        return Err(flag);
    }
    let mean = 1.0 / n as f64;
    let loss = match case.reduction {
        Reduction::None => per_element,
        reduction => {
            let mut total = vec![T::zero()];
            let scale = if reduction == Reduction::Mean { mean } else { 1.0 };
            // SAFETY: n values in, one out.
            unsafe {
                run(launch::sum_reduce(T::FLOAT, ptr(&mut per_element), n, scale, ptr(&mut total))
                    .expect("launchable sizes"))
            };
            total
        }
    };
    let (mut grad, mut dx) = (grad_out.to_vec(), unwritten::<T>(n));
    let scale = if case.reduction == Reduction::Mean { mean } else { 1.0 };
    let backward = launch::bce_bwd(
        T::FLOAT,
        ptr(&mut logits),
        ptr(&mut targets),
        ptr(&mut weight),
        ptr(&mut pos_weight),
        ptr(&mut grad),
        grad_out.len() > 1,
        n,
        n_classes,
        scale,
        ptr(&mut dx),
    )
    .expect("launchable sizes");
    // SAFETY: as above.
    unsafe { run(backward) };
    Ok((loss, dx))
}

fn binary_cross_entropies<T: Real>(seed: u64) {
    for (n_rows, n_classes) in shapes(seed) {
        let n = n_rows * n_classes;
        let x = logits::<T>(seed + n as u64, n, 12.0);
        // 0/1 targets, and soft ones in every third element.
        let y: Vec<T> = uniform(seed + 7, n, 0.0, 1.0)
            .iter()
            .enumerate()
            .map(|(i, &u)| T::from_f64(if i % 3 == 0 { u } else { u.round() }))
            .collect();
        let weight: Vec<f64> = (0..n_classes).map(|k| 0.25 + (k % 5) as f64 * 0.5).collect();
        let pos_weight: Vec<f64> = (0..n_classes).map(|k| 1.0 + (k % 4) as f64).collect();
        for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
            for (weight, pos_weight) in [(None, None), (Some(&weight[..]), Some(&pos_weight[..]))] {
                let case = BinaryCase { n_classes, weight, pos_weight, reduction };
                let grad = upstream::<T>(seed, reduction, n);
                let grad_shape = if reduction == Reduction::None { vec![n_rows, n_classes] } else { vec![] };
                let config = BceConfig {
                    reduction,
                    weight: weight.map(<[f64]>::to_vec),
                    pos_weight: pos_weight.map(<[f64]>::to_vec),
                };
                let y_t = tensor(&y, &[n_rows, n_classes]);
                let (value, dx) =
                    cpu_value_and_grad(&tensor(&x, &[n_rows, n_classes]), &tensor(&grad, &grad_shape), |x| {
                        binary_cross_entropy_with_logits(x, &y_t, &config).expect("CPU BCE")
                    });
                let (emu_value, emu_dx) = emulate_bce(&x, &y, &case, &grad).expect("no bad input");
                let what = format!("{:?} {n_rows}x{n_classes} {reduction:?} weights {}", T::DTYPE, weight.is_some());
                check(&format!("bce_fwd+sum_reduce {what}"), &emu_value, &value);
                check(&format!("bce_bwd {what}"), &emu_dx, &dx);
            }
        }
    }
}

#[test]
fn bce_with_logits_f32_matches_the_cpu() {
    binary_cross_entropies::<f32>(31);
}

#[test]
fn bce_with_logits_f64_matches_the_cpu() {
    binary_cross_entropies::<f64>(32);
}

/// The row and code a CPU error names (1: target out of range, 2: NaN / +inf / all -inf).
fn row_and_code(error: Error) -> (usize, u64) {
    match error {
        Error::TargetOutOfRange { row, .. } => (row, 1),
        Error::NonFiniteLogits { row, .. } => (row, 2),
        other => panic!("not a row error: {other}"),
    }
}

#[test]
fn bad_rows_are_flagged_as_the_cpu_reports_them() {
    let (n_rows, n_classes) = (9, 300);
    let clean = logits::<f32>(41, n_rows * n_classes, 4.0);
    let mut t = targets(41, n_rows, n_classes, None);
    t[7] = n_classes as i64;
    let mut bad = clean.clone();
    bad[6 * n_classes + 299] = f32::NAN;
    bad[4 * n_classes + 17] = f32::INFINITY;
    let t_t = tensor(&t, &[n_rows]);
    let case =
        ClassCase { n_classes, weight: None, smoothing: 0.1, ignore_index: Some(-100), reduction: Reduction::Mean };
    let config = CrossEntropyConfig { label_smoothing: 0.1, ..Default::default() };
    // Rows 4 (+inf) and 6 (NaN) and the target of row 7, then the target alone: the lowest bad row wins.
    for x in [&bad, &clean] {
        let cpu = cross_entropy_with(&tensor(x, &[n_rows, n_classes]), &t_t, &config).expect_err("bad input");
        let emulated = emulate_cross_entropy(x, &t, &case, &[1.0]).expect_err("bad input");
        assert_eq!(emulated, row_and_code(cpu), "cross_entropy_fwd's flag (row, code) against the CPU's error");
    }
    let bad_t = tensor(&bad, &[n_rows, n_classes]);
    let cpu = row_and_code(softmax(&bad_t, 1).expect_err("bad input"));
    assert_eq!(emulate_softmax(&bad, n_classes, false, &clean).expect_err("bad input"), cpu, "softmax_fwd's flag");
    let mut log_probs = clean.clone();
    log_probs[3 * n_classes + t[3] as usize] = f32::NAN;
    let nll = nll_loss_with(&tensor(&log_probs, &[n_rows, n_classes]), &t_t, &NllConfig::default());
    let cpu = row_and_code(nll.expect_err("bad input"));
    assert_eq!(emulate_nll(&log_probs, &t, &case, &[1.0]).expect_err("bad input"), cpu, "nll_fwd's flag");
    let y = vec![1.0f32; bad.len()];
    let binary = BinaryCase { n_classes, weight: None, pos_weight: None, reduction: Reduction::Sum };
    let bce = binary_cross_entropy_with_logits(&bad_t, &tensor(&y, &[n_rows, n_classes]), &BceConfig::default());
    let cpu = row_and_code(bce.expect_err("bad input"));
    assert_eq!(emulate_bce(&bad, &y, &binary, &[1.0]).expect_err("bad input"), cpu, "bce_fwd's flag");
}

#[test]
fn launches_use_one_block_per_row_and_every_element_otherwise() {
    // The geometry alone: `()` for every buffer.
    let rows = launch::softmax_fwd(Float::F32, (), (), 1000, 7, false, ()).expect("launchable sizes");
    assert_eq!((rows.kernel.as_str(), rows.grid, rows.block), ("softmax_fwd_f32", 1000, launch::BLOCK));
    let elements = launch::bce_bwd(Float::F64, (), (), (), (), (), true, 513, 3, 0.5, ()).expect("launchable sizes");
    assert_eq!((elements.kernel.as_str(), elements.grid), ("bce_bwd_f64", 3));
    assert_eq!(elements.args[8], Arg::F64(0.5), "bce_bwd_f64 takes its scale as a double");
}
