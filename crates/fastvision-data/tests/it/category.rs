//! CategoryBlock: fastai's vocab order and clear errors for unknown labels.

use std::path::Path;

use fastvision_data::{encode, CategoryBlock, Error};

use crate::golden::section;

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[test]
fn vocab_is_sorted_like_fastai() {
    let golden = section("data");
    let expected = strings(&golden["CategoryMap_sorted_vocab"]);
    let mut shuffled = expected.clone();
    shuffled.reverse();
    shuffled.push(expected[3].clone());
    assert_eq!(CategoryBlock::new().vocab_for(&shuffled).classes(), expected.as_slice());
    let explicit = CategoryBlock::with_vocab(["c", "a", "b"]).vocab_for(&[]);
    assert_eq!(explicit.classes(), strings(&golden["CategoryMap_explicit_vocab_is_sorted_too"]).as_slice());
}

#[test]
fn encode_and_decode_and_unknown_label() {
    let vocab = CategoryBlock::with_vocab(["pug", "Abyssinian"]).vocab_for(&[]);
    assert_eq!(encode(&vocab, "pug", Path::new("pug_1.jpg")).unwrap(), 1);
    assert_eq!(vocab.name(0), Some("Abyssinian"));
    let err = encode(&vocab, "beagle", Path::new("/d/beagle_3.jpg")).unwrap_err();
    assert!(matches!(err, Error::NotInVocab { .. }));
    let text = err.to_string();
    assert!(text.contains("beagle_3.jpg") && text.contains("\"beagle\"") && text.contains("Abyssinian"), "{text}");
}
