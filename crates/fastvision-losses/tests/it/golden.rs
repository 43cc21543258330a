//! Parity with PyTorch 2.15 / fastai 2.8.12 on every case of `$FASTVISION_SHARED/golden/golden.json` § `losses`.
//!
//! Tolerances: float32 within 1e-6 relative (measured worst: 5.0e-7, log_softmax -0.0899 of normal_4x5, where
//! PyTorch's float32 value is the one 4 ulp off the float64 truth); float64 within 1e-14 relative (measured worst:
//! 1.8e-16). Our float32 log-softmax and losses are also checked against the float64 golden: within 1 ulp.

use std::sync::OnceLock;

use candle::{DType, Device, Tensor};
use fastvision_losses::{
    cross_entropy, cross_entropy_with, log_softmax, nll_loss, softmax, CrossEntropyConfig, CrossEntropyLossFlat,
    LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyFlat, Loss, Reduction,
};
use serde_json::Value;

use crate::{shared_dir, values};
use fastvision_core::testing::{assert_close, Tolerance};

const CASES: [&str; 3] = ["normal_4x5", "extreme", "wide_1x10"];
const REDUCTIONS: [(&str, Reduction); 3] =
    [("none", Reduction::None), ("mean", Reduction::Mean), ("sum", Reduction::Sum)];
const F32_REL: f64 = 1e-6;
const F64_REL: f64 = 1e-14;
/// One float32 ulp, relative.
const F32_ULP: f64 = f32::EPSILON as f64;

/// The `losses` section of golden.json, read once.
fn losses() -> &'static Value {
    static GOLDEN: OnceLock<Value> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let path = shared_dir().join("golden/golden.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        json["losses"].clone()
    })
}

/// A golden entry flattened to f64 (nested lists row-major, scalars as one value).
fn golden(case: &str, key: &str) -> Vec<f64> {
    fn flatten(value: &Value, out: &mut Vec<f64>) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
            Value::Number(number) => out.push(number.as_f64().expect("a finite number")),
            other => panic!("unexpected golden value {other}"),
        }
    }
    let entry = &losses()[format!("{case}/{key}")];
    assert!(!entry.is_null(), "golden.json has no losses entry {case}/{key}");
    let mut out = Vec::new();
    flatten(entry, &mut out);
    out
}

struct Case {
    name: &'static str,
    logits: Tensor,
    targets: Tensor,
}

fn case(name: &'static str, dtype: DType) -> Case {
    let flat = golden(name, "logits");
    let n_rows = golden(name, "targets").len();
    let logits = Tensor::from_vec(flat.clone(), (n_rows, flat.len() / n_rows), &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .expect("golden logits");
    let targets: Vec<u32> = golden(name, "targets").iter().map(|&t| t as u32).collect();
    let targets = Tensor::from_vec(targets, n_rows, &Device::Cpu).expect("golden targets");
    Case { name, logits, targets }
}

fn check_f32(case: &Case, key: &str, actual: &Tensor) {
    assert_close(
        &values(actual),
        &golden(case.name, key),
        Tolerance { abs: 0.0, rel: F32_REL },
        &format!("{}/{key}", case.name),
    );
}

#[test]
fn softmax_matches_pytorch_within_1e6_relative() {
    for name in CASES {
        let case = case(name, DType::F32);
        check_f32(&case, "softmax", &softmax(&case.logits, 1).expect("softmax"));
        check_f32(&case, "softmax", &softmax(&case.logits, candle::D::Minus1).expect("softmax"));
    }
}

#[test]
fn log_softmax_matches_pytorch() {
    for name in CASES {
        let case = case(name, DType::F32);
        check_f32(&case, "log_softmax", &log_softmax(&case.logits, 1).expect("log_softmax"));
    }
}

#[test]
fn nll_loss_matches_pytorch_for_every_reduction() {
    for name in CASES {
        let case = case(name, DType::F32);
        let golden_log_probs = Tensor::from_vec(golden(name, "log_softmax"), case.logits.dims(), &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .expect("golden log_softmax");
        for (label, reduction) in REDUCTIONS {
            let loss = nll_loss(&golden_log_probs, &case.targets, reduction).expect("nll_loss");
            check_f32(&case, &format!("nll_loss_{label}"), &loss);
        }
    }
}

#[test]
fn cross_entropy_and_flat_loss_match_pytorch_for_every_reduction() {
    for name in CASES {
        let case = case(name, DType::F32);
        for (label, reduction) in REDUCTIONS {
            let loss = cross_entropy(&case.logits, &case.targets, reduction).expect("cross_entropy");
            check_f32(&case, &format!("cross_entropy_{label}"), &loss);
            let flat = CrossEntropyLossFlat::new(reduction).forward(&case.logits, &case.targets).expect("flat loss");
            check_f32(&case, &format!("CrossEntropyLossFlat_{label}"), &flat);
        }
    }
}

#[test]
fn label_smoothing_matches_fastai_and_torch() {
    for name in CASES {
        let case = case(name, DType::F32);
        for eps in [0.1, 0.3] {
            for (label, reduction) in REDUCTIONS {
                let loss_func = LabelSmoothingCrossEntropy { eps, reduction, ..LabelSmoothingCrossEntropy::default() };
                let loss = loss_func.forward(&case.logits, &case.targets).expect("label smoothing");
                check_f32(&case, &format!("LabelSmoothingCrossEntropy_eps{eps}_{label}"), &loss);
                let config = CrossEntropyConfig { reduction, label_smoothing: eps, ..CrossEntropyConfig::default() };
                let torch_style = cross_entropy_with(&case.logits, &case.targets, &config).expect("label smoothing");
                check_f32(&case, &format!("torch_cross_entropy_label_smoothing{eps}_{label}"), &torch_style);
            }
        }
        let flat = LabelSmoothingCrossEntropyFlat::new(0.1).forward(&case.logits, &case.targets).expect("flat");
        check_f32(&case, "LabelSmoothingCrossEntropyFlat_eps0.1_mean", &flat);
    }
}

#[test]
fn float64_matches_pytorch_float64_within_1e12() {
    for name in CASES {
        let case = case(name, DType::F64);
        let loss = cross_entropy(&case.logits, &case.targets, Reduction::None).expect("cross_entropy f64");
        assert_eq!(loss.dtype(), DType::F64);
        let golden_loss = golden(name, "float64_cross_entropy_none");
        assert_close(
            &values(&loss),
            &golden_loss,
            Tolerance { abs: 0.0, rel: F64_REL },
            &format!("{name}/float64_cross_entropy_none"),
        );
        let log_probs = log_softmax(&case.logits, 1).expect("log_softmax f64");
        let golden_log_probs = golden(name, "float64_log_softmax");
        assert_close(
            &values(&log_probs),
            &golden_log_probs,
            Tolerance { abs: 0.0, rel: F64_REL },
            &format!("{name}/float64_log_softmax"),
        );
    }
}

#[test]
fn float32_results_are_within_one_ulp_of_the_float64_golden() {
    for name in CASES {
        let case = case(name, DType::F32);
        let loss = cross_entropy(&case.logits, &case.targets, Reduction::None).expect("cross_entropy");
        let expected = golden(name, "float64_cross_entropy_none");
        assert_close(
            &values(&loss),
            &expected,
            Tolerance { abs: 0.0, rel: F32_ULP },
            &format!("{name}/f32 loss vs float64"),
        );
        let log_probs = log_softmax(&case.logits, 1).expect("log_softmax");
        let expected = golden(name, "float64_log_softmax");
        assert_close(
            &values(&log_probs),
            &expected,
            Tolerance { abs: 0.0, rel: F32_ULP },
            &format!("{name}/f32 log_softmax vs float64"),
        );
    }
}

#[test]
fn activation_decodes_and_accuracy_match_fastai() {
    for name in CASES {
        let case = case(name, DType::F32);
        let loss_func = CrossEntropyLossFlat::default();
        let activation = loss_func.activation(&case.logits).expect("activation");
        check_f32(&case, "CrossEntropyLossFlat_activation", &activation);
        let decoded = loss_func.decodes(&activation).expect("decodes");
        assert_eq!(decoded.dtype(), DType::U32);
        let expected: Vec<u32> = golden(name, "CrossEntropyLossFlat_decodes").iter().map(|&d| d as u32).collect();
        assert_eq!(decoded.to_vec1::<u32>().expect("decoded ids"), expected, "{name}: decodes");
        let targets = case.targets.to_vec1::<u32>().expect("targets");
        let n_right = expected.iter().zip(&targets).filter(|(d, t)| d == t).count();
        let accuracy = n_right as f64 / targets.len() as f64;
        assert_close(
            &[accuracy],
            &golden(name, "accuracy"),
            Tolerance { abs: 0.0, rel: 1e-7 },
            &format!("{name}/accuracy"),
        );
        assert_close(
            &[1.0 - accuracy],
            &golden(name, "error_rate"),
            Tolerance { abs: 1e-7, rel: 1e-7 },
            &format!("{name}/error_rate"),
        );
    }
}
