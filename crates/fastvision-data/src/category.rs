//! `CategoryBlock`: labels to class ids and back, with fastai's sorted vocabulary.

use std::path::Path;

use fastvision_core::Vocab;

use crate::{Error, Result};

/// fastai's `CategoryBlock`: the vocabulary is the sorted set of labels, or a given list (sorted too, as fastai
/// sorts an explicit vocab).
#[derive(Debug, Clone, Default)]
pub struct CategoryBlock {
    /// A fixed vocabulary; labels outside it are errors. `None` builds it from the training labels.
    pub vocab: Option<Vec<String>>,
}

impl CategoryBlock {
    /// A block whose vocabulary comes from the data.
    pub fn new() -> Self {
        Self::default()
    }

    /// A block with a fixed vocabulary.
    pub fn with_vocab<S: AsRef<str>>(classes: impl IntoIterator<Item = S>) -> Self {
        Self { vocab: Some(classes.into_iter().map(|s| s.as_ref().to_owned()).collect()) }
    }

    /// Whether the vocabulary was given (rather than taken from the training labels).
    pub fn has_vocab(&self) -> bool {
        self.vocab.is_some()
    }

    /// The vocabulary for these labels: the given one, or the sorted set of `labels`.
    pub fn vocab_for(&self, labels: &[String]) -> Vocab {
        match &self.vocab {
            Some(classes) => Vocab::from_labels(classes),
            None => Vocab::from_labels(labels),
        }
    }
}

/// Encodes `label` (from `path`) as its class id, or says clearly that it is not in the vocabulary.
pub fn encode(vocab: &Vocab, label: &str, path: &Path) -> Result<u32> {
    vocab.index_of(label).map(|i| i as u32).ok_or_else(|| Error::NotInVocab {
        label: label.to_owned(),
        path: path.to_path_buf(),
        n_classes: vocab.len(),
        preview: preview(vocab.classes(), 5),
    })
}

pub(crate) fn preview(names: &[String], n: usize) -> String {
    let mut text = names.iter().take(n).map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    if names.len() > n {
        text.push_str(&format!(", … ({} more)", names.len() - n));
    }
    text
}
