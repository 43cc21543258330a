//! `fastvision::Error`: every crate's error in one type, so that `?` works across the whole workflow in a script.

/// Any fastvision error. Each crate keeps its own error, grouped by who is at fault; this enum only says which
/// crate raised it, and shows that crate's message and source chain unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From [`crate::core`]: listing, atomic writes, devices, limits.
    #[error(transparent)]
    Core(#[from] crate::core::Error),
    /// From [`crate::data`]: files, labels, splits, decoding, loaders.
    #[error(transparent)]
    Data(#[from] crate::data::Error),
    /// From [`crate::augment`]: the batch augmentation.
    #[error(transparent)]
    Augment(#[from] crate::augment::Error),
    /// From [`crate::losses`]: the loss functions.
    #[error(transparent)]
    Losses(#[from] crate::losses::Error),
    /// From [`crate::models`]: architectures and weight loading.
    #[error(transparent)]
    Models(#[from] crate::models::Error),
    /// From [`crate::ops`]: the CPU training kernels.
    #[error(transparent)]
    Ops(#[from] crate::ops::Error),
    /// From [`crate::weights`]: reading weight files.
    #[error(transparent)]
    Weights(#[from] crate::weights::Error),
    /// From [`crate::train`]: the `Learner`, export and prediction.
    #[error(transparent)]
    Train(#[from] crate::train::Error),
    /// From [`crate::interpret`]: interpretation of predictions.
    #[error(transparent)]
    Interpret(#[from] crate::interpret::Error),
    /// From [`crate::plot`]: PNG output.
    #[error(transparent)]
    Plot(#[from] crate::plot::Error),
    /// From [`crate::datasets`]: the built-in data set, downloads and weight caches.
    #[cfg(feature = "datasets")]
    #[error(transparent)]
    Datasets(#[from] crate::datasets::Error),
    /// From candle, for a script's own tensor code.
    #[error(transparent)]
    Candle(#[from] crate::candle::Error),
}

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
