//! `get_image_files`: fastai's recursive image listing, but sorted, so a split is the same on every filesystem.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// File extensions treated as images (lower case), as fastai's `image_extensions` (from `mimetypes`) lists them.
pub const IMAGE_EXTENSIONS: &[&str] =
    &["bmp", "gif", "ico", "jpe", "jpeg", "jpg", "pbm", "pgm", "png", "pnm", "ppm", "tif", "tiff", "webp"];

/// Every image file under `path`, recursively, sorted by path.
///
/// - Extensions match [`IMAGE_EXTENSIONS`] case-insensitively (`.JPG` counts).
/// - Hidden files and folders (name starting with `.`) are skipped, as fastai's `get_files` does by default.
/// - Symbolic links are followed; a link that leads back into a folder already visited is not walked twice.
/// - The result is sorted, unlike fastai's (which follows directory order), so splits are reproducible.
///
/// An empty result is an error ([`Error::NoImages`]), and so is a path that does not exist.
pub fn get_image_files(path: &Path) -> Result<Vec<PathBuf>> {
    let files = get_files(path, IMAGE_EXTENSIONS)?;
    if files.is_empty() {
        return Err(Error::NoImages { path: path.to_path_buf(), extensions: IMAGE_EXTENSIONS.join(", ") });
    }
    Ok(files)
}

/// Every file under `path` whose extension (case-insensitive) is in `extensions`, recursively and sorted.
pub fn get_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io { action: "opening", path: path.into(), source })?;
    if meta.is_file() {
        return Ok(if has_extension(path, extensions) { vec![path.to_path_buf()] } else { Vec::new() });
    }
    let mut visited = BTreeSet::new();
    let mut files = Vec::new();
    walk(path, extensions, &mut visited, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, extensions: &[&str], visited: &mut BTreeSet<PathBuf>, files: &mut Vec<PathBuf>) -> Result<()> {
    // Canonical paths guard against symlink cycles.
    let canonical = dir.canonicalize().map_err(|source| Error::Io { action: "resolving", path: dir.into(), source })?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    for entry in fastvision_core::fs::list_sorted(dir)? {
        let hidden = entry.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        // `metadata` follows links; a dangling link is skipped rather than failing the whole listing.
        let Ok(meta) = std::fs::metadata(&entry) else { continue };
        if meta.is_dir() {
            walk(&entry, extensions, visited, files)?;
        } else if has_extension(&entry, extensions) {
            files.push(entry);
        }
    }
    Ok(())
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).is_some_and(|e| extensions.contains(&e.as_str()))
}
