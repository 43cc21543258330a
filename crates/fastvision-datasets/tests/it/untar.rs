//! `untar_data` end to end against the loopback server: a good archive, corrupt ones, an interrupted and resumed
//! transfer, a server that cannot resume, a 404 and a web page; after each, no half-extracted folder may exist.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fastvision_datasets::{untar_data, Dataset, Error, Labelling, Preset, Progress, SplitRule, Stage, UntarConfig};
use sha2::{Digest, Sha256};

use crate::server::{Mode, Server};

/// The files inside the test archive, under its top folder `tiny/`: small text files plus one incompressible
/// blob, so the archive is big enough (~300 KB) to be cut in the middle of the transfer.
fn archive_files() -> Vec<(String, Vec<u8>)> {
    let mut state = 0x1234_5678_9abc_def0u64;
    let blob: Vec<u8> = (0..300_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    vec![
        ("tiny/images/cat_1.jpg".into(), b"not really a jpeg".to_vec()),
        ("tiny/images/dog_2.jpg".into(), b"nor is this".to_vec()),
        ("tiny/blob.bin".into(), blob),
    ]
}

/// A gzip-compressed tar of `files`.
fn make_tgz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, bytes.as_slice()).expect("appending to the test archive");
    }
    builder.into_inner().and_then(|gz| gz.finish()).expect("finishing the test archive")
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A data set pointing at the server, with the size and SHA-256 of `archive`.
fn dataset(server: &Server, archive: &[u8]) -> Dataset {
    Dataset {
        name: "tiny".into(),
        url: server.url("tiny.tgz"),
        size_bytes: Some(archive.len() as u64),
        md5: None,
        sha256: Some(hex_sha256(archive)),
        preset: Preset {
            images: "images".into(),
            labelling: Labelling::ParentFolder,
            split: SplitRule::Random { valid_pct: 0.2, seed: 42 },
        },
    }
}

fn config(home: &Path) -> UntarConfig {
    UntarConfig {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..UntarConfig::in_home(home)
    }
}

/// The names in `dir` (empty if it does not exist), to show what was left behind.
fn names_in(dir: &Path) -> Vec<String> {
    fastvision_core::fs::list_sorted(dir)
        .map(|paths| paths.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// The data cache must hold exactly `expected` (no temporary or half-extracted folder).
fn assert_data_dir(config: &UntarConfig, expected: &[&str]) {
    let names = names_in(&config.data_dir);
    assert_eq!(names, expected, "data folder {} holds {names:?}, expected {expected:?}", config.data_dir.display());
}

fn assert_extracted(folder: &Path) {
    for (path, bytes) in archive_files() {
        let on_disk = folder.join(path.trim_start_matches("tiny/"));
        let read = std::fs::read(&on_disk).unwrap_or_else(|e| panic!("{}: {e}", on_disk.display()));
        assert!(read == bytes, "{} differs from the archived file", on_disk.display());
    }
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

#[test]
fn good_archive_downloads_verifies_extracts_and_is_reused() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let mut reports: Vec<Progress> = Vec::new();
    let folder = untar_data(&dataset(&server, &archive), &config, &mut |p| reports.push(p)).expect("untar_data");
    assert_eq!(folder, config.data_dir.join("tiny"));
    assert_extracted(&folder);
    assert_data_dir(&config, &["tiny"]);
    assert_eq!(names_in(&config.archive_dir), ["tiny.tgz"], "the archive is kept, the .part is gone");
    let total = Some(archive.len() as u64);
    for stage in [Stage::Downloading, Stage::Verifying, Stage::Extracting] {
        let last = reports.iter().rev().find(|p| p.stage == stage).copied();
        assert_eq!(last, Some(Progress { stage, done_bytes: archive.len() as u64, total_bytes: total }));
    }
    let n_requests = server.seen().len();
    let again = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("second call");
    assert_eq!((again, server.seen().len()), (folder, n_requests), "the second call must reuse the folder");
}

#[test]
fn md5_from_a_registry_entry_is_checked() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    // The digest itself is checked against known vectors in the unit tests; here a wrong one must be caught.
    let wrong =
        Dataset { md5: Some("00000000000000000000000000000000".into()), sha256: None, ..dataset(&server, &archive) };
    match untar_data(&wrong, &config, &mut no_progress()) {
        Err(Error::ChecksumMismatch { algorithm: "md5", actual, .. }) => assert_eq!(actual.len(), 32),
        other => panic!("expected an md5 mismatch, got {other:?}"),
    }
    assert_data_dir(&config, &[]);
    assert_eq!(names_in(&config.archive_dir), Vec::<String>::new(), "the bad archive must be deleted");
    let md5: String = md5::Md5::digest(&archive).iter().map(|b| format!("{b:02x}")).collect();
    let right = Dataset { md5: Some(md5.to_uppercase()), sha256: None, ..dataset(&server, &archive) };
    let folder = untar_data(&right, &config, &mut no_progress()).expect("the right md5 (any case) passes");
    assert_extracted(&folder);
}

#[test]
fn corrupted_archive_fails_its_checksum_and_leaves_nothing() {
    let archive = make_tgz(&archive_files());
    let mut corrupted = archive.clone();
    corrupted[archive.len() / 2] ^= 0x55;
    let server = Server::start(corrupted);
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let result = untar_data(&dataset(&server, &archive), &config, &mut no_progress());
    match &result {
        Err(Error::ChecksumMismatch { algorithm: "sha256", expected, .. }) => {
            assert_eq!(*expected, hex_sha256(&archive))
        }
        other => panic!("expected a sha256 mismatch, got {other:?}"),
    }
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("tiny.tgz") && message.contains("run again"), "unhelpful message: {message}");
    assert_data_dir(&config, &[]);
    assert_eq!(names_in(&config.archive_dir), Vec::<String>::new(), "the bad archive must be deleted");
    // The server now has the good file: the next call downloads afresh and succeeds.
    server.set_body(archive.clone());
    let folder = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("retry");
    assert_extracted(&folder);
}

#[test]
fn unreadable_archives_without_checksum_leave_nothing() {
    let archive = make_tgz(&archive_files());
    let cases: [(&str, Vec<u8>); 3] = [
        ("not gzip", b"this is not a gzip stream at all".repeat(100)),
        ("truncated gzip", archive[..archive.len() * 2 / 3].to_vec()),
        ("gzip of garbage", make_gzip(&[7u8; 4096])),
    ];
    for (what, bytes) in cases {
        let server = Server::start(bytes.clone());
        let home = tempfile::tempdir().expect("temp dir");
        let config = config(home.path());
        let unchecked = Dataset { size_bytes: None, sha256: None, ..dataset(&server, &bytes) };
        match untar_data(&unchecked, &config, &mut no_progress()) {
            Err(Error::CorruptArchive { .. }) => {}
            other => panic!("{what}: expected CorruptArchive, got {other:?}"),
        }
        assert_data_dir(&config, &[]);
        assert_eq!(names_in(&config.archive_dir), Vec::<String>::new(), "{what}: the bad archive must be deleted");
    }
}

fn make_gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

#[test]
fn interrupted_transfer_is_an_error_and_the_next_call_resumes() {
    let archive = make_tgz(&archive_files());
    let cut = archive.len() / 2;
    let server = Server::start(archive.clone());
    server.set_mode(Mode::CutAt(cut));
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let part = config.archive_dir.join("tiny.tgz.part");
    match untar_data(&dataset(&server, &archive), &config, &mut no_progress()) {
        Err(Error::Interrupted { received, part: kept, .. }) => {
            assert_eq!((received, kept), (cut as u64, part.clone()))
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(std::fs::metadata(&part).map(|m| m.len()).ok(), Some(cut as u64), "the partial file is kept");
    assert_data_dir(&config, &[]);
    server.set_mode(Mode::Serve);
    let mut first_report = None;
    let folder = untar_data(&dataset(&server, &archive), &config, &mut |p| {
        first_report.get_or_insert(p);
    })
    .expect("resumed download");
    assert_extracted(&folder);
    assert_data_dir(&config, &["tiny"]);
    let last = server.seen().last().cloned().expect("a request");
    assert_eq!(last.range, Some(format!("bytes={cut}-")), "the second call must ask for the rest only");
    let resumed_at = first_report.map(|p| p.done_bytes);
    assert_eq!(resumed_at, Some(cut as u64), "progress starts from the bytes already there");
}

#[test]
fn server_without_range_support_restarts_from_zero() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    server.set_mode(Mode::CutAt(1000));
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let first = untar_data(&dataset(&server, &archive), &config, &mut no_progress());
    assert!(matches!(first, Err(Error::Interrupted { .. })), "{first:?}");
    server.set_mode(Mode::IgnoreRange);
    let folder = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("restarted download");
    assert_extracted(&folder);
}

#[test]
fn not_found_is_an_http_error_and_leaves_nothing() {
    let server = Server::start(Vec::new());
    server.set_mode(Mode::NotFound);
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let result = untar_data(&dataset(&server, b"x"), &config, &mut no_progress());
    match &result {
        Err(Error::HttpStatus { status: 404, url }) => assert!(url.ends_with("/files/tiny.tgz"), "{url}"),
        other => panic!("expected HTTP 404, got {other:?}"),
    }
    assert_data_dir(&config, &[]);
    assert_eq!(names_in(&config.archive_dir), Vec::<String>::new(), "no partial file after a 404");
}

#[test]
fn wrong_size_is_caught_before_extraction() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let wrong = Dataset { size_bytes: Some(archive.len() as u64 + 10), ..dataset(&server, &archive) };
    let result = untar_data(&wrong, &config, &mut no_progress());
    assert!(matches!(result, Err(Error::SizeMismatch { .. })), "{result:?}");
    assert_data_dir(&config, &[]);
}

#[test]
fn force_download_replaces_the_cached_copy() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    let home = tempfile::tempdir().expect("temp dir");
    let mut config = config(home.path());
    let folder = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("first call");
    std::fs::write(folder.join("stale.txt"), b"left from before").expect("marking the old copy");
    config.force_download = true;
    let n_requests = server.seen().len();
    let folder = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("forced call");
    assert!(!folder.join("stale.txt").exists() && server.seen().len() == n_requests + 1);
    assert_extracted(&folder);
}

#[test]
fn archive_without_a_single_top_folder_extracts_as_is() {
    let files = vec![("a.txt".to_string(), b"a".to_vec()), ("sub/b.txt".to_string(), b"b".to_vec())];
    let archive = make_tgz(&files);
    let server = Server::start(archive.clone());
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    let folder = untar_data(&dataset(&server, &archive), &config, &mut no_progress()).expect("untar_data");
    assert_eq!(names_in(&folder), ["a.txt", "sub"]);
    assert_data_dir(&config, &["tiny"]);
}

#[test]
fn cache_home_follows_the_environment_variable() {
    // Only this test reads FASTVISION_HOME through the library, so setting it here races with nothing.
    let home = tempfile::tempdir().expect("temp dir");
    std::env::set_var(fastvision_datasets::HOME_ENV, home.path());
    let config = UntarConfig::from_env().expect("config from env");
    std::env::remove_var(fastvision_datasets::HOME_ENV);
    assert_eq!(config.data_dir, home.path().join("data"));
    assert_eq!(config.archive_dir, PathBuf::from(home.path()).join("archive"));
}

#[test]
fn web_page_instead_of_the_archive_is_refused_and_leaves_nothing() {
    let archive = make_tgz(&archive_files());
    let server = Server::start(archive.clone());
    server.set_mode(Mode::HtmlPage);
    let home = tempfile::tempdir().expect("temp dir");
    let config = config(home.path());
    match untar_data(&dataset(&server, &archive), &config, &mut no_progress()) {
        Err(Error::HtmlPage { url }) => assert_eq!(url, server.url("tiny.tgz")),
        other => panic!("expected HtmlPage, got {other:?}"),
    }
    assert_data_dir(&config, &[]);
    assert_eq!(names_in(&config.archive_dir), Vec::<String>::new(), "no partial file after a web page");
}
