//! Unit tests of the default data set's configuration: folder names and validation.

use super::*;

#[test]
fn default_folder_is_versioned() {
    assert_eq!(DefaultDatasetConfig::default().folder_name(), DEFAULT_DATASET_FOLDER);
    let other = DefaultDatasetConfig { seed: 7, ..Default::default() };
    assert_ne!(other.folder_name(), DEFAULT_DATASET_FOLDER);
    assert_eq!(DefaultDatasetConfig::default().n_images(), 600);
}

#[test]
fn bad_configs_are_rejected() {
    let bad = [
        DefaultDatasetConfig { n_per_class: 0, ..Default::default() },
        DefaultDatasetConfig { min_side: 16, ..Default::default() },
        DefaultDatasetConfig { min_side: 300, max_side: 310, ..Default::default() },
        DefaultDatasetConfig { max_side: 5000, ..Default::default() },
    ];
    for config in bad {
        assert!(matches!(config.validate(), Err(Error::InvalidConfig { .. })), "{config:?}");
    }
    assert!(matches!(render_item(&DefaultDatasetConfig::default(), 10, 1), Err(Error::InvalidConfig { .. })));
}

#[test]
fn items_are_never_square() {
    let config = DefaultDatasetConfig { min_side: 32, max_side: 64, ..Default::default() };
    for n in 1..=40 {
        let picture = render_item(&config, n % 10, n).unwrap_or_else(|e| panic!("item {n}: {e}"));
        let (w, h) = picture.dimensions();
        assert!(w != h && (32..=64).contains(&w) && (32..=64).contains(&h), "item {n}: {w}x{h}");
    }
}
