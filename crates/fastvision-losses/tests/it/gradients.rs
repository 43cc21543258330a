//! Gradients of every fused op: against central finite differences in float64 on random inputs, and against
//! candle's own autograd through the unfused composition of candle ops.

use candle::{DType, Device, Tensor, Var, D};
use fastvision_losses::{
    binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with, log_softmax, nll_loss_with, softmax,
    BceConfig, CrossEntropyConfig, CrossEntropyLossFlat, Loss, NllConfig, Reduction,
};

use crate::{random_logits, random_targets, values};
use fastvision_core::testing::{assert_close, Tolerance};

type LossFn<'a> = Box<dyn Fn(&Tensor) -> Tensor + 'a>;

/// The fused op's gradient (candle backward through our custom op) at `x`.
fn autograd(x: &Tensor, loss: &LossFn) -> Vec<f64> {
    let var = Var::from_tensor(x).expect("var");
    let grads = loss(var.as_tensor()).backward().expect("backward");
    values(grads.get(&var).expect("a gradient for the logits"))
}

/// Central finite differences of the scalar `loss` at `x` (float64), step `h`.
fn finite_differences(x: &Tensor, loss: &LossFn, h: f64) -> Vec<f64> {
    let base = values(x);
    (0..base.len())
        .map(|i| {
            let at = |delta: f64| {
                let mut shifted = base.clone();
                shifted[i] += delta;
                let shifted = Tensor::from_vec(shifted, x.dims(), &Device::Cpu).expect("shifted input");
                values(&loss(&shifted))[0]
            };
            (at(h) - at(-h)) / (2.0 * h)
        })
        .collect()
}

/// Random weights to turn an unreduced output into a scalar, so every output element gets its own gradient.
fn weighted_sum(output: Tensor, seed: u64) -> Tensor {
    let n = output.elem_count();
    let weights = random_logits(seed, 1, n, 1.0, output.dtype()).reshape(output.dims()).expect("weights");
    (output * weights).and_then(|t| t.sum_all()).expect("weighted sum")
}

fn check_fd(what: &str, x: &Tensor, loss: LossFn) {
    let analytic = autograd(x, &loss);
    let numeric = finite_differences(x, &loss, 1e-6);
    assert_close(
        &analytic,
        &numeric,
        Tolerance { abs: 1e-8, rel: 1e-6 },
        &format!("{what}: autograd vs finite differences"),
    );
}

fn ce(config: CrossEntropyConfig, targets: Tensor) -> impl Fn(&Tensor) -> Tensor {
    move |x: &Tensor| {
        let out = cross_entropy_with(x, &targets, &config).expect("cross_entropy");
        if config.reduction == Reduction::None {
            weighted_sum(out, 99)
        } else {
            out
        }
    }
}

#[test]
fn cross_entropy_gradients_match_finite_differences_in_f64() {
    let (n, c) = (5, 7);
    let x = random_logits(11, n, c, 4.0, DType::F64);
    let targets = random_targets(11, n, c);
    let weight = Some(vec![0.5, 1.0, 2.0, 0.25, 1.5, 3.0, 0.75]);
    let with_ignored = Tensor::new(&[3i64, -100, 0, 6, -100], &Device::Cpu).expect("targets");
    let configs = [
        ("mean", CrossEntropyConfig::default(), targets.clone()),
        ("sum", CrossEntropyConfig { reduction: Reduction::Sum, ..Default::default() }, targets.clone()),
        ("none", CrossEntropyConfig { reduction: Reduction::None, ..Default::default() }, targets.clone()),
        ("weighted mean", CrossEntropyConfig { weight: weight.clone(), ..Default::default() }, targets.clone()),
        ("ignore index", CrossEntropyConfig::default(), with_ignored.clone()),
        (
            "smoothing 0.2 weighted mean",
            CrossEntropyConfig { label_smoothing: 0.2, weight: weight.clone(), ..Default::default() },
            targets.clone(),
        ),
        (
            "smoothing 0.3 none, ignore index",
            CrossEntropyConfig { label_smoothing: 0.3, reduction: Reduction::None, ..Default::default() },
            with_ignored,
        ),
    ];
    for (what, config, targets) in configs {
        check_fd(what, &x, Box::new(ce(config, targets)));
    }
}

#[test]
fn nll_softmax_and_log_softmax_gradients_match_finite_differences_in_f64() {
    let x = random_logits(12, 4, 6, 3.0, DType::F64);
    let targets = random_targets(12, 4, 6);
    let weight = Some(vec![1.0, 2.0, 0.5, 1.0, 3.0, 0.1]);
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let config = NllConfig { reduction, weight: weight.clone(), ..NllConfig::default() };
        let targets = targets.clone();
        check_fd(
            &format!("nll {reduction:?}"),
            &x,
            Box::new(move |x| weighted_sum(nll_loss_with(x, &targets, &config).expect("nll"), 5)),
        );
    }
    for axis in [0, 1] {
        check_fd(
            &format!("softmax axis {axis}"),
            &x,
            Box::new(move |x| weighted_sum(softmax(x, axis).expect("sm"), 6)),
        );
        check_fd(
            &format!("log_softmax axis {axis}"),
            &x,
            Box::new(move |x| weighted_sum(log_softmax(x, axis).expect("lsm"), 7)),
        );
    }
}

#[test]
fn bce_and_flat_gradients_match_finite_differences_in_f64() {
    let x = random_logits(13, 4, 5, 5.0, DType::F64);
    let y = random_logits(14, 4, 5, 1.0, DType::F64).ge(0.0).and_then(|t| t.to_dtype(DType::F64)).expect("0/1");
    let configs = [
        BceConfig::default(),
        BceConfig { reduction: Reduction::Sum, pos_weight: Some(vec![1.0, 2.0, 3.0, 0.5, 1.0]), ..Default::default() },
        BceConfig { reduction: Reduction::None, weight: Some(vec![0.5, 1.0, 2.0, 1.0, 4.0]), ..Default::default() },
    ];
    for config in configs {
        let y = y.clone();
        let what = format!("bce {:?}", config.reduction);
        check_fd(
            &what,
            &x,
            Box::new(move |x| weighted_sum(binary_cross_entropy_with_logits(x, &y, &config).expect("bce"), 8)),
        );
    }
    // CrossEntropyLossFlat over N×C×L logits with the class axis 1 (segmentation layout).
    let x3 = random_logits(15, 3, 4 * 2, 3.0, DType::F64).reshape((3, 4, 2)).expect("3-d logits");
    let targets3 = random_targets(15, 6, 4).reshape((3, 2)).expect("3-d targets");
    let loss_func = CrossEntropyLossFlat { axis: 1, ..CrossEntropyLossFlat::default() };
    check_fd("CrossEntropyLossFlat axis 1", &x3, Box::new(move |x| loss_func.forward(x, &targets3).expect("flat")));
}

/// The unfused candle composition fastai users would write: log_softmax, gather, mean.
fn candle_cross_entropy(x: &Tensor, targets: &Tensor, eps: f64) -> Tensor {
    let c = x.dim(1).expect("classes") as f64;
    let log_probs = candle_nn::ops::log_softmax(x, D::Minus1).expect("log_softmax");
    let picked = log_probs.gather(&targets.unsqueeze(1).expect("unsqueeze"), 1).expect("gather");
    let nll = picked.mean_all().and_then(|t| t.neg()).expect("nll");
    let smooth = log_probs.sum(1).and_then(|t| t.mean_all()).and_then(|t| t.neg()).expect("smooth");
    ((nll * (1.0 - eps)).expect("scale") + (smooth * (eps / c)).expect("scale")).expect("loss")
}

#[test]
fn gradients_match_candle_autograd_of_the_unfused_composition() {
    for (dtype, rel, abs) in [(DType::F32, 1e-5, 1e-7), (DType::F64, 1e-12, 1e-15)] {
        let x = random_logits(21, 16, 37, 6.0, dtype);
        let targets = random_targets(21, 16, 37);
        for eps in [0.0, 0.1] {
            let config = CrossEntropyConfig { label_smoothing: eps, ..CrossEntropyConfig::default() };
            let fused_targets = targets.clone();
            let fused = autograd(
                &x,
                &(Box::new(move |x: &Tensor| cross_entropy_with(x, &fused_targets, &config).expect("ce")) as LossFn),
            );
            let plain_targets = targets.clone();
            let composed =
                autograd(&x, &(Box::new(move |x: &Tensor| candle_cross_entropy(x, &plain_targets, eps)) as LossFn));
            assert_close(
                &fused,
                &composed,
                Tolerance { abs, rel },
                &format!("{dtype:?} eps {eps}: fused vs composed gradient"),
            );
        }
        let fused = autograd(&x, &(Box::new(|x: &Tensor| weighted_sum(softmax(x, 1).expect("sm"), 3)) as LossFn));
        let composed = autograd(
            &x,
            &(Box::new(|x: &Tensor| weighted_sum(candle_nn::ops::softmax(x, 1).expect("sm"), 3)) as LossFn),
        );
        assert_close(&fused, &composed, Tolerance { abs, rel }, &format!("{dtype:?} softmax gradient"));
        let y = random_logits(22, 16, 37, 1.0, dtype).ge(0.0).and_then(|t| t.to_dtype(dtype)).expect("0/1");
        let fused_y = y.clone();
        let fused = autograd(
            &x,
            &(Box::new(move |x: &Tensor| {
                binary_cross_entropy_with_logits(x, &fused_y, &BceConfig::default()).expect("bce")
            }) as LossFn),
        );
        // max(x, 0) - x·y + log(1 + exp(-|x|)), averaged.
        let composed = autograd(
            &x,
            &(Box::new(move |x: &Tensor| {
                let softplus =
                    x.abs().and_then(|a| a.neg()).and_then(|a| a.exp()).and_then(|a| a + 1.0).and_then(|a| a.log());
                (x.relu().expect("relu") - (x * &y).expect("xy"))
                    .and_then(|t| t + softplus.expect("softplus"))
                    .and_then(|t| t.mean_all())
                    .expect("bce")
            }) as LossFn),
        );
        assert_close(&fused, &composed, Tolerance { abs, rel }, &format!("{dtype:?} bce gradient"));
    }
}

#[test]
fn loss_values_match_the_unfused_composition() {
    let x = random_logits(31, 64, 37, 8.0, DType::F64);
    let targets = random_targets(31, 64, 37);
    let fused = values(&cross_entropy(&x, &targets, Reduction::Mean).expect("fused"));
    let composed = values(&candle_nn::loss::cross_entropy(&x, &targets).expect("candle_nn cross_entropy"));
    assert_close(&fused, &composed, Tolerance { abs: 0.0, rel: 1e-13 }, "mean cross-entropy vs candle_nn");
}
