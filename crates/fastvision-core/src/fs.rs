//! Deterministic listing and atomic writes: splits must not depend on the filesystem, and no artefact is ever
//! left half-written.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Lists the entries of `dir`, sorted by file name (byte order), so that every machine sees the same order.
#[allow(clippy::disallowed_methods)] // this is the one place allowed to call read_dir
pub fn list_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let io_err = |source| Error::Io { action: "listing", path: dir.to_path_buf(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        paths.push(entry.map_err(io_err)?.path());
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(paths)
}

/// Writes a file atomically: the bytes go to a temporary file in the same folder, which is synced and then renamed
/// over `path`. A crash or an error leaves either the old file or the new one, never a mix.
pub fn atomic_write(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let io_err = |source| Error::Io { action: "writing", path: path.to_path_buf(), source };
    injected_fault(path).map_err(io_err)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the temporary file is ours and must not be left behind.
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

/// The environment variable naming files whose writes fail: the fault-injection tests' way to show that a failing
/// output (a plot on a full disk) loses nothing else. Comma-separated file names.
pub const FAULT_WRITE_ENV: &str = "FASTVISION_FAULT_WRITE";

/// An injected write error for `path` when [`FAULT_WRITE_ENV`] names its file.
fn injected_fault(path: &Path) -> std::io::Result<()> {
    let Some(names) = std::env::var_os(FAULT_WRITE_ENV) else { return Ok(()) };
    let name = path.file_name().unwrap_or_default();
    if names.to_string_lossy().split(',').any(|n| !n.is_empty() && std::ffi::OsStr::new(n) == name) {
        return Err(std::io::Error::other(format!("fault injected by {FAULT_WRITE_ENV}")));
    }
    Ok(())
}

/// [`atomic_write`] for bytes already in memory.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| w.write_all(bytes))
}

/// The file that marks a folder as a fastvision run's output: listings (`get_image_files`) never enter a folder
/// that holds it, so a second run with `--data .` does not train on the first run's plots and models.
pub const OUTPUT_MARKER: &str = ".fastvision-output";

/// Creates `dir` if needed and marks it as a run's output folder with [`OUTPUT_MARKER`] (written atomically;
/// an existing marker is kept).
pub fn mark_output_dir(dir: &Path) -> Result<()> {
    let marker = dir.join(OUTPUT_MARKER);
    if marker.is_file() {
        return Ok(());
    }
    let text = "This folder holds the outputs of a fastvision run; fastvision never lists it as training data.\n";
    atomic_write_bytes(&marker, text.as_bytes())
}

/// Whether `dir` holds [`OUTPUT_MARKER`].
pub fn is_output_dir(dir: &Path) -> bool {
    dir.join(OUTPUT_MARKER).is_file()
}

#[cfg(test)]
mod tests;
