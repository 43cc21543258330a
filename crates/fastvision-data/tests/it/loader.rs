//! DataLoader: seeded and reproducible, drop_last on training, ordered validation, u8 presized then float.

use candle::DType;
use fastvision_data::{DataBlock, ItemTransform, Labeller, Splitter};

use crate::support::class_folder;

fn loaders(seed: u64, dir: &std::path::Path) -> fastvision_data::DataLoaders {
    DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap())
        .splitter(Splitter::random(0.25, 7))
        .item_tfms(ItemTransform::resize(24))
        .seed(seed)
        .build()
        .unwrap()
        .dataloaders(dir, 5)
        .unwrap()
}

fn epoch_ids(loader: &fastvision_data::DataLoader, epoch: usize) -> Vec<Vec<usize>> {
    loader.epoch(epoch).map(|b| b.unwrap().item_ids).collect()
}

#[test]
fn batches_are_shaped_and_reproducible() {
    let dir = class_folder(&["ant", "Bee", "cow"], 8);
    let dls = loaders(1, dir.path());
    assert_eq!((dls.train().n_items(), dls.valid().n_items()), (18, 6));
    assert_eq!(dls.vocab().classes(), ["Bee", "ant", "cow"]);
    assert_eq!((dls.train().n_batches(), dls.valid().n_batches()), (3, 2));

    let batch = dls.one_batch().unwrap();
    assert_eq!(batch.images.dims(), &[5, 3, 24, 24]);
    assert_eq!(batch.images.dtype(), DType::F32);
    assert_eq!(batch.targets.dtype(), DType::U32);
    let max = batch.images.max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(max <= 1.0 && max > 0.0, "images should be scaled to [0, 1], max {max}");

    let again = loaders(1, dir.path()).one_batch().unwrap();
    let diff = (batch.images - again.images).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(diff, 0.0, "same seed, same batch");

    let train = dls.train();
    assert_eq!(epoch_ids(train, 0), epoch_ids(train, 0));
    assert_ne!(epoch_ids(train, 0), epoch_ids(train, 1), "each epoch is shuffled anew");
    let valid: Vec<usize> = epoch_ids(dls.valid(), 3).concat();
    assert_eq!(valid, (0..6).collect::<Vec<_>>(), "validation is ordered and complete");
    let train_seen: Vec<usize> = epoch_ids(train, 0).concat();
    assert_eq!(train_seen.len(), 15, "drop_last drops the partial batch");
}

#[test]
fn presized_batches_are_u8_before_the_batch_transform() {
    let dir = class_folder(&["ant", "bee"], 4);
    let dls = loaders(2, dir.path());
    let presized = dls.valid().load_batch(&[0, 1], 0, 0).unwrap();
    assert_eq!(presized.batch.images.dtype(), DType::U8);
    assert_eq!(presized.batch.images.dims(), &[2, 3, 24, 24]);
}
