//! The one error type of `fastvision-train`: every failure names the thing and says what to do.

use std::path::PathBuf;

/// Errors of training, grouped by who is at fault: the input, a parameter, a limit, unsupported, or I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input
    /// The loss became NaN or infinite: training stopped instead of going on with garbage.
    #[error(
        "loss is {loss} at epoch {epoch}, iteration {iteration} (learning rates {lrs:?}): training stopped; \
         lower the learning rate (run lr_find) or check the data; the last checkpoint, if any, is untouched"
    )]
    Diverged {
        /// The epoch (0-based) in which it happened.
        epoch: usize,
        /// The training iteration (0-based, counted over the whole fit).
        iteration: usize,
        /// The loss value (NaN or ±inf).
        loss: f64,
        /// The learning rate of each parameter group at that iteration.
        lrs: Vec<f64>,
    },
    /// A data set split has no batches to train or validate on.
    #[error("the {split} set is empty: add images or change the split (valid_pct) so that it has at least one batch")]
    EmptySplit {
        /// `train` or `valid`.
        split: &'static str,
    },
    /// A batch could not be produced (a bad image, a failed transform): training stopped at the last finished
    /// batch; checkpoints already written are untouched.
    #[error("{context}: {source}")]
    Data {
        /// Where it happened (epoch, batch, split).
        context: String,
        /// The data pipeline's error.
        #[source]
        source: fastvision_data::Error,
    },
    /// A labelled item's class is not one of the model's classes (the data is not what the model was trained on).
    #[error("{}: class {class:?} is not one the model knows ({n_classes} classes)", path.display())]
    UnknownClass {
        /// The item's file.
        path: PathBuf,
        /// Its class name.
        class: String,
        /// How many classes the model knows.
        n_classes: usize,
    },
    /// A checkpoint or export file does not hold what it should.
    #[error("{path}: {why} (was it written by this version of fastvision? re-create it with Learner::save/export)")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },

    // parameter
    /// A parameter is out of its valid range.
    #[error("{name} = {value} is invalid: {why}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, formatted.
        value: String,
        /// Which values are valid.
        why: &'static str,
    },
    /// Per-group values whose count does not match the number of parameter groups.
    #[error("{what}: got {actual} values for {expected} parameter groups; give one value per group or use LrRange")]
    GroupCount {
        /// Which values.
        what: &'static str,
        /// The number of parameter groups.
        expected: usize,
        /// The number of values given.
        actual: usize,
    },

    // limit
    /// A run was interrupted on request (Ctrl-C or a callback); the state at the last finished batch is kept.
    #[error("training interrupted at epoch {epoch}, iteration {iteration}; {what}")]
    Interrupted {
        /// The epoch in which it happened.
        epoch: usize,
        /// The training iteration after which it stopped.
        iteration: usize,
        /// What was kept (the checkpoint written, if any).
        what: String,
    },

    // I/O and backends
    /// A tensor operation failed; `context` says which.
    #[error("{context}: {source}")]
    Candle {
        /// The operation that failed.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// JSON could not be encoded or decoded.
    #[error("{what} as JSON: {source}")]
    Json {
        /// What was encoded or decoded.
        what: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The model failed (forward pass, freezing, weights).
    #[error("{context}: {source}")]
    Model {
        /// What was being done.
        context: String,
        /// The model's error.
        #[source]
        source: fastvision_models::Error,
    },
    /// The loss function failed.
    #[error("{context}: {source}")]
    Loss {
        /// What was being done.
        context: String,
        /// The loss's error.
        #[source]
        source: fastvision_losses::Error,
    },
    /// The batch transform failed.
    #[error("{context}: {source}")]
    Augment {
        /// What was being done.
        context: String,
        /// The augmentation's error.
        #[source]
        source: fastvision_augment::Error,
    },
    /// A plot could not be drawn or written.
    #[error("{context}: {source}")]
    Plot {
        /// What was being done.
        context: String,
        /// The plotting error.
        #[source]
        source: fastvision_plot::Error,
    },
    /// The interpretation of predictions failed.
    #[error("{context}: {source}")]
    Interpret {
        /// What was being done.
        context: String,
        /// The interpretation error.
        #[source]
        source: fastvision_interpret::Error,
    },
    /// Pretrained weights could not be found or fetched.
    #[cfg(feature = "datasets")]
    #[error("{context}: {source}")]
    Pretrained {
        /// What was being fetched.
        context: String,
        /// The hub's error (offline, hash mismatch, unknown architecture...).
        #[source]
        source: fastvision_datasets::Error,
    },
    /// A shared helper failed (atomic write, predictions).
    #[error("{context}: {source}")]
    Core {
        /// What was being done.
        context: String,
        /// The helper's error.
        #[source]
        source: fastvision_core::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A candle failure wrapped by `fastvision_ops::CandleContext` (`.ctx("step")?`) becomes [`Error::Candle`].
impl From<fastvision_ops::CandleFailure> for Error {
    fn from(failure: fastvision_ops::CandleFailure) -> Self {
        Error::Candle { context: failure.context, source: failure.source }
    }
}

/// Checks that `value` is finite and positive, else an [`Error::InvalidParameter`].
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        return Ok(());
    }
    Err(Error::InvalidParameter { name, value: value.to_string(), why: "must be a finite number above 0" })
}
