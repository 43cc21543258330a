//! The bad-input corpus: every broken file yields an error that names it (or a counted skip), never a panic.

use std::path::{Path, PathBuf};

use fastvision_data::{decode_rgb, DataBlock, DecodeLimits, Error, ItemTransform, Labeller, OnBadItem};

use crate::support::{class_folder, crc32, write_jpeg};

/// A PNG header claiming `w×h` pixels, followed by no image data.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png
}

fn corpus(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let good = dir.join("good.jpg");
    write_jpeg(&good, 64, 48, 9);
    let bytes = std::fs::read(&good).unwrap();
    let cases = [
        ("zero_byte.jpg", Vec::new(), "empty"),
        ("truncated.jpg", bytes[..bytes.len() / 3].to_vec(), ""),
        ("text.jpg", b"this is a text file, not a JPEG\n".to_vec(), ""),
        ("huge.png", png_header(30_000, 30_000), "too large"),
        ("garbage_header.png", b"\x89PNG\r\n\x1a\nxxxx".to_vec(), ""),
    ];
    cases
        .into_iter()
        .map(|(name, content, needle)| {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            (path, needle)
        })
        .collect()
}

#[test]
fn every_bad_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (path, needle) in corpus(dir.path()) {
        let err = decode_rgb(&path, DecodeLimits::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(needle), "{} should say {needle:?}: {text}", path.display());
    }
    let huge = decode_rgb(&dir.path().join("huge.png"), DecodeLimits::default()).unwrap_err();
    assert!(matches!(huge, Error::TooLarge { .. }), "{huge}");
}

#[test]
fn folders_and_vanished_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let folder_named_jpg = dir.path().join("folder.jpg");
    std::fs::create_dir(&folder_named_jpg).unwrap();
    let err = decode_rgb(&folder_named_jpg, DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::NotAFile { kind: "folder", .. }), "{err}");
    assert!(err.to_string().contains(&folder_named_jpg.display().to_string()), "{err}");
    let vanished = dir.path().join("vanished.jpg");
    let err = decode_rgb(&vanished, DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(&vanished.display().to_string()), "{err}");
}

fn block() -> DataBlock {
    DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap())
        .item_tfms(ItemTransform::resize(16))
        .build()
        .unwrap()
}

#[test]
fn unmatched_names_are_all_reported_by_summary_and_stop_dataloaders() {
    let dir = class_folder(&["cat", "dog"], 6);
    for name in ["photo_3.jpeg", "dog-7.jpg", "holiday.jpg"] {
        write_jpeg(&dir.path().join(name), 20, 20, 1);
    }
    let err = block().dataloaders(dir.path(), 2).unwrap_err();
    assert!(matches!(err, Error::Labelling { n_failed: 3, n_items: 15, .. }), "{err}");
    let summary = block().summary(dir.path(), 2);
    assert!(!summary.is_ok());
    assert_eq!(summary.failed_step.as_deref(), Some("label"));
    assert_eq!(summary.problems.len(), 3);
    for name in ["photo_3.jpeg", "dog-7.jpg", "holiday.jpg"] {
        assert!(summary.text.contains(name), "summary should name {name}:\n{summary}");
    }
    assert!(summary.text.contains("3 of 15"), "{summary}");
}

#[test]
fn one_class_only_is_a_clear_error() {
    let dir = class_folder(&["cat"], 10);
    let err = block().dataloaders(dir.path(), 2).unwrap_err();
    assert!(matches!(err, Error::OneClass { .. }), "{err}");
    assert!(err.to_string().contains("\"cat\""), "{err}");
}

#[test]
fn a_bad_file_mid_epoch_stops_or_is_skipped_and_counted() {
    let dir = class_folder(&["cat", "dog"], 10);
    std::fs::write(dir.path().join("cat_99.jpg"), b"broken").unwrap();
    let stop = block().dataloaders(dir.path(), 4).unwrap();
    let all: Vec<_> = stop.train().epoch(0).chain(stop.valid().epoch(0)).collect();
    let err = all.into_iter().find_map(Result::err).expect("the broken file must surface as an error");
    assert!(err.to_string().contains("cat_99.jpg"), "{err}");

    let skip = DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap())
        .item_tfms(ItemTransform::resize(16))
        .on_bad_item(OnBadItem::Skip)
        .build()
        .unwrap()
        .dataloaders(dir.path(), 4)
        .unwrap();
    let mut seen = 0;
    let mut skipped = Vec::new();
    for loader in [skip.train(), skip.valid()] {
        let mut epoch = loader.epoch(0);
        for batch in epoch.by_ref() {
            seen += batch.unwrap().len();
        }
        skipped.extend(epoch.skipped());
    }
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].0.ends_with("cat_99.jpg"));
    // 21 items: 17 train (4 full batches of 4 = 16 seen minus the skipped one if it fell there) + 4 valid.
    assert!(seen >= 19, "saw {seen} items");
}
