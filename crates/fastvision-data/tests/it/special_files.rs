//! Issue 16, "special files never block; listing never reads a run's own outputs": FIFOs are skipped and
//! reported, exclusions and output folders are not entered, and `summary` says what it skipped and why.

use std::path::Path;

use fastvision_core::fs::{mark_output_dir, OUTPUT_MARKER};
use fastvision_data::{decode_rgb, DataBlock, DecodeLimits, Error, FileFilter, Labeller, SkipReason};

use crate::support::{class_folder, mkfifo, within, write_jpeg};

fn block() -> DataBlock {
    DataBlock::builder().get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap()).build().unwrap()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap().display().to_string()
}

#[test]
fn r16_a_fifo_named_jpg_neither_blocks_summary_nor_the_loaders() {
    let dir = class_folder(&["cat", "dog"], 4);
    mkfifo(&dir.path().join("cat_9.jpg"));
    let root = dir.path().to_path_buf();
    let summary = within(60, "summary_all over a FIFO", move || block().summary_all(&root, 2));
    assert!(summary.is_ok(), "{summary}");
    assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
    assert_eq!(summary.skipped[0].reason, SkipReason::NotARegularFile { kind: "FIFO" });
    for needle in ["Found 8 items", "Skipped 1 entries", "cat_9.jpg: a FIFO, not a regular file"] {
        assert!(summary.text.contains(needle), "the summary should say {needle:?}:\n{summary}");
    }
    let root = dir.path().to_path_buf();
    let (n_seen, n_expected) = within(60, "an epoch over a FIFO", move || {
        let dls = block().dataloaders(&root, 2).unwrap();
        let mut n_seen = 0;
        for loader in [dls.train(), dls.valid()] {
            n_seen += loader.epoch(0).map(|batch| batch.unwrap().len()).sum::<usize>();
        }
        (n_seen, dls.train().n_batches() * 2 + dls.valid().n_items())
    });
    assert_eq!(n_seen, n_expected);
}

#[test]
fn r16_decoding_a_fifo_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.jpg");
    mkfifo(&fifo);
    let path = fifo.clone();
    let err = within(10, "decode_rgb of a FIFO", move || decode_rgb(&path, DecodeLimits::default())).unwrap_err();
    assert!(matches!(err, Error::NotAFile { kind: "FIFO", .. }), "{err}");
    assert!(err.to_string().contains(&fifo.display().to_string()), "{err}");
}

#[test]
fn r16_exclusions_and_output_folders_are_neither_listed_nor_entered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["a/x.jpg", "out/y.jpg", "run/z.jpg", "cache/data/w.jpg", "show_batch.png"] {
        write_jpeg(&root.join(name), 8, 8, 1);
    }
    mark_output_dir(&root.join("run")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere.jpg"), root.join("broken.jpg")).unwrap();
    let filter = FileFilter::default()
        .exclude(root.join("out"))
        .exclude(root.join("cache/../cache"))
        .exclude(root.join("show_batch.png"))
        .exclude(root.join("not-made-yet"));
    let listing = filter.list(root).unwrap();
    let files: Vec<String> = listing.files.iter().map(|p| relative(root, p)).collect();
    assert_eq!(files, ["a/x.jpg"]);
    let skipped: Vec<(String, SkipReason)> =
        listing.skipped.iter().map(|s| (relative(root, &s.path), s.reason)).collect();
    assert_eq!(
        skipped,
        [
            ("broken.jpg".into(), SkipReason::BrokenLink),
            ("cache".into(), SkipReason::Excluded),
            ("out".into(), SkipReason::Excluded),
            ("run".into(), SkipReason::OutputFolder),
            ("show_batch.png".into(), SkipReason::Excluded),
        ]
    );
    assert!(root.join("run").join(OUTPUT_MARKER).is_file());
}

#[test]
fn r16_the_folder_named_is_listed_even_if_excluded_or_marked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("cache/pets");
    write_jpeg(&data.join("cat_1.jpg"), 8, 8, 1);
    mark_output_dir(&data).unwrap();
    let listing = FileFilter::default().exclude(dir.path().join("cache")).list(&data).unwrap();
    assert_eq!(listing.files, [data.join("cat_1.jpg")]);
}

#[test]
fn r16_datablock_exclude_keeps_a_run_from_reading_its_outputs() {
    let dir = class_folder(&["cat", "dog"], 4);
    let out = dir.path().join("target/fastvision-run");
    for name in ["cat_10.jpg", "dog_10.jpg"] {
        write_jpeg(&out.join(name), 8, 8, 2);
    }
    let labeller = || Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap();
    let block = DataBlock::builder().get_y(labeller()).exclude(&out).build().unwrap();
    assert_eq!(block.get_items(dir.path()).unwrap().len(), 8);
    let summary = block.summary(dir.path(), 2);
    assert!(summary.text.contains("excluded (the run's output or cache folder)"), "{summary}");
    // With a custom get_items the exclusion could not be applied: an error, not a silent no-op.
    let custom = DataBlock::builder().get_y(labeller()).get_items("mine", |p| Ok(vec![p.join("cat_1.jpg")]));
    let err = custom.exclude(&out).build().unwrap_err();
    assert!(err.to_string().contains("exclude") && err.to_string().contains("mine"), "{err}");
}

#[test]
fn r16_no_images_says_what_was_skipped() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("only.jpg"));
    let err = fastvision_data::get_image_files(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NoImages { .. }), "{err}");
    assert!(err.to_string().contains("only.jpg") && err.to_string().contains("FIFO"), "{err}");
}
