//! `DataLoaders`: the training and validation loaders of a `DataBlock`, with its vocabulary.

use std::path::Path;

use fastvision_core::{ImageBatch, Vocab};

use crate::loader::DataLoader;
use crate::show::show_batch;
use crate::Result;

/// The training and validation loaders and the class vocabulary (fastai's `DataLoaders`).
#[derive(Debug, Clone)]
pub struct DataLoaders {
    train: DataLoader,
    valid: DataLoader,
    vocab: Vocab,
}

impl DataLoaders {
    /// Bundles two loaders and their vocabulary.
    pub fn new(train: DataLoader, valid: DataLoader, vocab: Vocab) -> Self {
        Self { train, valid, vocab }
    }

    /// The training loader (shuffled, augmented, drops the last partial batch).
    pub fn train(&self) -> &DataLoader {
        &self.train
    }

    /// The validation loader (ordered, not augmented).
    pub fn valid(&self) -> &DataLoader {
        &self.valid
    }

    /// The class vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.vocab.len()
    }

    /// The first training batch, transformed (fastai's `dls.one_batch()`).
    pub fn one_batch(&self) -> Result<ImageBatch> {
        self.train.one_batch()
    }

    /// Writes a grid of `nrows × ncols` training images, augmented as the model sees them, with their labels,
    /// to a PNG at `path` (fastai's `show_batch`).
    pub fn show_batch(&self, nrows: usize, ncols: usize, path: &Path) -> Result<()> {
        show_batch(&self.train, &self.vocab, nrows, ncols, path)
    }

    /// Replaces the batch transform of both loaders (e.g. to add ImageNet normalisation for pretrained weights).
    pub fn with_batch_tfm(self, batch_tfm: fastvision_augment::BatchAugment) -> Self {
        Self {
            train: self.train.with_batch_tfm(batch_tfm.clone()),
            valid: self.valid.with_batch_tfm(batch_tfm),
            ..self
        }
    }
}
