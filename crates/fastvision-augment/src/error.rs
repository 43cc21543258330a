//! The one error type of `fastvision-augment`: every message names the thing at fault and what to do.

/// Errors of the batch augmentation, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input
    /// The images are not an N×C×H×W tensor.
    #[error("images must be a 4-d N×C×H×W tensor, got shape {shape:?} (collate the batch first)")]
    NotABatch {
        /// The shape that was given.
        shape: Vec<usize>,
    },
    /// The images have an element type the sampler cannot read.
    #[error("images must be u8 (0..=255) or f32 (0..=1), got {dtype:?} (convert with `to_dtype`)")]
    UnsupportedDType {
        /// The element type that was given.
        dtype: candle::DType,
    },
    /// An image side is zero.
    #[error("image size {height}×{width} has a zero side: every image needs at least one pixel")]
    EmptyImage {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
    },
    /// The channel count does not fit the normalisation statistics.
    #[error("Normalize has 3 channels but the images have {channels} (drop Normalize or give RGB images)")]
    ChannelMismatch {
        /// Channels of the images.
        channels: usize,
    },
    /// The recorded parameters do not fit the batch they are applied to.
    #[error("parameters do not fit the batch: {what} (plan with the same batch shape you apply to)")]
    PlanMismatch {
        /// What differs.
        what: String,
    },
    // parameter
    /// A configuration value is out of its domain.
    #[error("invalid augmentation parameter {name} = {value}: {expected}")]
    InvalidParameter {
        /// The field's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What the value must be.
        expected: &'static str,
    },
    /// A size is above the limit that keeps a typo from exhausting memory.
    #[error("augmentation parameter {name} = {value} is above the limit of {limit} {unit}; {hint}")]
    OverLimit {
        /// The field's name.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The largest value accepted.
        limit: u64,
        /// The unit of both.
        unit: &'static str,
        /// Where the limit comes from and what to do.
        hint: &'static str,
    },
    // unsupported
    /// The batch is beyond what the CUDA kernel takes.
    #[error("the CUDA kernel cannot take {what} (augment on the CPU instead)")]
    CudaLimit {
        /// What is too large.
        what: String,
    },
    /// CUDA was asked for but this build has no CUDA.
    #[error("the images are on a CUDA device but fastvision-augment was built without CUDA: {hint}")]
    CudaNotCompiled {
        /// What to do about it.
        hint: &'static str,
    },
    /// A device other than the CPU or CUDA.
    #[error("images on {device} are not supported: move them to the CPU or a CUDA device")]
    UnsupportedDevice {
        /// The device's description.
        device: String,
    },
    /// A candle operation failed; `context` says which.
    #[error("{context}: {source}")]
    Candle {
        /// The operation that failed.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<fastvision_ops::CandleFailure> for Error {
    fn from(failure: fastvision_ops::CandleFailure) -> Self {
        Error::Candle { context: failure.context, source: failure.source }
    }
}
