//! Checks and unpacks a downloaded archive: size and checksums first, then gzip + tar into a temporary folder
//! that is renamed into the cache only when every entry is out, so no half-extracted data set is ever visible.

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::download::{Progress, Stage};
use crate::error::io_err;
use crate::registry::Dataset;
use crate::{Error, Result};

/// Checks `archive` against the size and checksums `dataset` records; a mismatching file is deleted.
pub(crate) fn verify(archive: &Path, dataset: &Dataset, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let actual_size = std::fs::metadata(archive).map_err(io_err("reading", archive))?.len();
    if let Some(expected) = dataset.size_bytes.filter(|&size| size != actual_size) {
        remove_quietly(archive);
        return Err(Error::SizeMismatch { path: archive.to_path_buf(), expected, actual: actual_size });
    }
    if dataset.md5.is_none() && dataset.sha256.is_none() {
        return Ok(());
    }
    let (md5, sha256) = digests(archive, actual_size, progress)?;
    for (algorithm, expected, actual) in [("md5", &dataset.md5, md5), ("sha256", &dataset.sha256, sha256)] {
        if let Some(expected) = expected.as_ref().filter(|e| !e.eq_ignore_ascii_case(&actual)) {
            remove_quietly(archive);
            let expected = expected.clone();
            return Err(Error::ChecksumMismatch { path: archive.to_path_buf(), algorithm, expected, actual });
        }
    }
    Ok(())
}

/// The MD5 and SHA-256 of a file as lowercase hex, in one pass.
pub(crate) fn digests(path: &Path, size: u64, progress: &mut dyn FnMut(Progress)) -> Result<(String, String)> {
    let (mut md5, mut sha256) = (Md5::new(), Sha256::new());
    for_each_chunk(path, size, progress, &mut |chunk| {
        md5.update(chunk);
        sha256.update(chunk);
    })?;
    Ok((hex(&md5.finalize()), hex(&sha256.finalize())))
}

/// The SHA-256 of a file as lowercase hex, reporting progress as [`Stage::Verifying`].
pub(crate) fn sha256_hex(path: &Path, progress: &mut dyn FnMut(Progress)) -> Result<String> {
    let size = std::fs::metadata(path).map_err(io_err("reading", path))?.len();
    let mut sha256 = Sha256::new();
    for_each_chunk(path, size, progress, &mut |chunk| sha256.update(chunk))?;
    Ok(hex(&sha256.finalize()))
}

/// Reads a file in 1 MiB chunks, handing each to `update` and reporting progress as [`Stage::Verifying`].
fn for_each_chunk(
    path: &Path,
    size: u64,
    progress: &mut dyn FnMut(Progress),
    update: &mut dyn FnMut(&[u8]),
) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(io_err("opening", path))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n_read = file.read(&mut buffer).map_err(io_err("reading", path))?;
        if n_read == 0 {
            return Ok(());
        }
        update(&buffer[..n_read]);
        done += n_read as u64;
        progress(Progress { stage: Stage::Verifying, done_bytes: done, total_bytes: Some(size) });
    }
}

/// Unpacks `archive` into `data_dir/folder_name`. An archive holding a single top-level folder has that folder
/// renamed to `folder_name` (as fastai's `untar_data` does); otherwise the whole content is. A corrupt archive is
/// deleted, and in every failure the temporary folder is removed.
pub(crate) fn extract(
    archive: &Path,
    data_dir: &Path,
    folder_name: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<PathBuf> {
    let dest = data_dir.join(folder_name);
    let temp = data_dir.join(format!(".{folder_name}.tmp-{}", std::process::id()));
    std::fs::create_dir_all(data_dir).map_err(io_err("creating", data_dir))?;
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(io_err("removing stale", &temp))?;
    }
    std::fs::create_dir_all(&temp).map_err(io_err("creating", &temp))?;
    let result = unpack(archive, &temp, progress).and_then(|()| publish(&temp, &dest));
    if temp.exists() {
        // Best effort: the temporary folder is ours and must not be left behind, whatever happened.
        let _ = std::fs::remove_dir_all(&temp);
    }
    result.map(|()| dest)
}

fn unpack(archive: &Path, temp: &Path, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let file = std::fs::File::open(archive).map_err(io_err("opening", archive))?;
    let total = file.metadata().map_err(io_err("reading", archive))?.len();
    let counting = CountingReader { inner: file, done: 0, total, progress };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(counting));
    tar.set_preserve_permissions(false);
    tar.set_preserve_mtime(false);
    // `unpack` refuses entries that would land outside `temp` (absolute paths, `..`).
    let unpacked = tar.unpack(temp);
    let is_empty = fastvision_core::fs::list_sorted(temp).map(|entries| entries.is_empty()).unwrap_or(false);
    match unpacked {
        Ok(()) if !is_empty => Ok(()),
        Ok(()) => Err(corrupt(archive, std::io::Error::other("the archive holds no files"))),
        Err(source) if is_corruption(&source) => Err(corrupt(archive, source)),
        Err(source) => Err(Error::Io { action: "extracting", path: archive.to_path_buf(), source }),
    }
}

/// Whether an unpacking error is the archive's fault. Gzip and tar report damage with several kinds (tar's bad
/// header checksum is `Other`), so the test is the reverse: a full or read-only disk or missing permissions is not
/// the archive's fault and must not cost the user a re-download.
fn is_corruption(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{OutOfMemory, PermissionDenied, QuotaExceeded, ReadOnlyFilesystem, StorageFull};
    !matches!(error.kind(), PermissionDenied | StorageFull | ReadOnlyFilesystem | QuotaExceeded | OutOfMemory)
}

fn corrupt(archive: &Path, source: std::io::Error) -> Error {
    remove_quietly(archive);
    Error::CorruptArchive { path: archive.to_path_buf(), source }
}

/// Renames the unpacked content into place. If another process got there first, its folder is kept.
fn publish(temp: &Path, dest: &Path) -> Result<()> {
    let entries = fastvision_core::fs::list_sorted(temp)
        .map_err(|source| Error::Core { context: "listing the unpacked archive", source: source.into() })?;
    let source = match entries.as_slice() {
        [only] if only.is_dir() => only.clone(),
        _ => temp.to_path_buf(),
    };
    match std::fs::rename(&source, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => Ok(()),
        Err(source) => Err(Error::Io { action: "renaming into place", path: dest.to_path_buf(), source }),
    }
}

/// Deletes a file we downloaded and found bad; failing to delete it changes nothing for the caller.
pub(crate) fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reports how much of the compressed archive has been read while it is unpacked.
struct CountingReader<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(Progress),
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n_read = self.inner.read(buf)?;
        self.done += n_read as u64;
        (self.progress)(Progress { stage: Stage::Extracting, done_bytes: self.done, total_bytes: Some(self.total) });
        Ok(n_read)
    }
}

#[cfg(test)]
mod tests;
