//! Seeded random tensors, finite differences and tolerance checks shared by the tests.

use candle::{DType, Device, Tensor, Var};
use fastvision_core::rng::Rng;
use fastvision_ops::{Activation, BatchNormConfig};

/// A tensor of uniform values in [-1, 1) drawn from `seed`.
pub fn random(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let data: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    Tensor::from_vec(data, shape, &Device::Cpu).and_then(|t| t.to_dtype(dtype)).expect("random tensor")
}

/// A variable holding [`random`] values.
pub fn random_var(shape: &[usize], dtype: DType, seed: u64) -> Var {
    Var::from_tensor(&random(shape, dtype, seed)).expect("random var")
}

pub fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f64>()).expect("values")
}

/// Asserts `|got - want| <= tol · (1 + max |want|)` elementwise, printing the worst element on failure; returns the
/// largest relative error.
pub fn assert_close(got: &Tensor, want: &Tensor, tol: f64, what: &str) -> f64 {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    let (g, w) = (to_f64(got), to_f64(want));
    let scale = 1.0 + w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (worst, idx) = g.iter().zip(&w).enumerate().fold((0.0f64, 0), |(m, mi), (i, (a, b))| {
        let e = (a - b).abs() / scale;
        if e > m {
            (e, i)
        } else {
            (m, mi)
        }
    });
    assert!(worst <= tol, "{what}: element {idx} got {} want {} (relative error {worst:e} > {tol:e})", g[idx], w[idx]);
    worst
}

/// Central finite-difference gradient of the scalar `loss` with respect to every element of `var` (f64).
pub fn numeric_grad(var: &Var, step: f64, loss: impl Fn() -> f64) -> Vec<f64> {
    let base = to_f64(var.as_tensor());
    let shape = var.shape().clone();
    (0..base.len())
        .map(|i| {
            let mut plus = base.clone();
            plus[i] += step;
            var.set(&Tensor::from_vec(plus, shape.clone(), &Device::Cpu).expect("plus")).expect("set");
            let up = loss();
            let mut minus = base.clone();
            minus[i] -= step;
            var.set(&Tensor::from_vec(minus, shape.clone(), &Device::Cpu).expect("minus")).expect("set");
            let down = loss();
            var.set(&Tensor::from_vec(base.clone(), shape.clone(), &Device::Cpu).expect("base")).expect("set");
            (up - down) / (2.0 * step)
        })
        .collect()
}

/// `Σ y · weights`: a scalar loss whose gradient with respect to `y` is `weights`.
pub fn weighted_sum(y: &Tensor, weights: &Tensor) -> Tensor {
    y.mul(weights).and_then(|t| t.sum_all()).expect("loss")
}

pub fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).and_then(|t| t.to_scalar::<f64>()).expect("scalar")
}

/// PyTorch's BatchNorm settings (eps 1e-5), with ReLU fused when `relu`.
pub fn bn_config(relu: bool) -> BatchNormConfig {
    let activation = if relu { Activation::Relu } else { Activation::Identity };
    BatchNormConfig { activation, ..BatchNormConfig::default() }
}
