use super::*;

#[test]
fn list_sorted_orders_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["b.jpg", "B.jpg", "a.jpg", "_c.jpg"] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let names: Vec<_> = list_sorted(dir.path())
        .unwrap()
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["B.jpg", "_c.jpg", "a.jpg", "b.jpg"]);
}

#[test]
fn atomic_write_leaves_no_temporary_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    std::fs::write(&path, b"old").unwrap();
    let err = atomic_write(&path, |w| {
        w.write_all(b"half")?;
        Err(std::io::Error::other("disk full"))
    })
    .unwrap_err();
    assert!(err.to_string().contains("out.bin"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(list_sorted(dir.path()).unwrap().len(), 1);
}

#[test]
fn atomic_write_replaces_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/out.txt");
    atomic_write_bytes(&path, b"new").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
}

#[test]
fn mark_output_dir_creates_the_folder_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run/out");
    assert!(!is_output_dir(&out));
    mark_output_dir(&out).unwrap();
    mark_output_dir(&out).unwrap();
    assert!(is_output_dir(&out));
    assert_eq!(list_sorted(&out).unwrap(), [out.join(OUTPUT_MARKER)]);
}
