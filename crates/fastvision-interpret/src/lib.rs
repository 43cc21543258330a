//! Interpretation of a classifier: confusion matrix, most_confused, top losses, per-class report, with PNGs.
//!
//! fastbook chapter 5's "how to interpret a model", from the predictions training hands over
//! (`fastvision_core::Preds`: probabilities, targets, per-item losses, item ids). This crate does not depend on
//! training: an interpretation can be rebuilt from saved predictions.
//!
//! # Brief overview
//! - [`ClassificationInterpretation`]: built once with [`ClassificationInterpretation::from_preds`]; every view
//!   reads from that single pass: [`confusion_matrix`](ClassificationInterpretation::confusion_matrix),
//!   [`most_confused`](ClassificationInterpretation::most_confused),
//!   [`top_losses`](ClassificationInterpretation::top_losses), the plots and
//!   [`write_outputs`](ClassificationInterpretation::write_outputs).
//! - [`ConfusionMatrix`]: counts with rows actual and columns predicted, as fastai orients it.
//! - [`ClassificationReport`]: precision, recall, F1 and support per class, as scikit-learn's report.
//!
//! ```
//! use fastvision_core::{Preds, Vocab};
//! use fastvision_interpret::ClassificationInterpretation;
//!
//! let vocab = Vocab::from_labels(["beagle", "pug"]);
//! // Two items: a beagle taken for a pug, and a pug recognised.
//! let probs = vec![0.3, 0.7, 0.1, 0.9];
//! let preds = Preds::new(2, probs, vec![0, 1], vec![1.204, 0.105], vec![0, 1])?;
//! let interp = ClassificationInterpretation::from_preds(preds, vocab)?;
//! assert_eq!(interp.confusion_matrix().rows(), vec![vec![0, 1], vec![0, 1]]);
//! let confused = interp.most_confused(1);
//! assert_eq!((confused[0].actual.as_str(), confused[0].predicted.as_str(), confused[0].count), ("beagle", "pug", 1));
//! assert_eq!(interp.top_losses(5), vec![(1.204, 0), (0.105, 1)]);
//! assert_eq!(interp.classification_report().accuracy, 0.5);
//! let dir = tempfile::tempdir()?;
//! interp.write_outputs(dir.path())?; // confusion_matrix.png, most_confused.json, classification_report.txt
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod confusion;
mod error;
mod interpretation;
mod plots;
mod report;

pub use confusion::{Confusion, ConfusionMatrix};
pub use error::{Error, Result};
pub use interpretation::{ClassificationInterpretation, ItemResult};
pub use plots::ConfusionCells;
pub use report::{AverageMetrics, ClassMetrics, ClassificationReport};
