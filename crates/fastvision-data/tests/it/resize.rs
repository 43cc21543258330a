//! Item `Resize` against fastai/PIL outputs (golden section `resize_item`), and RandomResizedCrop properties.

use fastvision_core::rng::Rng;
use fastvision_data::{ItemTransform, PadMode, RandomResizedCrop, Resize, ResizeMethod};
use image::RgbImage;

use crate::golden::{hwc_bytes, section};

/// Pillow computes in fixed point with its own rounding; fast_image_resize follows the same algorithm in another
/// fixed-point layout, so single values may differ by one step.
const TOLERANCE: i16 = 1;

fn image_of(value: &serde_json::Value) -> RgbImage {
    let (h, w, bytes) = hwc_bytes(value);
    RgbImage::from_raw(w as u32, h as u32, bytes).unwrap()
}

fn max_abs_diff(a: &RgbImage, b: &RgbImage) -> i16 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as i16 - y as i16).abs()).max().unwrap()
}

#[test]
fn resize_matches_fastai_item_resize() {
    let golden = section("resize_item");
    let input = image_of(&golden["input_hwc_uint8"]);
    assert_eq!(input.dimensions(), (37, 23));
    let cases = [
        ("crop16_valid", ResizeMethod::Crop),
        ("crop16_train_seed42", ResizeMethod::Crop),
        ("squish16", ResizeMethod::Squish),
        ("pad16_reflection", ResizeMethod::Pad(PadMode::Reflection)),
        ("pad16_zeros", ResizeMethod::Pad(PadMode::Zeros)),
        ("crop_h10_w20_valid", ResizeMethod::Crop),
        ("crop40_upscale_valid", ResizeMethod::Crop),
    ];
    let mut report = Vec::new();
    for (key, method) in cases {
        let size = &golden[format!("{key}/size_wh")];
        let (width, height) = (size[0].as_u64().unwrap() as usize, size[1].as_u64().unwrap() as usize);
        let pcts =
            golden.get(format!("{key}/pcts")).map_or((0.5, 0.5), |p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()));
        let got = Resize { height, width, method }.apply_with_pcts(&input, pcts).unwrap();
        let expected = image_of(&golden[format!("{key}/output_hwc_uint8")]);
        report.push((key, max_abs_diff(&got, &expected)));
    }
    assert!(report.iter().all(|&(_, d)| d <= TOLERANCE), "max abs diff per case (tolerance {TOLERANCE}): {report:?}");
}

#[test]
fn plain_pil_bilinear_resizes_match() {
    let golden = section("resize_item");
    let input = image_of(&golden["input_hwc_uint8"]);
    for (key, w, h) in [("pil_resize_bilinear_to_w16_h10", 16, 10), ("pil_resize_bilinear_to_w60_h40", 60, 40)] {
        let got =
            Resize { height: h, width: w, method: ResizeMethod::Squish }.apply_with_pcts(&input, (0.5, 0.5)).unwrap();
        let diff = max_abs_diff(&got, &image_of(&golden[key]));
        assert!(diff <= TOLERANCE, "{key}: max abs diff {diff}");
    }
}

#[test]
fn random_resized_crop_is_seeded_and_sized() {
    let input = RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, (x + y) as u8]));
    let rrc = ItemTransform::RandomResizedCrop(RandomResizedCrop { min_scale: 0.35, ..RandomResizedCrop::new(32) });
    let a = rrc.apply(&input, Some(&mut Rng::new(3))).unwrap();
    let b = rrc.apply(&input, Some(&mut Rng::new(3))).unwrap();
    let c = rrc.apply(&input, Some(&mut Rng::new(4))).unwrap();
    assert_eq!(a.dimensions(), (32, 32));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let valid = rrc.apply(&input, None).unwrap();
    assert_eq!(valid.dimensions(), (32, 32));
    assert_eq!(valid, rrc.apply(&input, None).unwrap());
}

#[test]
fn training_crops_move_validation_crops_do_not() {
    let input = RgbImage::from_fn(200, 100, |x, _| image::Rgb([x as u8, 0, 0]));
    let resize = ItemTransform::resize(50);
    let crops: Vec<RgbImage> = (0..4).map(|s| resize.apply(&input, Some(&mut Rng::new(s))).unwrap()).collect();
    assert!(crops.windows(2).any(|w| w[0] != w[1]), "random crop positions should differ");
    assert_eq!(resize.apply(&input, None).unwrap(), resize.apply(&input, None).unwrap());
    assert!(matches!(ItemTransform::resize(0).validate(), Err(fastvision_data::Error::Parameter { .. })));
}
