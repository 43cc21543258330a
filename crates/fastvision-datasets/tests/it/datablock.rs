//! `Dataset::datablock`: each registered data set's labelling and split, read back from a folder laid out like
//! the extracted archive (the files are listed and labelled, not decoded).

use std::path::Path;

use fastvision_datasets::{Dataset, Error, Labelling, Preset, SplitRule};

fn touch(dir: &Path, names: &[&str]) {
    for name in names {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
        std::fs::write(path, b"not decoded here").expect("a file");
    }
}

#[test]
fn pets_labels_by_regex_and_splits_a_fifth_at_random() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let names: Vec<String> =
        (0..5).flat_map(|i| [format!("Abyssinian_{i}.jpg"), format!("great_pyrenees_{i}.jpg")]).collect();
    touch(dir.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    let block = Dataset::by_name("pets").expect("pets").datablock().expect("a data block").build().expect("build");
    let datasets = block.datasets(dir.path()).expect("listing");
    assert_eq!(datasets.vocab.classes(), ["Abyssinian", "great_pyrenees"]);
    assert_eq!((datasets.train.len(), datasets.valid.len()), (8, 2), "RandomSplitter(0.2, seed 42)");
}

#[test]
fn cifar10_labels_by_folder_and_splits_by_the_top_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    touch(dir.path(), &["train/cat/1.png", "train/dog/2.png", "train/dog/3.png", "test/cat/4.png"]);
    let cifar = Dataset::by_name("cifar10").expect("cifar10");
    let block = cifar.datablock().expect("a data block").build().expect("build");
    let datasets = block.datasets(&dir.path().join(&cifar.preset.images)).expect("listing");
    assert_eq!(datasets.vocab.classes(), ["cat", "dog"]);
    let valid: Vec<&Path> = datasets.valid.iter().map(|item| item.path.as_path()).collect();
    assert_eq!(valid, [dir.path().join("test/cat/4.png")]);
    assert_eq!(datasets.train.len(), 3);
}

#[test]
fn a_label_regex_that_does_not_compile_names_it() {
    let preset = Preset {
        images: String::new(),
        labelling: Labelling::Regex("(unclosed".into()),
        split: SplitRule::Random { valid_pct: 0.2, seed: 42 },
    };
    let error = preset.datablock().map(|_| ()).expect_err("a bad regex");
    assert!(matches!(&error, Error::Labelling { pattern, .. } if pattern == "(unclosed"), "{error}");
    assert_eq!(error.to_string(), r#"label regex "(unclosed""#);
}
