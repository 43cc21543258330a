//! Unit tests of the recorder's smoothed loss (fastai parity is in tests/it/golden_lr_find.rs).

use super::*;

#[test]
fn smooth_loss_of_a_constant_is_the_constant() {
    let mut s = SmoothLoss::default();
    for _ in 0..50 {
        let v = s.update(2.5);
        assert!((v - 2.5).abs() < 1e-4, "debiased average of a constant drifted: {v}");
    }
}
