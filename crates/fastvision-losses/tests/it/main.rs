//! The one integration-test binary of fastvision-losses: golden parity, gradients, errors, stability, the Loss trait.

#[cfg(feature = "cuda")]
mod cuda;
mod errors;
mod golden;
mod gradients;
mod loss_trait;
mod stability;
mod threads;

use std::path::PathBuf;

use candle::{DType, Device, Tensor};
use fastvision_core::rng::Rng;

/// `$FASTVISION_SHARED`, or a failure that says how to set it.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("FASTVISION_SHARED") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "FASTVISION_SHARED is not set: export FASTVISION_SHARED=/absolute/path/to/shared \
             (the folder holding golden/golden.json) before running these tests"
        ),
    }
}

/// Seeded random logits `n × c` in `[-scale, scale]`.
pub fn random_logits(seed: u64, n: usize, c: usize, scale: f64, dtype: DType) -> Tensor {
    let mut rng = Rng::new(seed);
    let values: Vec<f64> = (0..n * c).map(|_| rng.uniform(-scale, scale)).collect();
    Tensor::from_vec(values, (n, c), &Device::Cpu).and_then(|t| t.to_dtype(dtype)).expect("random logits")
}

/// Seeded random class ids in `0..c`.
pub fn random_targets(seed: u64, n: usize, c: usize) -> Tensor {
    let mut rng = Rng::derive(seed, 1);
    let values: Vec<u32> = (0..n).map(|_| rng.below(c) as u32).collect();
    Tensor::from_vec(values, n, &Device::Cpu).expect("random targets")
}

/// Every value of a tensor as f64, row-major.
pub fn values(tensor: &Tensor) -> Vec<f64> {
    tensor.to_dtype(DType::F64).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1()).expect("tensor values")
}
