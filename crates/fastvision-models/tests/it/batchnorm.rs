//! Training-mode BatchNorm updates its running statistics like PyTorch (momentum 0.1, unbiased variance), and eval
//! mode leaves them alone.

use candle::{Device, Tensor};
use fastvision_models::{Arch, ResNet};

use crate::common::{images, max_abs_diff};

fn named(model: &ResNet, name: &str) -> Tensor {
    model.named_tensors().into_iter().find(|(n, _)| n == name).unwrap().1.copy().unwrap()
}

#[test]
fn running_stats_follow_pytorch_formula() {
    let model = ResNet::new(Arch::ResNet18, 4, &Device::Cpu, 11).unwrap();
    let xs = images(2, 32, 3);
    // What bn1 sees: conv1 (7×7, stride 2, padding 3) of the input, 2×64×16×16 = 512 values per channel.
    let conv = xs.conv2d(&named(&model, "conv1.weight"), 3, 2, 1, 1).unwrap();
    let n = 2.0 * 16.0 * 16.0;
    let mean = conv.mean_keepdim((0, 2, 3)).unwrap();
    let biased_var = conv.broadcast_sub(&mean).unwrap().sqr().unwrap().mean_keepdim((0, 2, 3)).unwrap();
    let unbiased_var = (biased_var * (n / (n - 1.0))).unwrap().flatten_all().unwrap();
    let mean = mean.flatten_all().unwrap();

    model.forward_t(&xs, false).unwrap();
    assert_eq!(
        max_abs_diff(&named(&model, "bn1.running_mean"), &mean.zeros_like().unwrap()),
        0.0,
        "eval changed stats"
    );

    model.forward_t(&xs, true).unwrap();
    // running = 0.9·running + 0.1·batch, from mean 0 and variance 1.
    let expected_mean = (&mean * 0.1).unwrap();
    let expected_var = ((&unbiased_var * 0.1).unwrap() + 0.9).unwrap();
    let e1 = max_abs_diff(&named(&model, "bn1.running_mean"), &expected_mean);
    let e2 = max_abs_diff(&named(&model, "bn1.running_var"), &expected_var);
    assert!(e1 < 1e-5 && e2 < 1e-4, "after one step: running_mean error {e1:.2e}, running_var error {e2:.2e}");

    model.forward_t(&xs, true).unwrap();
    // Same batch again: 0.9·0.1·m + 0.1·m = 0.19·m and 0.9·(0.9 + 0.1·v) + 0.1·v = 0.81 + 0.19·v.
    let expected_mean = (&mean * 0.19).unwrap();
    let expected_var = ((&unbiased_var * 0.19).unwrap() + 0.81).unwrap();
    let e1 = max_abs_diff(&named(&model, "bn1.running_mean"), &expected_mean);
    let e2 = max_abs_diff(&named(&model, "bn1.running_var"), &expected_var);
    assert!(e1 < 1e-5 && e2 < 1e-4, "after two steps: running_mean error {e1:.2e}, running_var error {e2:.2e}");
}

#[test]
fn training_needs_more_than_one_value_per_channel() {
    // PyTorch refuses a batch of one 32×32 image at layer4 (1×1); so does this, with an error rather than NaN.
    let model = ResNet::new(Arch::ResNet18, 4, &Device::Cpu, 0).unwrap();
    let err = model.forward_t(&images(1, 32, 0), true).unwrap_err();
    assert!(err.to_string().contains("more than one value per channel"), "{err}");
    assert_eq!(model.forward_t(&images(1, 32, 0), false).unwrap().dims(), &[1, 4]);
}
