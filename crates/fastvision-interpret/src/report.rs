//! The per-class report (precision, recall, F1, support, accuracy, macro and weighted averages), computed and
//! printed as scikit-learn's `classification_report` does.

use std::fmt::{self, Write};

use serde::Serialize;

use fastvision_core::Vocab;

use crate::ConfusionMatrix;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// Correct predictions of this class over all predictions of it (0 when it is never predicted).
    pub precision: f64,
    /// Correct predictions of this class over its items (0 when it has none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Items whose actual class this is.
    pub support: u64,
}

/// An average row of the report ("macro avg" or "weighted avg").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AverageMetrics {
    /// Averaged precision.
    pub precision: f64,
    /// Averaged recall.
    pub recall: f64,
    /// Averaged F1.
    pub f1: f64,
    /// Total items.
    pub support: u64,
}

/// scikit-learn's `classification_report(y_true, y_pred, labels=range(C), target_names=vocab, zero_division=0)`:
/// one row per class of the vocabulary (absent classes included, with zeros), accuracy, macro and weighted averages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// One row per class, in vocabulary order.
    pub classes: Vec<ClassMetrics>,
    /// Fraction of items predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean over classes.
    pub macro_avg: AverageMetrics,
    /// Mean over classes weighted by support.
    pub weighted_avg: AverageMetrics,
}

impl ClassificationReport {
    /// Computes the report from a confusion matrix.
    pub fn from_confusion(confusion: &ConfusionMatrix, vocab: &Vocab) -> Self {
        let classes: Vec<ClassMetrics> =
            (0..confusion.n_classes()).map(|class| class_metrics(confusion, vocab, class)).collect();
        let total = confusion.total();
        let correct: u64 = (0..confusion.n_classes()).map(|c| confusion.count(c, c)).sum();
        let n = classes.len().max(1) as f64;
        let mean = |f: fn(&ClassMetrics) -> f64| classes.iter().map(f).sum::<f64>() / n;
        let weighted = |f: fn(&ClassMetrics) -> f64| {
            ratio(classes.iter().map(|m| f(m) * m.support as f64).sum::<f64>(), total as f64)
        };
        let macro_avg = AverageMetrics {
            precision: mean(|m| m.precision),
            recall: mean(|m| m.recall),
            f1: mean(|m| m.f1),
            support: total,
        };
        let weighted_avg = AverageMetrics {
            precision: weighted(|m| m.precision),
            recall: weighted(|m| m.recall),
            f1: weighted(|m| m.f1),
            support: total,
        };
        Self { accuracy: ratio(correct as f64, total as f64), classes, macro_avg, weighted_avg }
    }

    /// The report as scikit-learn prints it, with `digits` decimals.
    pub fn to_text(&self, digits: usize) -> String {
        let heading = "weighted avg";
        let width =
            self.classes.iter().map(|m| m.class.chars().count()).max().unwrap_or(0).max(heading.len()).max(digits);
        let mut out = format!("{:>width$} ", "");
        for header in ["precision", "recall", "f1-score", "support"] {
            let _ = write!(out, " {header:>9}");
        }
        out.push_str("\n\n");
        for m in &self.classes {
            let _ = writeln!(
                out,
                "{:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}",
                m.class, m.precision, m.recall, m.f1, m.support
            );
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        );
        for (name, avg) in [("macro avg", &self.macro_avg), ("weighted avg", &self.weighted_avg)] {
            let _ = writeln!(
                out,
                "{name:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}",
                avg.precision, avg.recall, avg.f1, avg.support
            );
        }
        out
    }
}

impl fmt::Display for ClassificationReport {
    /// scikit-learn's layout with 2 decimals (its default).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(2))
    }
}

fn class_metrics(confusion: &ConfusionMatrix, vocab: &Vocab, class: usize) -> ClassMetrics {
    let true_positives = confusion.count(class, class) as f64;
    let precision = ratio(true_positives, confusion.predicted_total(class) as f64);
    let support = confusion.support(class);
    let recall = ratio(true_positives, support as f64);
    let f1 = ratio(2.0 * precision * recall, precision + recall);
    ClassMetrics { class: vocab.name(class).unwrap_or("?").to_owned(), precision, recall, f1, support }
}

/// `numerator / denominator`, or 0 for an empty denominator (scikit-learn's `zero_division=0`).
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}
