//! The opt-in op-time tally records forward and backward passes.

use candle::DType;
use fastvision_ops::{batch_norm_train, conv2d, profile, Activation, BatchNormConfig, Conv2dConfig};

use crate::common::random_var;

#[test]
fn tally_records_each_pass() {
    profile::set_enabled(true);
    let x = random_var(&[2, 3, 6, 6], DType::F32, 1);
    let w = random_var(&[4, 3, 3, 3], DType::F32, 2);
    let g = random_var(&[4], DType::F32, 3);
    let b = random_var(&[4], DType::F32, 4);
    let y = conv2d(&x, &w, &Conv2dConfig::default().with_padding(1)).expect("conv");
    let (y, _) =
        batch_norm_train(&y, &g, &b, &BatchNormConfig::default().with_activation(Activation::Relu)).expect("bn");
    y.sum_all().and_then(|l| l.backward()).expect("backward");
    profile::set_enabled(false);
    let tally = profile::take();
    for pass in
        ["conv2d.forward", "conv2d.input_grad", "conv2d.weight_grad", "batch_norm.forward", "batch_norm.backward"]
    {
        let t = tally.get(pass).unwrap_or_else(|| panic!("{pass} missing from {tally:?}"));
        assert!(t.calls >= 1, "{pass}: {t:?}");
    }
}
