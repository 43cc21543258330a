//! The real checkpoints damaged on purpose: truncated, a byte flipped in the pickle, an unknown global injected, a
//! storage shorter than its tensors, huge declared lengths; and crafted pickles that would exhaust memory or the
//! stack. Each must be an error that names the file, never a panic (no `catch_unwind`: a panic fails the test),
//! an abort or a hang.

use std::path::Path;
use std::time::Instant;

use fastvision_weights::{Error, ReadOptions, StateDict};

use crate::common::{legacy_checkpoint, pytorch_file, read_err, unzip, zip_of, Pickle, Storage};

const LEGACY: &str = "resnet32-d509ac18.th";
const ZIP: &str = "resnet20-7b70fb0a.pth";

fn real(name: &str) -> Vec<u8> {
    std::fs::read(pytorch_file(name)).unwrap()
}

/// Reads `bytes` as `name`; an error must name the file. Returns whether it was an error.
fn outcome(dir: &Path, name: &str, bytes: &[u8]) -> bool {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    match StateDict::read(&path, &ReadOptions::default()) {
        Ok(_) => false,
        Err(err) => {
            assert!(err.to_string().contains(&path.display().to_string()), "{name}: message lacks the path: {err}");
            true
        }
    }
}

/// The end of the legacy file's pickles (where its first storage's element count starts).
fn legacy_pickles_end(bytes: &[u8]) -> usize {
    // The last pickle lists the storage keys and ends with `APPENDS, STOP`; the first count is 432 (conv1.weight).
    let count = 432u64.to_le_bytes();
    bytes.windows(10).position(|w| w[..2] == *b"e." && w[2..] == count).unwrap() + 2
}

/// A pseudo-random sequence, so the fuzzed positions are the same on every run.
fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

#[test]
fn truncated_files_are_errors_at_every_cut() {
    let dir = tempfile::tempdir().unwrap();
    for name in [LEGACY, ZIP, "resnet20-f16-wrapped.pth"] {
        let bytes = real(name);
        let len = bytes.len();
        // Every 7th byte through the headers and first pickles, 150 cuts spread over the file, and the last bytes.
        let mut cuts: Vec<usize> = (0..2048.min(len)).step_by(7).collect();
        cuts.extend((1..150).map(|i| i * len / 150));
        cuts.extend([len - 1, len - 8, len - 22, len - 100]);
        let start = Instant::now();
        for &cut in &cuts {
            assert!(outcome(dir.path(), name, &bytes[..cut]), "{name} cut at {cut} of {len} bytes was read");
        }
        eprintln!("{name}: {} cuts, all errors, {:.1} s", cuts.len(), start.elapsed().as_secs_f64());
    }
}

#[test]
fn flipped_bytes_in_the_pickles_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = 17u64;
    // Legacy: the five pickles lie at the start of the file.
    let legacy = real(LEGACY);
    let end = legacy_pickles_end(&legacy);
    let (mut errors, start) = (0, Instant::now());
    // Every byte of the headers and the first tensors, every 17th after that.
    let positions: Vec<usize> = (0..600).chain((600..end).step_by(17)).collect();
    for &pos in &positions {
        let mut bytes = legacy.clone();
        bytes[pos] ^= (lcg(&mut rng) % 255 + 1) as u8;
        errors += usize::from(outcome(dir.path(), LEGACY, &bytes));
    }
    eprintln!("{LEGACY}: {} flips, {errors} errors, {:.1} s", positions.len(), start.elapsed().as_secs_f64());
    // Zip: the record's CRC would catch any flip, so the archive is rebuilt around the flipped data.pkl.
    let records = unzip(&real(ZIP));
    let pickle = &records[0].1;
    let (mut errors, start) = (0, Instant::now());
    let positions: Vec<usize> = (0..pickle.len()).step_by(11).collect();
    for &pos in &positions {
        let mut flipped = pickle.clone();
        flipped[pos] ^= (lcg(&mut rng) % 255 + 1) as u8;
        let rebuilt = with_record(&records, "tmp/data.pkl", &flipped);
        errors += usize::from(outcome(dir.path(), ZIP, &rebuilt));
    }
    eprintln!("{ZIP}: {} flips in data.pkl, {errors} errors, {:.1} s", positions.len(), start.elapsed().as_secs_f64());
}

#[test]
fn an_injected_global_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = replace_first(&real(LEGACY), b"ccollections\nOrderedDict\n", b"cbuiltins\neval\n");
    let err = read_err(dir.path(), LEGACY, &legacy);
    assert!(matches!(&err, Error::UnknownGlobal { global, .. } if global == "builtins.eval"), "{err}");
    let records = unzip(&real(ZIP));
    let pickle = replace_first(&records[0].1, b"_rebuild_tensor_v2\n", b"_rebuild_from_type_v2\n");
    let err = read_err(dir.path(), ZIP, &with_record(&records, "tmp/data.pkl", &pickle));
    assert!(matches!(&err, Error::UnknownGlobal { global, .. } if global == "torch._utils._rebuild_from_type_v2"));
}

#[test]
fn storages_shorter_than_their_tensors_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    // Zip: conv1.weight's storage record cut to 100 bytes (25 of its 432 floats).
    let records = unzip(&real(ZIP));
    let short = with_record(&records, "tmp/data/0", &records.iter().find(|r| r.0 == "tmp/data/0").unwrap().1[..100]);
    match read_err(dir.path(), ZIP, &short) {
        Error::StorageTooShort { tensor, needed: 432, available: 25, .. } => assert_eq!(tensor, "conv1.weight"),
        other => panic!("{other}"),
    }
    // Legacy: conv1.weight's sizes grown from 16×3×3×3 to 16×3×3×4, one element past its 432.
    let legacy = replace_first(&real(LEGACY), b"(K\x10K\x03K\x03K\x03t", b"(K\x10K\x03K\x03K\x04t");
    match read_err(dir.path(), LEGACY, &legacy) {
        Error::StorageTooShort { tensor, needed: 433, available: 432, .. } => {
            assert_eq!(tensor, "module.conv1.weight")
        }
        other => panic!("{other}"),
    }
    // Legacy: the storage's element count disagrees with the tensor info.
    let mut legacy = real(LEGACY);
    let at = legacy_pickles_end(&legacy);
    legacy[at..at + 8].copy_from_slice(&431u64.to_le_bytes());
    let err = read_err(dir.path(), LEGACY, &legacy);
    assert!(err.to_string().contains("holds 431 elements, its tensors were saved with 432"), "{err}");
}

#[test]
fn huge_declared_lengths_are_errors_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let huge = 0xffff_fff0u32.to_le_bytes();
    // A 4 GiB string in the legacy object pickle and in the zip's data.pkl.
    let legacy =
        replace_first(&real(LEGACY), b"X\x13\x00\x00\x00module.conv1", &[b"X", &huge[..], b"module.conv1"].concat());
    let err = read_err(dir.path(), LEGACY, &legacy);
    assert!(err.to_string().contains("needs 4294967280 bytes"), "{err}");
    let records = unzip(&real(ZIP));
    let pickle =
        replace_first(&records[0].1, b"X\x0c\x00\x00\x00conv1.weight", &[b"X", &huge[..], b"conv1.weight"].concat());
    let err = read_err(dir.path(), ZIP, &with_record(&records, "tmp/data.pkl", &pickle));
    assert!(err.to_string().contains("needs 4294967280 bytes"), "{err}");
    // A storage whose element count claims exabytes.
    let mut legacy = real(LEGACY);
    let at = legacy_pickles_end(&legacy);
    legacy[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(read_err(dir.path(), LEGACY, &legacy), Error::Damaged { .. }));
    // A storage declared with 2^31 elements in the zip's pickle.
    let pickle = replace_first(&records[0].1, b"cpuq\x06M\xb0\x01t", b"cpuq\x06J\xff\xff\xff\x7ft");
    let err = read_err(dir.path(), ZIP, &with_record(&records, "tmp/data.pkl", &pickle));
    assert!(err.to_string().contains("more than the file holds"), "{err}");
    // A safetensors header length of 50 MB in a 100-byte file.
    let mut st = 50_000_000u64.to_le_bytes().to_vec();
    st.extend_from_slice(b"{\"a\":");
    st.resize(100, b' ');
    assert!(read_err(dir.path(), "cut.safetensors", &st).to_string().contains("truncated"));
}

#[test]
fn crafted_pickles_hit_limits_not_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let as_legacy = |object: Vec<u8>| legacy_checkpoint(&object, &[]);
    // Nesting 100 000 deep would overflow the stack when dropped.
    let mut deep = Pickle::new();
    deep.op(b']');
    for _ in 0..100_000 {
        deep.op(0x85);
    }
    let err = read_err(dir.path(), "deep.th", &as_legacy(deep.stop()));
    assert!(matches!(&err, Error::Limit { detail, .. } if detail.contains("nested")), "{err}");
    // A memo copy that doubles 64 times would need 2^64 objects.
    let mut bomb = Pickle::new();
    bomb.op(b']').raw(b"q\x00");
    for _ in 0..64 {
        bomb.raw(b"h\x00h\x00\x86q\x00");
    }
    let start = Instant::now();
    let err = read_err(dir.path(), "bomb.th", &as_legacy(bomb.stop()));
    assert!(matches!(&err, Error::Limit { detail, .. } if detail.contains("MiB")), "{err}");
    assert!(start.elapsed().as_secs() < 10, "the memo bomb took {:?}", start.elapsed());
    // A 10-byte integer that does not fit 64 bits (candle's decoder would overflow its shift).
    let mut wide = Pickle::new();
    wide.op(0x8a).raw(&[10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let err = read_err(dir.path(), "wide.th", &as_legacy(wide.stop()));
    assert!(matches!(&err, Error::Unsupported { what, .. } if what.contains("wider than 64 bits")), "{err}");
    // Opcodes on the wrong kind of object, a PUT of nothing, a missing memo entry, a stray byte.
    for (name, ops) in [
        ("append-to-dict", &b"}K\x01a"[..]),
        ("setitem-on-list", b"]K\x01K\x02s"),
        ("put-nothing", b"q\x00"),
        ("missing-memo", b"h\x07"),
        ("tuple-without-mark", b"K\x01t"),
        ("stray", b"\xff"),
        ("mark-as-value", b"(\x85"),
    ] {
        let mut pickle = Pickle::new();
        pickle.raw(ops);
        let err = read_err(dir.path(), &format!("{name}.th"), &as_legacy(pickle.stop()));
        assert!(matches!(err, Error::Damaged { .. }), "{name}: {err}");
    }
    // The same crafted pickles in a zip.
    let zip = zip_of(&[("archive/data.pkl".into(), &b"\x80\x02]\x85\x85\x85q\x00h\x00h\x00\x86."[..])]);
    assert!(matches!(read_err(dir.path(), "small.pth", &zip), Error::NoTensors { .. }));
}

#[test]
fn views_repeating_one_storage_are_bounded() {
    // 80 tensors each viewing all of a 4 MB storage would take 320 MB from a 4 MB file.
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::f32("0", &vec![0.5; 1 << 20]);
    let mut pickle = Pickle::new();
    pickle.op(b'}').op(b'(');
    for i in 0..80 {
        pickle.text(&format!("view{i}")).tensor(&storage, 0, &[1 << 20], &[1]);
    }
    let bytes = legacy_checkpoint(&pickle.op(b'u').stop(), &[&storage]);
    let err = read_err(dir.path(), "views.th", &bytes);
    assert!(matches!(&err, Error::Limit { detail, .. } if detail.contains("8 times the file")), "{err}");
}

fn replace_first(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap_or_else(|| panic!("{from:?} not found"));
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

/// The zip of `records` with `name`'s content replaced.
fn with_record(records: &[(String, Vec<u8>)], name: &str, content: &[u8]) -> Vec<u8> {
    let records: Vec<(String, &[u8])> =
        records.iter().map(|(n, b)| (n.clone(), if n == name { content } else { b.as_slice() })).collect();
    zip_of(&records)
}
