//! The one error type of `fastvision-models`, grouped by who is at fault.

use std::fmt;
use std::path::PathBuf;

/// Errors of model construction, forward passes and weight files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input
    /// The images given to a model do not have the shape it needs.
    #[error("{model} expects {expected}, got a tensor of shape {actual:?} (collate images as N×3×H×W floats)")]
    BadInput {
        /// Which model or layer.
        model: String,
        /// What it needs, in words.
        expected: String,
        /// The shape it got.
        actual: Vec<usize>,
    },
    /// A weight file's names or shapes do not fit the model.
    #[error("weights in {path} do not fit {model}: {report}")]
    StateMismatch {
        /// The file.
        path: PathBuf,
        /// The model it was loaded into.
        model: String,
        /// Every missing, unexpected and mismatched key.
        report: MismatchReport,
    },
    /// A weight file holds a tensor in a type that cannot become a float parameter.
    #[error("tensor {name:?} in {path} is stored as {dtype}; weights must be f32, f16, bf16 or f64")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The stored type.
        dtype: String,
    },
    /// A weight file could not be read (missing, damaged, not weights, or refused: fastvision-weights' error names
    /// the file and says what it looks like) or written.
    #[error(transparent)]
    Weights(fastvision_weights::Error),
    // parameter
    /// A constructor or method argument is out of range.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// The argument's name.
        name: &'static str,
        /// Its value, printed.
        value: String,
        /// What is allowed.
        reason: &'static str,
    },
    /// An architecture name was not recognised.
    #[error("unknown architecture {name:?}; known: {known}")]
    UnknownArch {
        /// The name given.
        name: String,
        /// The names that work.
        known: &'static str,
    },
    // I/O
    // tensor operations
    /// A tensor operation failed; `context` says which.
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

/// A tensor name whose shape in the file differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The tensor's name (in the model's naming).
    pub name: String,
    /// The shape the model has.
    pub expected: Vec<usize>,
    /// The shape the file has.
    pub found: Vec<usize>,
}

/// Everything that kept a weight file from fitting a model, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MismatchReport {
    /// Names the model has and the file lacks, with the model's shapes.
    pub missing: Vec<(String, Vec<usize>)>,
    /// Names the file has and the model does not, with the file's shapes.
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// Names both have, with different shapes.
    pub mismatched: Vec<ShapeMismatch>,
}

impl MismatchReport {
    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

impl fmt::Display for MismatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} missing, {} unexpected, {} with another shape",
            self.missing.len(),
            self.unexpected.len(),
            self.mismatched.len()
        )?;
        for (name, shape) in &self.missing {
            write!(f, "\n  missing {name} {shape:?}")?;
        }
        for (name, shape) in &self.unexpected {
            write!(f, "\n  unexpected {name} {shape:?}")?;
        }
        for m in &self.mismatched {
            write!(f, "\n  shape of {}: model {:?}, file {:?}", m.name, m.expected, m.found)?;
        }
        write!(f, "\n(check the architecture and the number of classes; load_body keeps the body and skips the head)")
    }
}

/// Adds a context string to candle's errors, so a failure says which step broke: fastvision-ops' `CandleContext`
/// with this crate's error as the result, so `.ctx(..)` can end a function (vision.rs does).
pub(crate) trait Context<T> {
    /// Wraps the error with `context`.
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> Context<T> for candle::Result<T> {
    fn ctx(self, context: &str) -> Result<T> {
        Ok(fastvision_ops::CandleContext::ctx(self, context)?)
    }
}

impl From<fastvision_ops::CandleFailure> for Error {
    fn from(failure: fastvision_ops::CandleFailure) -> Self {
        Error::Candle { context: failure.context, source: failure.source }
    }
}
