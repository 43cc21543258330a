//! `DataBlock::summary` and `summary_all`: the same loader settings as training, and every bad file listed.

use fastvision_data::{DataBlock, DecodeLimits, Labeller};

use crate::support::class_folder;

fn block(limits: DecodeLimits) -> DataBlock {
    let labeller = Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap();
    DataBlock::builder().get_y(labeller).decode_limits(limits).build().unwrap()
}

#[test]
fn r16_summary_all_lists_every_file_that_does_not_decode() {
    let dir = class_folder(&["cat", "dog"], 10);
    for name in ["cat_90.jpg", "dog_91.jpg", "dog_92.jpg"] {
        std::fs::write(dir.path().join(name), b"not a jpeg").unwrap();
    }
    let summary = block(DecodeLimits::default()).summary_all(dir.path(), 2);
    assert_eq!(summary.failed_step.as_deref(), Some("decode (all items)"), "{summary}");
    assert_eq!(summary.problems.len(), 3, "{summary}");
    assert!(summary.text.contains("3 of 23 items could not be decoded"), "{summary}");
    for name in ["cat_90.jpg", "dog_91.jpg", "dog_92.jpg"] {
        assert!(summary.text.contains(name), "the summary should name {name}:\n{summary}");
    }
    let good = class_folder(&["cat", "dog"], 4);
    let summary = block(DecodeLimits::default()).summary_all(good.path(), 2);
    assert!(summary.is_ok() && summary.text.contains("all 8 items decode"), "{summary}");
}

#[test]
fn r16_summary_decodes_with_the_blocks_own_limits() {
    // Before issue 16 the summary decoded with default limits, so it passed where training then failed.
    let dir = class_folder(&["cat", "dog"], 4);
    let summary = block(DecodeLimits { max_alloc_bytes: 100, ..DecodeLimits::default() }).summary(dir.path(), 2);
    assert_eq!(summary.failed_step.as_deref(), Some("decode"), "{summary}");
    assert!(summary.text.contains("more than the limit of 100 bytes"), "{summary}");
}

#[test]
fn r16_a_decode_error_points_at_summary_all() {
    let dir = class_folder(&["cat", "dog"], 4);
    std::fs::write(dir.path().join("cat_9.jpg"), b"text").unwrap();
    let err = fastvision_data::decode_rgb(&dir.path().join("cat_9.jpg"), DecodeLimits::default()).unwrap_err();
    assert!(err.to_string().contains("summary --all"), "{err}");
}
