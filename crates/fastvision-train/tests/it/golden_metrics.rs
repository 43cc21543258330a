//! error_rate and accuracy against fastai (golden section `losses`).

use candle::{Device, Tensor};
use fastvision_train::metrics::{accuracy, error_rate, top_k_accuracy};

use crate::golden::{floats, num, section};

#[test]
fn error_rate_and_accuracy_match_fastai() {
    let g = section("losses");
    for case in ["normal_4x5", "extreme", "wide_1x10"] {
        let rows: Vec<Vec<f64>> = g[format!("{case}/logits")].as_array().expect("logits").iter().map(floats).collect();
        let n_classes = rows[0].len();
        let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
        let logits = Tensor::from_vec(flat, (rows.len(), n_classes), &Device::Cpu).expect("logits");
        let targets: Vec<u32> = floats(&g[format!("{case}/targets")]).iter().map(|&v| v as u32).collect();
        let targets = Tensor::from_vec(targets, rows.len(), &Device::Cpu).expect("targets");
        let err = error_rate(&logits, &targets).expect("error_rate");
        let acc = accuracy(&logits, &targets).expect("accuracy");
        let (exp_err, exp_acc) = (num(&g[format!("{case}/error_rate")]), num(&g[format!("{case}/accuracy")]));
        assert!((err - exp_err).abs() < 1e-6, "{case} error_rate: expected {exp_err}, got {err}");
        assert!((acc - exp_acc).abs() < 1e-6, "{case} accuracy: expected {exp_acc}, got {acc}");
        let top_all = top_k_accuracy(&logits, &targets, n_classes).expect("top_k");
        assert_eq!(top_all, 1.0, "{case}: every target is in the top C");
    }
}
