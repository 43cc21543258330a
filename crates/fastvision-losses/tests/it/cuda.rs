//! CUDA parity (feature `cuda`): every fused op on the GPU against the CPU reference, values and gradients, and
//! the same errors. A `cuda` build without a GPU fails here rather than skipping (see
//! `fastvision_core::device::test_gpu`); a CPU build has nothing to compare and returns at once.

use candle::{DType, Device, Tensor, Var};
use fastvision_losses::{
    binary_cross_entropy_with_logits, cross_entropy_with, log_softmax, nll_loss_with, softmax, BceConfig,
    CrossEntropyConfig, Error, NllConfig, Reduction,
};

use crate::{random_logits, random_targets, values};
use fastvision_core::testing::{assert_close, Tolerance};

fn gpu() -> Option<Device> {
    fastvision_core::device::test_gpu()
}

/// Value and gradient of `loss(x)` on `device`.
fn value_and_grad(x: &Tensor, device: &Device, loss: &dyn Fn(&Tensor, &Device) -> Tensor) -> (Vec<f64>, Vec<f64>) {
    let var = Var::from_tensor(&x.to_device(device).expect("to device")).expect("var");
    let out = loss(var.as_tensor(), device);
    // A weighted sum: a softmax row sums to 1 whatever x, so the plain sum's gradient would be rounding noise.
    let scalar = if out.rank() == 0 {
        out.clone()
    } else {
        let weights = random_logits(76, out.elem_count(), 1, 1.0, out.dtype())
            .reshape(out.shape())
            .and_then(|w| w.to_device(device))
            .expect("weights");
        (&out * &weights).and_then(|t| t.sum_all()).expect("weighted sum")
    };
    let grads = scalar.backward().expect("backward");
    (
        values(&out.to_device(&Device::Cpu).expect("to cpu")),
        values(&grads.get(&var).expect("grad").to_device(&Device::Cpu).expect("cpu")),
    )
}

fn check_parity(what: &str, x: &Tensor, gpu: &Device, loss: &dyn Fn(&Tensor, &Device) -> Tensor) {
    let (rel, abs) = if x.dtype() == DType::F64 { (1e-12, 1e-14) } else { (2e-5, 1e-7) };
    let (cpu_value, cpu_grad) = value_and_grad(x, &Device::Cpu, loss);
    let (gpu_value, gpu_grad) = value_and_grad(x, gpu, loss);
    assert_close(&gpu_value, &cpu_value, Tolerance { abs, rel }, &format!("{what}: GPU vs CPU value"));
    assert_close(&gpu_grad, &cpu_grad, Tolerance { abs, rel }, &format!("{what}: GPU vs CPU gradient"));
}

#[test]
fn cuda_cross_entropy_and_nll_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    for dtype in [DType::F32, DType::F64] {
        for (n, c) in [(64, 37), (1024, 1000), (3, 5)] {
            let x = random_logits(71, n, c, 8.0, dtype);
            let t = random_targets(71, n, c);
            let weight: Vec<f64> = (0..c).map(|k| 0.5 + (k % 3) as f64).collect();
            for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
                for (eps, weight) in [(0.0, None), (0.1, Some(weight.clone()))] {
                    let config = CrossEntropyConfig { reduction, weight, label_smoothing: eps, ..Default::default() };
                    let t = t.clone();
                    let loss = move |x: &Tensor, device: &Device| {
                        cross_entropy_with(x, &t.to_device(device).expect("targets"), &config).expect("loss")
                    };
                    check_parity(&format!("{dtype:?} {n}x{c} {reduction:?} eps {eps}"), &x, &gpu, &loss);
                }
                let config = NllConfig { reduction, ..Default::default() };
                let t = t.clone();
                let nll = move |x: &Tensor, device: &Device| {
                    nll_loss_with(x, &t.to_device(device).expect("targets"), &config).expect("nll")
                };
                check_parity(&format!("{dtype:?} {n}x{c} nll {reduction:?}"), &x, &gpu, &nll);
            }
        }
    }
}

#[test]
fn cuda_softmax_and_bce_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    for dtype in [DType::F32, DType::F64] {
        let x = random_logits(72, 50, 300, 20.0, dtype);
        check_parity(&format!("{dtype:?} softmax"), &x, &gpu, &|x, _| softmax(x, 1).expect("softmax"));
        check_parity(&format!("{dtype:?} log_softmax"), &x, &gpu, &|x, _| log_softmax(x, 1).expect("log_softmax"));
        let y = random_logits(73, 50, 300, 1.0, dtype).ge(0.0).and_then(|t| t.to_dtype(dtype)).expect("0/1");
        let pos_weight: Vec<f64> = (0..300).map(|k| 1.0 + (k % 4) as f64).collect();
        for reduction in [Reduction::None, Reduction::Mean, Reduction::Sum] {
            let config = BceConfig { reduction, pos_weight: Some(pos_weight.clone()), ..Default::default() };
            let y = y.clone();
            let bce = move |x: &Tensor, device: &Device| {
                binary_cross_entropy_with_logits(x, &y.to_device(device).expect("targets"), &config).expect("bce")
            };
            check_parity(&format!("{dtype:?} bce {reduction:?}"), &x, &gpu, &bce);
        }
    }
}

#[test]
fn cuda_reports_the_same_errors_as_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let x = Tensor::zeros((4, 3), DType::F32, &gpu).expect("logits");
    let t = Tensor::new(&[0u32, 2, 3, 7], &gpu).expect("targets");
    let err = cross_entropy_with(&x, &t, &CrossEntropyConfig::default()).expect_err("class 3 of 3");
    assert!(matches!(err, Error::TargetOutOfRange { row: 2, value: 3, n_classes: 3 }), "{err:?}");
    let mut host = vec![0.5f32; 12];
    host[10] = f32::NAN;
    host[4] = f32::INFINITY;
    let x = Tensor::from_vec(host, (4, 3), &gpu).expect("logits");
    let t = Tensor::new(&[0u32, 0, 0, 0], &gpu).expect("targets");
    let err = cross_entropy_with(&x, &t, &CrossEntropyConfig::default()).expect_err("+inf and NaN");
    assert!(matches!(err, Error::NonFiniteLogits { row: 1, col: 1, .. }), "{err:?}");
    let err = softmax(&x, 1).expect_err("softmax of +inf and NaN");
    assert!(matches!(err, Error::NonFiniteLogits { row: 1, .. }), "{err:?}");
}
