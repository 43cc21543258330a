//! Unit tests of the metrics (golden values are in tests/it/golden_metrics.rs).

use super::*;

#[test]
fn top_k_counts_ties_like_a_stable_sort() {
    let row = [0.1f32, 0.5, 0.5, 0.2];
    assert!(in_top_k(&row, 1, 1));
    assert!(!in_top_k(&row, 2, 1), "the first maximum wins ties");
    assert!(in_top_k(&row, 2, 2));
    assert!(!in_top_k(&row, 0, 3));
    assert!(!in_top_k(&row, 9, 3), "an out-of-range target is a miss");
}

#[test]
fn avg_metric_weights_by_batch_size() {
    let mut m = AvgMetric::default();
    m.add(1.0, 3);
    m.add(0.0, 1);
    assert!((m.value() - 0.75).abs() < 1e-12);
    assert_eq!(AvgMetric::default().value(), 0.0);
}
