//! The built-in default data set: deterministic from its seed, named for fastbook's regex labeller, sized as
//! promised, reused once rendered, and never left half-written.

use std::path::Path;

use fastvision_datasets::{
    default_dataset, render_default_dataset, render_item, DefaultDatasetConfig, COMPLETE_MARKER, DEFAULT_CLASSES,
};
use sha2::{Digest, Sha256};

/// The JPEG files of a rendered folder with the SHA-256 of each, sorted by name.
fn hashed_files(folder: &Path) -> Vec<(String, String)> {
    let paths = fastvision_core::fs::list_sorted(folder).expect("listing the data set");
    paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| {
            let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), hash)
        })
        .collect()
}

fn small_config() -> DefaultDatasetConfig {
    DefaultDatasetConfig { n_per_class: 3, ..Default::default() }
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let (first, second, third) = (tempfile::tempdir(), tempfile::tempdir(), tempfile::tempdir());
    let (first, second, third) = (first.expect("temp dir"), second.expect("temp dir"), third.expect("temp dir"));
    let a = render_default_dataset(first.path(), &small_config()).expect("first render");
    let b = render_default_dataset(second.path(), &small_config()).expect("second render");
    let other_seed = DefaultDatasetConfig { seed: 1, ..small_config() };
    let c = render_default_dataset(third.path(), &other_seed).expect("third render");
    let (hashes_a, hashes_b, hashes_c) = (hashed_files(&a), hashed_files(&b), hashed_files(&c));
    assert_eq!(hashes_a.len(), 30);
    assert_eq!(hashes_a, hashes_b, "the same seed must give byte-identical files");
    let n_same = hashes_a.iter().zip(&hashes_c).filter(|(x, y)| x == y).count();
    assert_eq!(n_same, 0, "seed 1 must give different pictures from seed 0");
}

#[test]
fn names_follow_the_pets_regex_and_every_class_is_there() {
    let cache = tempfile::tempdir().expect("temp dir");
    let folder = render_default_dataset(cache.path(), &small_config()).expect("render");
    let regex = regex::Regex::new(r"(.+)_\d+.jpg$").expect("fastbook's regex");
    let mut per_class = std::collections::BTreeMap::<String, usize>::new();
    for (name, _) in hashed_files(&folder) {
        let label = regex.captures(&name).and_then(|c| c.get(1)).map(|m| m.as_str().to_string());
        let label = label.unwrap_or_else(|| panic!("{name} does not match (.+)_\\d+.jpg$"));
        assert!(DEFAULT_CLASSES.contains(&label.as_str()), "{name} gives unknown label {label}");
        *per_class.entry(label).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<String, usize> =
        DEFAULT_CLASSES.iter().map(|c| (c.to_string(), 3)).collect();
    assert_eq!(per_class, expected);
    assert!(DEFAULT_CLASSES.iter().any(|c| c.starts_with(char::is_uppercase)), "a capitalised class sorts first");
}

#[test]
fn default_dataset_has_600_non_square_jpegs_in_range_and_is_reused() {
    let cache = tempfile::tempdir().expect("temp dir");
    let folder = default_dataset(cache.path()).expect("rendering the default data set");
    assert_eq!(folder, cache.path().join("fastvision-default-v2"));
    let files = hashed_files(&folder);
    assert_eq!(files.len(), 600);
    let mut sizes = std::collections::BTreeSet::new();
    for (name, _) in &files {
        let (w, h) = image::image_dimensions(folder.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!((160..=480).contains(&w) && (160..=480).contains(&h), "{name} is {w}x{h}, outside 160..=480");
        assert_ne!(w, h, "{name} is square");
        sizes.insert((w, h));
    }
    assert!(sizes.len() >= 100, "only {} distinct sizes", sizes.len());
    let marker = std::fs::read_to_string(folder.join(COMPLETE_MARKER)).expect("the completion marker");
    assert!(marker.contains("count=600") && marker.contains("seed=0"), "marker says {marker:?}");
    let names: Vec<_> = fastvision_core::fs::list_sorted(cache.path()).expect("cache listing");
    assert_eq!(names, std::slice::from_ref(&folder), "no temporary folder may be left in the cache");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime");
    let before = modified(&folder.join("Disc_1.jpg"));
    let again = default_dataset(cache.path()).expect("second call");
    assert_eq!((again, modified(&folder.join("Disc_1.jpg"))), (folder, before), "the second call must reuse");
}

#[test]
fn a_stale_or_foreign_folder_is_replaced() {
    let cache = tempfile::tempdir().expect("temp dir");
    let config = DefaultDatasetConfig { n_per_class: 1, ..Default::default() };
    let folder = cache.path().join(config.folder_name());
    std::fs::create_dir_all(&folder).expect("a leftover folder");
    std::fs::write(folder.join("junk.jpg"), b"junk").expect("junk");
    std::fs::write(folder.join(COMPLETE_MARKER), b"count=3\n").expect("wrong marker");
    let rendered = render_default_dataset(cache.path(), &config).expect("render over a stale folder");
    assert_eq!(rendered, folder);
    assert!(!folder.join("junk.jpg").exists(), "the stale folder must be replaced");
    assert_eq!(hashed_files(&folder).len(), 10);
}

/// Pins the v2 pictures: sizes come from integer draws (exact on every platform) and the mean pixel value of
/// the pre-JPEG rendering (within a tolerance that absorbs libm differences between platforms). If this fails
/// after a change to the renderer, bump `DEFAULT_DATASET_FOLDER` to v3 and update the table.
#[test]
fn v2_pictures_are_pinned() {
    let expected: [(usize, usize, u32, u32, f64); 4] =
        [(0, 1, 163, 190, 141.422), (3, 2, 248, 288, 128.629), (4, 5, 459, 388, 116.443), (9, 60, 445, 335, 109.350)];
    let config = DefaultDatasetConfig::default();
    let mut failures = Vec::new();
    for (class_idx, n, width, height, mean) in expected {
        let picture = render_item(&config, class_idx, n).expect("render_item");
        let actual_mean = picture.as_raw().iter().map(|&v| v as f64).sum::<f64>() / picture.as_raw().len() as f64;
        let (w, h) = picture.dimensions();
        if (w, h) != (width, height) || (actual_mean - mean).abs() > 0.05 {
            failures.push(format!(
                "{}_{n}: expected {width}x{height} mean {mean:.3}, got {w}x{h} mean {actual_mean:.3}",
                DEFAULT_CLASSES[class_idx]
            ));
        }
    }
    assert!(failures.is_empty(), "the v2 pictures changed:\n{}", failures.join("\n"));
}
