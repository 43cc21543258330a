//! Pretrained weights through the torch hub cache, against the loopback server: a download checked against the
//! hash prefix in its name, a corrupted body, an interrupted and resumed transfer, a cache hit with no server, web
//! pages and HTTP errors, a truncated cached file, no network, an unwritable cache, and the torchvision table.

use std::path::Path;
use std::time::Duration;

use fastvision_datasets::{
    cached_checkpoint, hub_checkpoint, imagenet_weights, Error, HubOptions, ImagenetCheckpoint, Progress, Stage,
    IMAGENET_CHECKPOINTS, TORCHVISION_WEIGHTS_URL,
};
use sha2::{Digest, Sha256};

use crate::server::{Mode, Server};

/// About 1.5 MB of incompressible bytes standing in for a checkpoint.
fn checkpoint_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A torchvision-style name for `bytes`: `resnet18-<first 8 hex digits of its SHA-256>.pth`.
fn name_for(bytes: &[u8]) -> String {
    format!("resnet18-{}.pth", &hex_sha256(bytes)[..8])
}

/// Options with the cache in `cache_dir` and files served from `base_url`; nothing read from the environment.
fn options(cache_dir: &Path, base_url: String) -> HubOptions {
    HubOptions {
        cache_dir: Some(cache_dir.to_path_buf()),
        base_url: Some(base_url),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
    }
}

/// A base address on a loopback port nothing listens on, so every connection is refused.
fn closed_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/models")
}

/// The names in `dir` (empty if it does not exist), to show what was left behind.
fn names_in(dir: &Path) -> Vec<String> {
    fastvision_core::fs::list_sorted(dir)
        .map(|paths| paths.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn no_progress() -> impl FnMut(Progress) {
    |_| {}
}

fn last_report(reports: &[Progress], stage: Stage) -> Option<Progress> {
    reports.iter().rev().find(|p| p.stage == stage).copied()
}

#[test]
fn download_is_checked_against_the_name_and_cached_where_pytorch_looks() {
    let bytes = checkpoint_bytes(1);
    let name = name_for(&bytes);
    let server = Server::start(bytes.clone());
    let cache = tempfile::tempdir().expect("temp dir");
    let options = options(&cache.path().join("hub/checkpoints"), server.base_url());
    assert_eq!(cached_checkpoint(&name, &options).expect("cached_checkpoint"), None);
    let mut reports = Vec::new();
    let path = hub_checkpoint(&name, &options, &mut |p| reports.push(p)).expect("download");
    assert_eq!(path, cache.path().join("hub/checkpoints").join(&name));
    assert!(std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes), "the cached file differs from the served one");
    assert_eq!(names_in(path.parent().expect("cache folder")), [name.as_str()], "no .part may be left");
    let size = bytes.len() as u64;
    for stage in [Stage::Downloading, Stage::Verifying] {
        let expected = Progress { stage, done_bytes: size, total_bytes: Some(size) };
        assert_eq!(last_report(&reports, stage), Some(expected));
    }
    assert_eq!(server.seen().iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), [format!("/files/{name}")]);
    assert_eq!(cached_checkpoint(&name, &options).expect("cached_checkpoint"), Some(path.clone()));
    let again = hub_checkpoint(&name, &options, &mut no_progress()).expect("second call");
    assert_eq!((again, server.seen().len()), (path, 1), "the second call must use the cache");
}

#[test]
fn corrupted_body_fails_the_hash_and_caches_nothing() {
    let bytes = checkpoint_bytes(2);
    let name = name_for(&bytes);
    let mut corrupted = bytes.clone();
    corrupted[bytes.len() / 2] ^= 0x55;
    let server = Server::start(corrupted.clone());
    let cache = tempfile::tempdir().expect("temp dir");
    let result = hub_checkpoint(&name, &options(cache.path(), server.base_url()), &mut no_progress());
    match &result {
        Err(Error::WeightsHashMismatch { url, expected_prefix, actual, .. }) => {
            assert_eq!(
                (url, expected_prefix, actual),
                (&server.url(&name), &name[9..17].to_string(), &hex_sha256(&corrupted))
            )
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(&name) && message.contains("nothing was cached"), "unhelpful message: {message}");
    assert_eq!(names_in(cache.path()), Vec::<String>::new(), "neither the file nor its .part may stay");
}

#[test]
fn interrupted_download_resumes_with_a_range_request() {
    let bytes = checkpoint_bytes(3);
    let name = name_for(&bytes);
    let cut = bytes.len() / 3;
    let server = Server::start(bytes.clone());
    server.set_mode(Mode::CutAt(cut));
    let cache = tempfile::tempdir().expect("temp dir");
    let options = options(cache.path(), server.base_url());
    let part = cache.path().join(format!("{name}.part"));
    match hub_checkpoint(&name, &options, &mut no_progress()) {
        Err(Error::Interrupted { received, part: kept, .. }) => {
            assert_eq!((received, kept), (cut as u64, part.clone()))
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(std::fs::metadata(&part).map(|m| m.len()).ok(), Some(cut as u64), "the partial file is kept");
    assert_eq!(names_in(cache.path()), [format!("{name}.part")], "only the part file, nothing under the final name");
    server.set_mode(Mode::Serve);
    let mut first_report = None;
    let path = hub_checkpoint(&name, &options, &mut |p| {
        first_report.get_or_insert(p);
    })
    .expect("resumed download");
    assert!(std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes), "the resumed file differs");
    let last = server.seen().last().cloned().expect("a request");
    assert_eq!(last.range, Some(format!("bytes={cut}-")), "the second call must ask for the rest only");
    assert_eq!(first_report.map(|p| p.done_bytes), Some(cut as u64), "progress starts from the bytes already there");
    assert_eq!(names_in(cache.path()), [name]);
}

#[test]
fn cache_hit_needs_no_server_and_is_hashed() {
    let bytes = checkpoint_bytes(4);
    let name = name_for(&bytes);
    let cache = tempfile::tempdir().expect("temp dir");
    std::fs::write(cache.path().join(&name), &bytes).expect("a file PyTorch downloaded");
    let mut reports = Vec::new();
    let path = hub_checkpoint(&name, &options(cache.path(), closed_base_url()), &mut |p| reports.push(p))
        .expect("a cached file needs no network");
    assert_eq!(path, cache.path().join(&name));
    let size = bytes.len() as u64;
    let verified = Progress { stage: Stage::Verifying, done_bytes: size, total_bytes: Some(size) };
    assert_eq!(last_report(&reports, Stage::Verifying), Some(verified), "the cached file is hashed");
    assert_eq!(last_report(&reports, Stage::Downloading), None);
}

#[test]
fn truncated_cached_file_is_a_mismatch_naming_it_and_is_left_alone() {
    let bytes = checkpoint_bytes(5);
    let name = name_for(&bytes);
    let cache = tempfile::tempdir().expect("temp dir");
    let cached = cache.path().join(&name);
    std::fs::write(&cached, &bytes[..bytes.len() / 2]).expect("a truncated file in the cache");
    let result = hub_checkpoint(&name, &options(cache.path(), closed_base_url()), &mut no_progress());
    match &result {
        Err(Error::CachedWeightsHashMismatch { path, expected_prefix, actual }) => {
            assert_eq!((path, expected_prefix.as_str()), (&cached, &name[9..17]));
            assert_eq!(*actual, hex_sha256(&bytes[..bytes.len() / 2]));
        }
        other => panic!("expected a cached-file mismatch, got {other:?}"),
    }
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    let named = message.contains(&cached.display().to_string()) && message.contains(&name[9..17]);
    assert!(named && message.contains("delete it"), "unhelpful message: {message}");
    assert!(cached.is_file(), "a file other tools wrote is not ours to delete");
}

#[test]
fn web_pages_and_http_errors_name_the_address_and_cache_nothing() {
    let bytes = checkpoint_bytes(6);
    let name = name_for(&bytes);
    let server = Server::start(bytes);
    let cache = tempfile::tempdir().expect("temp dir");
    let options = options(cache.path(), server.base_url());
    server.set_mode(Mode::HtmlPage);
    match hub_checkpoint(&name, &options, &mut no_progress()) {
        Err(Error::HtmlPage { url }) => assert_eq!(url, server.url(&name)),
        other => panic!("text/html: expected HtmlPage, got {other:?}"),
    }
    assert_eq!(names_in(cache.path()), Vec::<String>::new(), "text/html: nothing may be cached");
    // Served as plain bytes, the page is still recognised by how it starts, and the message says so.
    server.set_mode(Mode::Serve);
    server.set_body(b"\n<!DOCTYPE html>\n<html><body>404 - not here</body></html>".to_vec());
    let result = hub_checkpoint(&name, &options, &mut no_progress());
    let message = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(matches!(result, Err(Error::HtmlPage { .. })), "page body: expected HtmlPage, got {result:?}");
    assert!(message.contains(&server.url(&name)) && message.contains("web page"), "unhelpful message: {message}");
    assert_eq!(names_in(cache.path()), Vec::<String>::new(), "page body: nothing may be cached");
    server.set_mode(Mode::NotFound);
    match hub_checkpoint(&name, &options, &mut no_progress()) {
        Err(Error::HttpStatus { url, status: 404 }) => assert_eq!(url, server.url(&name)),
        other => panic!("404: expected HttpStatus, got {other:?}"),
    }
    assert_eq!(names_in(cache.path()), Vec::<String>::new(), "404: nothing may be cached");
}

#[test]
fn offline_without_a_cached_file_says_what_to_do() {
    let cache = tempfile::tempdir().expect("temp dir");
    let base_url = closed_base_url();
    let result = imagenet_weights("resnet34", &options(cache.path(), base_url.clone()), &mut no_progress());
    let message = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(matches!(result, Err(Error::WeightsUnavailable { .. })), "expected WeightsUnavailable, got {result:?}");
    let url = format!("{base_url}/resnet34-b627a593.pth");
    for needed in ["resnet34-b627a593.pth", &cache.path().display().to_string(), &url, "--no-pretrained"] {
        assert!(message.contains(needed), "the message lacks {needed:?}: {message}");
    }
    assert_eq!(names_in(cache.path()), Vec::<String>::new(), "no empty .part may be left");
}

#[test]
fn arch_table_path_fetches_the_real_name_and_checks_its_real_prefix() {
    // The real resnet18 checkpoint cannot be made here, so any other bytes must fail its f37072fd prefix.
    let server = Server::start(checkpoint_bytes(7));
    let cache = tempfile::tempdir().expect("temp dir");
    let result = imagenet_weights("resnet18", &options(cache.path(), server.base_url()), &mut no_progress());
    match result {
        Err(Error::WeightsHashMismatch { url, file_name, expected_prefix, .. }) => {
            assert_eq!(
                (url, file_name.as_str(), expected_prefix.as_str()),
                (server.url("resnet18-f37072fd.pth"), "resnet18-f37072fd.pth", "f37072fd")
            )
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }
    assert_eq!(server.seen().iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/files/resnet18-f37072fd.pth"]);
    assert_eq!(names_in(cache.path()), Vec::<String>::new());
}

#[test]
fn unwritable_cache_is_an_error_naming_it() {
    let root = tempfile::tempdir().expect("temp dir");
    let blocker = root.path().join("not-a-folder");
    std::fs::write(&blocker, b"a file where the cache folder should go").expect("writing the blocker");
    let cache_dir = blocker.join("checkpoints");
    let result = imagenet_weights("resnet18", &options(&cache_dir, closed_base_url()), &mut no_progress());
    let message = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(matches!(&result, Err(Error::CacheNotWritable { dir, .. }) if *dir == cache_dir), "{result:?}");
    assert!(message.contains(&cache_dir.display().to_string()), "the message must name the folder: {message}");
}

#[test]
fn unknown_arch_lists_the_known_ones() {
    let cache = tempfile::tempdir().expect("temp dir");
    let result = imagenet_weights("resnet19", &options(cache.path(), closed_base_url()), &mut no_progress());
    let message = result.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(matches!(result, Err(Error::UnknownArch { .. })), "{result:?}");
    assert!(message.contains("resnet19") && message.contains("resnet18, resnet34, resnet50, resnet101, resnet152"));
}

#[test]
fn table_holds_torchvisions_default_imagenet_files() {
    let expected = [
        ("resnet18", "resnet18-f37072fd.pth"),
        ("resnet34", "resnet34-b627a593.pth"),
        ("resnet50", "resnet50-11ad3fa6.pth"),
        ("resnet101", "resnet101-cd907fc2.pth"),
        ("resnet152", "resnet152-f82ba261.pth"),
    ];
    let table: Vec<(&str, &str)> = IMAGENET_CHECKPOINTS.iter().map(|c| (c.arch, c.file_name)).collect();
    assert_eq!(table, expected);
    assert_eq!(ImagenetCheckpoint::by_arch("resnet50").map(|c| c.weights).ok(), Some("ResNet50_Weights.IMAGENET1K_V2"));
    assert_eq!(TORCHVISION_WEIGHTS_URL, "https://download.pytorch.org/models");
}
