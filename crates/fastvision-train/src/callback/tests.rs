//! Unit tests of the built-in callbacks.

use super::*;
use crate::metrics::Metric;
use crate::phase::Phase;

fn row(valid: f64, err: f64) -> EpochRow {
    EpochRow {
        phase: Phase::Fit,
        epoch: 0,
        train_loss: 1.0,
        valid_loss: Some(valid),
        metrics: vec![(Metric::ErrorRate, err), (Metric::Accuracy, 1.0 - err)],
        seconds: 1.0,
    }
}

fn state() -> FitState {
    FitState {
        phase: Phase::Fit,
        epoch: 0,
        n_epochs: 5,
        iteration: 0,
        n_iterations: 5,
        loss: 1.0,
        smooth_loss: 1.0,
        lrs: vec![1e-3],
    }
}

#[test]
fn early_stopping_waits_patience_epochs() -> Result<()> {
    let mut cb = EarlyStopping::new(Monitor::ValidLoss, 2);
    let s = state();
    cb.before_fit(&s)?;
    assert_eq!(cb.after_epoch(&s, &row(1.0, 0.5))?, Flow::Continue);
    assert_eq!(cb.after_epoch(&s, &row(1.1, 0.5))?, Flow::Continue);
    assert_eq!(cb.after_epoch(&s, &row(1.2, 0.5))?, Flow::Stop);
    Ok(())
}

#[test]
fn save_best_saves_on_improvement_of_accuracy() -> Result<()> {
    let mut cb = SaveBest::new(Monitor::Metric(Metric::Accuracy), "best");
    let s = state();
    assert_eq!(cb.after_epoch(&s, &row(1.0, 0.5))?, Flow::Save("best".into()));
    assert_eq!(cb.after_epoch(&s, &row(1.0, 0.6))?, Flow::Continue, "accuracy went down");
    assert_eq!(cb.after_epoch(&s, &row(1.0, 0.4))?, Flow::Save("best".into()));
    Ok(())
}
