//! The `Learner`: data, model, loss, optimiser and metrics together, with fastai's `vision_learner`, freezing and
//! the public training entry points (`fit`, `fit_one_cycle`, `fine_tune`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use fastvision_augment::{BatchAugment, Normalize};
use fastvision_data::DataLoaders;
use fastvision_losses::{CrossEntropyLossFlat, Loss};
use fastvision_models::{Backbone, HeadConfig, VisionConfig, VisionModel};

use serde::{Deserialize, Serialize};

use crate::callback::Callback;
use crate::error::{Error, Result};
use crate::metrics::Metric;
use crate::optim::{OptParam, Optimizer, OptimizerConfig};
use crate::phase::Phase;
use crate::pretrained::Pretrained;
use crate::recorder::{Recorder, SmoothLoss};
use crate::reporter::{Quiet, Reporter};
use crate::schedule::{FineTuneConfig, LrRange, OneCycleConfig, Schedule};

mod eval;
mod fit;

pub use eval::{DatasetSplit, Validation};

/// Settings of a [`Learner`] beyond its parts; `Default` = fastai's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnerConfig {
    /// The optimiser (fastai's Adam by default).
    pub opt: OptimizerConfig,
    /// Seeds the model's initialisation and dropout (the data has its own seed in the `DataBlock`).
    pub seed: u64,
    /// Where [`Learner::save`] and [`Learner::load`] put checkpoints (fastai's `path/models`).
    pub checkpoint_dir: PathBuf,
    /// The head [`vision_learner`] builds (fastai's `lin_ftrs`, `ps`, `concat_pool`, `first_bn` arguments).
    pub head: HeadConfig,
    /// Mixed precision: `Some(DType::BF16)` or `Some(DType::F16)` computes convolutions and linear layers in half
    /// precision, with BatchNorm, loss and master weights in f32 (see `VisionModel::set_compute_dtype`); f16 with
    /// dynamic loss scaling ([`crate::loss_scale::LossScaler`]). `None`: f32 throughout.
    pub compute_dtype: Option<candle::DType>,
    /// Writes checkpoint `name` at the end of every epoch of a fit (atomically replacing the previous one), so a
    /// killed run loses at most one epoch; [`Learner::resume`] continues from it. `None`: no epoch checkpoints.
    pub epoch_checkpoint: Option<String>,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            opt: OptimizerConfig::default(),
            seed: 42,
            checkpoint_dir: PathBuf::from("models"),
            head: HeadConfig::default(),
            compute_dtype: None,
            epoch_checkpoint: None,
        }
    }
}

/// One phase of a planned fit: `fit_one_cycle` is one phase, `fine_tune` two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedPhase {
    /// Which phase it is, in the recorder and the epoch table (written as `name` in checkpoints).
    #[serde(rename = "name")]
    pub phase: Phase,
    /// `freeze_to` this many groups when the phase starts (`None`: leave freezing as it is).
    pub frozen_groups: Option<usize>,
    /// Epochs in the phase.
    pub n_epochs: usize,
    /// The learning rates and momenta per iteration.
    pub schedule: Schedule,
}

/// Where a fit stands, kept in checkpoints so [`Learner::resume`] can continue it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitProgress {
    /// The whole plan.
    pub phases: Vec<PlannedPhase>,
    /// The phase running.
    pub phase: usize,
    /// The loaders' epoch index at the start of that phase.
    pub phase_data_epoch: usize,
    /// The next training iteration of the phase.
    pub iteration: usize,
    /// The smoothed training loss so far in the phase.
    pub smooth: SmoothLoss,
}

/// fastai's `Learner`: trains `model` on `dls` with `loss` and `opt`, reporting `metrics` through `reporter`.
///
/// The data, model, loss and optimiser are read through getters: the optimiser holds the model's parameters, so
/// the model is replaced only with [`Learner::set_model`], which builds the optimiser again.
pub struct Learner {
    /// The training and validation data.
    pub(crate) dls: DataLoaders,
    /// The model (body + head).
    pub(crate) model: VisionModel,
    /// The loss function.
    pub(crate) loss: Box<dyn Loss>,
    /// The optimiser over `model`'s parameter groups.
    pub(crate) opt: Optimizer,
    /// Metrics computed on the validation set after each epoch.
    pub metrics: Vec<Metric>,
    /// Where progress goes ([`Quiet`] by default).
    pub reporter: Box<dyn Reporter>,
    /// Extra callbacks run by every fit.
    pub callbacks: Vec<Box<dyn Callback>>,
    /// Per-iteration and per-epoch history.
    pub recorder: Recorder,
    /// Settings.
    pub config: LearnerConfig,
    /// Set to true (e.g. from a Ctrl-C handler) to stop after the current batch with a checkpoint.
    pub(crate) interrupt: Arc<AtomicBool>,
    /// Epochs of training data consumed so far: each fit draws fresh shuffles and augmentations from the seed.
    pub(crate) data_epoch: usize,
    /// The fit in progress (or interrupted), if any.
    pub(crate) progress: Option<FitProgress>,
    /// Dynamic loss scaling, used when the model computes in f16.
    pub(crate) scaler: crate::loss_scale::LossScaler,
    /// Where the starting weights came from, recorded in exports (`None`: random initialisation).
    pub(crate) pretrained: Option<String>,
}

impl std::fmt::Debug for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learner")
            .field("arch", &self.model.arch())
            .field("n_classes", &self.model.n_classes())
            .field("frozen_groups", &self.model.frozen_groups())
            .field("metrics", &self.metrics)
            .field("data_epoch", &self.data_epoch)
            .finish_non_exhaustive()
    }
}

/// The optimiser's parameter groups: every parameter of `model`, grouped by its splitter group, with fastai's
/// `wd_bn_bias=False` (no weight decay on BatchNorm and bias parameters).
pub fn param_groups(model: &VisionModel) -> Vec<Vec<OptParam>> {
    let mut groups: Vec<Vec<OptParam>> = (0..model.n_groups()).map(|_| Vec::new()).collect();
    for p in model.params() {
        let group = p.group.min(groups.len() - 1);
        groups[group].push(OptParam { name: p.name, var: p.var, do_wd: !p.no_weight_decay });
    }
    groups
}

impl Learner {
    /// A learner over `model` (not frozen), with `config`'s optimiser.
    pub fn new(
        dls: DataLoaders,
        model: VisionModel,
        loss: Box<dyn Loss>,
        metrics: Vec<Metric>,
        config: LearnerConfig,
    ) -> Result<Self> {
        let opt = Optimizer::new(param_groups(&model), config.opt)?;
        Ok(Self {
            dls,
            model,
            loss,
            opt,
            metrics,
            reporter: Box::new(Quiet),
            callbacks: Vec::new(),
            recorder: Recorder::default(),
            config,
            interrupt: Arc::new(AtomicBool::new(false)),
            data_epoch: 0,
            progress: None,
            scaler: crate::loss_scale::LossScaler::default(),
            pretrained: None,
        })
    }

    /// The training and validation data.
    pub fn dls(&self) -> &DataLoaders {
        &self.dls
    }

    /// The model (body + head).
    pub fn model(&self) -> &VisionModel {
        &self.model
    }

    /// The loss function.
    pub fn loss(&self) -> &dyn Loss {
        self.loss.as_ref()
    }

    /// The optimiser over the model's parameter groups.
    pub fn opt(&self) -> &Optimizer {
        &self.opt
    }

    /// Replaces the model and builds the optimiser again over its parameters (with `config.opt`, fresh state), so
    /// that training never steps the old model's variables.
    pub fn set_model(&mut self, model: VisionModel) -> Result<()> {
        self.opt = Optimizer::new(param_groups(&model), self.config.opt)?;
        self.model = model;
        Ok(())
    }

    /// Replaces the loss function (e.g. label smoothing); the model and optimiser are unchanged.
    pub fn set_loss(&mut self, loss: Box<dyn Loss>) {
        self.loss = loss;
    }

    /// Where the starting weights came from (`imagenet:resnet34-b627a593.pth`, a file name), as recorded in
    /// exports; `None` for a randomly initialised body.
    pub fn pretrained(&self) -> Option<&str> {
        self.pretrained.as_deref()
    }

    /// The f16 loss scaler (its scale and the steps it skipped); unused in f32 and bf16.
    pub fn loss_scaler(&self) -> &crate::loss_scale::LossScaler {
        &self.scaler
    }

    /// Replaces the f16 loss scaler (its starting scale and growth interval).
    pub fn set_loss_scaler(&mut self, scaler: crate::loss_scale::LossScaler) {
        self.scaler = scaler;
    }

    /// Replaces the reporter (builder style).
    pub fn with_reporter(mut self, reporter: Box<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Adds a callback run by every fit (builder style).
    pub fn with_callback(mut self, callback: Box<dyn Callback>) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// A flag that stops training cleanly after the current batch when set, e.g. from a Ctrl-C handler: a
    /// checkpoint named `interrupted` is written and the fit returns [`Error::Interrupted`].
    pub fn interrupt_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.interrupt)
    }

    /// Epochs of training data consumed so far.
    pub fn data_epoch(&self) -> usize {
        self.data_epoch
    }

    /// Freezes groups `0..n` (fastai's `freeze_to`): only BatchNorm parameters train there. Clears the optimiser
    /// state like fastai.
    pub fn freeze_to(&mut self, n: usize) -> Result<()> {
        self.model.freeze_to(n).map_err(|source| Error::Model { context: format!("freeze_to({n})"), source })?;
        self.opt.clear_state();
        Ok(())
    }

    /// Freezes every group but the head (fastai's `freeze`).
    pub fn freeze(&mut self) -> Result<()> {
        self.freeze_to(self.model.n_groups() - 1)
    }

    /// Makes every group trainable and clears the optimiser state (fastai's `unfreeze`).
    pub fn unfreeze(&mut self) -> Result<()> {
        self.freeze_to(0)
    }

    /// fastai's `fit(n_epoch, lr)`: constant learning rates (one per group), current momentum.
    pub fn fit(&mut self, n_epochs: usize, lr: impl Into<LrRange>) -> Result<()> {
        let lr = lr.into();
        lr.validate()?;
        let mom = self.opt.hypers().first().map_or(self.config.opt.mom, |h| h.mom);
        let schedule = Schedule::Constant { lrs: lr.group_lrs(self.opt.n_groups()), mom };
        self.run_plan(vec![PlannedPhase { phase: Phase::Fit, frozen_groups: None, n_epochs, schedule }])
    }

    /// fastai's `fit_one_cycle(n_epoch, lr_max)` with the default one-cycle settings.
    pub fn fit_one_cycle(&mut self, n_epochs: usize, lr_max: impl Into<LrRange>) -> Result<()> {
        self.fit_one_cycle_with(n_epochs, lr_max, &OneCycleConfig::default())
    }

    /// fastai's `fit_one_cycle` with explicit `div`, `div_final`, `pct_start` and `moms`.
    pub fn fit_one_cycle_with(
        &mut self,
        n_epochs: usize,
        lr_max: impl Into<LrRange>,
        config: &OneCycleConfig,
    ) -> Result<()> {
        let phase = self.one_cycle_phase(Phase::Fit, None, n_epochs, lr_max.into(), config)?;
        self.run_plan(vec![phase])
    }

    fn one_cycle_phase(
        &self,
        phase: Phase,
        frozen_groups: Option<usize>,
        n_epochs: usize,
        lr_max: LrRange,
        config: &OneCycleConfig,
    ) -> Result<PlannedPhase> {
        lr_max.validate()?;
        config.validate()?;
        let schedule = Schedule::one_cycle(&lr_max.group_lrs(self.opt.n_groups()), config);
        Ok(PlannedPhase { phase, frozen_groups, n_epochs, schedule })
    }

    /// fastai's `fine_tune(epochs, base_lr)` with the other defaults (`freeze_epochs=1`, `lr_mult=100`,
    /// `pct_start=0.3`, `div=5`).
    pub fn fine_tune(&mut self, epochs: usize, base_lr: f64) -> Result<()> {
        self.fine_tune_with(epochs, &FineTuneConfig { base_lr, ..FineTuneConfig::default() })
    }

    /// fastai's `fine_tune`: `freeze()`, one-cycle on the head for `freeze_epochs` at `pct_start` 0.99, then
    /// `unfreeze()` and one-cycle over everything with discriminative learning rates.
    pub fn fine_tune_with(&mut self, epochs: usize, config: &FineTuneConfig) -> Result<()> {
        let mut plan = Vec::new();
        for phase in config.phases(epochs, self.model.n_groups())? {
            let name = if phase.frozen_groups > 0 { Phase::Frozen } else { Phase::Unfrozen };
            let frozen = Some(phase.frozen_groups);
            plan.push(self.one_cycle_phase(name, frozen, phase.n_epochs, phase.lr_max, &phase.one_cycle)?);
        }
        self.run_plan(plan)
    }

    /// The fit in progress or interrupted (saved in checkpoints), if any.
    pub fn progress(&self) -> Option<&FitProgress> {
        self.progress.as_ref()
    }

    /// Loads checkpoint `name` and continues the fit it was saved in (e.g. `interrupted`), from the iteration after
    /// the last one saved, with the same schedule, data order and smoothed loss. Dropout masks are drawn afresh.
    pub fn resume(&mut self, name: &str) -> Result<()> {
        let path = self.checkpoint_path(name);
        self.resume_from(&path)
    }

    /// [`Learner::resume`] from an explicit checkpoint file.
    pub fn resume_from(&mut self, path: &std::path::Path) -> Result<()> {
        self.load_from(path)?;
        if self.progress.is_none() {
            return Err(Error::BadCheckpoint {
                path: path.to_path_buf(),
                why: "it was saved outside a fit, so there is nothing to resume (use load, then fit)".into(),
            });
        }
        self.continue_plan()
    }

    fn run_plan(&mut self, phases: Vec<PlannedPhase>) -> Result<()> {
        self.progress = Some(FitProgress {
            phases,
            phase: 0,
            phase_data_epoch: self.data_epoch,
            iteration: 0,
            smooth: SmoothLoss::default(),
        });
        self.continue_plan()
    }

    /// Runs the remaining phases of `self.progress`, from its iteration on.
    fn continue_plan(&mut self) -> Result<()> {
        while let Some(progress) = &self.progress {
            let Some(phase) = progress.phases.get(progress.phase).cloned() else { break };
            if let (0, Some(n)) = (progress.iteration, phase.frozen_groups) {
                self.freeze_to(n)?;
            }
            self.run_fit(phase.phase, phase.n_epochs, &phase.schedule)?;
            if let Some(p) = self.progress.as_mut() {
                p.phase += 1;
                p.iteration = 0;
                p.phase_data_epoch = self.data_epoch;
                p.smooth = SmoothLoss::default();
            }
        }
        self.progress = None;
        Ok(())
    }
}

/// fastai's `vision_learner(dls, arch, pretrained, metrics)` with cross-entropy loss and Adam.
///
/// `pretrained` is a [`Pretrained`] (or, as before, an `Option<&Path>` to a weights file). With pretrained weights
/// (torchvision's ImageNet weights by name, or a torchvision, akamaster CIFAR or fastai file), ImageNet
/// normalisation is added to the batch transform and the learner starts frozen, like fastai (torchvision's and
/// akamaster's weights were both trained on ImageNet-normalised inputs). Without, the body is randomly
/// initialised, no normalisation is added and nothing is frozen (fastai's `pretrained=False`).
pub fn vision_learner(
    dls: DataLoaders,
    arch: impl Into<Backbone>,
    pretrained: impl Into<Pretrained>,
    metrics: Vec<Metric>,
) -> Result<Learner> {
    vision_learner_with(dls, arch, pretrained, metrics, LearnerConfig::default())
}

/// [`vision_learner`] with explicit settings (seed, optimiser, checkpoint folder).
pub fn vision_learner_with(
    dls: DataLoaders,
    arch: impl Into<Backbone>,
    pretrained: impl Into<Pretrained>,
    metrics: Vec<Metric>,
    config: LearnerConfig,
) -> Result<Learner> {
    let arch = arch.into();
    let pretrained = pretrained.into();
    if dls.train().batch_size() < 2 {
        return Err(Error::InvalidParameter {
            name: "batch size",
            value: dls.train().batch_size().to_string(),
            why: "BatchNorm needs at least 2 images per training batch; raise the batch size (fastai's default is 64)",
        });
    }
    let device = dls.train().config().device.clone();
    let vision = VisionConfig { head: config.head.clone(), ..VisionConfig::default() };
    let mut model =
        VisionModel::with_config(arch, dls.n_classes(), &vision, &device, config.seed).map_err(|source| {
            Error::Model { context: format!("creating {arch} for {} classes", dls.n_classes()), source }
        })?;
    model
        .set_compute_dtype(config.compute_dtype)
        .map_err(|source| Error::Model { context: "choosing the precision".into(), source })?;
    let Some((weights, source)) = pretrained.resolve(arch, &mut |_| {})? else {
        return Learner::new(dls, model, Box::new(CrossEntropyLossFlat::default()), metrics, config);
    };
    let context = || format!("loading pretrained weights {}", weights.display());
    let options = fastvision_weights::ReadOptions { key: pretrained.key().map(str::to_owned) };
    let state = fastvision_weights::StateDict::read(&weights, &options)
        .map_err(|source| Error::Model { context: context(), source: fastvision_models::Error::Weights(source) })?;
    model.load_body_state(&state).map_err(|source| Error::Model { context: context(), source })?;
    let current = dls.train().batch_tfm();
    let tfm = BatchAugment::new(current.config().clone(), Some(Normalize::imagenet()))
        .map_err(|source| Error::Augment { context: "adding ImageNet normalisation".into(), source })?;
    let dls = dls.with_batch_tfm(tfm);
    let mut learn = Learner::new(dls, model, Box::new(CrossEntropyLossFlat::default()), metrics, config)?;
    learn.pretrained = Some(source);
    learn.freeze()?;
    Ok(learn)
}
