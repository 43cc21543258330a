//! Properties of the fused kernel that need no golden file: identity and plain resizes, flip∘flip, determinism,
//! thread-count independence, the valid path, value ranges, output types, and equality with fastai's passes
//! wherever fastai also samples only once.

use candle::{Device, Tensor};
use fastvision_augment::{
    reference, AugConfig, BatchAugment, Draws, ImageParams, Mode, Normalize, OutputDType, PadMode, Resampling,
};

use crate::support::{noise_u8, values};
use fastvision_core::testing::{assert_close, Tolerance};

fn u8_batch(n: usize, h: usize, w: usize, seed: u64) -> Tensor {
    Tensor::from_vec(noise_u8(n * 3 * h * w, seed), (n, 3, h, w), &Device::Cpu).expect("tensor")
}

fn float_batch(images: &Tensor) -> reference::FloatBatch {
    let (n, c, h, w) = images.dims4().expect("4-d");
    let data = values(images).into_iter().map(|v| v / 255.0).collect();
    reference::FloatBatch::new(data, n, c, h, w).expect("batch")
}

#[test]
fn identity_is_int_to_float_and_normalize() {
    let images = u8_batch(2, 7, 9, 1);
    let raw = values(&images);
    let out = values(&BatchAugment::identity(None).expect("identity").apply_train(&images, 5).expect("apply"));
    let expected: Vec<f32> = raw.iter().map(|v| v / 255.0).collect();
    assert_close(&out, &expected, Tolerance::absolute(0.0), "identity");
    let normalize = Normalize::imagenet();
    let out =
        values(&BatchAugment::identity(Some(normalize)).expect("identity").apply_train(&images, 5).expect("apply"));
    let plane = 7 * 9;
    let expected: Vec<f32> = expected
        .iter()
        .enumerate()
        .map(|(k, v)| (v - normalize.mean[(k / plane) % 3]) / normalize.std[(k / plane) % 3])
        .collect();
    assert_close(&out, &expected, Tolerance::absolute(1e-6), "identity + normalize");
}

#[test]
fn no_augmentation_with_a_size_is_a_plain_resize() {
    let images = u8_batch(2, 30, 20, 2);
    let config = AugConfig { size: Some(12), antialias: false, ..AugConfig::none() };
    let out = values(&BatchAugment::new(config, None).expect("config").apply_train(&images, 3).expect("apply"));
    let expected =
        reference::affine_coord(&float_batch(&images), None, None, 12, 12, Mode::Bilinear, PadMode::Reflection, true);
    assert_close(&out, &expected.data, Tolerance::absolute(1e-5), "squish resize");
}

#[test]
fn valid_path_is_a_centre_crop_and_resize() {
    let images = u8_batch(2, 30, 20, 4);
    let config = AugConfig { antialias: false, ..AugConfig::with_size(16, 0.5) };
    let augment = BatchAugment::new(config, None).expect("config");
    // The valid path takes no seed, so it cannot draw.
    let a = values(&augment.apply_valid(&images).expect("valid"));
    // Centre square crop 20×20 at row 5, then a bilinear resize to 16×16 with align_corners.
    let batch = float_batch(&images);
    let mut expected = Vec::new();
    for n in 0..2 {
        let crop: Vec<f32> = (0..3)
            .flat_map(|c| (5..25).flat_map(move |y| (0..20).map(move |x| (c, y, x))))
            .map(|(c, y, x)| batch.image(n)[(c * 30 + y) * 20 + x])
            .collect();
        let crop = reference::FloatBatch::new(crop, 1, 3, 20, 20).expect("crop");
        let coords = reference::affine_grid(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 16, 16, true);
        expected.extend(reference::grid_sample(
            &crop.data,
            3,
            20,
            20,
            &coords,
            Mode::Bilinear,
            PadMode::Reflection,
            true,
        ));
    }
    assert_close(&a, &expected, Tolerance::absolute(1e-5), "valid crop + resize");
}

#[test]
fn flip_twice_is_the_identity() {
    let images = u8_batch(1, 11, 13, 5);
    let flip = ImageParams::from_draws(Draws { dihedral: 1, ..Draws::neutral() }, 11, 13);
    let augment = BatchAugment::new(AugConfig::none(), None).expect("config");
    let once = augment.apply_planned(&images, &[flip]).expect("flip");
    let twice = values(&augment.apply_planned(&once, &[flip]).expect("flip"));
    let expected: Vec<f32> = values(&images).iter().map(|v| v / 255.0).collect();
    assert_close(&twice, &expected, Tolerance::absolute(1e-6), "flip∘flip");
    assert!(assert_close(&values(&once), &expected, Tolerance::absolute(1.0), "flip moves pixels") > 0.1);
}

#[test]
fn same_seed_same_batch_and_seeds_differ() {
    let images = u8_batch(4, 40, 40, 6);
    let augment = BatchAugment::new(AugConfig::with_size(24, 0.75), Some(Normalize::imagenet())).expect("config");
    let a = values(&augment.apply_train(&images, 7).expect("apply"));
    let b = values(&augment.apply_train(&images, 7).expect("apply"));
    let c = values(&augment.apply_train(&images, 8).expect("apply"));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn result_is_independent_of_the_thread_count() {
    let images = u8_batch(3, 50, 50, 9);
    let augment = BatchAugment::new(AugConfig::with_size(32, 0.75), None).expect("config");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| values(&augment.apply_train(&images, 11).expect("apply")))
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn output_is_finite_and_in_the_normalised_range() {
    let images = u8_batch(8, 36, 30, 12);
    let normalize = Normalize::imagenet();
    for pad_mode in [PadMode::Reflection, PadMode::Zeros, PadMode::Border] {
        let config =
            AugConfig { pad_mode, max_warp: 0.4, max_rotate: 45.0, min_zoom: 0.6, ..AugConfig::with_size(20, 0.3) };
        let out = values(
            &BatchAugment::new(config, Some(normalize)).expect("config").apply_train(&images, 13).expect("apply"),
        );
        for (k, v) in out.iter().enumerate() {
            let c = (k / 400) % 3;
            let (lo, hi) = (-normalize.mean[c] / normalize.std[c], (1.0 - normalize.mean[c]) / normalize.std[c]);
            assert!(
                v.is_finite() && *v >= lo - 1e-5 && *v <= hi + 1e-5,
                "{pad_mode:?} value {v} at {k} outside [{lo}, {hi}]"
            );
        }
    }
}

#[test]
fn half_outputs_round_the_f32_output() {
    let images = u8_batch(2, 32, 32, 14);
    let run = |output_dtype| {
        let config = AugConfig { output_dtype, ..AugConfig::with_size(16, 0.75) };
        let out = BatchAugment::new(config, Some(Normalize::imagenet()))
            .expect("config")
            .apply_train(&images, 3)
            .expect("apply");
        assert_eq!(out.dtype(), output_dtype.dtype());
        values(&out)
    };
    let full = run(OutputDType::F32);
    assert_close(&run(OutputDType::F16), &full, Tolerance::absolute(2.7 * 2f32.powi(-11)), "f16");
    assert_close(&run(OutputDType::BF16), &full, Tolerance::absolute(2.7 * 2f32.powi(-8)), "bf16");
}

/// Without a random resized crop fastai samples once too, so the fused kernel must equal fastai's passes for
/// every draw: rotation, zoom, warp, flips, lighting, each padding and mode.
#[test]
fn fused_equals_fastai_where_fastai_samples_once() {
    let images = u8_batch(6, 24, 28, 15);
    for (mode, pad_mode, align_corners) in [
        (Mode::Bilinear, PadMode::Reflection, true),
        (Mode::Bilinear, PadMode::Zeros, false),
        (Mode::Bilinear, PadMode::Border, true),
        (Mode::Nearest, PadMode::Reflection, false),
    ] {
        let base = AugConfig { mode, pad_mode, align_corners, flip_vert: true, max_warp: 0.3, ..AugConfig::default() };
        let fused = BatchAugment::new(base.clone(), None).expect("config");
        let passes = BatchAugment::new(AugConfig { resampling: Resampling::Fastai, ..base }, None).expect("config");
        let plan = fused.plan_train(6, 24, 28, 21).expect("plan");
        let a = values(&fused.apply_planned(&images, &plan).expect("fused"));
        let b = values(&passes.apply_planned(&images, &plan).expect("passes"));
        // Nearest picks may flip where a coordinate sits within rounding of a tie; allow 0.1 % of them.
        let mismatched = a.iter().zip(&b).filter(|(x, y)| (*x - *y).abs() > 1e-4).count();
        assert!(mismatched * 1000 <= a.len(), "{mode:?} {pad_mode:?}: {mismatched} of {} values differ", a.len());
        if mode == Mode::Bilinear {
            assert_close(&a, &b, Tolerance::absolute(1e-4), &format!("{mode:?} {pad_mode:?} ac={align_corners}"));
        }
    }
}

/// A one-pixel-wide image takes the four-tap path (no horizontal pair exists); both paths must agree with
/// `grid_sample`.
#[test]
fn narrow_images_are_sampled_like_grid_sample() {
    for (h, w) in [(9, 1), (1, 9), (2, 2)] {
        let images = u8_batch(2, h, w, 16);
        let config = AugConfig { size: Some(5), antialias: false, pad_mode: PadMode::Zeros, ..AugConfig::none() };
        let out = values(&BatchAugment::new(config, None).expect("config").apply_train(&images, 0).expect("apply"));
        let expected =
            reference::affine_coord(&float_batch(&images), None, None, 5, 5, Mode::Bilinear, PadMode::Zeros, true);
        assert_close(&out, &expected.data, Tolerance::absolute(1e-5), &format!("{h}×{w} → 5×5"));
    }
}
