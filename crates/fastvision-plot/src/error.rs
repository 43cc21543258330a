//! The one error type of `fastvision-plot`: drawing itself never fails, only encoding and writing can.

use std::path::PathBuf;

/// Errors of the plotting crate, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input
    /// A heat map's arrays do not match its labels.
    #[error(
        "heat map {what}: expected {expected} values (rows × columns), got {actual}; give one per cell, row-major"
    )]
    HeatmapShape {
        /// Which array (`values` or `cell_text`).
        what: &'static str,
        /// rows × columns.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    // I/O
    /// The image could not be encoded as PNG.
    #[error("encoding {width}×{height} image as PNG for {path}: {source}")]
    Encode {
        /// Where it was going.
        path: PathBuf,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The PNG could not be written (the message names the path; check the folder exists and is writable).
    #[error("saving PNG: {0}")]
    Write(#[source] fastvision_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
