//! Pooling gradients against central finite differences (f64), through the public functions.

use candle::{DType, Device, Tensor, Var};
use fastvision_models::{adaptive_concat_pool2d, max_pool2d};

fn random(shape: (usize, usize, usize, usize), seed: u64) -> Tensor {
    let mut rng = fastvision_core::rng::Rng::new(seed);
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    Tensor::from_vec((0..n).map(|_| rng.uniform(-1.0, 1.0)).collect::<Vec<f64>>(), shape, &Device::Cpu).unwrap()
}

/// max |analytic - numeric| of d/dx sum(f(x) · w) over every element of x.
fn gradient_error(f: impl Fn(&Tensor) -> Tensor, x: &Tensor) -> f64 {
    let weights = random(f(x).dims4().unwrap(), 99);
    let loss = |t: &Tensor| (f(t) * &weights).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let var = Var::from_tensor(x).unwrap();
    let grads = (f(var.as_tensor()) * &weights).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic = grads.get(&var).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let base = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let h = 1e-6;
    let mut worst = 0f64;
    for i in 0..base.len() {
        let shifted = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap()
        };
        let numeric = (loss(&shifted(h)) - loss(&shifted(-h))) / (2.0 * h);
        worst = worst.max((numeric - analytic[i]).abs());
    }
    worst
}

#[test]
fn stem_max_pool_gradient_matches_finite_differences() {
    let x = random((2, 2, 9, 8), 1);
    let out = max_pool2d(&x, 3, 2, 1).unwrap();
    assert_eq!(out.dims(), &[2, 2, 5, 4], "PyTorch's output size floor((H + 2p - k)/s) + 1");
    let err = gradient_error(|t| max_pool2d(t, 3, 2, 1).unwrap(), &x);
    assert!(err < 1e-8, "max_pool2d(3, 2, 1) gradient error {err:.2e}");
    assert_eq!(x.dtype(), DType::F64);
}

#[test]
fn concat_pool_gradient_matches_finite_differences() {
    let x = random((2, 3, 4, 5), 2);
    let out = adaptive_concat_pool2d(&x, (1, 1)).unwrap();
    assert_eq!(out.dims(), &[2, 6, 1, 1]);
    let err = gradient_error(|t| adaptive_concat_pool2d(t, (1, 1)).unwrap(), &x);
    assert!(err < 1e-8, "adaptive_concat_pool2d gradient error {err:.2e}");
    let err = gradient_error(|t| adaptive_concat_pool2d(t, (2, 3)).unwrap(), &x);
    assert!(err < 1e-8, "adaptive_concat_pool2d((2, 3)) gradient error {err:.2e}");
}

#[test]
fn bad_pool_arguments_are_errors() {
    let x = random((1, 1, 4, 4), 3);
    assert!(max_pool2d(&x, 3, 2, 2).is_err(), "padding above half the kernel");
    assert!(max_pool2d(&x, 0, 1, 0).is_err(), "empty kernel");
    assert!(max_pool2d(&x.flatten_all().unwrap(), 2, 2, 0).is_err(), "not 4-D");
}
