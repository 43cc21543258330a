//! Unit tests of the epoch table formatting.

use super::*;
use crate::metrics::Metric;
use crate::phase::Phase;

#[test]
fn table_row_lines_up_with_header() {
    let header = EpochRow::header(&[Metric::ErrorRate]);
    assert_eq!(header, "epoch       train_loss  valid_loss  error_rate  time");
    let row = EpochRow {
        phase: Phase::Fit,
        epoch: 0,
        train_loss: 1.5,
        valid_loss: Some(0.75),
        metrics: vec![(Metric::ErrorRate, 0.25)],
        seconds: 75.4,
    };
    assert_eq!(row.format(), "0           1.500000    0.750000    0.250000    01:15");
}

#[test]
fn table_writer_writes_header_and_rows() {
    let mut w = TableWriter::new(Vec::new());
    w.fit_start(&FitStart { phase: Phase::Fit, n_epochs: 1, n_train_batches: 1, n_valid_batches: 1, metrics: vec![] });
    w.message("hello");
    let text = String::from_utf8(w.into_inner()).unwrap_or_default();
    assert_eq!(text, "epoch       train_loss  valid_loss  time\nhello\n");
}

#[test]
fn rows_write_metric_names_and_read_them_back() {
    let row = EpochRow {
        phase: Phase::Unfrozen,
        epoch: 1,
        train_loss: 1.0,
        valid_loss: None,
        metrics: vec![(Metric::ErrorRate, 0.25), (Metric::TopKAccuracy(5), 0.5)],
        seconds: 2.0,
    };
    let json = serde_json::to_string(&row).unwrap_or_default();
    assert!(json.contains(r#""phase":"unfrozen""#), "{json}");
    assert!(json.contains(r#""metrics":[["error_rate",0.25],["top_5_accuracy",0.5]]"#), "{json}");
    let back: EpochRow = serde_json::from_str(&json).expect("reads back");
    assert_eq!((back.metric(Metric::TopKAccuracy(5)), back.metric(Metric::Accuracy)), (Some(0.5), None));
    assert_eq!(back, row);
}
