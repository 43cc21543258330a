//! Splitters: which items are for training and which for validation, reproducibly.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::torch_rng::torch_randperm;
use crate::{Error, Result};

/// Indices of the training and validation items, in the order the splitter produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training item indices.
    pub train: Vec<usize>,
    /// Validation item indices.
    pub valid: Vec<usize>,
}

type IsValidFn = dyn Fn(&Path) -> bool + Send + Sync;

/// How items are split into training and validation sets.
#[derive(Clone)]
pub enum Splitter {
    /// fastai's `RandomSplitter(valid_pct, seed)`: the same permutation as `torch.manual_seed(seed);
    /// torch.randperm(n)` (so, given the same file order, the same split as fastai), the first
    /// `int(valid_pct * n)` are validation.
    Random {
        /// Fraction for validation, in `[0, 1)`.
        valid_pct: f64,
        /// Seed of the permutation.
        seed: u64,
    },
    /// fastai's `GrandparentSplitter`: the folder two levels up is named `train` or `valid`.
    Grandparent {
        /// Name of the training folder.
        train_name: String,
        /// Name of the validation folder.
        valid_name: String,
    },
    /// fastai's `FuncSplitter`: items for which the function returns true are validation.
    Func {
        /// Shown in summaries.
        name: String,
        /// The function.
        is_valid: Arc<IsValidFn>,
    },
    /// fastai's `IndexSplitter`: these indices are validation.
    Index(Vec<usize>),
}

impl Splitter {
    /// `RandomSplitter(valid_pct, seed)`.
    pub fn random(valid_pct: f64, seed: u64) -> Self {
        Self::Random { valid_pct, seed }
    }

    /// `GrandparentSplitter()` with fastai's folder names `train` and `valid`.
    pub fn grandparent() -> Self {
        Self::Grandparent { train_name: "train".into(), valid_name: "valid".into() }
    }

    /// `FuncSplitter(is_valid)`.
    pub fn func(name: &str, is_valid: impl Fn(&Path) -> bool + Send + Sync + 'static) -> Self {
        Self::Func { name: name.into(), is_valid: Arc::new(is_valid) }
    }

    /// Splits `items`; an empty training or validation set is an error that says what to change.
    pub fn split(&self, items: &[PathBuf]) -> Result<SplitIndices> {
        let split = match self {
            Self::Random { valid_pct, seed } => random_split(items.len(), *valid_pct, *seed)?,
            Self::Grandparent { train_name, valid_name } => grandparent_split(items, train_name, valid_name),
            Self::Func { is_valid, .. } => {
                let (valid, train) = (0..items.len()).partition(|&i| is_valid(&items[i]));
                SplitIndices { train, valid }
            }
            Self::Index(valid) => index_split(items.len(), valid)?,
        };
        check_not_empty(&split, items.len(), self)?;
        Ok(split)
    }
}

impl fmt::Debug for Splitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Random { valid_pct, seed } => write!(f, "RandomSplitter(valid_pct={valid_pct}, seed={seed})"),
            Self::Grandparent { train_name, valid_name } => {
                write!(f, "GrandparentSplitter(train_name={train_name:?}, valid_name={valid_name:?})")
            }
            Self::Func { name, .. } => write!(f, "FuncSplitter({name})"),
            Self::Index(valid) => write!(f, "IndexSplitter({} validation items)", valid.len()),
        }
    }
}

fn random_split(n_items: usize, valid_pct: f64, seed: u64) -> Result<SplitIndices> {
    if !(0.0..1.0).contains(&valid_pct) {
        return Err(Error::Parameter {
            name: "valid_pct",
            value: valid_pct.to_string(),
            expected: "a fraction in [0, 1), e.g. 0.2".into(),
        });
    }
    let perm = torch_randperm(n_items, seed);
    // fastai: `cut = int(valid_pct * len(o))`.
    let cut = (valid_pct * n_items as f64) as usize;
    Ok(SplitIndices { valid: perm[..cut].to_vec(), train: perm[cut..].to_vec() })
}

fn grandparent_split(items: &[PathBuf], train_name: &str, valid_name: &str) -> SplitIndices {
    let grandparent = |p: &Path| p.parent().and_then(Path::parent).and_then(Path::file_name).map(|n| n.to_owned());
    let mut split = SplitIndices { train: Vec::new(), valid: Vec::new() };
    for (i, item) in items.iter().enumerate() {
        match grandparent(item) {
            Some(name) if name == train_name => split.train.push(i),
            Some(name) if name == valid_name => split.valid.push(i),
            _ => {}
        }
    }
    split
}

fn index_split(n_items: usize, valid: &[usize]) -> Result<SplitIndices> {
    if let Some(&bad) = valid.iter().find(|&&i| i >= n_items) {
        return Err(Error::Parameter {
            name: "validation index",
            value: bad.to_string(),
            expected: format!("an index below the number of items ({n_items})"),
        });
    }
    let is_valid: std::collections::BTreeSet<usize> = valid.iter().copied().collect();
    let train = (0..n_items).filter(|i| !is_valid.contains(i)).collect();
    Ok(SplitIndices { train, valid: is_valid.into_iter().collect() })
}

fn check_not_empty(split: &SplitIndices, n_items: usize, splitter: &Splitter) -> Result<()> {
    let (n_train, n_valid) = (split.train.len(), split.valid.len());
    let hint = |empty: &str| match splitter {
        Splitter::Grandparent { train_name, valid_name } if n_train + n_valid == 0 => {
            format!("no file sits in a `{train_name}/<class>/` or `{valid_name}/<class>/` folder; use a random split")
        }
        Splitter::Grandparent { train_name, valid_name } => {
            let (empty_name, other_name, other_n) =
                if empty == "training" { (train_name, valid_name, n_valid) } else { (valid_name, train_name, n_train) };
            format!(
                "no image is in a `{empty_name}/<class>/` folder ({other_n} are in `{other_name}/<class>/`); put \
                 {empty} images there, or remove the `{empty_name}/` folder to split at random"
            )
        }
        _ => format!("{splitter:?} on {n_items} items; use more items or another valid_pct"),
    };
    if split.train.is_empty() {
        return Err(Error::EmptySplit { which: "training", n_items, hint: hint("training") });
    }
    if split.valid.is_empty() {
        return Err(Error::EmptySplit { which: "validation", n_items, hint: hint("validation") });
    }
    Ok(())
}
