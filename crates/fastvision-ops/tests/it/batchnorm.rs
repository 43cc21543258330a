//! Fused BatchNorm(+ReLU) against the unfused candle composition (forward, statistics, autograd) and against finite
//! differences.

use candle::{DType, Tensor, Var};
use fastvision_ops::{batch_norm_eval, batch_norm_train, Error};

use crate::common::{assert_close, bn_config, numeric_grad, random, random_var, scalar, to_f64, weighted_sum};

const EPS: f64 = 1e-5;

/// PyTorch's training BatchNorm written out in candle ops: biased batch variance, eps inside the square root.
fn reference_train(xs: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> (Tensor, Tensor, Tensor) {
    let shape: Vec<usize> = (0..xs.rank()).map(|d| if d == 1 { xs.dims()[1] } else { 1 }).collect();
    let reduce: Vec<usize> = (0..xs.rank()).filter(|&d| d != 1).collect();
    let mean = xs.mean_keepdim(reduce.as_slice()).expect("mean");
    let centered = xs.broadcast_sub(&mean).expect("center");
    let var = centered.sqr().and_then(|v| v.mean_keepdim(reduce.as_slice())).expect("var");
    let xhat = centered.broadcast_div(&(&var + EPS).and_then(|v| v.sqrt()).expect("std")).expect("xhat");
    let y = xhat
        .broadcast_mul(&w.reshape(shape.as_slice()).expect("w"))
        .and_then(|y| y.broadcast_add(&b.reshape(shape.as_slice()).expect("b")))
        .expect("affine");
    let y = if relu { y.relu().expect("relu") } else { y };
    (y, mean.flatten_all().expect("mean"), var.flatten_all().expect("var"))
}

#[test]
fn training_forward_stats_and_gradients_match_the_composition() {
    let shapes: [&[usize]; 4] = [&[4, 3, 5, 6], &[2, 8, 4, 4], &[1, 5, 3, 7], &[6, 7]];
    for (i, shape) in shapes.iter().enumerate() {
        for relu in [false, true] {
            for (dtype, tol) in [(DType::F32, 2e-5), (DType::F64, 1e-12)] {
                let seed = 10 * i as u64;
                let c = shape[1];
                // Offset inputs: statistics must not lose precision when the mean is large against the spread.
                let x = Var::from_tensor(&random(shape, dtype, seed).affine(3.0, 2.0).expect("x")).expect("var");
                let w = random_var(&[c], dtype, seed + 1);
                let b = random_var(&[c], dtype, seed + 2);
                let (y, stats) = batch_norm_train(&x, &w, &b, &bn_config(relu)).expect("fused");
                let (y_ref, mean_ref, var_ref) = reference_train(&x, &w, &b, relu);
                let what = format!("{shape:?} relu {relu} {dtype:?}");
                assert_close(&y, &y_ref, tol, &format!("forward {what}"));
                assert_close(&stats.mean, &mean_ref, tol, &format!("mean {what}"));
                assert_close(&stats.var, &var_ref, tol, &format!("var {what}"));
                let r = random(shape, dtype, seed + 3);
                let g = weighted_sum(&y, &r).backward().expect("fused backward");
                let g_ref = weighted_sum(&y_ref, &r).backward().expect("reference backward");
                for (var, name) in [(&x, "x"), (&w, "weight"), (&b, "bias")] {
                    let (a, e) = (g.get(var).expect("fused grad"), g_ref.get(var).expect("reference grad"));
                    assert_close(a, e, tol * 10.0, &format!("{name} grad {what}"));
                }
            }
        }
    }
}

#[test]
fn unbiased_variance_and_count() {
    let x = Tensor::new(&[[1f64, 10.0], [3.0, 20.0], [5.0, 30.0]], &candle::Device::Cpu).expect("x");
    let ones = Tensor::ones(2, DType::F64, &candle::Device::Cpu).expect("ones");
    let zeros = Tensor::zeros(2, DType::F64, &candle::Device::Cpu).expect("zeros");
    let (_, stats) = batch_norm_train(&x, &ones, &zeros, &bn_config(false)).expect("fused");
    assert_eq!(stats.count, 3);
    assert_eq!(to_f64(&stats.var), [8.0 / 3.0, 200.0 / 3.0]);
    assert_eq!(to_f64(&stats.unbiased_var().expect("unbiased")), [4.0, 100.0]);
}

#[test]
fn training_gradients_match_finite_differences() {
    for relu in [false, true] {
        let x = random_var(&[3, 2, 2, 3], DType::F64, 50);
        let w = random_var(&[2], DType::F64, 51);
        let b = random_var(&[2], DType::F64, 52);
        let r = random(&[3, 2, 2, 3], DType::F64, 53);
        let loss = || scalar(&weighted_sum(&batch_norm_train(&x, &w, &b, &bn_config(relu)).expect("fwd").0, &r));
        let (y, _) = batch_norm_train(&x, &w, &b, &bn_config(relu)).expect("forward");
        let grads = weighted_sum(&y, &r).backward().expect("backward");
        for (var, what) in [(&x, "x"), (&w, "weight"), (&b, "bias")] {
            let numeric = numeric_grad(var, 1e-6, loss);
            let analytic = to_f64(grads.get(var).expect("grad"));
            for (j, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
                assert!((a - n).abs() < 1e-6, "relu {relu} {what}[{j}]: analytic {a}, numeric {n}");
            }
        }
    }
}

#[test]
fn eval_matches_the_composition_with_gradients() {
    for relu in [false, true] {
        let x = random_var(&[3, 4, 3, 5], DType::F32, 60);
        let w = random_var(&[4], DType::F32, 61);
        let b = random_var(&[4], DType::F32, 62);
        let rm = random(&[4], DType::F32, 63);
        let rv = (random(&[4], DType::F32, 64).abs().expect("abs") + 0.5).expect("rv");
        let y = batch_norm_eval(&x, &w, &b, &rm, &rv, &bn_config(relu)).expect("fused");
        let shape = [1, 4, 1, 1];
        let scale = w.broadcast_div(&(&rv + EPS).and_then(|v| v.sqrt()).expect("std")).expect("scale");
        let y_ref = x
            .broadcast_sub(&rm.reshape(&shape).expect("rm"))
            .and_then(|t| t.broadcast_mul(&scale.reshape(&shape).expect("scale")))
            .and_then(|t| t.broadcast_add(&b.reshape(&shape).expect("b")))
            .expect("reference");
        let y_ref = if relu { y_ref.relu().expect("relu") } else { y_ref };
        assert_close(&y, &y_ref, 1e-6, &format!("eval forward relu {relu}"));
        let r = random(&[3, 4, 3, 5], DType::F32, 65);
        let g = weighted_sum(&y, &r).backward().expect("backward");
        let g_ref = weighted_sum(&y_ref, &r).backward().expect("reference backward");
        for (var, what) in [(&x, "x"), (&w, "weight"), (&b, "bias")] {
            assert_close(g.get(var).expect("grad"), g_ref.get(var).expect("ref"), 1e-5, &format!("eval {what} grad"));
        }
    }
}

#[test]
fn half_precision_falls_back_to_the_composition() {
    let x = random(&[2, 3, 4, 4], DType::F32, 70);
    let w = random(&[3], DType::F32, 71);
    let b = random(&[3], DType::F32, 72);
    let half = |t: &Tensor| t.to_dtype(DType::BF16).expect("bf16");
    let (y, stats) = batch_norm_train(&half(&x), &half(&w), &half(&b), &bn_config(true)).expect("bf16");
    assert_eq!(y.dtype(), DType::BF16);
    assert_eq!(stats.mean.dtype(), DType::BF16);
    let (y_ref, _, _) = reference_train(&x, &w, &b, true);
    assert_close(&y, &y_ref, 3e-2, "bf16 fallback");
}

#[test]
fn bad_inputs_are_errors() {
    let x = random(&[2, 3, 4, 4], DType::F32, 80);
    let c3 = random(&[3], DType::F32, 81);
    let c4 = random(&[4], DType::F32, 82);
    let one = random(&[1, 3], DType::F32, 83);
    assert!(matches!(batch_norm_train(&x, &c4, &c3, &bn_config(false)), Err(Error::Shape { .. })));
    assert!(matches!(batch_norm_train(&x, &c3, &c3, &bn_config(false).with_eps(-1.0)), Err(Error::Parameter { .. })));
    assert!(matches!(batch_norm_train(&one, &c3, &c3, &bn_config(false)), Err(Error::Shape { .. })));
    let c3d = c3.to_dtype(DType::F64).expect("f64");
    assert!(matches!(batch_norm_train(&x, &c3d, &c3, &bn_config(false)), Err(Error::Mismatch { .. })));
    assert!(matches!(batch_norm_eval(&x, &c3, &c3, &c3, &c4, &bn_config(false)), Err(Error::Shape { .. })));
}
