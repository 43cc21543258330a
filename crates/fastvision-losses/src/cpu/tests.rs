//! The AVX2 and SSE2 builds of every row kernel give the same bits, so results do not depend on the machine.

use fastvision_core::rng::Rng;

use super::*;

fn random_rows(seed: u64, n_rows: usize, n_cols: usize) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::new(seed);
    let logits = (0..n_rows * n_cols).map(|_| rng.uniform(-30.0, 30.0) as f32).collect();
    let targets = (0..n_rows).map(|_| rng.below(n_cols) as i64).collect();
    (logits, targets)
}

fn params(n_classes: usize, smoothing: f64) -> ClassParams {
    ClassParams { n_classes, weight: None, ignore_index: None, smoothing, reduction: Reduction::Mean }
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn avx2_and_baseline_builds_agree_bit_for_bit() {
    for n_cols in [3, 8, 37, 1000] {
        let n_rows = 6;
        let (logits, targets) = random_rows(n_cols as u64, n_rows, n_cols);
        for log in [false, true] {
            let (mut fast, mut base) = (vec![0.0f32; logits.len()], vec![0.0f32; logits.len()]);
            softmax_block(&logits, n_cols, log, 0, &mut fast).expect("finite rows");
            softmax_block_baseline(&logits, n_cols, log, 0, &mut base).expect("finite rows");
            assert_eq!(bits(&fast), bits(&base), "softmax log={log} n_cols={n_cols}");
            let (mut fast_grad, mut base_grad) = (vec![0.0f32; logits.len()], vec![0.0f32; logits.len()]);
            softmax_bwd_block(&fast, &logits, n_cols, log, 0, &mut fast_grad);
            softmax_bwd_block_baseline(&fast, &logits, n_cols, log, 0, &mut base_grad);
            assert_eq!(bits(&fast_grad), bits(&base_grad), "softmax backward log={log} n_cols={n_cols}");
        }
        for smoothing in [0.0, 0.1] {
            let params = params(n_cols, smoothing);
            let (mut fast, mut base) = (vec![RowLoss::default(); n_rows], vec![RowLoss::default(); n_rows]);
            let (mut fast_exps, mut base_exps) = (vec![0.0f32; logits.len()], vec![0.0f32; logits.len()]);
            for keep in [false, true] {
                let fast_out = keep.then_some(fast_exps.as_mut_slice());
                cross_entropy_block(&logits, &targets, &params, 0, &mut fast, fast_out).expect("valid rows");
                let base_out = keep.then_some(base_exps.as_mut_slice());
                cross_entropy_block_baseline(&logits, &targets, &params, 0, &mut base, base_out).expect("valid rows");
                for (row, (a, b)) in fast.iter().zip(&base).enumerate() {
                    let key = |r: &RowLoss| [r.max, r.log_total, r.nll, r.smooth].map(f64::to_bits);
                    assert_eq!(key(a), key(b), "cross-entropy row {row}, n_cols={n_cols}, eps={smoothing}");
                }
            }
            assert_eq!(bits(&fast_exps), bits(&base_exps), "kept exponentials n_cols={n_cols}");
            let (_, saved) = combine_rows::<f32>(&fast, &params);
            let grad_out = [1.0f32];
            let mut grads = Vec::new();
            for exps in [None, Some(fast_exps.as_slice())] {
                let inputs = BackwardInputs {
                    logits: &logits,
                    targets: &targets,
                    grad_out: &grad_out,
                    saved: &saved,
                    exps,
                    normalisers: (n_rows as f64, n_rows as f64),
                };
                let (mut fast_grad, mut base_grad) = (vec![0.0f32; logits.len()], vec![0.0f32; logits.len()]);
                cross_entropy_bwd_block(&inputs, &params, 0, &mut fast_grad);
                cross_entropy_bwd_block_baseline(&inputs, &params, 0, &mut base_grad);
                assert_eq!(bits(&fast_grad), bits(&base_grad), "cross-entropy backward n_cols={n_cols}");
                grads.push(fast_grad);
            }
            // Recomputing the exponentials and scaling the kept ones give the same gradient up to rounding.
            for (index, (recomputed, kept)) in grads[0].iter().zip(&grads[1]).enumerate() {
                let tolerance = 1e-6 * recomputed.abs().max(1.0 / n_rows as f32);
                assert!((recomputed - kept).abs() <= tolerance, "[{index}] recomputed {recomputed} vs kept {kept}");
            }
        }
    }
}
