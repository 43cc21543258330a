//! `get_image_files`: fastai's recursive image listing, but sorted, so a split is the same on every filesystem,
//! and never anything that could block or feed a run its own outputs (FIFOs, devices, output and cache folders).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use fastvision_core::fs::{is_output_dir, OUTPUT_MARKER};

use crate::{Error, Result};

/// File extensions treated as images (lower case), as fastai's `image_extensions` (from `mimetypes`) lists them.
pub const IMAGE_EXTENSIONS: &[&str] =
    &["bmp", "gif", "ico", "jpe", "jpeg", "jpg", "pbm", "pgm", "png", "pnm", "ppm", "tif", "tiff", "webp"];

/// What a listing takes (extensions) and leaves out (excluded paths), as fastai's `get_files` arguments plus
/// the exclusions a run needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFilter {
    /// Extensions listed, lower case and without the dot; matched case-insensitively.
    pub extensions: Vec<String>,
    /// Files and folders never listed nor entered, e.g. a run's `--out` folder or the download cache. They need
    /// not exist yet.
    pub exclude: Vec<PathBuf>,
}

/// The result of a listing: the files, sorted, and what was left out on purpose, with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files (or links to regular files) with a listed extension, sorted by path.
    pub files: Vec<PathBuf>,
    /// Entries with a listed extension that are not regular files, and folders not entered.
    pub skipped: Vec<Skipped>,
}

/// One entry a listing left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: SkipReason,
}

/// Why a listing left an entry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SkipReason {
    /// Not a regular file (a FIFO, a socket, a device): reading it could block forever or never end.
    NotARegularFile {
        /// "FIFO", "socket", "block device", "character device".
        kind: &'static str,
    },
    /// A symbolic link to nothing.
    BrokenLink,
    /// A path in [`FileFilter::exclude`].
    Excluded,
    /// A folder holding [`OUTPUT_MARKER`]: the outputs of a fastvision run.
    OutputFolder,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARegularFile { kind } => write!(f, "a {kind}, not a regular file (reading it could block)"),
            Self::BrokenLink => f.write_str("a broken symbolic link"),
            Self::Excluded => f.write_str("excluded (the run's output or cache folder)"),
            Self::OutputFolder => write!(f, "a fastvision run's output folder (it holds {OUTPUT_MARKER})"),
        }
    }
}

impl Default for FileFilter {
    /// [`IMAGE_EXTENSIONS`], nothing excluded.
    fn default() -> Self {
        Self::with_extensions(IMAGE_EXTENSIONS)
    }
}

impl FileFilter {
    /// Files with one of `extensions` (case-insensitive), nothing excluded.
    pub fn with_extensions(extensions: &[&str]) -> Self {
        Self { extensions: extensions.iter().map(|e| e.to_ascii_lowercase()).collect(), exclude: Vec::new() }
    }

    /// The same filter, also leaving out `path` (a file or a folder).
    pub fn exclude(mut self, path: impl Into<PathBuf>) -> Self {
        self.exclude.push(path.into());
        self
    }

    /// Every matching file under `root`, recursively, sorted by path, with what was skipped.
    ///
    /// - Hidden files and folders (name starting with `.`) are skipped silently, as fastai's `get_files` does.
    /// - Only regular files are listed; symbolic links are followed, and a link that leads back into a folder
    ///   already visited is not walked twice.
    /// - Excluded paths and folders holding [`OUTPUT_MARKER`] are not entered (`root` itself always is: the caller
    ///   named it).
    pub fn list(&self, root: &Path) -> Result<Listing> {
        let io_err = |source| Error::Io { action: "opening", path: root.into(), source };
        let meta = std::fs::metadata(root).map_err(io_err)?;
        let mut listing = Listing::default();
        if !meta.is_dir() {
            match file_kind(&meta) {
                None if self.has_extension(root) => listing.files.push(root.to_path_buf()),
                Some(kind) => listing.skipped.push(Skipped::new(root, SkipReason::NotARegularFile { kind })),
                None => {}
            }
            return Ok(listing);
        }
        let walk = Walk { filter: self, exclude: self.exclusions_below(root) };
        walk.dir(root, true, &mut BTreeSet::new(), &mut listing)?;
        listing.files.sort();
        Ok(listing)
    }

    fn has_extension(&self, path: &Path) -> bool {
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        extension.is_some_and(|e| self.extensions.contains(&e))
    }

    /// Exclusions as canonical paths, leaving out those that contain `root` (the caller named it: listing the
    /// built-in data set inside the cache must work) and those that do not exist (no walk can meet them).
    fn exclusions_below(&self, root: &Path) -> Vec<PathBuf> {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        self.exclude.iter().filter_map(|p| p.canonicalize().ok()).filter(|e| !root.starts_with(e)).collect()
    }
}

impl Skipped {
    fn new(path: &Path, reason: SkipReason) -> Self {
        Self { path: path.to_path_buf(), reason }
    }
}

/// Every image file under `path`, recursively, sorted by path (fastai's `get_image_files`).
///
/// - Extensions match [`IMAGE_EXTENSIONS`] case-insensitively (`.JPG` counts).
/// - Hidden files and folders (name starting with `.`) are skipped, as fastai's `get_files` does by default.
/// - Only regular files are listed (a FIFO named `x.jpg` would block the loader forever); symbolic links are
///   followed, and a link that leads back into a folder already visited is not walked twice.
/// - Folders holding [`OUTPUT_MARKER`] (a fastvision run's outputs) are not entered.
/// - The result is sorted, unlike fastai's (which follows directory order), so splits are reproducible.
///
/// An empty result is an error ([`Error::NoImages`]), and so is a path that does not exist. [`FileFilter::list`]
/// also says what it skipped, and takes exclusions.
pub fn get_image_files(path: &Path) -> Result<Vec<PathBuf>> {
    let listing = FileFilter::default().list(path)?;
    check_not_empty(path, &listing)?;
    Ok(listing.files)
}

/// Every file under `path` whose extension (case-insensitive) is in `extensions`, recursively and sorted, with
/// the rules of [`get_image_files`].
pub fn get_files(path: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    Ok(FileFilter::with_extensions(extensions).list(path)?.files)
}

/// [`Error::NoImages`] when `listing` found nothing; the message counts what was skipped.
pub(crate) fn check_not_empty(path: &Path, listing: &Listing) -> Result<()> {
    if !listing.files.is_empty() {
        return Ok(());
    }
    let mut extensions = IMAGE_EXTENSIONS.join(", ");
    if let Some(first) = listing.skipped.first() {
        let n_skipped = listing.skipped.len();
        extensions.push_str(&format!("; skipped {n_skipped}, e.g. {}: {}", first.path.display(), first.reason));
    }
    Err(Error::NoImages { path: path.to_path_buf(), extensions })
}

/// One recursive walk: the filter and its exclusions, canonicalised once.
struct Walk<'a> {
    filter: &'a FileFilter,
    exclude: Vec<PathBuf>,
}

impl Walk<'_> {
    fn dir(&self, dir: &Path, is_root: bool, visited: &mut BTreeSet<PathBuf>, out: &mut Listing) -> Result<()> {
        // Canonical paths guard against symlink cycles and make exclusions match however the path was spelled.
        let canonical =
            dir.canonicalize().map_err(|source| Error::Io { action: "resolving", path: dir.into(), source })?;
        if !is_root {
            if self.excludes(&canonical) {
                out.skipped.push(Skipped::new(dir, SkipReason::Excluded));
                return Ok(());
            }
            if is_output_dir(dir) {
                out.skipped.push(Skipped::new(dir, SkipReason::OutputFolder));
                return Ok(());
            }
        }
        if !visited.insert(canonical.clone()) {
            return Ok(());
        }
        for entry in fastvision_core::fs::list_sorted(dir)? {
            let Some(name) = entry.file_name().map(|n| n.to_os_string()) else { continue };
            if !name.to_string_lossy().starts_with('.') {
                self.entry(entry, &canonical.join(name), visited, out)?;
            }
        }
        Ok(())
    }

    /// `entry` is `canonical` as the caller spelled it (`canonical` is the entry's folder made canonical).
    fn entry(
        &self,
        entry: PathBuf,
        canonical: &Path,
        visited: &mut BTreeSet<PathBuf>,
        out: &mut Listing,
    ) -> Result<()> {
        // `metadata` follows links, so a link to a regular file counts as one; it never opens the entry (opening
        // a FIFO blocks until a writer appears).
        let Ok(meta) = std::fs::metadata(&entry) else {
            if self.filter.has_extension(&entry) {
                out.skipped.push(Skipped::new(&entry, SkipReason::BrokenLink));
            }
            return Ok(());
        };
        if meta.is_dir() {
            return self.dir(&entry, false, visited, out);
        }
        if !self.filter.has_extension(&entry) {
            return Ok(());
        }
        match file_kind(&meta) {
            _ if self.excludes(canonical) => out.skipped.push(Skipped::new(&entry, SkipReason::Excluded)),
            None => out.files.push(entry),
            Some(kind) => out.skipped.push(Skipped::new(&entry, SkipReason::NotARegularFile { kind })),
        }
        Ok(())
    }

    fn excludes(&self, canonical: &Path) -> bool {
        self.exclude.iter().any(|e| canonical.starts_with(e))
    }
}

/// `None` for a regular file, else what kind of special file `meta` describes.
pub(crate) fn file_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let special = [
            (kind.is_fifo(), "FIFO"),
            (kind.is_socket(), "socket"),
            (kind.is_block_device(), "block device"),
            (kind.is_char_device(), "character device"),
        ];
        if let Some((_, name)) = special.into_iter().find(|(is, _)| *is) {
            return Some(name);
        }
    }
    Some("special file")
}
