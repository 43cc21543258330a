//! Tick positions and labels.

use super::*;

#[test]
fn linear_ticks_are_nice() {
    assert_eq!(linear_ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    assert_eq!(linear_ticks(0.13, 0.61, 5), vec![0.2, 0.3, 0.4, 0.5, 0.6]);
    assert!(linear_ticks(1.0, 1.0, 5).is_empty());
    assert!(linear_ticks(f64::NAN, 1.0, 5).is_empty());
}

#[test]
fn log_ticks_are_decades_over_a_wide_range() {
    let (major, minor) = log_ticks(1e-7, 10.0);
    assert_eq!(major.len(), 9, "1e-7 … 10: {major:?}");
    assert_eq!(minor.len(), 8 * 8, "eight minors in each of the eight full decades");
    let (dense, _) = log_ticks(1e-3, 5e-2);
    assert!(dense.contains(&2e-3) && dense.contains(&5e-3), "under two decades adds 2 and 5: {dense:?}");
    assert_eq!(log_ticks(0.0, 1.0).0.len(), 0);
}

#[test]
fn labels() {
    assert_eq!(format_log(1e-5), "1e-5");
    assert_eq!(format_log(0.01), "0.01");
    assert_eq!(format_log(1000.0), "1000");
    assert_eq!(format_log(2e-6), "2e-6");
    assert_eq!(format_linear(0.30000000000000004, 0.1), "0.3");
    assert_eq!(format_linear(15.0, 5.0), "15");
}
