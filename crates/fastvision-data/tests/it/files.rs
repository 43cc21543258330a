//! `get_image_files`: recursive, sorted, case-insensitive, hidden files skipped, symlink loops survived.

use fastvision_data::{get_image_files, Error};

use crate::support::write_jpeg;

#[test]
fn lists_recursively_sorted_and_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["b/z.JPG", "a/y.png", "a/x.jpeg", "c.webp", ".hidden/h.jpg", "a/.dot.jpg"] {
        std::fs::create_dir_all(root.join(name).parent().unwrap()).unwrap();
        std::fs::write(root.join(name), b"not decoded here").unwrap();
    }
    std::fs::write(root.join("notes.txt"), b"x").unwrap();
    let files = get_image_files(root).unwrap();
    let rel: Vec<String> = files.iter().map(|p| p.strip_prefix(root).unwrap().display().to_string()).collect();
    assert_eq!(rel, ["a/x.jpeg", "a/y.png", "b/z.JPG", "c.webp"]);
}

#[test]
fn follows_symlinks_without_looping() {
    let dir = tempfile::tempdir().unwrap();
    write_jpeg(&dir.path().join("cats/cat_1.jpg"), 8, 8, 1);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("cats/loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("cats/cat_1.jpg"), dir.path().join("link_2.jpg")).unwrap();
    let files = get_image_files(dir.path()).unwrap();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn empty_folder_and_missing_path_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.md"), b"x").unwrap();
    let err = get_image_files(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NoImages { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");

    let missing = dir.path().join("does-not-exist");
    let err = get_image_files(&missing).unwrap_err();
    assert!(err.to_string().contains("does-not-exist"), "{err}");
}
