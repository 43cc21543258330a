//! The per-class report against hand-computed values on the golden predictions, and its text layout.

use crate::support::interp;

const GOLDEN_VOCAB: [&str; 5] = ["Abyssinian", "Bengal", "Ragdoll", "beagle", "pug"];
const GOLDEN_TARGETS: [u32; 24] = [0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 0, 1, 2, 3, 4, 4, 2, 2, 1];
const GOLDEN_PREDS: [u32; 24] = [0, 1, 1, 1, 0, 2, 1, 2, 1, 4, 4, 3, 0, 4, 3, 2, 2, 1, 4, 4, 3, 0, 2, 0];

fn close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < 1e-12, "{what}: got {actual}, expected {expected}");
}

#[test]
fn metrics_match_hand_computation() {
    // Confusion matrix (rows actual): [1 2 1 0 0] [2 2 2 0 0] [1 2 2 0 0] [1 0 0 1 3] [0 0 0 2 2].
    let report = interp(&GOLDEN_VOCAB, &GOLDEN_TARGETS, &GOLDEN_PREDS).classification_report();
    let abyssinian = &report.classes[0];
    close(abyssinian.precision, 1.0 / 5.0, "Abyssinian precision (1 of 5 predicted)");
    close(abyssinian.recall, 1.0 / 4.0, "Abyssinian recall (1 of 4 actual)");
    close(abyssinian.f1, 2.0 * 0.2 * 0.25 / 0.45, "Abyssinian F1");
    assert_eq!(abyssinian.support, 4);
    let pug = &report.classes[4];
    close(pug.precision, 2.0 / 5.0, "pug precision");
    close(pug.recall, 2.0 / 4.0, "pug recall");
    close(report.accuracy, 8.0 / 24.0, "accuracy (trace 1+2+2+1+2 over 24)");
    let precisions = [1.0 / 5.0, 2.0 / 6.0, 2.0 / 5.0, 1.0 / 3.0, 2.0 / 5.0];
    close(report.macro_avg.precision, precisions.iter().sum::<f64>() / 5.0, "macro precision");
    let supports = [4.0, 6.0, 5.0, 5.0, 4.0];
    let weighted: f64 = precisions.iter().zip(supports).map(|(p, s)| p * s).sum::<f64>() / 24.0;
    close(report.weighted_avg.precision, weighted, "weighted precision");
    close(report.weighted_avg.recall, report.accuracy, "weighted recall equals accuracy");
    assert_eq!(report.macro_avg.support, 24);
}

#[test]
fn text_layout_is_scikit_learns() {
    let report = interp(&GOLDEN_VOCAB, &GOLDEN_TARGETS, &GOLDEN_PREDS).classification_report();
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "              precision    recall  f1-score   support");
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], "  Abyssinian       0.20      0.25      0.22         4");
    assert_eq!(lines[8], "    accuracy                           0.33        24");
    assert!(lines[9].starts_with("   macro avg") && lines[10].starts_with("weighted avg"), "{text}");
    assert_eq!(lines.len(), 11, "{text}");
}
