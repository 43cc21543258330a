//! The one error type of `fastvision-data`: every variant names the file or value and says what to do.

use std::path::PathBuf;

/// Errors of the data block API, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the input (files, names, labels)
    /// A file could not be decoded as an image.
    #[error(
        "cannot decode {path}: {reason} (is it an image? `fastvision summary --all` or `DataBlock::summary_all` \
         lists every bad file)"
    )]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why decoding failed.
        reason: String,
    },
    /// An image is larger than the decode limits allow; nothing of its size was allocated.
    #[error("{path} is too large to decode: {reason}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size, the limit it is over, and how to raise that limit.
        reason: String,
    },
    /// A path that should be an image file is something else; reading a FIFO or a device could block forever.
    #[error("{path} is a {kind}, not a regular file, so it is not read (a FIFO or a device could block); remove it")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// "FIFO", "socket", "block device", "character device", "folder".
        kind: &'static str,
    },
    /// The folder holds no image files.
    #[error("no image files found under {path} (looked for {extensions}); is this the right folder?")]
    NoImages {
        /// The folder searched.
        path: PathBuf,
        /// The extensions searched for.
        extensions: String,
    },
    /// A labeller could not label a file.
    #[error("cannot label {path}: {reason}")]
    Label {
        /// The file.
        path: PathBuf,
        /// Why (for a regex: the pattern that did not match).
        reason: String,
    },
    /// Several files could not be labelled; the summary lists them all.
    #[error("{n_failed} of {n_items} files could not be labelled, e.g. {first}; run `summary` to see all of them")]
    Labelling {
        /// How many failed.
        n_failed: usize,
        /// How many items there were.
        n_items: usize,
        /// The first failure, in full.
        first: String,
    },
    /// A class has validation images but no training image, so the model could never predict it.
    #[error(
        "class {class:?} is only in the validation set ({n_images} images, e.g. {example}){}: the model learns only \
         the classes it trains on. Add training images of it (or move some to train/), or change the split \
         (--valid-pct, --seed)",
        if others.is_empty() { String::new() } else { format!(", and so are {others:?}") }
    )]
    ClassOnlyInValidation {
        /// The first such class.
        class: String,
        /// Its validation images.
        n_images: usize,
        /// One of them.
        example: PathBuf,
        /// Other classes in the same situation.
        others: Vec<String>,
    },
    /// A label is not in the vocabulary that was given.
    #[error("label {label:?} of {path} is not in the given vocab ({n_classes} classes: {preview}); add it or fix the labeller")]
    NotInVocab {
        /// The label.
        label: String,
        /// The file it came from.
        path: PathBuf,
        /// Size of the vocabulary.
        n_classes: usize,
        /// The first classes of the vocabulary.
        preview: String,
    },
    /// Classification needs at least two classes.
    #[error(
        "only one class ({class:?}) was found in {n_items} items: a classifier needs at least two; check the labeller"
    )]
    OneClass {
        /// The only class.
        class: String,
        /// Number of items.
        n_items: usize,
    },
    /// A split left the training or validation set empty.
    #[error("the {which} set is empty after splitting {n_items} items ({hint})")]
    EmptySplit {
        /// "training" or "validation".
        which: &'static str,
        /// Number of items split.
        n_items: usize,
        /// What to change.
        hint: String,
    },
    // ---- parameters
    /// A parameter has a value that cannot work.
    #[error("invalid {name} = {value}: {expected}")]
    Parameter {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// A batch would be larger than [`fastvision_core::limits::MAX_BATCH_BYTES`].
    #[error(
        "batch_size = {batch_size}: a batch of {batch_size} images ({per_image}) needs {bytes}, more than the \
         limit of {limit} per batch; lower the batch size or the image sizes"
    )]
    BatchTooLarge {
        /// The batch size asked for.
        batch_size: usize,
        /// What one image takes, e.g. "3×460×460 u8 presized + 3×224×224 F32 transformed = 1.2 MB".
        per_image: String,
        /// The batch's size, for people.
        bytes: String,
        /// The limit, for people.
        limit: String,
    },
    /// The label regex does not compile.
    #[error("invalid label regex {pattern:?}: {source}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The regex crate's error.
        #[source]
        source: regex::Error,
    },
    // ---- I/O and lower layers
    /// A file or folder could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A tensor operation failed.
    #[error("{context}: {source}")]
    Candle {
        /// What was being done.
        context: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
    /// The batch transform failed.
    #[error("batch transform: {0}")]
    Augment(#[source] fastvision_augment::Error),
    /// Drawing or writing a picture failed.
    #[error("show_batch: {0}")]
    Plot(#[source] fastvision_plot::Error),
    /// A shared helper failed.
    #[error(transparent)]
    Core(#[from] fastvision_core::Error),
    /// The background loader thread died.
    #[error("the background loader stopped unexpectedly ({0}); this is a bug, please report it")]
    Loader(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Candle errors arrive through the kernel layer's one context helper (`fastvision_ops::CandleContext`).
impl From<fastvision_ops::CandleFailure> for Error {
    fn from(failure: fastvision_ops::CandleFailure) -> Self {
        Self::Candle { context: failure.context, source: failure.source }
    }
}
