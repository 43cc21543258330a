//! The phases of training (`fit`, `frozen`, `unfrozen`, `lr_find`) as one enum, so the recorder, the epoch table,
//! callbacks and reporters compare values, not strings.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which kind of fit a batch, an epoch row or a recorded iteration belongs to.
///
/// Written as fastai's names (`fit`, `frozen`, `unfrozen`, `lr_find`) in the epoch table, checkpoints and
/// `metrics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `fit` or `fit_one_cycle` over the parameter groups as they are.
    Fit,
    /// `fine_tune`'s first phase: the body frozen, the head trained.
    Frozen,
    /// `fine_tune`'s second phase: everything trained with discriminative learning rates.
    Unfrozen,
    /// The learning-rate sweep (undone when it ends).
    LrFind,
}

impl Phase {
    /// fastai's name of the phase: `fit`, `frozen`, `unfrozen` or `lr_find`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fit => "fit",
            Self::Frozen => "frozen",
            Self::Unfrozen => "unfrozen",
            Self::LrFind => "lr_find",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
