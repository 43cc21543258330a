//! `evaluate`: akamaster's real CIFAR ResNet weights on the 20 reference images get exactly the reference's
//! number right (the pixels are Pillow's), and the architecture names parse back from `Backbone::NAMES`.

use std::path::Path;

use fastvision_models::Backbone;
use fastvision_train::{evaluate, ClassFolders, Classifier, EvalConfig};
use fastvision_weights::{ReadOptions, StateDict};

use crate::fixture::shared;

/// Unpacks the reference images into class folders; returns how many of them `model`'s reference logits get right.
fn reference_images(dir: &Path, model: &str) -> usize {
    let text = std::fs::read_to_string(shared("weights/cifar-resnet/reference-logits.json")).expect("reference");
    let reference: serde_json::Value = serde_json::from_str(&text).expect("reference JSON");
    let images: Vec<&str> = reference["images"].as_array().expect("images").iter().filter_map(|v| v.as_str()).collect();
    let archive = std::fs::File::open(shared("data/cifar10-train.tar.gz")).expect("the CIFAR-10 archive");
    for entry in tar::Archive::new(flate2::read::GzDecoder::new(archive)).entries().expect("reading the archive") {
        let mut entry = entry.expect("an archive entry");
        let path = entry.path().expect("an entry path").to_string_lossy().trim_start_matches("train/").to_owned();
        if images.contains(&path.as_str()) {
            std::fs::create_dir_all(dir.join(&path).parent().expect("a class folder")).expect("class folder");
            entry.unpack(dir.join(&path)).expect("unpacking");
        }
    }
    let classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    let logits = reference["models"][model]["logits"].as_array().expect("logits");
    let argmax = |row: &serde_json::Value| {
        let row: Vec<f64> = row.as_array().expect("a row").iter().filter_map(|v| v.as_f64()).collect();
        (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).expect("a class")
    };
    images.iter().zip(logits).filter(|(image, row)| image.starts_with(classes[argmax(row)])).count()
}

#[test]
fn evaluate_counts_what_the_reference_logits_get_right() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let reference_correct = reference_images(dir.path(), "resnet20");
    let data = ClassFolders::read(dir.path()).expect("class folders");
    assert_eq!((data.items.len(), data.vocab.len()), (20, 10));
    let state = StateDict::read(&shared("weights/cifar-resnet/resnet20.safetensors"), &ReadOptions::default())
        .expect("the CIFAR weights");
    let backbone: Backbone = "cifar-resnet20".parse().expect("a known name");
    let model = Classifier::from_state(backbone, data.vocab.len(), &state, &candle::Device::Cpu).expect("loading");
    let config = EvalConfig { batch_size: 7, ..EvalConfig::default() };
    let evaluation = evaluate(&model, &data, &config).expect("evaluate");
    assert_eq!((evaluation.n_items, evaluation.n_correct), (20, reference_correct));
    assert_eq!(evaluation.accuracy(), reference_correct as f64 / 20.0);
}

#[test]
fn every_backbone_name_parses_back_and_an_unknown_one_lists_them() {
    let names: Vec<String> = Backbone::ALL.iter().map(Backbone::to_string).collect();
    assert_eq!(names.join(", "), Backbone::NAMES);
    for backbone in Backbone::ALL {
        assert_eq!(backbone.to_string().parse::<Backbone>().ok(), Some(backbone));
    }
    let message = "resnet7".parse::<Backbone>().map(|_| String::new()).unwrap_or_else(|e| e.to_string());
    assert!(message.contains("\"resnet7\"") && message.contains(Backbone::NAMES), "{message}");
}
