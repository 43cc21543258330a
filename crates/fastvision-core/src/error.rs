//! The one error type of `fastvision-core`.

use std::path::PathBuf;

/// Errors of the shared helpers, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // I/O
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", "listing").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    // unsupported
    /// CUDA was asked for but this build has no CUDA.
    #[error("CUDA requested but this build has no CUDA support: {hint}")]
    CudaNotCompiled {
        /// What to do about it.
        hint: &'static str,
    },
    // input
    /// A value given by the user is not one of those accepted.
    #[error("{name} {value:?} is not valid: expected {expected}")]
    InvalidValue {
        /// The option or field.
        name: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Two arrays that must have the same length do not.
    #[error("{what}: expected {expected} values, got {actual}")]
    Length {
        /// Which array.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// A tensor operation failed; `context` says which.
    #[error("{context}: {source}")]
    Candle {
        /// The operation that failed.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
    /// JSON could not be encoded.
    #[error("encoding {what} as JSON: {source}")]
    Json {
        /// What was encoded.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
