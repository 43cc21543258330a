//! Numerical stability: exact at ±1e4 logits, no NaN or inf anywhere for finite input, parallel = sequential.

use candle::{DType, Device, Tensor, Var};
use fastvision_losses::{cross_entropy, cross_entropy_with, log_softmax, softmax, CrossEntropyConfig, Reduction};

use crate::{random_logits, random_targets, values};
use fastvision_core::testing::{assert_close, Tolerance};

#[test]
fn extreme_logits_give_exact_finite_losses_and_gradients() {
    for dtype in [DType::F32, DType::F64] {
        let x = Tensor::new(
            &[[1e4f64, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 1e4], [1e4, 1e4 - 1.0, -1e4], [-1e4, 1e4, 1e4]],
            &Device::Cpu,
        )
        .and_then(|t| t.to_dtype(dtype))
        .expect("logits");
        let t = Tensor::new(&[1u32, 2, 0, 1, 0], &Device::Cpu).expect("targets");
        let loss = cross_entropy(&x, &t, Reduction::None).expect("loss");
        let ln3 = 3.0f64.ln();
        let expected = [2e4, ln3, ln3, 1.0 + (1.0 + (-1.0f64).exp()).ln(), 2e4 + 2.0f64.ln()];
        assert_close(
            &values(&loss),
            &expected,
            Tolerance { abs: 0.0, rel: 1e-7 },
            &format!("{dtype:?} losses at ±1e4"),
        );
        let var = Var::from_tensor(&x).expect("var");
        let config = CrossEntropyConfig { label_smoothing: 0.1, ..CrossEntropyConfig::default() };
        let grads = cross_entropy_with(var.as_tensor(), &t, &config).expect("loss").backward().expect("grads");
        let grad = values(grads.get(&var).expect("grad"));
        assert!(grad.iter().all(|g| g.is_finite()), "{dtype:?}: non-finite gradient {grad:?}");
        let probs = values(&softmax(&x, 1).expect("softmax"));
        assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "{dtype:?}: {probs:?}");
        assert_eq!(&probs[..3], &[1.0, 0.0, 0.0]);
        let log_probs = values(&log_softmax(&x, 1).expect("log_softmax"));
        assert!(log_probs.iter().all(|v| v.is_finite()), "{dtype:?}: {log_probs:?}");
        assert_eq!(&log_probs[..3], &[0.0, -2e4, -1e4]);
    }
}

#[test]
fn float32_agrees_with_float64_on_wide_random_logits() {
    let x = random_logits(61, 32, 1000, 50.0, DType::F64);
    let t = random_targets(61, 32, 1000);
    let reference = values(&cross_entropy(&x, &t, Reduction::None).expect("f64"));
    let x32 = x.to_dtype(DType::F32).expect("f32");
    // Relative to the f32 inputs (the f64 logits rounded to f32 differ by up to 2^-24·50 each).
    let x_rounded = x32.to_dtype(DType::F64).expect("widened");
    let reference_rounded = values(&cross_entropy(&x_rounded, &t, Reduction::None).expect("f64 of f32 inputs"));
    let actual = values(&cross_entropy(&x32, &t, Reduction::None).expect("f32"));
    assert_close(&actual, &reference_rounded, Tolerance { abs: 0.0, rel: 1e-6 }, "f32 vs f64 on the same inputs");
    assert_close(&actual, &reference, Tolerance { abs: 0.0, rel: 1e-4 }, "f32 vs f64 of the unrounded inputs");
}

#[test]
fn the_parallel_path_matches_row_by_row_results_bit_for_bit() {
    // 700 × 100 logits exceed the rayon threshold; each row computed alone (1 × 100) must give the same bits.
    let (n, c) = (700, 100);
    let x = random_logits(62, n, c, 10.0, DType::F32);
    let t = random_targets(62, n, c);
    let batched = values(&cross_entropy(&x, &t, Reduction::None).expect("batched"));
    let batched_softmax = values(&softmax(&x, 1).expect("batched softmax"));
    for row in [0, 1, 350, 699] {
        let x_row = x.narrow(0, row, 1).expect("row");
        let t_row = t.narrow(0, row, 1).expect("row target");
        let alone = values(&cross_entropy(&x_row, &t_row, Reduction::None).expect("alone"));
        assert_eq!(alone[0].to_bits(), batched[row].to_bits(), "row {row}");
        let alone_softmax = values(&softmax(&x_row, 1).expect("alone softmax"));
        assert_eq!(alone_softmax, batched_softmax[row * c..(row + 1) * c], "softmax row {row}");
    }
}
