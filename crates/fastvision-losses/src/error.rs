//! The crate's one error type: every bad input names the tensor, the row and the value, and says what to do.

/// Everything that can go wrong in a loss, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- the input tensors ---
    /// A target class id is not in `0..n_classes` (and is not the ignore index).
    #[error(
        "target out of range: row {row} has class {value}, but the logits have {n_classes} classes \
         (targets must be class ids in 0..{n_classes}; check the vocab used to encode them)"
    )]
    TargetOutOfRange {
        /// The row (after flattening) holding the bad target.
        row: usize,
        /// The bad class id.
        value: i64,
        /// The number of classes (the size of the class axis).
        n_classes: usize,
    },
    /// A logit is NaN or +inf, or a whole row is -inf, so no probability can be computed.
    #[error(
        "{what} row {row} holds {value} at class {col}: every logit must be a number and each row needs a finite one \
         (a NaN usually means the model diverged: lower the learning rate)"
    )]
    NonFiniteLogits {
        /// Which tensor (`logits`, `log-probabilities`).
        what: &'static str,
        /// The row (after flattening).
        row: usize,
        /// The class (column) of the first offending value.
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// Two tensors, or a tensor and a parameter, do not fit together.
    #[error("shape mismatch in {op}: {what} (expected {expected}, got {actual})")]
    ShapeMismatch {
        /// The function or loss that checked.
        op: &'static str,
        /// What was compared.
        what: &'static str,
        /// The expected shape or size.
        expected: String,
        /// The shape or size that was given.
        actual: String,
    },
    /// There is nothing to average over.
    #[error("empty batch in {op}: the logits have shape {shape}; pass at least one row and one class")]
    EmptyBatch {
        /// The function or loss that checked.
        op: &'static str,
        /// The shape that was given.
        shape: String,
    },
    /// A tensor has a dtype this op cannot use.
    #[error("{op} cannot take {what} of dtype {dtype:?}: {hint}")]
    UnsupportedDType {
        /// The function or loss that checked.
        op: &'static str,
        /// Which tensor.
        what: &'static str,
        /// The dtype that was given.
        dtype: candle::DType,
        /// What to pass instead.
        hint: &'static str,
    },
    /// The two tensors live on different devices.
    #[error("{op}: logits are on {logits:?} but targets are on {targets:?}; move both to the same device")]
    DeviceMismatch {
        /// The function or loss that checked.
        op: &'static str,
        /// The logits' device.
        logits: candle::DeviceLocation,
        /// The targets' device.
        targets: candle::DeviceLocation,
    },

    // --- a parameter ---
    /// A loss parameter is out of its valid range.
    #[error("invalid parameter {name} = {value}: {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, as given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },

    // --- unsupported here ---
    /// A CUDA tensor was given to a build without the `cuda` feature.
    #[error("the logits are on a CUDA device but fastvision-losses was built without CUDA: {hint}")]
    CudaNotCompiled {
        /// How to fix it.
        hint: &'static str,
    },
    /// The device is neither the CPU nor CUDA.
    #[error("{op} has no implementation for device {device:?}; use the CPU or CUDA")]
    UnsupportedDevice {
        /// The function or loss that checked.
        op: &'static str,
        /// The device that was given.
        device: candle::DeviceLocation,
    },

    // --- the tensor library ---
    /// candle failed; `context` says at which step.
    #[error("{context}: {source}")]
    Candle {
        /// The step that failed.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<fastvision_ops::CandleFailure> for Error {
    fn from(failure: fastvision_ops::CandleFailure) -> Self {
        Error::Candle { context: failure.context, source: failure.source }
    }
}
