//! The one way the kernel crates wrap a candle error: with the step that failed, turned by `?` into the crate's
//! own `Error::Candle` (each crate implements `From<CandleFailure>`), never through a blanket
//! `From<candle::Error>` that would lose the step.

/// A candle error and the step that failed, on its way into a crate's `Error::Candle`.
#[derive(Debug)]
pub struct CandleFailure {
    /// The operation, where the crate names one (`conv2d`, `batch_norm_train`).
    pub op: Option<&'static str>,
    /// What was being done.
    pub context: String,
    /// candle's error.
    pub source: candle::Error,
}

/// Adds the step that failed to a candle error: `tensor.contiguous().ctx("making the logits contiguous")?`.
pub trait CandleContext<T> {
    /// Wraps the error with `context`.
    fn ctx(self, context: &str) -> Result<T, CandleFailure>;

    /// Wraps the error with the operation `op` and `context`.
    fn op_ctx(self, op: &'static str, context: &str) -> Result<T, CandleFailure>;
}

impl<T> CandleContext<T> for candle::Result<T> {
    fn ctx(self, context: &str) -> Result<T, CandleFailure> {
        self.map_err(|source| CandleFailure { op: None, context: context.to_owned(), source })
    }

    fn op_ctx(self, op: &'static str, context: &str) -> Result<T, CandleFailure> {
        self.map_err(|source| CandleFailure { op: Some(op), context: context.to_owned(), source })
    }
}
