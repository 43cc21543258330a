//! DataBlock → vision_learner → lr_find → fine_tune → get_preds → interpretation, as a user's program would run it.

use std::path::Path;

use fastvision::datasets::{render_item, DefaultDatasetConfig, DEFAULT_CLASSES};
use fastvision::interpret::ClassificationInterpretation;
use fastvision::models::Arch;
use fastvision::prelude::*;
use fastvision::train::{vision_learner_with, DatasetSplit, LearnerConfig, LrFindConfig, Metric};

/// A small folder of the built-in data set's images: `n_per_class` of each of the first `n_classes` classes.
fn small_folder(dir: &Path, n_classes: usize, n_per_class: usize) {
    let config = DefaultDatasetConfig { min_side: 64, max_side: 128, ..DefaultDatasetConfig::default() };
    for (class_idx, class) in DEFAULT_CLASSES.iter().enumerate().take(n_classes) {
        for n in 1..=n_per_class {
            let image = render_item(&config, class_idx, n).unwrap();
            image.save(dir.join(format!("{class}_{n}.jpg"))).unwrap();
        }
    }
}

#[test]
fn the_whole_workflow_on_rendered_images() {
    let data = tempfile::tempdir().unwrap();
    small_folder(data.path(), 3, 8);
    let block = DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$").unwrap())
        .splitter(Splitter::random(0.25, 42))
        .item_tfms(ItemTransform::resize(48))
        .batch_tfms(BatchAugment::new(AugConfig::with_size(32, 0.75), None).unwrap())
        .build()
        .unwrap();
    let summary = block.summary(data.path(), 4);
    assert!(summary.is_ok(), "{summary}");
    let dls = block.dataloaders(data.path(), 6).unwrap();
    assert_eq!((dls.train().n_items(), dls.valid().n_items(), dls.n_classes()), (18, 6, 3));

    let out = tempfile::tempdir().unwrap();
    let config = LearnerConfig { checkpoint_dir: out.path().join("models"), ..LearnerConfig::default() };
    let mut learn = vision_learner_with(dls, Arch::ResNet18, None, vec![Metric::ErrorRate], config).unwrap();

    let found = learn.lr_find(&LrFindConfig { num_it: 6, ..LrFindConfig::default() }).unwrap();
    assert!(!found.lrs.is_empty() && found.lrs.windows(2).all(|w| w[1] > w[0]), "{:?}", found.lrs);
    found.save_plot(&out.path().join("lr_find.png")).unwrap();

    learn.fine_tune(1, 1e-3).unwrap();
    let rows = &learn.recorder.epochs;
    assert_eq!(rows.len(), 2, "one frozen and one unfrozen epoch: {rows:?}");
    assert!(rows.iter().all(|r| r.train_loss.is_finite() && r.valid_loss.is_some_and(f64::is_finite)), "{rows:?}");

    let preds = learn.get_preds(DatasetSplit::Valid).unwrap();
    let from_learner = learn.interpretation(DatasetSplit::Valid).unwrap();
    assert_eq!(from_learner.len(), 6);
    assert_eq!((preds.len(), preds.n_classes), (6, 3));
    for i in 0..preds.len() {
        let total: f32 = preds.probs_of(i).iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "probabilities of item {i} sum to {total}");
    }
    let interp = ClassificationInterpretation::from_preds(preds, learn.dls().vocab().clone()).unwrap();
    assert_eq!(interp.confusion_matrix().total(), 6);
    let written = interp.write_outputs(out.path()).unwrap();
    assert!(written.iter().any(|p| p.ends_with("confusion_matrix.png")), "{written:?}");

    let export = out.path().join("model.safetensors");
    learn.export(&export).unwrap();
    let inference =
        fastvision::train::load_learner(&export, &fastvision::core::DeviceChoice::Cpu.open().unwrap().device).unwrap();
    let first = data.path().join(format!("{}_1.jpg", DEFAULT_CLASSES[0]));
    let prediction = inference.predict(&first).unwrap();
    assert_eq!(prediction.probs.len(), 3);
}
