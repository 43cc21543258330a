//! Accuracy of the vectorisable `ln` and the two `exp`s against libm, and the edges the kernels rely on.

use super::*;

/// Distance in units in the last place between two f32 of the same sign.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

#[test]
fn ln_and_exp_saturating_match_libm() {
    let mut worst = (0.0f64, 0.0f64);
    for k in 0..20_000 {
        let x = 1e-7f32 * 1.0016f32.powi(k);
        let rel_ln = ((ln(x) as f64 - (x as f64).ln()) / (x as f64).ln().abs().max(1.0)).abs();
        let y = -80.0 + k as f32 * 0.008;
        let rel_exp = ((exp_saturating(y) as f64 - (y as f64).exp()) / (y as f64).exp()).abs();
        worst = (worst.0.max(rel_ln), worst.1.max(rel_exp));
    }
    assert!(worst.0 < 3e-7 && worst.1 < 3e-7, "worst relative errors ln {} exp {}", worst.0, worst.1);
}

#[test]
fn exp_keep_nan_within_two_ulp_of_correctly_rounded() {
    let mut worst = (0u32, 0.0f32);
    let mut x = -87.0f32;
    while x <= 0.0 {
        let expected = (x as f64).exp() as f32;
        let error = ulps(exp_keep_nan(x), expected);
        if error > worst.0 {
            worst = (error, x);
        }
        x += 0.000_731;
    }
    assert!(worst.0 <= 2, "exp_keep_nan is {} ulp off at x = {}", worst.0, worst.1);
}

#[test]
fn exp_keep_nan_flushes_only_results_below_the_smallest_normal() {
    for x in [-80.0f32, -86.5, -87.3] {
        let expected = (x as f64).exp() as f32;
        assert!(ulps(exp_keep_nan(x), expected) <= 2, "x {x}: expected {expected:e}, got {:e}", exp_keep_nan(x));
    }
    for x in [-87.34f32, -95.5, -104.5, -1e4, f32::NEG_INFINITY] {
        assert_eq!(exp_keep_nan(x), 0.0, "x {x}");
    }
    assert_eq!(exp_keep_nan(0.0), 1.0);
    assert!(exp_keep_nan(f32::NAN).is_nan());
}
