//! Invalid input gets an `Err` that names the problem (never a panic, never garbage).

use candle::{DType, Device, Tensor};
use fastvision_losses::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, log_softmax, nll_loss, softmax, BceConfig,
    CrossEntropyConfig, CrossEntropyLossFlat, Error, LabelSmoothingCrossEntropy, Loss, Reduction,
};

use crate::{random_logits, random_targets};

fn logits(values: &[f32], n: usize, c: usize) -> Tensor {
    Tensor::from_slice(values, (n, c), &Device::Cpu).expect("logits")
}

fn targets(values: &[u32]) -> Tensor {
    Tensor::from_slice(values, values.len(), &Device::Cpu).expect("targets")
}

#[test]
fn target_out_of_range_names_the_row_and_the_class() {
    let x = logits(&[0.0; 12], 4, 3);
    let err = cross_entropy(&x, &targets(&[0, 2, 3, 1]), Reduction::Mean).expect_err("class 3 of 3");
    assert!(matches!(err, Error::TargetOutOfRange { row: 2, value: 3, n_classes: 3 }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("row 2") && message.contains("class 3"), "{message}");
    let err = nll_loss(&x, &targets(&[7, 0, 0, 0]), Reduction::Sum).expect_err("class 7 of 3");
    assert!(matches!(err, Error::TargetOutOfRange { row: 0, value: 7, .. }), "{err:?}");
    let negative = Tensor::new(&[0i64, -1, 0, 0], &Device::Cpu).expect("targets");
    let err = cross_entropy(&x, &negative, Reduction::Mean).expect_err("class -1");
    assert!(matches!(err, Error::TargetOutOfRange { row: 1, value: -1, .. }), "{err:?}");
}

#[test]
fn nan_and_inf_logits_name_the_row() {
    let mut values = vec![0.5f32; 12];
    values[7] = f32::NAN;
    let err = cross_entropy(&logits(&values, 4, 3), &targets(&[0, 0, 0, 0]), Reduction::Mean).expect_err("NaN");
    assert!(matches!(err, Error::NonFiniteLogits { row: 2, col: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("row 2"), "{err}");
    let err = softmax(&logits(&values, 4, 3), 1).expect_err("NaN in softmax");
    assert!(matches!(err, Error::NonFiniteLogits { row: 2, .. }), "{err:?}");
    let err = log_softmax(&logits(&values, 4, 3), 1).expect_err("NaN in log_softmax");
    assert!(matches!(err, Error::NonFiniteLogits { row: 2, .. }), "{err:?}");
    let mut values = vec![0.5f32; 6];
    values[4] = f32::INFINITY;
    let err = cross_entropy(&logits(&values, 2, 3), &targets(&[0, 0]), Reduction::Mean).expect_err("+inf");
    assert!(matches!(err, Error::NonFiniteLogits { row: 1, col: 1, .. }), "{err:?}");
    let all_minus_inf = [0.0f32, 1.0, 2.0, f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY];
    let err = cross_entropy(&logits(&all_minus_inf, 2, 3), &targets(&[0, 0]), Reduction::Mean).expect_err("-inf row");
    assert!(matches!(err, Error::NonFiniteLogits { row: 1, .. }), "{err:?}");
    let mut values = vec![0.5f32; 6];
    values[3] = f32::NAN;
    let y = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).expect("targets");
    let err = binary_cross_entropy_with_logits(&logits(&values, 2, 3), &y, &BceConfig::default()).expect_err("NaN");
    assert!(matches!(err, Error::NonFiniteLogits { row: 1, col: 0, .. }), "{err:?}");
}

#[test]
fn the_lowest_bad_row_is_reported_in_the_parallel_path() {
    // 600 × 100 logits run on several rayon tasks; the report must not depend on which finishes first.
    let x = random_logits(41, 600, 100, 3.0, DType::F32);
    let mut values = x.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values");
    values[450 * 100 + 3] = f32::NAN;
    values[120 * 100 + 99] = f32::NAN;
    let x = Tensor::from_vec(values, (600, 100), &Device::Cpu).expect("logits");
    let err = cross_entropy(&x, &random_targets(41, 600, 100), Reduction::Mean).expect_err("NaN rows");
    assert!(matches!(err, Error::NonFiniteLogits { row: 120, col: 99, .. }), "{err:?}");
}

#[test]
fn shape_mismatches_and_empty_batches_are_errors() {
    let x = logits(&[0.0; 12], 4, 3);
    let err = cross_entropy(&x, &targets(&[0, 1, 2]), Reduction::Mean).expect_err("3 targets for 4 rows");
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("[4]"), "{err}");
    let err = cross_entropy(&x.flatten_all().expect("1-d"), &targets(&[0]), Reduction::Mean).expect_err("rank 1");
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    let empty = Tensor::zeros((0, 3), DType::F32, &Device::Cpu).expect("empty");
    let no_targets = Tensor::zeros(0, DType::U32, &Device::Cpu).expect("empty targets");
    let err = cross_entropy(&empty, &no_targets, Reduction::Mean).expect_err("empty batch");
    assert!(matches!(err, Error::EmptyBatch { .. }), "{err:?}");
    let err = CrossEntropyLossFlat::default().forward(&empty, &no_targets).expect_err("empty batch");
    assert!(matches!(err, Error::EmptyBatch { .. }), "{err:?}");
    let no_classes = Tensor::zeros((2, 0), DType::F32, &Device::Cpu).expect("no classes");
    let err = cross_entropy(&no_classes, &targets(&[0, 0]), Reduction::Mean).expect_err("no classes");
    assert!(matches!(err, Error::EmptyBatch { .. }), "{err:?}");
    let err = softmax(&empty, 1).expect_err("empty softmax");
    assert!(matches!(err, Error::EmptyBatch { .. }), "{err:?}");
    let y = Tensor::zeros((4, 2), DType::F32, &Device::Cpu).expect("targets");
    let err = binary_cross_entropy_with_logits(&x, &y, &BceConfig::default()).expect_err("bce shape");
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
}

#[test]
fn bad_parameters_and_dtypes_are_errors() {
    let x = logits(&[0.0; 12], 4, 3);
    let t = targets(&[0, 1, 2, 0]);
    let config = CrossEntropyConfig { weight: Some(vec![1.0, 2.0]), ..CrossEntropyConfig::default() };
    let err = cross_entropy_with(&x, &t, &config).expect_err("2 weights for 3 classes");
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err:?}");
    let config = CrossEntropyConfig { label_smoothing: 1.5, ..CrossEntropyConfig::default() };
    let err = cross_entropy_with(&x, &t, &config).expect_err("eps 1.5");
    assert!(matches!(err, Error::InvalidParameter { name: "label_smoothing", .. }), "{err:?}");
    let err = LabelSmoothingCrossEntropy::new(-0.1).forward(&x, &t).expect_err("eps -0.1");
    assert!(matches!(err, Error::InvalidParameter { name: "eps", .. }), "{err:?}");
    let err = CrossEntropyLossFlat { axis: 2, ..CrossEntropyLossFlat::default() }.forward(&x, &t).expect_err("axis 2");
    assert!(matches!(err, Error::InvalidParameter { name: "axis", .. }), "{err:?}");
    let int_logits = t.reshape((4, 1)).expect("int logits");
    let err = cross_entropy(&int_logits, &t, Reduction::Mean).expect_err("u32 logits");
    assert!(matches!(err, Error::UnsupportedDType { what: "logits", .. }), "{err:?}");
    let float_targets = t.to_dtype(DType::F32).expect("float targets");
    let err = cross_entropy(&x, &float_targets, Reduction::Mean).expect_err("float targets");
    assert!(matches!(err, Error::UnsupportedDType { what: "targets", .. }), "{err:?}");
}
