//! Resumable HTTP download into `<file>.part`: a later call continues an interrupted transfer with an HTTP
//! `Range` request, and the finished file is renamed into place, so a complete-looking archive is a whole one.
//! A web page served in place of the file (a proxy's or Wi-Fi portal's login page) is refused, not saved.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::io_err;
use crate::{Error, Result};

/// How far `untar_data` or `hub_checkpoint` has got, as reported to the caller's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The step under way.
    pub stage: Stage,
    /// Bytes done in this step (for a resumed download, including the bytes from before).
    pub done_bytes: u64,
    /// Bytes in all, when known.
    pub total_bytes: Option<u64>,
}

/// The steps of `untar_data` and `hub_checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Receiving the archive.
    Downloading,
    /// Checking the archive's or the checkpoint's size and checksum.
    Verifying,
    /// Unpacking the archive (bytes of the compressed archive read so far).
    Extracting,
}

/// Network limits of a download.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
}

/// The partial file a download of `dest` writes to.
pub(crate) fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Downloads `url` to `dest`, resuming from `dest.part` if it exists. `expected_size`, when known, lets a part
/// that is already whole skip the network.
pub(crate) fn download(
    url: &str,
    dest: &Path,
    expected_size: Option<u64>,
    timeouts: Timeouts,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let part = part_path(dest);
    download_part(url, &part, expected_size, timeouts, progress)?;
    std::fs::rename(&part, dest).map_err(io_err("renaming into place", dest))
}

/// Completes the partial file `part` from `url`, resuming where it stops; the caller checks it and moves it.
pub(crate) fn download_part(
    url: &str,
    part: &Path,
    expected_size: Option<u64>,
    timeouts: Timeouts,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if expected_size.is_some_and(|size| offset > size) {
        offset = restart(part)?;
    }
    if offset == 0 || expected_size != Some(offset) {
        fetch(url, part, offset, timeouts, progress)?;
    }
    refuse_html(url, part)
}

/// Deletes `part` if it starts like a web page: some servers answer a missing file with an HTML page and
/// status 200, and no file we download (archive, checkpoint) starts with `<`.
fn refuse_html(url: &str, part: &Path) -> Result<()> {
    let mut head = [0u8; 64];
    let n_read = File::open(part).and_then(|mut file| file.read(&mut head)).map_err(io_err("reading", part))?;
    if !looks_like_html(&head[..n_read]) {
        return Ok(());
    }
    std::fs::remove_file(part).map_err(io_err("removing", part))?;
    Err(Error::HtmlPage { url: url.into() })
}

/// Whether a body starts with `<!DOCTYPE` or `<html` (any case, after blanks and a UTF-8 byte order mark).
pub(crate) fn looks_like_html(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let head = &head[start..];
    [&b"<!doctype"[..], b"<html"]
        .iter()
        .any(|tag| head.len() >= tag.len() && head[..tag.len()].eq_ignore_ascii_case(tag))
}

/// Removes a partial file that cannot be resumed; the next request starts from byte 0.
fn restart(part: &Path) -> Result<u64> {
    std::fs::remove_file(part).map_err(io_err("removing", part))?;
    Ok(0)
}

/// Downloads into `part` from byte `offset` (or from 0 if the server cannot resume), reporting progress.
fn fetch(url: &str, part: &Path, offset: u64, timeouts: Timeouts, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let (response, offset) = request(url, part, offset, timeouts)?;
    let total = response.body().content_length().map(|len| offset + len);
    let mut file = open_part(part, offset)?;
    let mut body = response.into_body().into_reader();
    let (copied, failure) = copy_body(&mut body, &mut file, offset, total, progress);
    file.sync_all().map_err(io_err("syncing", part))?;
    let received = offset + copied;
    let interrupted = |reason: String| Error::Interrupted {
        url: url.into(),
        received,
        expected: total.map_or_else(|| "unknown".into(), |t| t.to_string()),
        reason,
        part: part.to_path_buf(),
    };
    match failure {
        Some(CopyFailure::Write(source)) => Err(Error::Io { action: "writing", path: part.to_path_buf(), source }),
        Some(CopyFailure::Read(error)) => Err(interrupted(error.to_string())),
        None if total.is_some_and(|t| received < t) => Err(interrupted("the connection closed early".into())),
        None => Ok(()),
    }
}

/// One or two requests: a `Range` request from `offset`, and a plain one if the server cannot resume. Returns
/// the response and the offset its body starts at.
fn request(url: &str, part: &Path, offset: u64, timeouts: Timeouts) -> Result<(ureq::http::Response<ureq::Body>, u64)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A compressed transfer encoding would make byte ranges meaningless.
        .accept_encoding("identity")
        .timeout_connect(Some(timeouts.connect))
        .timeout_per_read(Some(timeouts.read))
        .build()
        .into();
    let mut offset = offset;
    loop {
        let mut request = agent.get(url);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|source| Error::Network { url: url.into(), source: source.into() })?;
        let status = response.status().as_u16();
        if matches!(status, 200 | 206) && is_html(&response) {
            return Err(Error::HtmlPage { url: url.into() });
        }
        let resumes = status == 206 && content_range_start(&response) == Some(offset);
        match status {
            206 if resumes => return Ok((response, offset)),
            200 if offset == 0 => return Ok((response, 0)),
            // The server ignored, refused or misread the range: start again from scratch (at most once).
            200 | 206 | 416 if offset > 0 => offset = restart(part)?,
            _ => return Err(Error::HttpStatus { url: url.into(), status }),
        }
    }
}

/// Why copying the body stopped early: the network (resumable) or the disk (not our download's fault).
enum CopyFailure {
    Read(std::io::Error),
    Write(std::io::Error),
}

fn is_html(response: &ureq::http::Response<ureq::Body>) -> bool {
    let content_type = response.headers().get("content-type").and_then(|value| value.to_str().ok());
    content_type.is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

fn content_range_start(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    // "bytes 100-999/1000"
    let value = response.headers().get("content-range")?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

fn open_part(part: &Path, offset: u64) -> Result<File> {
    let mut options = OpenOptions::new();
    if offset > 0 {
        options.append(true);
    } else {
        options.write(true).create(true).truncate(true);
    }
    options.open(part).map_err(io_err("opening", part))
}

/// Copies the body to the file, reporting progress; returns the bytes written and why it stopped early, if it did.
fn copy_body(
    body: &mut dyn Read,
    file: &mut File,
    offset: u64,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> (u64, Option<CopyFailure>) {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut copied = 0u64;
    progress(Progress { stage: Stage::Downloading, done_bytes: offset, total_bytes: total });
    loop {
        let n_read = match body.read(&mut buffer) {
            Ok(0) => return (copied, None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (copied, Some(CopyFailure::Read(e))),
        };
        if let Err(e) = file.write_all(&buffer[..n_read]) {
            return (copied, Some(CopyFailure::Write(e)));
        }
        copied += n_read as u64;
        progress(Progress { stage: Stage::Downloading, done_bytes: offset + copied, total_bytes: total });
    }
}
