//! Unit tests of the epoch table formatting.

use super::*;

#[test]
fn table_row_lines_up_with_header() {
    let names = vec!["error_rate".to_owned()];
    let header = EpochRow::header(&names);
    assert_eq!(header, "epoch       train_loss  valid_loss  error_rate  time");
    let row = EpochRow {
        phase: "fit".into(),
        epoch: 0,
        train_loss: 1.5,
        valid_loss: Some(0.75),
        metrics: vec![("error_rate".into(), 0.25)],
        seconds: 75.4,
    };
    assert_eq!(row.format(), "0           1.500000    0.750000    0.250000    01:15");
}

#[test]
fn table_writer_writes_header_and_rows() {
    let mut w = TableWriter::new(Vec::new());
    w.fit_start(&FitStart {
        phase: "fit".into(),
        n_epochs: 1,
        n_train_batches: 1,
        n_valid_batches: 1,
        metric_names: vec![],
    });
    w.message("hello");
    let text = String::from_utf8(w.into_inner()).unwrap_or_default();
    assert_eq!(text, "epoch       train_loss  valid_loss  time\nhello\n");
}
