//! The confusion matrix (rows actual, columns predicted) and fastai's `most_confused` ordering.

use serde::Serialize;

use fastvision_core::Vocab;

/// Counts of (actual, predicted) pairs: `count(actual, predicted)`, rows actual, columns predicted, as fastai's
/// `confusion_matrix()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<u64>,
}

/// One off-diagonal cell of the confusion matrix, named: `count` items of class `actual` were predicted as
/// `predicted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// The true class.
    pub actual: String,
    /// The predicted class.
    pub predicted: String,
    /// How many items.
    pub count: u64,
}

impl ConfusionMatrix {
    /// Counts `(target, predicted)` pairs over `n_classes` classes; pairs out of range are the caller's bug and
    /// are skipped (the interpretation checks targets before calling this).
    pub fn from_pairs(n_classes: usize, pairs: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut counts = vec![0; n_classes * n_classes];
        for (actual, predicted) in pairs {
            let (actual, predicted) = (actual as usize, predicted as usize);
            if actual < n_classes && predicted < n_classes {
                counts[actual * n_classes + predicted] += 1;
            }
        }
        Self { n_classes, counts }
    }

    /// Number of classes (the matrix is `n_classes × n_classes`).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Items of class `actual` predicted as `predicted` (0 out of range).
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        if actual < self.n_classes && predicted < self.n_classes {
            self.counts[actual * self.n_classes + predicted]
        } else {
            0
        }
    }

    /// All counts, row-major (row = actual class).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The matrix as rows (row = actual class), e.g. for JSON or comparison with fastai.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        self.counts.chunks(self.n_classes.max(1)).map(<[u64]>::to_vec).collect()
    }

    /// Items whose actual class is `actual` (the row sum; sklearn's "support").
    pub fn support(&self, actual: usize) -> u64 {
        (0..self.n_classes).map(|predicted| self.count(actual, predicted)).sum()
    }

    /// Items predicted as `predicted` (the column sum).
    pub fn predicted_total(&self, predicted: usize) -> u64 {
        (0..self.n_classes).map(|actual| self.count(actual, predicted)).sum()
    }

    /// Total number of items.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Row-normalised matrix (each row sums to 1), fastai's `normalize=True`. A class absent from the set has an
    /// all-zero row where fastai would show NaN.
    pub fn normalized(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.counts.len());
        for actual in 0..self.n_classes {
            let support = self.support(actual);
            for predicted in 0..self.n_classes {
                let count = self.count(actual, predicted) as f64;
                out.push(if support == 0 { 0.0 } else { count / support as f64 });
            }
        }
        out
    }

    /// fastai's `most_confused(min_val)`: off-diagonal cells with `count ≥ min_val`, sorted by count descending,
    /// ties kept in row-major order (Python's stable sort over `np.where`'s order). The diagonal never appears,
    /// even for `min_val = 0` (fastai would list its zeroed diagonal there).
    pub fn most_confused(&self, vocab: &Vocab, min_val: u64) -> Vec<Confusion> {
        let mut cells = Vec::new();
        for actual in 0..self.n_classes {
            for predicted in (0..self.n_classes).filter(|&p| p != actual) {
                let count = self.count(actual, predicted);
                if count >= min_val {
                    cells.push((actual, predicted, count));
                }
            }
        }
        // sort_by_key is stable: equal counts keep their row-major order.
        cells.sort_by_key(|cell| std::cmp::Reverse(cell.2));
        let name = |id: usize| vocab.name(id).unwrap_or("?").to_owned();
        cells.into_iter().map(|(a, p, count)| Confusion { actual: name(a), predicted: name(p), count }).collect()
    }
}
