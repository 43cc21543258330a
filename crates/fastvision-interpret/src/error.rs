//! The one error type of `fastvision-interpret`.

use std::path::PathBuf;

/// Errors of the interpretation, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // input
    /// The predictions hold no items.
    #[error(
        "predictions hold no items: there is nothing to interpret (is the validation set empty? check the splitter)"
    )]
    EmptyPreds,
    /// The predictions and the vocabulary disagree on the number of classes.
    #[error(
        "predictions have {n_classes} classes but the vocabulary has {vocab_len}: pass the vocab of the \
         DataLoaders the model was trained on"
    )]
    VocabMismatch {
        /// Classes in the predictions.
        n_classes: usize,
        /// Classes in the vocabulary.
        vocab_len: usize,
    },
    /// The arrays of the predictions disagree in length.
    #[error("predictions: {what} has {actual} values, expected {expected}; build them with `Preds::new`")]
    Length {
        /// Which array.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// A target is not a class of the vocabulary.
    #[error("item {position}: target class {target} is out of range for {n_classes} classes")]
    TargetOutOfRange {
        /// Position of the item in the predictions.
        position: usize,
        /// Its target.
        target: u32,
        /// Number of classes.
        n_classes: usize,
    },
    // parameter
    /// `plot_top_losses` was asked for no images.
    #[error("plot_top_losses needs k ≥ 1 images, got k = 0")]
    NothingToPlot,
    /// The caller's image source failed for one item.
    #[error("getting the image of item {item_id} for plot_top_losses: {source}")]
    ImageSource {
        /// The item id (index in its split) that was asked for.
        item_id: usize,
        /// The source's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    // I/O
    /// A plot could not be encoded or saved.
    #[error("writing {path}: {source}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// The plotting crate's error.
        #[source]
        source: fastvision_plot::Error,
    },
    /// A text or JSON output could not be written.
    #[error("writing an interpretation output: {0}")]
    Write(#[source] fastvision_core::Error),
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
