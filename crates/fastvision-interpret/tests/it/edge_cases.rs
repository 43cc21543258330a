//! Edge cases: an absent class, a single item, k past the end, and inputs that must be rejected clearly.

use fastvision_core::{Preds, Vocab};
use fastvision_interpret::{ClassificationInterpretation, ConfusionCells, Error};

use crate::support::interp;

#[test]
fn class_absent_from_the_set_has_zero_rows_and_columns() {
    // "dog" (class 3) is in the vocabulary but never an actual or predicted class.
    let interp = interp(&["ant", "bee", "cat", "dog"], &[0, 0, 1, 2, 2], &[0, 1, 1, 2, 0]);
    let matrix = interp.confusion_matrix();
    assert_eq!(matrix.rows()[3], vec![0, 0, 0, 0]);
    assert!((0..4).all(|actual| matrix.count(actual, 3) == 0));
    assert_eq!(&matrix.normalized()[12..16], &[0.0; 4], "an absent class normalises to zeros, not NaN");
    let report = interp.classification_report();
    let dog = &report.classes[3];
    assert_eq!((dog.precision, dog.recall, dog.f1, dog.support), (0.0, 0.0, 0.0, 0));
    assert!(interp.most_confused(1).iter().all(|c| c.actual != "dog" && c.predicted != "dog"));
    let dir = tempfile::tempdir().unwrap();
    interp
        .plot_confusion_matrix(ConfusionCells::Normalized, &dir.path().join("normalised.png"))
        .expect("plotting with an absent class");
}

#[test]
fn single_item() {
    let interp = interp(&["beagle", "pug"], &[1], &[0]);
    assert_eq!(interp.len(), 1);
    assert_eq!(interp.confusion_matrix().rows(), vec![vec![0, 0], vec![1, 0]]);
    assert_eq!(interp.top_losses(3).len(), 1);
    assert_eq!(interp.most_confused(1).len(), 1);
    assert_eq!(interp.classification_report().accuracy, 0.0);
}

#[test]
fn k_larger_than_the_set_returns_every_item_sorted() {
    let interp = interp(&["a", "b"], &[0, 1, 0], &[1, 1, 0]);
    let top = interp.top_losses(100);
    assert_eq!(top.len(), 3, "k > n gives all n items");
    assert!(top.windows(2).all(|w| w[0].0 >= w[1].0), "largest first: {top:?}");
    assert!(interp.top_losses(0).is_empty());
}

#[test]
fn equal_losses_keep_index_order_and_nan_is_largest() {
    let preds =
        Preds::new(2, vec![0.5; 10], vec![0; 5], vec![1.0, f32::NAN, 1.0, 2.0, 1.0], (10..15).collect()).unwrap();
    let interp = ClassificationInterpretation::from_preds(preds, Vocab::from_labels(["a", "b"])).unwrap();
    let indices: Vec<usize> = interp.top_losses(5).iter().map(|&(_, i)| i).collect();
    assert_eq!(indices, vec![1, 3, 0, 2, 4]);
    assert_eq!(interp.item(3).map(|item| item.item_id), Some(13), "item ids are carried through");
}

#[test]
fn empty_preds_are_a_clear_error() {
    let preds = Preds::new(2, vec![], vec![], vec![], vec![]).unwrap();
    let error = ClassificationInterpretation::from_preds(preds, Vocab::from_labels(["a", "b"])).unwrap_err();
    assert!(matches!(error, Error::EmptyPreds), "got {error:?}");
    assert!(error.to_string().contains("no items"), "message: {error}");
}

#[test]
fn vocabulary_size_mismatch_is_an_error() {
    let preds = Preds::new(2, vec![0.5, 0.5], vec![0], vec![0.7], vec![0]).unwrap();
    let error = ClassificationInterpretation::from_preds(preds, Vocab::from_labels(["a", "b", "c"])).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("2 classes") && message.contains("vocabulary has 3"), "message: {message}");
}

#[test]
fn inconsistent_arrays_and_bad_targets_are_errors() {
    let vocab = Vocab::from_labels(["a", "b"]);
    let mut preds = Preds::new(2, vec![0.5, 0.5], vec![0], vec![0.7], vec![0]).unwrap();
    preds.losses.push(1.0); // public fields can be edited after `Preds::new` checked them
    let error = ClassificationInterpretation::from_preds(preds, vocab.clone()).unwrap_err();
    assert!(matches!(error, Error::Length { what: "losses", expected: 1, actual: 2 }), "got {error:?}");
    let preds = Preds::new(2, vec![0.5, 0.5], vec![7], vec![0.7], vec![0]).unwrap();
    let error = ClassificationInterpretation::from_preds(preds, vocab).unwrap_err();
    assert!(error.to_string().contains("target class 7"), "message: {error}");
}

#[test]
fn plotting_no_top_losses_is_an_error() {
    let interp = interp(&["a", "b"], &[0], &[1]);
    let never = |_: usize| -> Result<fastvision_plot::RgbImage, std::io::Error> { unreachable!("no image is needed") };
    let error = interp.render_top_losses(0, never).unwrap_err();
    assert!(matches!(error, Error::NothingToPlot), "got {error:?}");
}

#[test]
fn a_failing_image_source_names_the_item() {
    let interp = interp(&["a", "b"], &[0, 1], &[1, 1]);
    let failing =
        |item_id: usize| -> Result<fastvision_plot::RgbImage, String> { Err(format!("no file for {item_id}")) };
    let error = interp.render_top_losses(2, failing).unwrap_err();
    assert!(error.to_string().contains("item 0") && error.to_string().contains("no file for 0"), "message: {error}");
}
