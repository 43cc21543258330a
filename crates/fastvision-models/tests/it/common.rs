//! Helpers shared by the integration tests: the shared/ folder, fixtures and error measures.

use std::collections::HashMap;

use candle::{Device, Tensor};

pub use fastvision_core::testing::shared;

/// Every tensor of a safetensors file, on the CPU.
pub fn load_tensors(rel: &str) -> HashMap<String, Tensor> {
    candle::safetensors::load(shared(rel), &Device::Cpu).expect("readable safetensors fixture")
}

/// max |a - b| over all elements (as f64).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let d = (a.to_dtype(candle::DType::F64).unwrap() - b.to_dtype(candle::DType::F64).unwrap()).unwrap();
    d.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

/// max |t| over all elements.
pub fn max_abs(t: &Tensor) -> f64 {
    t.to_dtype(candle::DType::F64).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

/// Asserts `actual` matches `expected` within `rel` × max|expected| and returns the max abs error.
pub fn assert_close(what: &str, actual: &Tensor, expected: &Tensor, rel: f64) -> f64 {
    let err = max_abs_diff(actual, expected);
    let scale = max_abs(expected);
    assert!(
        err <= rel * scale,
        "{what}: max abs error {err:.3e} > {rel:.0e} × max|expected| ({scale:.3e}); \
         first expected {:?}, actual {:?}",
        first(expected),
        first(actual)
    );
    err
}

fn first(t: &Tensor) -> Vec<f32> {
    let flat = t.flatten_all().unwrap().to_dtype(candle::DType::F32).unwrap().to_vec1::<f32>().unwrap();
    flat.into_iter().take(5).collect()
}

/// A deterministic pseudo-random N×3×H×W input in about [-2, 2].
pub fn images(n: usize, size: usize, seed: u64) -> Tensor {
    let mut rng = fastvision_core::rng::Rng::new(seed);
    let values: Vec<f32> = (0..n * 3 * size * size).map(|_| rng.uniform(-2.0, 2.0) as f32).collect();
    Tensor::from_vec(values, (n, 3, size, size), &Device::Cpu).unwrap()
}
