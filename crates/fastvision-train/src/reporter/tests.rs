//! Unit tests of the epoch table formatting.

use super::*;
use crate::metrics::Metric;
use crate::phase::Phase;

/// The first epoch of `phase`: losses 1.5 and 0.75, error_rate 0.25, 75.4 s (shown as 01:15).
fn first_row(phase: Phase) -> EpochRow {
    EpochRow {
        phase,
        epoch: 0,
        train_loss: 1.5,
        valid_loss: Some(0.75),
        metrics: vec![(Metric::ErrorRate, 0.25)],
        seconds: 75.4,
    }
}

#[test]
fn table_row_lines_up_with_header() {
    let header = EpochRow::header(&[Metric::ErrorRate]);
    assert_eq!(header, "epoch       train_loss  valid_loss  error_rate  time");
    assert_eq!(first_row(Phase::Fit).format(), "0           1.500000    0.750000    0.250000    01:15");
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

/// The table goes where it is asked (stdout in the `fastvision` binary), with fastai's heading per fit and no
/// table header for lr_find.
#[cfg(feature = "progress")]
#[test]
fn progress_reporter_writes_headings_header_and_rows_to_its_table() {
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let table = Shared::default();
    let mut reporter = ProgressReporter::hidden(table.clone());
    let start =
        |phase, n_epochs, metrics| FitStart { phase, n_epochs, n_train_batches: 2, n_valid_batches: 1, metrics };
    reporter.fit_start(&start(Phase::LrFind, 1, vec![]));
    reporter.fit_start(&start(Phase::Frozen, 2, vec![Metric::ErrorRate]));
    for batch in 0..2 {
        reporter.batch(&BatchProgress { epoch: 0, batch, n_batches: 2, train: true, loss: 1.0, items_per_sec: 0.0 });
    }
    reporter.epoch_end(&first_row(Phase::Frozen));
    reporter.fit_end();
    let text = String::from_utf8(table.0.lock().map(|t| t.clone()).unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        text,
        "\nlr_find (1 epoch)\n\nfrozen (2 epochs)\nepoch       train_loss  valid_loss  error_rate  time\n\
         0           1.500000    0.750000    0.250000    01:15\n"
    );
}
