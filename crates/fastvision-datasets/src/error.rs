//! The one error type of `fastvision-datasets`: every failure names the data set, checkpoint, file or address
//! involved and says what to do next.

use std::path::PathBuf;

/// Errors of the default data set, `untar_data` and the pretrained-weights cache, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input: what came over the network or from the cache is wrong
    /// The server answered with an HTTP error status.
    #[error("downloading {url}: the server answered HTTP {status} (check the address, or try again later)")]
    HttpStatus {
        /// The address asked for.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The transfer stopped before the whole file arrived; the part already received is kept for resuming.
    #[error(
        "downloading {url}: the transfer stopped after {received} of {expected} bytes ({reason}); \
         run again to resume from {part}"
    )]
    Interrupted {
        /// The address asked for.
        url: String,
        /// Bytes in the partial file.
        received: u64,
        /// Bytes expected in all ("unknown" when the server did not say).
        expected: String,
        /// What stopped it.
        reason: String,
        /// The partial file kept for the next attempt.
        part: PathBuf,
    },
    /// The downloaded file has the wrong size; it was deleted.
    #[error("{path}: expected {expected} bytes, got {actual}; the file was deleted, run again to download it afresh")]
    SizeMismatch {
        /// The file checked.
        path: PathBuf,
        /// The size the registry records.
        expected: u64,
        /// The size on disk.
        actual: u64,
    },
    /// The downloaded file's checksum is wrong; it was deleted.
    #[error(
        "{path}: {algorithm} checksum is {actual}, expected {expected}; the download is corrupt and was deleted, \
         run again to download it afresh"
    )]
    ChecksumMismatch {
        /// The file checked.
        path: PathBuf,
        /// "md5" or "sha256".
        algorithm: &'static str,
        /// The checksum the registry records.
        expected: String,
        /// The checksum of the file on disk.
        actual: String,
    },
    /// The server sent a web page (HTML) where the file was expected; nothing was saved.
    #[error(
        "downloading {url}: the server sent a web page (HTML) instead of the file, so nothing was saved (check the \
         address or mirror; a proxy's or Wi-Fi portal's login page looks like this)"
    )]
    HtmlPage {
        /// The address asked for.
        url: String,
    },
    /// A downloaded checkpoint's SHA-256 does not start with the hash prefix in its file name; it was deleted.
    #[error(
        "downloading {url}: the file's SHA-256 is {actual}, but its name {file_name} says it starts with \
         {expected_prefix}; the download was deleted and nothing was cached (run again; if it happens again, the \
         server or mirror holds a different file)"
    )]
    WeightsHashMismatch {
        /// The address downloaded.
        url: String,
        /// The checkpoint's file name, e.g. `resnet34-b627a593.pth`.
        file_name: String,
        /// The hash prefix from the file name.
        expected_prefix: String,
        /// The SHA-256 of the bytes received, as lowercase hex.
        actual: String,
    },
    /// A checkpoint found in the cache does not match the hash prefix in its name; it was left in place.
    #[error(
        "{path}: SHA-256 is {actual}, but the file name says it starts with {expected_prefix}, so the cached file \
         is truncated or wrong; delete it and run again to download it afresh"
    )]
    CachedWeightsHashMismatch {
        /// The cached file.
        path: PathBuf,
        /// The hash prefix from the file name.
        expected_prefix: String,
        /// The SHA-256 of the file, as lowercase hex.
        actual: String,
    },
    /// The archive could not be read as gzip-compressed tar; nothing was extracted and the archive was deleted.
    #[error("{path}: not a readable .tgz archive ({source}); it was deleted, run again to download it afresh")]
    CorruptArchive {
        /// The archive.
        path: PathBuf,
        /// The gzip or tar error.
        #[source]
        source: std::io::Error,
    },
    // parameter: the caller asked for something impossible
    /// A preset's label regex does not compile.
    #[error("label regex {pattern:?}")]
    Labelling {
        /// The regex.
        pattern: String,
        /// fastvision-data's error (boxed: it is large).
        #[source]
        source: Box<fastvision_data::Error>,
    },
    /// No data set of that name is registered.
    #[error("unknown data set {name:?}: known names are {known}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// No torchvision ImageNet weights are known for that architecture name.
    #[error("no ImageNet weights for architecture {arch:?}: known architectures are {known}")]
    UnknownArch {
        /// The name asked for.
        arch: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A configuration value is out of range.
    #[error("invalid {what}: {hint}")]
    InvalidConfig {
        /// Which value.
        what: &'static str,
        /// What the allowed values are.
        hint: String,
    },
    /// The address is not an http(s) address ending in a file name.
    #[error("cannot download {url}: {hint}")]
    InvalidUrl {
        /// The address.
        url: String,
        /// What is wrong with it.
        hint: &'static str,
    },
    // unsupported: the environment lacks something
    /// Neither `FASTVISION_HOME` nor `HOME` is set, so there is no default cache folder.
    #[error("no cache folder: set FASTVISION_HOME (or HOME), or pass a folder explicitly")]
    NoCacheFolder,
    /// Neither `TORCH_HOME`, `XDG_CACHE_HOME` nor `HOME` is set, so PyTorch's hub cache cannot be located.
    #[error("no torch hub cache folder: set TORCH_HOME (or HOME), or pass a cache folder explicitly")]
    NoTorchHome,
    // I/O
    /// A pretrained checkpoint is not cached and the server could not be reached.
    #[error(
        "{file_name} is not in the torch hub cache {cache_dir} and downloading it from {url} failed ({source}); \
         connect to the network and run again, or put the file in {cache_dir}, or pass --no-pretrained to train \
         from scratch"
    )]
    WeightsUnavailable {
        /// The checkpoint's file name.
        file_name: String,
        /// The cache folder looked in.
        cache_dir: PathBuf,
        /// The address tried.
        url: String,
        /// ureq's error (refused connection, unknown host, timeout...).
        #[source]
        source: Box<ureq::Error>,
    },
    /// The cache folder for pretrained weights cannot be created or written.
    #[error(
        "cannot write to the weights cache {dir}: {source} (make it writable, or point TORCH_HOME at a folder \
         you can write)"
    )]
    CacheNotWritable {
        /// The cache folder.
        dir: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The network failed (resolving, connecting, TLS, reading headers).
    #[error("downloading {url}: {source} (check the network connection, then run again)")]
    Network {
        /// The address asked for.
        url: String,
        /// ureq's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("creating", "renaming", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A rendered image could not be encoded as JPEG.
    #[error("encoding {path} as JPEG: {source}")]
    Encode {
        /// The image's file.
        path: PathBuf,
        /// The image crate's error.
        #[source]
        source: image::ImageError,
    },
    /// A shared helper of `fastvision-core` failed; `context` says where.
    #[error("{context}: {source}")]
    Core {
        /// What was being done.
        context: &'static str,
        /// The helper's error (boxed: it can hold a large candle error).
        #[source]
        source: Box<fastvision_core::Error>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A closure turning an `io::Error` into [`Error::Io`] for `path`.
pub(crate) fn io_err(action: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { action, path, source }
}
