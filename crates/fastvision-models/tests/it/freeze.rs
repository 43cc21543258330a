//! Parameter groups and freezing: fastai's names and splitter, detached frozen weights (no gradient at all),
//! trainable BatchNorm in frozen groups, and one SGD step of every architecture.

use candle::{Device, Tensor};
use fastvision_models::{Arch, HeadConfig, VisionConfig, VisionModel};

use crate::common::{images, max_abs, max_abs_diff};

fn loss(model: &VisionModel, xs: &Tensor) -> Tensor {
    // Any scalar that depends on every logit works for gradient flow.
    model.forward_t(xs, true).unwrap().sqr().unwrap().mean_all().unwrap()
}

#[test]
fn groups_follow_fastai_resnet_splitter() {
    let model = VisionModel::new(Arch::ResNet18, 37, &Device::Cpu, 0).unwrap();
    let params = model.params();
    let count = |g: usize| params.iter().filter(|p| p.group == g).count();
    // fastai: group 0 = 30 tensors (conv1, bn1, layer1, layer2), group 1 = 30, head = 6 (golden fine_tune phases).
    assert_eq!((count(0), count(1), count(2)), (30, 30, 6));
    let head: Vec<&str> = params.iter().filter(|p| p.group == 2).map(|p| p.name.as_str()).collect();
    assert_eq!(head, ["1.2.weight", "1.2.bias", "1.4.weight", "1.6.weight", "1.6.bias", "1.8.weight"]);
    assert_eq!(params.iter().filter(|p| p.group == 2 && p.no_weight_decay).count(), 4);
    assert_eq!(params.iter().filter(|p| p.group == 0 && p.no_weight_decay).count(), 20);
    assert_eq!(
        &params[..3].iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        &["0.0.weight", "0.1.weight", "0.1.bias"]
    );
}

#[test]
fn frozen_weights_get_no_gradient_but_their_batchnorm_does() {
    let mut model = VisionModel::new(Arch::ResNet18, 5, &Device::Cpu, 0).unwrap();
    model.freeze();
    let grads = loss(&model, &images(2, 16, 1)).backward().unwrap();
    let params = model.params();
    for p in &params {
        let frozen_weight = p.group < 2 && !p.is_batchnorm;
        assert_eq!(p.trainable, !frozen_weight, "{}", p.name);
        match grads.get(&p.var) {
            Some(g) if frozen_weight => panic!("frozen {} has a gradient (max {})", p.name, max_abs(g)),
            None if !frozen_weight => panic!("trainable {} has no gradient", p.name),
            _ => {}
        }
    }
    assert!(params.iter().any(|p| p.group == 0 && p.is_batchnorm && grads.get(&p.var).is_some()));
    model.freeze_to(1).unwrap();
    let grads = loss(&model, &images(2, 16, 2)).backward().unwrap();
    for p in model.params() {
        assert_eq!(grads.get(&p.var).is_some(), p.group > 0 || p.is_batchnorm, "freeze_to(1): {}", p.name);
    }
    model.unfreeze();
    let grads = loss(&model, &images(2, 16, 3)).backward().unwrap();
    assert!(model.params().iter().all(|p| grads.get(&p.var).is_some()), "unfreeze: every param has a gradient");
    assert!(model.freeze_to(4).is_err());
}

#[test]
fn one_sgd_step_changes_every_trainable_param_and_no_frozen_one() {
    for arch in Arch::ALL {
        let mut model = VisionModel::new(arch, 3, &Device::Cpu, 7).unwrap();
        model.freeze_to(1).unwrap();
        let before: Vec<Tensor> = model.params().iter().map(|p| p.var.as_tensor().copy().unwrap()).collect();
        // 32 px keeps ≥ 2×2 cells per channel in layer3: with one cell and a batch of 2, BatchNorm's backward divides by
        // |a - b| / 2 and 36 such blocks overflow f32 (in PyTorch too).
        let grads = loss(&model, &images(2, 32, 4)).backward().unwrap();
        for p in model.params() {
            if let Some(g) = grads.get(&p.var) {
                // Deep nets have tiny early gradients at init: a step normalised per tensor (max change 0.01)
                // keeps every update above f32 rounding, and a zero gradient still moves nothing.
                let scale = max_abs(g);
                assert!(scale.is_finite(), "{arch}: gradient of {} is not finite", p.name);
                let step = if scale > 0.0 { (g * (0.01 / scale)).unwrap() } else { g.clone() };
                p.var.set(&(p.var.as_tensor() - step).unwrap()).unwrap();
            }
        }
        for (p, old) in model.params().iter().zip(&before) {
            let changed = max_abs_diff(p.var.as_tensor(), old) > 0.0;
            assert_eq!(changed, p.trainable, "{arch}: {} (trainable {}) changed: {changed}", p.name, p.trainable);
        }
    }
}

#[test]
fn dropout_is_seeded_and_only_in_training() {
    let xs = images(2, 32, 5);
    let a = VisionModel::new(Arch::ResNet18, 4, &Device::Cpu, 1).unwrap();
    let b = VisionModel::new(Arch::ResNet18, 4, &Device::Cpu, 1).unwrap();
    let (ya, yb) = (a.forward_t(&xs, true).unwrap(), b.forward_t(&xs, true).unwrap());
    assert_eq!(max_abs_diff(&ya, &yb), 0.0, "same seed, same masks");
    let ya2 = a.forward_t(&xs, true).unwrap();
    assert!(max_abs_diff(&ya, &ya2) > 0.0, "a new mask on every training call");
    // Training output uses batch statistics, so after reseeding both models give the same masks again.
    a.reseed_dropout(1);
    b.reseed_dropout(1);
    let (ra, rb) = (a.forward_t(&xs, true).unwrap(), b.forward_t(&xs, true).unwrap());
    assert_eq!(max_abs_diff(&ra, &rb), 0.0, "reseeded");
    assert_eq!(max_abs_diff(&ra, &ya), 0.0, "reseeding restarts the mask sequence");
    let e1 = a.forward_t(&xs, false).unwrap();
    assert_eq!(max_abs_diff(&e1, &a.forward_t(&xs, false).unwrap()), 0.0, "no dropout in eval");
}

#[test]
fn head_layout_follows_fastai_create_head() {
    let head = HeadConfig { lin_ftrs: vec![256, 128], ps: 0.0, concat_pool: false, first_bn: false };
    let config = VisionConfig { head, ..VisionConfig::default() };
    let model = VisionModel::with_config(Arch::ResNet18, 4, &config, &Device::Cpu, 0).unwrap();
    let names: Vec<String> = model.params().into_iter().filter(|p| p.group == 2).map(|p| p.name).collect();
    // No first BatchNorm: the first Linear keeps its bias; p = 0 adds no Dropout modules.
    assert_eq!(
        names,
        ["1.2.weight", "1.2.bias", "1.4.weight", "1.4.bias", "1.5.weight", "1.7.weight", "1.7.bias", "1.8.weight"]
    );
    assert_eq!(model.forward_t(&images(2, 32, 0), true).unwrap().dims(), &[2, 4]);
    let bad = VisionConfig { head: HeadConfig { ps: 1.0, ..HeadConfig::default() }, ..VisionConfig::default() };
    assert!(VisionModel::with_config(Arch::ResNet18, 4, &bad, &Device::Cpu, 0).is_err());
    assert!(VisionModel::new(Arch::ResNet18, 0, &Device::Cpu, 0).is_err());
}

#[test]
fn models_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VisionModel>();
    assert_send_sync::<fastvision_models::ResNet>();
    assert_send_sync::<fastvision_models::CifarResNet>();
}
