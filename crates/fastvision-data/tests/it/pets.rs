//! The fastbook pets recipe on the 370 real photos in shared/: counts, vocab, split, batches, summary, show_batch.

use fastvision_data::{DataBlock, ItemTransform, Labeller, Splitter};

use crate::support::pets_dir;

fn pets() -> DataBlock {
    DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap())
        .splitter(Splitter::random(0.2, 42))
        .item_tfms(ItemTransform::resize(128))
        .build()
        .unwrap()
}

#[test]
fn pets_items_classes_and_split() {
    let datasets = pets().datasets(&pets_dir()).unwrap();
    assert_eq!(datasets.files.len(), 370);
    assert!(datasets.errors.is_empty(), "{:?}", datasets.errors);
    assert_eq!(datasets.vocab.len(), 37);
    assert_eq!(datasets.vocab.name(0), Some("Abyssinian"));
    // fastai's order: the 12 capitalised cat breeds first, then the dog breeds.
    assert_eq!(datasets.vocab.name(11), Some("Sphynx"));
    assert_eq!(datasets.vocab.name(12), Some("american_bulldog"));
    assert_eq!((datasets.train.len(), datasets.valid.len()), (296, 74));
}

#[test]
fn pets_batches_summary_and_show_batch() {
    let dls = pets().dataloaders(&pets_dir(), 8).unwrap();
    let batch = dls.valid().epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.images.dims(), &[8, 3, 128, 128]);
    assert_eq!(batch.targets.dims(), &[8]);

    let summary = pets().summary(&pets_dir(), 4);
    assert!(summary.is_ok(), "{summary}");
    for needle in
        ["Found 370 items", "2 datasets of sizes 296,74", "37 classes", "U8 [4, 3, 128, 128]", "F32 [4, 3, 128, 128]"]
    {
        assert!(summary.text.contains(needle), "summary lacks {needle:?}:\n{summary}");
    }

    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("batch.png");
    dls.show_batch(2, 3, &png).unwrap();
    let grid = image::open(&png).unwrap();
    assert!(grid.width() >= 3 * 128 && grid.height() >= 2 * 128, "{}×{}", grid.width(), grid.height());
}
