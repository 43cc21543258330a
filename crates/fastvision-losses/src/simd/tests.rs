//! Accuracy of the vectorisable `exp` and the NaN behaviour the kernels rely on.

use super::*;

/// Distance in units in the last place between two f32 of the same sign.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

#[test]
fn exp_f32_within_two_ulp_of_correctly_rounded() {
    let mut worst = (0u32, 0.0f32);
    let mut x = -87.0f32;
    while x <= 0.0 {
        let expected = (x as f64).exp() as f32;
        let error = ulps(exp_f32(x), expected);
        if error > worst.0 {
            worst = (error, x);
        }
        x += 0.000_731;
    }
    assert!(worst.0 <= 2, "exp_f32 is {} ulp off at x = {}", worst.0, worst.1);
}

#[test]
fn exp_f32_flushes_only_results_below_the_smallest_normal() {
    for x in [-80.0f32, -86.5, -87.3] {
        let expected = (x as f64).exp() as f32;
        assert!(ulps(exp_f32(x), expected) <= 2, "x {x}: expected {expected:e}, got {:e}", exp_f32(x));
    }
    for x in [-87.34f32, -95.5, -104.5, -1e4, f32::NEG_INFINITY] {
        assert_eq!(exp_f32(x), 0.0, "x {x}");
    }
    assert_eq!(exp_f32(0.0), 1.0);
    assert!(exp_f32(f32::NAN).is_nan());
}

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
