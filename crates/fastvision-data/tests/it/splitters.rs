//! Splitters: fastai's exact RandomSplitter permutation, folder and index splits, and clear errors.

use std::path::PathBuf;

use fastvision_data::{Error, Splitter};

use crate::golden::{section, usizes};

fn fake_items(n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| PathBuf::from(format!("/x/item_{i:05}.jpg"))).collect()
}

#[test]
fn random_splitter_reproduces_fastai_indices() {
    let golden = section("data");
    for n in [10, 400, 7390] {
        let split = Splitter::random(0.2, 42).split(&fake_items(n)).unwrap();
        let key = format!("RandomSplitter_seed42_n{n}");
        assert_eq!(split.valid, usizes(&golden[format!("{key}/valid_idx")]), "valid n={n}");
        assert_eq!(split.valid.len(), golden[format!("{key}/n_valid")].as_u64().unwrap() as usize);
        if let Some(train) = golden.get(format!("{key}/train_idx")) {
            assert_eq!(split.train, usizes(train), "train n={n}");
        }
    }
    let mut perm = Splitter::random(0.2, 42).split(&fake_items(10)).unwrap().valid;
    perm.extend(Splitter::random(0.2, 42).split(&fake_items(10)).unwrap().train);
    assert_eq!(perm, usizes(&golden["torch_manual_seed42_randperm10"]));
}

#[test]
fn grandparent_index_and_function_splitters() {
    let items: Vec<PathBuf> = ["/d/train/cat/1.jpg", "/d/valid/cat/2.jpg", "/d/train/dog/3.jpg", "/d/test/dog/4.jpg"]
        .map(PathBuf::from)
        .to_vec();
    let split = Splitter::grandparent().split(&items).unwrap();
    assert_eq!((split.train, split.valid), (vec![0, 2], vec![1]));

    let split = Splitter::Index(vec![3, 1]).split(&items).unwrap();
    assert_eq!((split.train, split.valid), (vec![0, 2], vec![1, 3]));

    let split = Splitter::func("dogs", |p| p.to_string_lossy().contains("dog")).split(&items).unwrap();
    assert_eq!((split.train, split.valid), (vec![0, 1], vec![2, 3]));
}

#[test]
fn bad_parameters_and_empty_splits_are_errors() {
    let items = fake_items(4);
    assert!(matches!(Splitter::random(1.5, 0).split(&items), Err(Error::Parameter { name: "valid_pct", .. })));
    let err = Splitter::random(0.2, 0).split(&items).unwrap_err();
    assert!(matches!(err, Error::EmptySplit { which: "validation", .. }), "{err}");
    let err = Splitter::grandparent().split(&items).unwrap_err();
    assert!(err.to_string().contains("train"), "{err}");
    assert!(matches!(Splitter::Index(vec![9]).split(&items), Err(Error::Parameter { .. })));
}
