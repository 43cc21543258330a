//! Issue 16, "every size is bounded before anything is allocated", at the command line: size flags are refused
//! naming the flag, its value and the limit, and a decompression bomb under a memory limit is an error, not an
//! abort.

use std::path::Path;
use std::process::Command;

use crate::{fastvision, run_within, text, tiny_folder};

fn cats_and_dogs(dir: &Path) {
    let names: Vec<String> = (1..=4).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(dir, &names.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Issue 16: `train --size 100000` ended in `memory allocation of 480000000000 bytes failed` (exit 134).
#[test]
fn r16_size_flags_over_their_limit_are_refused_naming_flag_value_and_limit() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path());
    let dir = data.path().to_str().unwrap();
    let out = data.path().join("out");
    let cases: [(&[&str], &[&str]); 6] = [
        (&["train", "--data", dir, "--size", "100000", "--out", out.to_str().unwrap()], &["--size 100000", "8192"]),
        (&["summary", "--data", dir, "--size", "20000"], &["--size 20000", "8192"]),
        (&["summary", "--data", dir, "--presize", "100000"], &["--presize 100000", "8192"]),
        (&["summary", "--data", dir, "--bs", "100000000"], &["--bs 100000000", "limit of 2 GiB"]),
        (&["show-batch", "--data", dir, "--bs", "0"], &["--bs 0", "at least 1"]),
        (&["summary", "--data", dir, "--decode-limit-mib", "0"], &["--decode-limit-mib 0", "between 1"]),
    ];
    for (args, needles) in cases {
        let output = fastvision(args, data.path());
        let printed = text(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}:\n{printed}");
        for needle in needles {
            assert!(printed.contains(needle), "{args:?} should say {needle:?}:\n{printed}");
        }
    }
}

/// Issue 16: a 1.2 MB blank 20000×20000 PNG was decoded to 1.2 GB whatever the limit, and aborted under a memory
/// limit. Under 1 GiB of address space, `summary --all` now names it and exits 1.
#[test]
fn r16_a_png_bomb_under_a_memory_limit_is_an_error_not_an_abort() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path());
    write_blank_png(&data.path().join("cat_99.jpg"), 20_000, 20_000);
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_fastvision")])
        .args(["summary", "--all", "--data", data.path().to_str().unwrap(), "--presize", "40", "--size", "32"])
        .env("RAYON_NUM_THREADS", "2")
        .env("MALLOC_ARENA_MAX", "2")
        .current_dir(data.path());
    let output = run_within(command, 120);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    for needle in ["cat_99.jpg", "20000×20000", "too large", "--decode-limit-mib", "1 of 9 items could not be decoded"]
    {
        assert!(printed.contains(needle), "the output should say {needle:?}:\n{printed}");
    }
    assert!(!printed.contains("memory allocation"), "{printed}");
}

#[test]
fn r16_summary_all_names_every_bad_file_and_errors_point_at_it() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path());
    for name in ["cat_7.jpg", "dog_8.jpg"] {
        std::fs::write(data.path().join(name), b"not an image").unwrap();
    }
    let output = fastvision(&["summary", "--all", "--data", data.path().to_str().unwrap()], data.path());
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("cat_7.jpg") && printed.contains("dog_8.jpg"), "{printed}");
    assert!(printed.contains("2 of 10 items could not be decoded"), "{printed}");
    // One validation item, one training batch of the other nine: at least one bad file is in it.
    let dir = data.path().to_str().unwrap();
    let args = ["show-batch", "--data", dir, "--valid-pct", "0.1", "--bs", "9", "--nrows", "3", "--ncols", "3"];
    let printed = text(&fastvision(&args, data.path()));
    assert!(printed.contains("summary --all"), "a decode error should point at `summary --all`:\n{printed}");
}

/// A black `w`×`h` 8-bit RGB PNG written row by row through zlib (small on disk, huge decoded).
fn write_blank_png(path: &Path, w: u32, h: u32) {
    use std::io::Write;
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend((data.len() as u32).to_be_bytes());
        let body: Vec<u8> = kind.iter().chain(data).copied().collect();
        let mut crc = !0u32;
        for &b in &body {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        png.extend(&body);
        png.extend((!crc).to_be_bytes());
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + 3 * w as usize];
    for _ in 0..h {
        zlib.write_all(&row).unwrap();
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}
