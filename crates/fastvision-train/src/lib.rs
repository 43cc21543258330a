//! fastai's training loop for fastvision: one-cycle schedules, fine_tune, lr_find, discriminative learning rates
//! and fastai's Adam, matching fastai's numbers iteration by iteration.
//!
//! # Brief overview
//! - [`Learner`] (made by [`vision_learner`]): data + model + loss + optimiser + metrics, with fastai's
//!   [`Learner::fit_one_cycle`], [`Learner::fine_tune`], [`Learner::lr_find`], freezing (`train_bn`),
//!   [`Learner::get_preds`], atomic checkpoints ([`Learner::save`]) and [`Learner::export`] / [`load_learner`].
//! - [`Schedule`] and [`LrRange`]: fastai's `fit_one_cycle` / `fine_tune` learning-rate and momentum curves per
//!   parameter group (`slice(lo, hi)` spread with `even_mults`), at fastai's positions (`iter / total`).
//! - [`Optimizer`]: fastai's Adam (decoupled weight decay, no decay on BatchNorm and bias, fastai's debiasing) or
//!   SGD over candle [`Var`](candle::Var)s, one hyper-parameter set per group.
//! - [`LrFinder`] and [`Suggestions`]: the lr_find sweep, the recorder's smoothing and fastai's
//!   `minimum`/`steep`/`valley`/`slide`.
//! - [`Reporter`] and [`Callback`]: where progress and the epoch table go (the library never prints), and
//!   fastai's callback events (early stopping, save-best).
//!
//! The example below drives the optimiser and a one-cycle schedule by hand on two tiny tensors; the `Learner` does
//! the same per batch (see the crate README and `tests/it/learner.rs` for a full run on images).
//!
//! ```
//! use candle::{Device, Tensor, Var};
//! use fastvision_train::{LrRange, OneCycleConfig, OptParam, Optimizer, OptimizerConfig, Schedule, position};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Two parameter groups (body, head) with discriminative learning rates 1e-4 .. 1e-2.
//! let body = Var::from_slice(&[1.0f32, -2.0], 2, &Device::Cpu)?;
//! let head = Var::from_slice(&[0.5f32], 1, &Device::Cpu)?;
//! let groups = vec![
//!     vec![OptParam { name: "body.weight".into(), var: body.clone(), do_wd: true }],
//!     vec![OptParam { name: "head.weight".into(), var: head.clone(), do_wd: true }],
//! ];
//! let mut opt = Optimizer::new(groups, OptimizerConfig::default())?;
//! let lr_max = LrRange::slice(1e-4, 1e-2).group_lrs(opt.n_groups());
//! let schedule = Schedule::one_cycle(&lr_max, &OneCycleConfig::default());
//! let n_iter = 4;
//! for iter in 0..n_iter {
//!     opt.set_group_hypers(&schedule.at(position(iter, n_iter)))?;
//!     // loss = sum(body²) + sum(head²)
//!     let loss = (body.as_tensor().sqr()?.sum_all()? + head.as_tensor().sqr()?.sum_all()?)?;
//!     opt.step(&loss.backward()?)?;
//! }
//! assert!(head.as_tensor().to_vec1::<f32>()?[0] < 0.5);
//! # Ok(())
//! # }
//! ```

pub mod callback;
mod checkpoint;
mod error;
mod evaluate;
mod export;
mod learner;
pub mod loss_scale;
pub mod lr_find;
pub mod metrics;
pub mod optim;
pub mod parity;
mod phase;
mod plots;
mod predict;
mod pretrained;
pub mod recorder;
pub mod reporter;
pub mod schedule;

pub use callback::{Callback, EarlyStopping, FitState, Flow, Monitor, SaveBest};
pub use checkpoint::{CheckpointMeta, METADATA_KEY};
pub use error::{Error, Result};
pub use evaluate::{evaluate, ClassFolders, Classifier, EvalConfig, Evaluation};
pub use export::{load_learner, ExportHead, ExportMeta, InferenceLearner};
pub use learner::{
    param_groups, vision_learner, vision_learner_with, DatasetSplit, FitProgress, Learner, LearnerConfig, PlannedPhase,
    Validation,
};
pub use lr_find::{LrFindConfig, LrFindResult, LrFindStop, LrFinder, Suggestion, Suggestions};
pub use metrics::{AvgMetric, Metric};
pub use optim::{Hypers, OptParam, Optimizer, OptimizerConfig, OptimizerKind};
pub use phase::Phase;
pub use predict::{ClassProb, PredictConfig, Prediction, Predictions, Tta};
pub use pretrained::Pretrained;
pub use recorder::{IterRecord, Recorder, SmoothLoss};
#[cfg(feature = "progress")]
pub use reporter::ProgressReporter;
pub use reporter::{BatchProgress, EpochRow, FitStart, Quiet, Reporter, TableWriter};
pub use schedule::{position, CombinedCos, FineTuneConfig, GroupHypers, LrRange, OneCycleConfig, Schedule};
