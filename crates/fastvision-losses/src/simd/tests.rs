//! The NaN behaviour the kernels rely on, and the remainders of the lane loops.

use super::*;

#[test]
fn sum_exp_flags_nan_and_all_minus_inf_rows() {
    let row = [1.0f32, f32::NAN, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
    assert!(sum_exp(&row, row_max(&row)).is_nan());
    let row = [f32::NEG_INFINITY; 3];
    assert!(sum_exp(&row, row_max(&row)).is_nan());
    let row = [1.0f32, f32::INFINITY];
    assert!(sum_exp(&row, row_max(&row)).is_nan());
    let row = [-1e4f32, 1e4, 0.0];
    assert_eq!(sum_exp(&row, row_max(&row)), 1.0);
}

#[test]
fn row_max_and_sums_cover_the_remainder() {
    let row: Vec<f64> = (0..13).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
    assert_eq!(row_max(&row), 6.0);
    assert_eq!(sum(&row), 0.0);
    let (total_exp, total_gap) = sum_exp_and_gap(&row, 6.0);
    let expected_exp: f64 = row.iter().map(|x| (x - 6.0).exp()).sum();
    assert!((total_exp - expected_exp).abs() < 1e-15, "{total_exp} vs {expected_exp}");
    assert_eq!(total_gap, 78.0);
    assert_eq!(dot(&row, &row), row.iter().map(|x| x * x).sum::<f64>());
}
