//! Golden parity with fastai 2.8.12 (`golden.json` section `interpretation`): confusion matrix, most_confused,
//! per-item losses and top losses, from the same logits fastai's lookup-table model produced.

use fastvision_core::{Preds, Vocab};
use fastvision_interpret::ClassificationInterpretation;

use crate::support::{cross_entropy_of_probs, golden, softmax};

fn u32s(value: &serde_json::Value) -> Vec<u32> {
    value.as_array().expect("array").iter().map(|v| v.as_u64().expect("integer") as u32).collect()
}

fn f64s(value: &serde_json::Value) -> Vec<f64> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number")).collect()
}

/// Rebuilds golden.py's predictions: logits −1 everywhere but 2 + 0.01·i at the predicted class of item i.
fn golden_interp() -> (ClassificationInterpretation, serde_json::Value) {
    let g = golden();
    let names: Vec<String> =
        g["vocab"].as_array().expect("vocab").iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let vocab = Vocab::from_labels(&names);
    assert_eq!(vocab.classes(), names.as_slice(), "our vocabulary order must equal fastai's");
    let (targets, predicted) = (u32s(&g["targets"]), u32s(&g["preds_argmax"]));
    let n_classes = names.len();
    let mut probs = Vec::new();
    for (i, &p) in predicted.iter().enumerate() {
        let logits: Vec<f64> =
            (0..n_classes).map(|c| if c == p as usize { 2.0 + 0.01 * i as f64 } else { -1.0 }).collect();
        probs.extend(softmax(&logits));
    }
    let losses = cross_entropy_of_probs(&probs, n_classes, &targets);
    let preds = Preds::new(n_classes, probs, targets.clone(), losses, (0..targets.len()).collect()).expect("preds");
    (ClassificationInterpretation::from_preds(preds, vocab).expect("interpretation"), g)
}

#[test]
fn decoded_predictions_match() {
    let (interp, g) = golden_interp();
    assert_eq!(interp.decoded(), u32s(&g["preds_argmax"]).as_slice());
}

#[test]
fn confusion_matrix_matches_exactly() {
    let (interp, g) = golden_interp();
    let expected: Vec<Vec<u64>> = g["confusion_matrix_rows_actual_cols_pred"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect())
        .collect();
    assert_eq!(interp.confusion_matrix().rows(), expected, "rows actual, columns predicted");
}

#[test]
fn most_confused_matches_exactly() {
    let (interp, g) = golden_interp();
    for (min_val, key) in [(1, "most_confused_min1"), (2, "most_confused_min2")] {
        let expected: Vec<(String, String, u64)> = g[key]
            .as_array()
            .expect(key)
            .iter()
            .map(|t| (t[0].as_str().unwrap().to_owned(), t[1].as_str().unwrap().to_owned(), t[2].as_u64().unwrap()))
            .collect();
        let actual: Vec<(String, String, u64)> =
            interp.most_confused(min_val).into_iter().map(|c| (c.actual, c.predicted, c.count)).collect();
        assert_eq!(actual, expected, "most_confused({min_val})");
    }
}

#[test]
fn per_item_losses_match_fastai() {
    let (interp, g) = golden_interp();
    let expected = f64s(&g["losses_per_item"]);
    assert_eq!(interp.losses().len(), expected.len());
    let max_error = interp.losses().iter().zip(&expected).map(|(&a, &e)| (a as f64 - e).abs()).fold(0.0, f64::max);
    assert!(
        max_error < 1e-5,
        "per-item loss max |ours − fastai| = {max_error:e} (tolerance 1e-5)\nours: {:?}\nfastai: {expected:?}",
        interp.losses()
    );
}

#[test]
fn top_losses_match_fastai() {
    let (interp, g) = golden_interp();
    let (expected_losses, expected_index) = (f64s(&g["top_losses5"]), u32s(&g["top_losses5_idx"]));
    let top = interp.top_losses(5);
    let indices: Vec<u32> = top.iter().map(|&(_, i)| i as u32).collect();
    assert_eq!(indices, expected_index, "top_losses(5) indices");
    for ((loss, index), expected) in top.iter().zip(&expected_losses) {
        assert!((*loss as f64 - expected).abs() < 1e-5, "item {index}: loss {loss} vs fastai {expected}");
    }
}
