//! Unit tests of the registry: names resolve, archive and folder names follow fastai's.

use super::*;

#[test]
fn every_name_resolves_to_a_tgz() {
    for name in DATASET_NAMES {
        let dataset = Dataset::by_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(dataset.name, name);
        assert!(dataset.archive_name().is_ok_and(|a| a.ends_with(".tgz")), "{name}");
        assert!(dataset.size_bytes.is_some() && dataset.md5.as_ref().is_some_and(|m| m.len() == 32), "{name}");
    }
    assert_eq!(Dataset::pets().folder_name().ok().as_deref(), Some("oxford-iiit-pet"));
    assert_eq!(Dataset::imagenette().folder_name().ok().as_deref(), Some("imagenette2-160"));
}

#[test]
fn unknown_name_lists_known_ones() {
    let message = Dataset::by_name("mnist").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("mnist") && message.contains("pets, imagenette, cifar10"), "{message}");
}

#[test]
fn bad_urls_are_rejected() {
    for url in ["ftp://x/a.tgz", "https://host", "https://host/", "https://host/a.zip", "https://host/.tgz"] {
        let dataset = Dataset { url: url.into(), ..Dataset::pets() };
        assert!(matches!(dataset.archive_name(), Err(Error::InvalidUrl { .. })), "{url}");
    }
    let dataset = Dataset { url: "http://127.0.0.1:8/d/x.tar.gz?sig=1".into(), ..Dataset::pets() };
    assert_eq!(dataset.folder_name().ok().as_deref(), Some("x"));
}
