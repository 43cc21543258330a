//! The class vocabulary: sorted like fastai sorts it, and the index is the class id.

use serde::{Deserialize, Serialize};

/// Class names in byte order (fastai sorts with Python's string order, so `"Abyssinian"` comes before `"pug"`).
/// The order is the class id, hence the private field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    classes: Vec<String>,
}

impl Vocab {
    /// The sorted, de-duplicated set of `labels`.
    pub fn from_labels<S: AsRef<str>>(labels: impl IntoIterator<Item = S>) -> Self {
        let mut classes: Vec<String> = labels.into_iter().map(|s| s.as_ref().to_owned()).collect();
        classes.sort();
        classes.dedup();
        Self { classes }
    }

    /// The class names, in id order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// True when there are no classes.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The id of `label`, if it is in the vocabulary.
    pub fn index_of(&self, label: &str) -> Option<usize> {
        self.classes.binary_search_by(|c| c.as_str().cmp(label)).ok()
    }

    /// The name of class `id`, if it exists.
    pub fn name(&self, id: usize) -> Option<&str> {
        self.classes.get(id).map(String::as_str)
    }
}
