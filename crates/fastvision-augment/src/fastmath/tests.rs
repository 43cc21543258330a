//! Unit tests of the vectorisable math: accuracy against libm, and the neutral lighting.

use super::*;

#[test]
fn ln_and_exp_match_libm() {
    let mut worst = (0.0f64, 0.0f64);
    for k in 0..20_000 {
        let x = 1e-7f32 * 1.0016f32.powi(k);
        let rel_ln = ((ln(x) as f64 - (x as f64).ln()) / (x as f64).ln().abs().max(1.0)).abs();
        let y = -80.0 + k as f32 * 0.008;
        let rel_exp = ((exp(y) as f64 - (y as f64).exp()) / (y as f64).exp()).abs();
        worst = (worst.0.max(rel_ln), worst.1.max(rel_exp));
    }
    assert!(worst.0 < 3e-7 && worst.1 < 3e-7, "worst relative errors ln {} exp {}", worst.0, worst.1);
}

#[test]
fn neutral_lighting_is_the_identity() {
    for k in 0..=255 {
        let v = k as f32 / 255.0;
        assert!((lighting(v, 0.0, 1.0) - v).abs() < 1e-6, "{v}");
    }
}

#[test]
fn brightness_only_shortcut_equals_the_logit_space_formula() {
    for divisor in [255.0f32, 1020.0] {
        for k in 0..=2000 {
            let sum = k as f32 / 2000.0 * divisor;
            for brightness_logit in [-0.85f32, -0.2, 0.0, 0.4, 0.85] {
                let general = lighting_scaled(sum, divisor, brightness_logit, 1.0);
                let shortcut = brightness_scaled(sum, divisor, (-brightness_logit).exp());
                assert!((general - shortcut).abs() < 3e-7, "sum {sum} / {divisor}, b {brightness_logit}");
            }
        }
    }
}
