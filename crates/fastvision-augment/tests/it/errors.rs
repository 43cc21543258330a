//! Bad input gives an `Err` that names the problem, never a panic.

use candle::{Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment, Draws, Error, ImageParams, Normalize};

fn images(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape, candle::DType::U8, &Device::Cpu).expect("tensor")
}

fn invalid_parameter(config: AugConfig, field: &str) {
    match BatchAugment::new(config, None) {
        Err(Error::InvalidParameter { name, .. }) => assert!(name.starts_with(field), "{name} for {field}"),
        other => panic!("{field}: expected InvalidParameter, got {other:?}"),
    }
}

#[test]
fn invalid_parameters_are_named() {
    invalid_parameter(AugConfig { size: Some(0), ..AugConfig::default() }, "size");
    invalid_parameter(AugConfig { max_rotate: f64::NAN, ..AugConfig::default() }, "max_rotate");
    invalid_parameter(AugConfig { p_affine: 1.5, ..AugConfig::default() }, "p_affine");
    invalid_parameter(AugConfig { min_zoom: 1.2, ..AugConfig::default() }, "max_zoom");
    invalid_parameter(AugConfig { max_lighting: 1.0, ..AugConfig::default() }, "max_lighting");
    invalid_parameter(AugConfig { min_scale: 0.5, ..AugConfig::default() }, "min_scale");
    invalid_parameter(AugConfig { min_scale: f64::NAN, size: Some(8), ..AugConfig::default() }, "min_scale");
    let bad_std = Normalize { std: [0.2, 0.0, 0.2], ..Normalize::imagenet() };
    assert!(matches!(BatchAugment::new(AugConfig::default(), Some(bad_std)), Err(Error::InvalidParameter { .. })));
}

/// Issue 16: `--size 100000` aborted allocating a 480 GB batch; the config now refuses it, naming the limit.
#[test]
fn r16_a_size_above_the_limit_is_refused_before_any_batch() {
    let limit = fastvision_core::limits::MAX_IMAGE_SIDE;
    assert!(BatchAugment::new(AugConfig::with_size(limit, 0.75), None).is_ok());
    let err = BatchAugment::new(AugConfig::with_size(100_000, 0.75), None).expect_err("size 100000");
    assert!(matches!(err, Error::OverLimit { name: "size", value: 100_000, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("size = 100000") && text.contains(&limit.to_string()), "{text}");
}

#[test]
fn bad_tensors_are_rejected() {
    let augment = BatchAugment::new(AugConfig::with_size(8, 0.75), Some(Normalize::imagenet())).expect("config");
    assert!(matches!(augment.apply_train(&images(&[3, 16, 16]), 0), Err(Error::NotABatch { .. })));
    assert!(matches!(augment.apply_train(&images(&[1, 3, 0, 16]), 0), Err(Error::EmptyImage { .. })));
    assert!(matches!(augment.apply_train(&images(&[1, 4, 16, 16]), 0), Err(Error::ChannelMismatch { channels: 4 })));
    let wide = Tensor::zeros((1, 3, 16, 16), candle::DType::I64, &Device::Cpu).expect("tensor");
    let err = augment.apply_train(&wide, 0).expect_err("i64 images");
    assert!(err.to_string().contains("u8") && err.to_string().contains("I64"), "{err}");
}

#[test]
fn mismatched_plans_are_rejected() {
    let augment = BatchAugment::new(AugConfig::with_size(8, 0.75), None).expect("config");
    let batch = images(&[2, 3, 16, 16]);
    let plan = augment.plan_train(2, 16, 16, 1).expect("plan");
    assert!(matches!(augment.apply_planned(&batch, &plan[..1]), Err(Error::PlanMismatch { .. })));
    let other_size = augment.plan_train(2, 20, 16, 1).expect("plan");
    assert!(matches!(augment.apply_planned(&batch, &other_size), Err(Error::PlanMismatch { .. })));
    let mut nan = plan.clone();
    nan[1].draws.contrast = f64::NAN;
    assert!(matches!(augment.apply_planned(&batch, &nan), Err(Error::PlanMismatch { .. })));
    let mut outside = plan;
    outside[0].draws.crop = Some(fastvision_augment::Crop { top: 10, left: 0, height: 10, width: 10 });
    let err = augment.apply_planned(&batch, &outside).expect_err("crop outside");
    assert!(err.to_string().contains("crop"), "{err}");
    assert!(matches!(augment.plan_train(1, 0, 4, 0), Err(Error::EmptyImage { .. })));
    let _ = ImageParams::from_draws(Draws::neutral(), 16, 16);
}

#[test]
fn an_empty_batch_gives_an_empty_output() {
    let augment = BatchAugment::new(AugConfig::with_size(8, 0.75), None).expect("config");
    let out = augment.apply_train(&images(&[0, 3, 16, 16]), 0).expect("empty batch");
    assert_eq!(out.dims(), &[0, 3, 8, 8]);
}
