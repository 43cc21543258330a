//! Shared helpers: where `shared/` is, golden values, and tiny image folders made on the fly.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// `$FASTVISION_SHARED`, or a failure that says how to set it.
pub fn shared() -> PathBuf {
    let dir = std::env::var_os("FASTVISION_SHARED").map(PathBuf::from).expect(
        "FASTVISION_SHARED is not set: point it at the shared/ folder beside the checkout (CI sets it in .ci/run)",
    );
    assert!(dir.join("golden/golden.json").is_file(), "FASTVISION_SHARED={} has no golden/golden.json", dir.display());
    dir
}

/// The pets-370 photo folder.
pub fn pets_dir() -> PathBuf {
    shared().join("data/oxford-pets-370/images")
}

/// Writes a `w×h` JPEG whose colour depends on `seed`.
pub fn write_jpeg(path: &Path, w: u32, h: u32, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([seed.wrapping_mul(37), (x * 7) as u8, (y * 5) as u8]));
    img.save(path).unwrap();
}

/// A folder with `n_per_class` images of each class, named `<class>_<i>.jpg`.
pub fn class_folder(classes: &[&str], n_per_class: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (c, class) in classes.iter().enumerate() {
        for i in 0..n_per_class {
            write_jpeg(
                &dir.path().join(format!("{class}_{i}.jpg")),
                40 + 3 * i as u32,
                30 + c as u32,
                (c * 10 + i) as u8,
            );
        }
    }
    dir
}
