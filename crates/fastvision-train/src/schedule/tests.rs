//! Unit tests of the schedule pieces (the golden parity tests are in tests/it/golden_schedules.rs).

use super::*;

#[test]
fn even_mults_spreads_geometrically() {
    let lrs = even_mults(1e-5, 1e-3, 3);
    let expected = [1e-5, 1e-4, 1e-3];
    for (a, e) in lrs.iter().zip(expected) {
        assert!((a - e).abs() < 1e-15, "even_mults: expected {expected:?}, got {lrs:?}");
    }
    assert_eq!(even_mults(1e-5, 1e-3, 1), vec![1e-3]);
}

#[test]
fn slice_without_lo_gives_tenth_to_the_body() {
    assert_eq!(LrRange::upto(2e-3).group_lrs(3), vec![2e-4, 2e-4, 2e-3]);
    assert_eq!(LrRange::Single(0.1).group_lrs(2), vec![0.1, 0.1]);
}

#[test]
fn combined_cos_hits_start_middle_and_end() {
    let s = CombinedCos { pct_start: 0.25, start: 1.0, middle: 10.0, end: 0.0 };
    assert_eq!(s.at(0.0), 1.0);
    assert!((s.at(0.25) - 10.0).abs() < 1e-12, "middle: {}", s.at(0.25));
    assert!(s.at(1.0).abs() < 1e-12, "end: {}", s.at(1.0));
}

#[test]
fn bad_parameters_are_errors() {
    let bad = OneCycleConfig { pct_start: 1.5, ..OneCycleConfig::default() };
    let err = bad.validate().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("pct_start"), "expected a pct_start error, got {err:?}");
    assert!(LrRange::slice(-1.0, 1e-3).validate().is_err());
    let ft = FineTuneConfig { base_lr: 0.0, ..FineTuneConfig::default() };
    assert!(ft.phases(1, 3).is_err());
}

#[test]
fn fine_tune_skips_frozen_phase_without_freeze_epochs() {
    let ft = FineTuneConfig { freeze_epochs: 0, ..FineTuneConfig::default() };
    let phases = ft.phases(2, 3).unwrap_or_default();
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0].frozen_groups, 0);
}
