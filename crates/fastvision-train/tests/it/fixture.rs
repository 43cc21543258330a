//! A tiny image folder written by the test itself (two colour classes), and a resnet18 learner on it at 32 px.

use std::path::{Path, PathBuf};

use fastvision_augment::{AugConfig, BatchAugment};
use fastvision_data::{DataBlock, DataLoaders, ItemTransform, Labeller, Splitter};
use fastvision_models::Arch;
use fastvision_train::{vision_learner_with, Learner, LearnerConfig, Metric};
use image::{Rgb, RgbImage};

/// Writes `n_per_class` 40×40 PNGs per class (`red_3.png`, `blue_7.png`) with a little seeded noise.
pub fn write_images(dir: &Path, n_per_class: usize) {
    let classes = [("blue", [40u8, 60, 200]), ("red", [200u8, 50, 40])];
    for (name, base) in classes {
        for i in 0..n_per_class {
            let img = RgbImage::from_fn(40, 40, |x, y| {
                let noise = ((x * 7 + y * 13 + i as u32 * 31) % 23) as u8;
                Rgb([base[0].saturating_add(noise), base[1].saturating_add(noise), base[2].saturating_add(noise)])
            });
            img.save(dir.join(format!("{name}_{i}.png"))).expect("writing a test image");
        }
    }
}

/// 2 classes × 8 images: 12 training (3 batches of 4), 4 validation, presized to 40 and augmented to 32 px.
pub fn dataloaders(dir: &Path) -> DataLoaders {
    write_images(dir, 8);
    let batch_tfm = BatchAugment::new(AugConfig::with_size(32, 0.75), None).expect("batch transform");
    let block = DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.png$").expect("regex"))
        .splitter(Splitter::random(0.25, 42))
        .item_tfms(ItemTransform::resize(40))
        .batch_tfms(batch_tfm)
        .build()
        .expect("data block");
    block.dataloaders(dir, 4).expect("dataloaders")
}

/// A resnet18 learner (random init, not frozen) with error_rate, checkpoints in `dir/models`.
pub fn learner(dir: &Path) -> Learner {
    let config = LearnerConfig { checkpoint_dir: dir.join("models"), ..LearnerConfig::default() };
    vision_learner_with(dataloaders(&dir.join("images")), Arch::ResNet18, None, vec![Metric::ErrorRate], config)
        .expect("vision_learner")
}

/// A fresh temporary folder with an `images` subfolder.
pub fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::create_dir_all(dir.path().join("images")).expect("images folder");
    dir
}

/// Values of every parameter by name, as f32 vectors.
pub fn param_values(learn: &Learner) -> Vec<(String, bool, usize, Vec<f32>)> {
    learn
        .model()
        .params()
        .into_iter()
        .map(|p| {
            let v = p.var.as_tensor().flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("reading a parameter");
            (p.name, p.is_batchnorm, p.group, v)
        })
        .collect()
}

pub use fastvision_core::testing::shared;

/// The torchvision resnet18 fixture, from FASTVISION_SHARED.
pub fn resnet18_weights() -> PathBuf {
    shared("fixtures/resnet/torchvision-resnet18.safetensors")
}
