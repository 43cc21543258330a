//! The forced-fallback test: a resnet18 + fastai head training step through the generic path (the candle
//! compositions a CUDA tensor takes, forced on the CPU) gives the gradients of the native CPU kernels.
//!
//! In f64: there the two paths' different summation orders (im2col vs candle's convolution, fused vs composed
//! BatchNorm) move a gradient by ~1e-13 of its scale, so any real difference stands out. In f32 the same
//! rounding (~1e-5 in the features) is amplified by the head's BatchNorm over a batch of four into gradient
//! differences of up to 20 %, which says nothing about correctness. Candle's `max_pool2d` backward, as the head
//! once used off the CPU, scaled the gradient at each maximum by 1/k²: a difference of order one here.

use candle::{DType, Device, Tensor};
use fastvision_core::rng::Rng;
use fastvision_models::{Arch, Backbone, VisionConfig, VisionModel};
use fastvision_train::parity::{compare_gradients, step_gradients, GradientDiff};

/// 1e-13 rounding, amplified by BatchNorm over four images, measured up to 3e-8.
const TOLERANCE: f64 = 1e-6;

fn batch(n: usize, px: usize, n_classes: u32, seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::derive(seed, 0);
    let pixels: Vec<f64> = (0..n * 3 * px * px).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let targets: Vec<u32> = (0..n as u32).map(|i| i % n_classes).collect();
    let images = Tensor::from_vec(pixels, (n, 3, px, px), &Device::Cpu).expect("images");
    (images, Tensor::from_vec(targets, n, &Device::Cpu).expect("targets"))
}

fn gradients_both_ways(px: usize) -> GradientDiff {
    let config = VisionConfig { dtype: DType::F64, ..VisionConfig::default() };
    let arch = Backbone::ResNet(Arch::ResNet18);
    let model = VisionModel::with_config(arch, 5, &config, &Device::Cpu, 7).expect("model");
    let (images, targets) = batch(4, px, 5, px as u64);
    fastvision_ops::path::force_generic(false);
    let native = step_gradients(&model, &images, &targets, 3).expect("native step");
    fastvision_ops::path::force_generic(true);
    let generic = step_gradients(&model, &images, &targets, 3);
    fastvision_ops::path::force_generic(false);
    compare_gradients(&generic.expect("generic step"), &native).expect("comparable gradients")
}

#[test]
fn generic_path_trains_like_the_cpu_kernels_at_96px() {
    // 96 px: the body ends at 3×3, so the head's pools reduce whole 3×3 planes.
    let diff = gradients_both_ways(96);
    println!("generic vs native at 96 px (f64): {diff:?}");
    assert_eq!(diff.n_params, 62 + 4, "every parameter of resnet18 and the head");
    assert!(diff.max_rel <= TOLERANCE, "generic path differs from the CPU kernels: {diff:?}");
}

#[test]
fn generic_path_trains_like_the_cpu_kernels_at_64px() {
    // 64 px: 2×2 at the end of the body; the stem's overlapping 3×3/2 max pool sees ties after ReLU.
    let diff = gradients_both_ways(64);
    println!("generic vs native at 64 px (f64): {diff:?}");
    assert!(diff.max_rel <= TOLERANCE, "generic path differs from the CPU kernels: {diff:?}");
}
