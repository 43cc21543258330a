//! Unit tests of the lighting: the neutral lighting, and the brightness-only shortcut.

use super::*;

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
