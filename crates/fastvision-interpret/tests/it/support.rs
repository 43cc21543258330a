//! Shared fixtures: the golden `interpretation` section and small prediction builders.

use std::path::PathBuf;

use fastvision_core::{Preds, Vocab};
use fastvision_interpret::ClassificationInterpretation;

/// The `interpretation` section of `$FASTVISION_SHARED/golden/golden.json`.
pub fn golden() -> serde_json::Value {
    let Some(shared) = std::env::var_os("FASTVISION_SHARED") else {
        panic!(
            "set FASTVISION_SHARED to the absolute path of the shared/ folder: \
             the golden tests read golden/golden.json there"
        );
    };
    let path = PathBuf::from(shared).join("golden/golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut all: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    all["interpretation"].take()
}

/// Softmax of one logit row in f64, returned as f32 probabilities.
pub fn softmax(logits: &[f64]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// Predictions where item `i` puts `confidence` on `predicted[i]` and spreads the rest evenly; losses are the
/// cross-entropy of the given probabilities, item ids are positions.
pub fn preds_from_decisions(n_classes: usize, targets: &[u32], predicted: &[u32], confidence: f32) -> Preds {
    let mut probs = Vec::new();
    for &p in predicted {
        let rest = (1.0 - confidence) / (n_classes - 1).max(1) as f32;
        probs.extend((0..n_classes).map(|c| if c == p as usize { confidence } else { rest }));
    }
    let losses = cross_entropy_of_probs(&probs, n_classes, targets);
    Preds::new(n_classes, probs, targets.to_vec(), losses, (0..targets.len()).collect()).expect("consistent preds")
}

/// `-ln p[target]` per item, the loss fastai's CrossEntropyLossFlat gives, derived from probabilities.
pub fn cross_entropy_of_probs(probs: &[f32], n_classes: usize, targets: &[u32]) -> Vec<f32> {
    targets.iter().enumerate().map(|(i, &t)| -(probs[i * n_classes + t as usize] as f64).ln() as f32).collect()
}

/// An interpretation over `names` (sorted into a vocabulary) from targets and decisions.
pub fn interp(names: &[&str], targets: &[u32], predicted: &[u32]) -> ClassificationInterpretation {
    let vocab = Vocab::from_labels(names.iter().copied());
    let preds = preds_from_decisions(vocab.len(), targets, predicted, 0.8);
    ClassificationInterpretation::from_preds(preds, vocab).expect("valid interpretation")
}
