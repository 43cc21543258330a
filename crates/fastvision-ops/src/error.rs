//! The crate's one error type: what went wrong, grouped by who is at fault, and what to do about it.

use crate::context::CandleFailure;

/// Everything a fastvision-ops call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- input: the tensors handed in do not fit the operation ---
    /// A tensor's shape does not fit the operation.
    #[error("{op}: {what} has shape {shape:?}, but {expected}; pass a tensor of that shape")]
    Shape {
        /// The operation (`conv2d`, `batch_norm_train`, ...).
        op: &'static str,
        /// Which argument (`input`, `weight`, ...).
        what: &'static str,
        /// The shape it has.
        shape: Vec<usize>,
        /// What the operation needs.
        expected: String,
    },
    /// The arguments live on different devices or have different dtypes.
    #[error("{op}: {what}; move the tensors to one device and one dtype first")]
    Mismatch {
        /// The operation.
        op: &'static str,
        /// What differs.
        what: String,
    },

    // --- parameter: a setting is out of range ---
    /// A numeric parameter is out of range.
    #[error("{op}: parameter `{name}` = {value} is invalid: {reason}")]
    Parameter {
        /// The operation.
        op: &'static str,
        /// The parameter's name.
        name: &'static str,
        /// Its value, as text.
        value: String,
        /// Why it is rejected and what is accepted.
        reason: &'static str,
    },

    // --- limit: a size does not fit a CUDA launch ---
    /// A size does not fit the type a CUDA kernel takes it as.
    #[error("{what} = {value} does not fit {limit}; split the batch or use smaller inputs")]
    LaunchArgument {
        /// Which size (`n_rows`, `the number of blocks`, ...).
        what: &'static str,
        /// Its value.
        value: usize,
        /// The type or limit it must fit.
        limit: &'static str,
    },

    // --- backend: candle refused an operation ---
    /// A candle operation failed.
    #[error("{op}: candle failed while {context}: {source}")]
    Candle {
        /// The operation.
        op: &'static str,
        /// What was being done.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for candle::Error {
    /// Lets code that returns `candle::Result` (layers, models) call these ops with `?`.
    fn from(err: Error) -> Self {
        candle::Error::wrap(err)
    }
}

impl From<CandleFailure> for Error {
    fn from(failure: CandleFailure) -> Self {
        let CandleFailure { op, context, source } = failure;
        Error::Candle { op: op.unwrap_or("fastvision-ops"), context, source }
    }
}
