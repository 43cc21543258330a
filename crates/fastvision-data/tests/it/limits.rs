//! Issue 16, "every size is bounded before anything is allocated": decode limits on every format checked against
//! the header, the pad canvas, the batch and the presize, each refused with an error naming the file or value and
//! the limit.

use std::path::Path;

use fastvision_augment::{AugConfig, BatchAugment};
use fastvision_data::{
    decode_rgb, DataBlock, DecodeLimits, Error, ItemTransform, Labeller, OnBadItem, PadMode, Resize, ResizeMethod,
};

use crate::support::{class_folder, png_bomb, write_blank_png};

const PNG_OR_JPG: &str = r"(.+)_\d+\.(jpg|png)$";

fn block(item_tfm: ItemTransform, limits: DecodeLimits, on_bad_item: OnBadItem) -> DataBlock {
    DataBlock::builder()
        .get_y(Labeller::regex_on_name(PNG_OR_JPG).unwrap())
        .item_tfms(item_tfm)
        .decode_limits(limits)
        .on_bad_item(on_bad_item)
        .build()
        .unwrap()
}

#[test]
fn r16_a_png_bomb_is_refused_from_its_header() {
    let err = decode_rgb(png_bomb(), DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let text = err.to_string();
    for needle in [&png_bomb().display().to_string(), "20000×20000", "1.1 GiB", "limit of 1 GiB", "--decode-limit-mib"]
    {
        assert!(text.contains(needle), "the error should say {needle:?}: {text}");
    }
}

/// The high-water mark of this process's resident memory, in kB (Linux).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Issue 16: a 1.2 MB PNG decoded to 1.2 GB of RSS whatever the limit. Measured in a child process running only
/// this test, so other tests' memory does not count.
#[test]
#[allow(clippy::print_stdout)] // the child prints its measurement for the parent
fn r16_refusing_a_png_bomb_allocates_nothing_of_its_size() {
    const CHILD: &str = "FASTVISION_R16_BOMB";
    if let Some(bomb) = std::env::var_os(CHILD) {
        let before = peak_rss_kb();
        let result = decode_rgb(Path::new(&bomb), DecodeLimits::default());
        println!("peak-rss-kb {before} {} {}", peak_rss_kb(), result.is_err());
        return;
    }
    let test = "limits::r16_refusing_a_png_bomb_allocates_nothing_of_its_size";
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, png_bomb())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.split("peak-rss-kb ").nth(1)).unwrap_or_else(|| panic!("{stdout}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let (before, after): (u64, u64) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    assert_eq!(fields[2], "true", "the bomb must be refused");
    // The file itself (1.2 MB) is read; the pixels (1.2 GB) are not allocated.
    assert!(after - before < 16 * 1024, "peak RSS grew by {} kB refusing the bomb", after - before);
}

#[test]
fn r16_the_loader_refuses_or_skips_a_bomb_naming_it() {
    let dir = class_folder(&["cat", "dog"], 6);
    let bomb = dir.path().join("cat_99.png");
    std::fs::copy(png_bomb(), &bomb).unwrap();
    let stop = block(ItemTransform::resize(16), DecodeLimits::default(), OnBadItem::Stop);
    let dls = stop.dataloaders(dir.path(), 1).unwrap();
    let err = [dls.train(), dls.valid()]
        .into_iter()
        .find_map(|loader| loader.epoch(0).find_map(Result::err))
        .expect("the bomb is an error");
    assert!(matches!(err, Error::TooLarge { .. }) && err.to_string().contains("cat_99.png"), "{err}");

    let skip = block(ItemTransform::resize(16), DecodeLimits::default(), OnBadItem::Skip);
    // One training batch, so no item is dropped (and a batch whose every item fails is an error even when
    // skipping).
    let n_train = skip.datasets(dir.path()).unwrap().train.len();
    let dls = skip.dataloaders(dir.path(), n_train).unwrap();
    let mut skipped = Vec::new();
    for loader in [dls.train(), dls.valid()] {
        let mut epoch = loader.epoch(0);
        assert!(epoch.by_ref().all(|batch| batch.is_ok()));
        skipped.extend(epoch.skipped());
    }
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].0.ends_with("cat_99.png") && skipped[0].1.contains("20000×20000"), "{skipped:?}");
}

#[test]
fn r16_the_pad_canvas_counts_toward_the_limit() {
    // 3000×2 px is 18 kB decoded, but padding it to a square needs a 3000×3000 canvas (27 MB).
    let dir = class_folder(&["cat", "dog"], 3);
    write_blank_png(&dir.path().join("cat_9.png"), 3000, 2);
    let limits = DecodeLimits { max_alloc_bytes: 4 << 20, ..DecodeLimits::default() };
    assert!(decode_rgb(&dir.path().join("cat_9.png"), limits).is_ok());
    let pad = ItemTransform::Resize(Resize { height: 16, width: 16, method: ResizeMethod::Pad(PadMode::Zeros) });
    let dls = block(pad, limits, OnBadItem::Stop).dataloaders(dir.path(), 1).unwrap();
    let err = [dls.train(), dls.valid()]
        .into_iter()
        .find_map(|loader| loader.epoch(0).find_map(Result::err))
        .expect("the pad canvas is over the limit");
    let text = err.to_string();
    assert!(text.contains("cat_9.png") && text.contains("3000×3000 px crop/pad canvas"), "{text}");
}

#[test]
fn r16_a_batch_over_the_limit_is_refused_when_the_loaders_are_made() {
    let dir = class_folder(&["cat", "dog"], 3);
    let augment = BatchAugment::new(AugConfig::with_size(224, 0.75), None).unwrap();
    let block = DataBlock::builder()
        .get_y(Labeller::regex_on_name(PNG_OR_JPG).unwrap())
        .batch_tfms(augment.clone())
        .build()
        .unwrap();
    let err = block.train_loader_config(100_000).validate(&augment).unwrap_err();
    assert!(matches!(err, Error::BatchTooLarge { batch_size: 100_000, .. }), "{err}");
    let text = err.to_string();
    for needle in ["batch_size = 100000", "3×460×460 u8", "3×224×224 F32", "limit of 2 GiB"] {
        assert!(text.contains(needle), "the error should say {needle:?}: {text}");
    }
    assert!(block.train_loader_config(64).validate(&augment).is_ok());
    // The summary reports it as a failed step instead of aborting.
    let summary = block.summary(dir.path(), 100_000);
    assert_eq!(summary.failed_step.as_deref(), Some("dataloaders"), "{summary}");
}

#[test]
fn r16_a_presize_over_the_limit_is_refused_when_the_block_is_built() {
    let err = DataBlock::builder()
        .get_y(Labeller::ParentFolder)
        .item_tfms(ItemTransform::resize(100_000))
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("100000×100000") && text.contains("8192"), "{text}");
}

#[test]
fn r16_a_tiny_in_flight_budget_still_finishes() {
    // Every decode needs more than the budget, so each runs alone; none waits forever.
    let dir = class_folder(&["cat", "dog"], 8);
    let limits = DecodeLimits { max_in_flight_bytes: 1, ..DecodeLimits::default() };
    let dls = block(ItemTransform::resize(16), limits, OnBadItem::Stop).dataloaders(dir.path(), 4).unwrap();
    let n_seen: usize = dls.train().epoch(0).map(|batch| batch.unwrap().len()).sum();
    assert_eq!(n_seen, dls.train().n_batches() * 4);
}
