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

/// The CRC-32 of PNG chunks.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Appends one PNG chunk (length, type, data, CRC) to `png`.
pub fn png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend(data);
    png.extend(&body);
    png.extend(crc32(&body).to_be_bytes());
}

/// Writes a black `w`×`h` 8-bit RGB PNG, streaming its rows through zlib, so neither the pixels nor the file are
/// ever in memory: a 20000×20000 one is 1.2 GB of pixels in a 1.2 MB file (a decompression bomb).
pub fn write_blank_png(path: &Path, w: u32, h: u32) {
    use std::io::Write;
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + 3 * w as usize]; // filter byte "none", then the row's pixels
    for _ in 0..h {
        zlib.write_all(&row).unwrap();
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    png_chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

/// A blank 20000×20000 PNG (1.2 GB decoded, 1.2 MB on disk), written once per test run (it takes seconds).
pub fn png_bomb() -> &'static Path {
    static BOMB: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_dir, path) = BOMB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb_20000.png");
        write_blank_png(&path, 20_000, 20_000);
        (dir, path)
    });
    path
}

/// Makes a FIFO at `path` (opening it for reading blocks until a writer comes: it must never be opened).
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Runs `work` on a thread and returns its result, or fails the test if it takes more than `seconds` (a hang).
pub fn within<T: Send + 'static>(seconds: u64, what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(seconds)) {
        Ok(result) => result,
        Err(_) => panic!("{what} did not finish within {seconds} s: it hangs"),
    }
}
