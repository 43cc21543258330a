//! JPEG pixels equal Pillow's exactly (fastai decodes with Pillow), and broken JPEGs are errors, never panics.
//!
//! The fixtures in tests/fixtures/jpeg/ come from its make_fixtures.py: small JPEGs of each common kind with the
//! pixels Pillow decodes from them, and hashes of Pillow's pixels for a few shared pets photos. zune-jpeg (the decoder
//! behind `image`) was 1–13 levels off on every one of them.

use std::path::{Path, PathBuf};

use fastvision_data::{decode_rgb, DecodeLimits, Error};
use image::RgbImage;

use crate::support::{pets_dir, write_jpeg};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg")
}

/// The largest per-channel difference and how many bytes differ.
fn diff(a: &RgbImage, b: &RgbImage) -> (u8, usize) {
    let pairs = a.as_raw().iter().zip(b.as_raw());
    pairs.fold((0, 0), |(max, n), (&x, &y)| (max.max(x.abs_diff(y)), n + usize::from(x != y)))
}

#[test]
fn every_kind_of_jpeg_decodes_to_pillows_exact_pixels() {
    let kinds = ["s420", "s422", "s444", "progressive", "restarts", "gray", "cmyk", "exif6"];
    let mut report = Vec::new();
    for kind in kinds {
        let got = decode_rgb(&fixtures().join(format!("{kind}.jpg")), DecodeLimits::default()).unwrap();
        let pillow = image::open(fixtures().join(format!("{kind}.png"))).unwrap().into_rgb8();
        if got.dimensions() != pillow.dimensions() {
            report.push(format!("{kind}: {:?} instead of Pillow's {:?}", got.dimensions(), pillow.dimensions()));
            continue;
        }
        let (max, n) = diff(&got, &pillow);
        if n > 0 {
            report.push(format!("{kind}: {n} bytes differ, by up to {max}"));
        }
    }
    assert!(report.is_empty(), "decode_rgb differs from Pillow: {report:#?}");
    // The EXIF orientation was applied: the 61×45 JPEG is displayed 45×61.
    let exif6 = decode_rgb(&fixtures().join("exif6.jpg"), DecodeLimits::default()).unwrap();
    assert_eq!(exif6.dimensions(), (45, 61));
}

/// FNV-1a, 64 bits: what make_fixtures.py hashes Pillow's pixels with.
fn fnv1a64(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    format!("{hash:016x}")
}

#[test]
fn pets_photos_decode_to_pillows_exact_pixels() {
    let text = std::fs::read_to_string(fixtures().join("pets.json")).unwrap();
    let expected: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(expected.len(), 4);
    for (name, want) in expected {
        let got = decode_rgb(&pets_dir().join(&name), DecodeLimits::default()).unwrap();
        let size = (want["width"].as_u64().unwrap() as u32, want["height"].as_u64().unwrap() as u32);
        assert_eq!(got.dimensions(), size, "{name}");
        assert_eq!(fnv1a64(got.as_raw()), want["fnv1a64"].as_str().unwrap(), "{name}: pixels differ from Pillow's");
    }
}

/// The 20 CIFAR training JPEGs of `weights/cifar-resnet/reference-logits.json` (the ones the CIFAR ResNets are
/// checked on) against Pillow's pixels of them, the fixture fastvision-models' tests feed the models.
#[test]
fn cifar_reference_jpegs_decode_to_pillows_exact_pixels() {
    let shared = crate::support::shared();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("weights/cifar-resnet/reference-logits.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = reference["images"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let pillow = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fastvision-models/tests/it/data/cifar20-pillow-pixels.safetensors");
    let pillow = candle::safetensors::load(pillow, &candle::Device::Cpu).unwrap().remove("pixels").unwrap();
    assert_eq!(pillow.dims(), &[names.len(), 32, 32, 3]);
    let pillow = pillow.flatten_all().unwrap().to_vec1::<u8>().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let archive = std::fs::File::open(shared.join("data/cifar10-train.tar.gz")).unwrap();
    for entry in tar::Archive::new(flate2::read::GzDecoder::new(archive)).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().trim_start_matches("train/").to_owned();
        if names.contains(&name.as_str()) {
            entry.unpack(dir.path().join(name.replace('/', "_"))).unwrap();
        }
    }
    let mut report = Vec::new();
    for (name, expected) in names.iter().zip(pillow.chunks_exact(32 * 32 * 3)) {
        let got = decode_rgb(&dir.path().join(name.replace('/', "_")), DecodeLimits::default()).unwrap();
        let expected = RgbImage::from_raw(32, 32, expected.to_vec()).unwrap();
        let (max, n) = diff(&got, &expected);
        if got.dimensions() != (32, 32) || n > 0 {
            report.push(format!("{name}: {:?}, {n} bytes differ, by up to {max}", got.dimensions()));
        }
    }
    assert!(report.is_empty(), "decode_rgb differs from Pillow: {report:#?}");
}

/// Overwrites the frame size in the SOF0 segment of a baseline JPEG.
fn with_frame_size(mut jpeg: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).expect("a baseline JPEG has SOF0");
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

#[test]
fn broken_jpegs_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jpg");
    write_jpeg(&good, 64, 48, 3);
    let bytes = std::fs::read(&good).unwrap();
    let mut garbage = vec![0xFF, 0xD8, 0xFF];
    garbage.extend((0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let cases = [
        // Cut inside the entropy-coded data: libjpeg would pad it with grey; Pillow refuses it, and so do we.
        ("truncated_data.jpg", bytes[..bytes.len() - 40].to_vec(), "truncated"),
        ("truncated_header.jpg", bytes[..40].to_vec(), "truncated"),
        ("garbage.jpg", garbage, ""),
        ("soi_only.jpg", vec![0xFF, 0xD8, 0xFF, 0xD9], ""),
        ("zero_size.jpg", with_frame_size(bytes.clone(), 0, 0), ""),
    ];
    for (name, content, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let err = decode_rgb(&path, DecodeLimits::default()).expect_err(name);
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err}");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(needle), "{name} should say {needle:?}: {text}");
    }
    // The decoder is still usable after an error unwound out of it.
    assert_eq!(decode_rgb(&good, DecodeLimits::default()).unwrap().dimensions(), (64, 48));
}

#[test]
fn jpegs_beyond_the_limits_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jpg");
    write_jpeg(&good, 64, 48, 3);
    let huge = dir.path().join("huge.jpg");
    std::fs::write(&huge, with_frame_size(std::fs::read(&good).unwrap(), 30_000, 30_000)).unwrap();
    let err = decode_rgb(&huge, DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("30000×30000"), "{err}");

    let small_budget = DecodeLimits { max_alloc_bytes: 64 * 48 * 3 - 1, ..DecodeLimits::default() };
    let err = decode_rgb(&good, small_budget).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let exact_budget = DecodeLimits { max_side: 64, max_alloc_bytes: 64 * 48 * 3, ..DecodeLimits::default() };
    assert_eq!(decode_rgb(&good, exact_budget).unwrap().dimensions(), (64, 48));
}
