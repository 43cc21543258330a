//! The `Loss` trait objects: per-item losses, activations, decodes, reductions, dtypes and flattening.

use candle::{DType, Device, Tensor};
use fastvision_losses::{
    cross_entropy, BCEWithLogitsLossFlat, CrossEntropyConfig, CrossEntropyLossFlat, LabelSmoothingCrossEntropy, Loss,
    Reduction,
};

use crate::{random_logits, random_targets, values};
use fastvision_core::testing::{assert_close, Tolerance};

#[test]
fn losses_are_usable_as_trait_objects() {
    let x = random_logits(51, 8, 5, 3.0, DType::F32);
    let t = random_targets(51, 8, 5);
    let losses: Vec<Box<dyn Loss>> =
        vec![Box::new(CrossEntropyLossFlat::default()), Box::new(LabelSmoothingCrossEntropy::default())];
    for loss_func in &losses {
        let loss = loss_func.forward(&x, &t).expect("forward");
        assert_eq!(loss.dims(), [0usize; 0]);
        let per_item = loss_func.per_item(&x, &t).expect("per item");
        assert_eq!(per_item.dims(), [8]);
        // The mean of the per-item losses is the mean loss.
        let mean = values(&per_item.mean_all().expect("mean"));
        assert_close(&mean, &values(&loss), Tolerance { abs: 0.0, rel: 1e-6 }, "mean of per_item");
    }
}

#[test]
fn flat_cross_entropy_over_axis_1_equals_moving_the_classes_last() {
    // N×C×H×W logits with the class axis 1 (segmentation), targets N×H×W.
    let (n, c, h, w) = (2, 4, 3, 5);
    let x = random_logits(52, n, c * h * w, 2.0, DType::F64).reshape((n, c, h, w)).expect("4-d");
    let t = random_targets(52, n * h * w, c).reshape((n, h, w)).expect("targets");
    let loss_func = CrossEntropyLossFlat { axis: 1, ..CrossEntropyLossFlat::default() };
    let flat = loss_func.forward(&x, &t).expect("flat loss");
    let rows =
        x.permute((0, 2, 3, 1)).and_then(|v| v.contiguous()).and_then(|v| v.reshape((n * h * w, c))).expect("rows");
    let reference = cross_entropy(&rows, &t.flatten_all().expect("flat targets"), Reduction::Mean).expect("reference");
    assert_close(&values(&flat), &values(&reference), Tolerance { abs: 0.0, rel: 1e-14 }, "axis-1 flat loss");
    assert_eq!(loss_func.per_item(&x, &t).expect("per item").dims(), [n]);
    let decoded = loss_func.decodes(&loss_func.activation(&x).expect("activation")).expect("decodes");
    assert_eq!(decoded.dims(), [n, h, w]);
    assert_eq!(decoded.to_vec3::<u32>().expect("ids"), x.argmax(1).and_then(|a| a.to_vec3::<u32>()).expect("argmax"));
}

#[test]
fn bce_flat_decodes_with_its_threshold() {
    let x = Tensor::new(&[[-1e4f32, 0.0, 1e4], [2.0, -2.0, 0.3]], &Device::Cpu).expect("logits");
    let y = Tensor::new(&[[0u8, 1, 1], [1, 0, 0]], &Device::Cpu).expect("targets");
    let loss_func = BCEWithLogitsLossFlat { thresh: 0.55, ..BCEWithLogitsLossFlat::default() };
    let activation = loss_func.activation(&x).expect("sigmoid");
    assert_close(&values(&activation)[..3], &[0.0, 0.5, 1.0], Tolerance { abs: 0.0, rel: 0.0 }, "sigmoid");
    let decoded = loss_func.decodes(&activation).expect("decodes");
    assert_eq!(decoded.to_vec2::<u8>().expect("0/1"), [[0, 0, 1], [1, 0, 1]]);
    let loss = values(&loss_func.forward(&x, &y).expect("bce"))[0];
    // Per element: 0, ln 2, 0, softplus(-2), softplus(-2), softplus(0.3).
    let softplus = |v: f64| (1.0 + v.exp()).ln();
    let expected = (2.0f64.ln() + 2.0 * softplus(-2.0) + softplus(0.3)) / 6.0;
    assert_close(&[loss], &[expected], Tolerance { abs: 0.0, rel: 1e-6 }, "bce mean");
    assert_eq!(loss_func.forward(&x, &y).expect("bce").dims(), [0usize; 0]);
    let none = BCEWithLogitsLossFlat {
        config: fastvision_losses::BceConfig { reduction: Reduction::None, ..Default::default() },
        ..Default::default()
    };
    assert_eq!(none.forward(&x, &y).expect("none").dims(), [6]);
    assert_eq!(none.per_item(&x, &y).expect("per item").dims(), [2]);
}

#[test]
fn half_precision_is_widened_and_returned_in_its_dtype() {
    let x = random_logits(53, 6, 10, 4.0, DType::F32);
    let t = random_targets(53, 6, 10);
    let reference = values(&cross_entropy(&x, &t, Reduction::Mean).expect("f32"));
    for dtype in [DType::F16, DType::BF16] {
        let half = x.to_dtype(dtype).expect("half");
        let loss = cross_entropy(&half, &t, Reduction::Mean).expect("half loss");
        assert_eq!(loss.dtype(), dtype);
        assert_close(&values(&loss), &reference, Tolerance { abs: 0.0, rel: 2e-2 }, &format!("{dtype:?} loss"));
    }
}

#[test]
fn class_weights_and_ignore_index_follow_pytorch() {
    // Hand-computed: mean = Σ w_t·nll / Σ w_t over rows not ignored.
    let x = Tensor::new(&[[1.0f64, 2.0, 3.0], [0.5, 0.5, 0.5], [3.0, 0.0, -3.0]], &Device::Cpu).expect("logits");
    let t = Tensor::new(&[2i64, -100, 0], &Device::Cpu).expect("targets");
    let weight = vec![2.0, 1.0, 0.5];
    let config = CrossEntropyConfig { weight: Some(weight), ..CrossEntropyConfig::default() };
    let loss = values(&fastvision_losses::cross_entropy_with(&x, &t, &config).expect("weighted"))[0];
    let nll = |row: [f64; 3], target: usize| row.iter().map(|v| v.exp()).sum::<f64>().ln() - row[target];
    let expected = (0.5 * nll([1.0, 2.0, 3.0], 2) + 2.0 * nll([3.0, 0.0, -3.0], 0)) / 2.5;
    assert_close(&[loss], &[expected], Tolerance { abs: 0.0, rel: 1e-14 }, "weighted mean with an ignored row");
    let all_ignored = Tensor::new(&[-100i64, -100, -100], &Device::Cpu).expect("targets");
    let loss = values(&cross_entropy(&x, &all_ignored, Reduction::Mean).expect("all ignored"))[0];
    assert_eq!(loss, 0.0, "every row ignored: 0 (PyTorch gives NaN)");
}
