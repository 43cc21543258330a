//! Mixed precision through the learner on the CPU (candle's f16 kernels are slow but enough to test with): an f16
//! fit trains, f16's loss scaling skips a step whose gradients overflow, and bf16 (no CPU matmul) is refused.

use candle::DType;
use fastvision_models::Arch;
use fastvision_train::loss_scale::LossScaler;
use fastvision_train::{vision_learner_with, LearnerConfig, Metric};

use crate::fixture::{dataloaders, param_values, temp_dir};

fn learner(dir: &std::path::Path, dtype: DType) -> fastvision_train::Learner {
    let config =
        LearnerConfig { checkpoint_dir: dir.join("models"), compute_dtype: Some(dtype), ..LearnerConfig::default() };
    vision_learner_with(dataloaders(&dir.join("images")), Arch::ResNet18, None, vec![Metric::ErrorRate], config)
        .expect("vision_learner")
}

#[test]
fn f16_overflow_skips_the_step_and_halves_the_scale() {
    let dir = temp_dir();
    let mut learn = learner(dir.path(), DType::F16);
    // 2^40 times the loss overflows f16 (largest finite 65504) on the way back through every convolution.
    learn.set_loss_scaler(LossScaler::new(2f64.powi(40), 2000));
    let before = param_values(&learn);
    learn.fit(1, 1e-3).expect("a fit whose steps overflow still ends");
    let n_batches = learn.dls().train().n_batches();
    assert_eq!(learn.loss_scaler().skipped(), n_batches, "every step overflowed");
    assert_eq!(learn.loss_scaler().scale(), 2f64.powi(40 - n_batches as i32));
    assert_eq!(param_values(&learn), before, "skipped steps leave the weights as they were");
}

#[test]
fn f16_fit_trains_with_finite_losses() {
    let dir = temp_dir();
    let mut learn = learner(dir.path(), DType::F16);
    // On the CPU, candle's f16 convolutions overflowed at PyTorch's starting scale 2^16 (3 of 3 steps skipped)
    // and at 2^8 (2 of 3); scale 1 lets every step of this short fit through. cuDNN accumulates in f32.
    learn.set_loss_scaler(LossScaler::new(1.0, 2000));
    let before = param_values(&learn);
    learn.fit_one_cycle(1, 1e-3).expect("f16 fit");
    assert_eq!(learn.loss_scaler().skipped(), 0, "no overflow at scale 1");
    let row = learn.recorder.epochs.last().expect("an epoch row");
    assert!(row.train_loss.is_finite() && row.valid_loss.is_some_and(f64::is_finite), "{row:?}");
    assert_ne!(param_values(&learn), before, "the weights moved");
}

#[test]
fn bf16_on_the_cpu_is_refused_with_the_reason() {
    let dir = temp_dir();
    let config = LearnerConfig {
        checkpoint_dir: dir.path().join("models"),
        compute_dtype: Some(DType::BF16),
        ..Default::default()
    };
    let err = vision_learner_with(dataloaders(&dir.path().join("images")), Arch::ResNet18, None, vec![], config)
        .expect_err("bf16 on the CPU");
    assert!(err.to_string().contains("no bf16"), "{err}");
}
