//! The training loop: schedule → batch → forward → loss (checked finite) → backward → step, with the recorder,
//! reporter and callbacks around it, validation after each epoch, and a clean stop on interruption.

use std::sync::atomic::Ordering;
use std::time::Instant;

use candle::{DType, Tensor};
use fastvision_core::ImageBatch;
use fastvision_ops::CandleContext;

use super::Learner;
use crate::callback::{Callback, FitState, Flow};
use crate::error::{Error, Result};
use crate::phase::Phase;
use crate::recorder::{IterRecord, SmoothLoss};
use crate::reporter::{BatchProgress, EpochRow, FitStart};
use crate::schedule::{position, Schedule};

/// Reads a scalar loss (any rank-0 or one-element tensor) as f32.
pub(super) fn scalar_f32(t: &Tensor) -> Result<f32> {
    let values = t.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>());
    values.ctx("reading the loss value")?.first().copied().ok_or(Error::InvalidParameter {
        name: "loss",
        value: "an empty tensor".into(),
        why: "the loss function must return one value (a mean or sum)",
    })
}

/// Which loader epoch an epoch of the fit reads, and how many of its batches were already trained (resume).
#[derive(Clone, Copy)]
struct EpochPass {
    data_epoch: usize,
    skip: usize,
}

/// What one training batch did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrainStep {
    /// The batch's loss (not finite when the model diverged; the parameters are then untouched).
    pub loss: f32,
    /// Whether a callback asked to stop the fit.
    pub stop: bool,
}

/// Which callback event to run.
#[derive(Clone, Copy)]
enum Event<'a> {
    BeforeFit,
    BeforeEpoch,
    BeforeBatch,
    AfterBackward,
    AfterStep,
    AfterBatch,
    AfterEpoch(&'a EpochRow),
    AfterFit,
}

impl Learner {
    /// Forward, loss, and — when the loss is finite — backward and optimiser step. A non-finite loss leaves the
    /// parameters untouched so the caller can stop on the last good state.
    pub(crate) fn train_batch(
        &mut self,
        batch: &ImageBatch,
        cbs: &mut [Box<dyn Callback>],
        state: &FitState,
    ) -> Result<TrainStep> {
        let logits = self
            .model
            .forward_t(&batch.images, true)
            .map_err(|source| Error::Model { context: "training forward pass".into(), source })?;
        let loss = match self.loss.forward(&logits, &batch.targets) {
            Ok(loss) => loss,
            // NaN/inf logits: the model diverged; the caller reports it like a NaN loss.
            Err(fastvision_losses::Error::NonFiniteLogits { .. }) => {
                return Ok(TrainStep { loss: f32::NAN, stop: false })
            }
            Err(source) => {
                let context =
                    format!("training loss at iteration {} (learning rates {:?})", state.iteration, state.lrs);
                return Err(Error::Loss { context, source });
            }
        };
        let value = scalar_f32(&loss)?;
        if !value.is_finite() {
            return Ok(TrainStep { loss: value, stop: false });
        }
        let scaled = self.model.compute_dtype() == Some(DType::F16);
        let mut grads = if scaled {
            loss.affine(self.scaler.scale(), 0.0).and_then(|l| l.backward()).ctx("backward pass (loss scaled)")?
        } else {
            loss.backward().ctx("backward pass")?
        };
        let mut stop = self.dispatch(cbs, state, Event::AfterBackward)?;
        if scaled && !self.unscale(&mut grads)? {
            self.reporter.message(&format!(
                "f16 gradients overflowed at iteration {}: step skipped, loss scale now {}",
                state.iteration,
                self.scaler.scale()
            ));
            return Ok(TrainStep { loss: value, stop });
        }
        self.opt.step(&grads)?;
        stop |= self.dispatch(cbs, state, Event::AfterStep)?;
        Ok(TrainStep { loss: value, stop })
    }

    /// f16 loss scaling: whether every gradient is finite (one host sync); if so divides them by the scale the
    /// loss had. Updates the scale either way; `false` means the step is to be skipped.
    fn unscale(&mut self, grads: &mut candle::backprop::GradStore) -> Result<bool> {
        let scale = self.scaler.scale();
        let params = self.model.params();
        let mut sums = Vec::with_capacity(params.len());
        for p in &params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                sums.push(
                    g.abs()
                        .and_then(|a| a.sum_all())
                        .and_then(|s| s.to_dtype(DType::F32))
                        .ctx("checking f16 gradients")?,
                );
            }
        }
        let finite = sums.is_empty()
            || Tensor::stack(&sums, 0)
                .and_then(|s| s.sum_all())
                .and_then(|s| s.to_scalar::<f32>())
                .ctx("checking f16 gradients")?
                .is_finite();
        if !self.scaler.update(finite) {
            return Ok(false);
        }
        for p in &params {
            if let Some(g) = grads.remove(p.var.as_tensor()) {
                let unscaled = g.affine(1.0 / scale, 0.0).ctx("unscaling f16 gradients")?;
                grads.insert(p.var.as_tensor(), unscaled);
            }
        }
        Ok(true)
    }

    /// Runs one fit of `n_epochs` with `schedule`, as `phase` in the recorder and the epoch table.
    pub(super) fn run_fit(&mut self, phase: Phase, n_epochs: usize, schedule: &Schedule) -> Result<()> {
        let n_batches = self.dls.train().n_batches();
        if n_batches == 0 {
            return Err(Error::EmptySplit { split: "train" });
        }
        let mut cbs = std::mem::take(&mut self.callbacks);
        let result = self.fit_epochs(phase, n_epochs, schedule, &mut cbs);
        self.callbacks = cbs;
        self.reporter.fit_end();
        result
    }

    fn fit_epochs(
        &mut self,
        phase: Phase,
        n_epochs: usize,
        schedule: &Schedule,
        cbs: &mut [Box<dyn Callback>],
    ) -> Result<()> {
        let n_batches = self.dls.train().n_batches();
        let total = n_epochs * n_batches;
        self.reporter.fit_start(&FitStart {
            phase,
            n_epochs,
            n_train_batches: n_batches,
            n_valid_batches: self.dls.valid().n_batches(),
            metrics: self.metrics.clone(),
        });
        let mut state = FitState {
            phase,
            epoch: 0,
            n_epochs,
            iteration: 0,
            n_iterations: total,
            loss: f64::NAN,
            smooth_loss: f64::NAN,
            lrs: schedule.at(0.0).iter().map(|h| h.lr).collect(),
        };
        // A resumed fit starts mid-phase: same data epochs, same smoothed loss, remaining batches only.
        let (start_iter, phase_data_epoch, mut smooth) = match &self.progress {
            Some(p) => (p.iteration, p.phase_data_epoch, p.smooth),
            None => (0, self.data_epoch, SmoothLoss::default()),
        };
        let mut stop = self.dispatch(cbs, &state, Event::BeforeFit)?;
        for epoch in start_iter / n_batches..n_epochs {
            if stop {
                break;
            }
            state.epoch = epoch;
            let skip = if epoch == start_iter / n_batches { start_iter % n_batches } else { 0 };
            let pass = EpochPass { data_epoch: phase_data_epoch + epoch, skip };
            stop = self.fit_one_epoch(&mut state, schedule, &mut smooth, cbs, pass)?;
        }
        self.dispatch(cbs, &state, Event::AfterFit)?;
        Ok(())
    }

    /// One training pass and one validation pass; returns true when a callback asked to stop.
    fn fit_one_epoch(
        &mut self,
        state: &mut FitState,
        schedule: &Schedule,
        smooth: &mut SmoothLoss,
        cbs: &mut [Box<dyn Callback>],
        pass: EpochPass,
    ) -> Result<bool> {
        let start = Instant::now();
        let (epoch, n_batches) = (state.epoch, self.dls.train().n_batches());
        self.reporter.epoch_start(epoch);
        let mut stop = self.dispatch(cbs, state, Event::BeforeEpoch)?;
        self.data_epoch = pass.data_epoch + 1;
        let mut n_items = 0usize;
        for (b, batch) in self.dls.train().epoch(pass.data_epoch).enumerate().skip(pass.skip) {
            let batch = batch.map_err(|source| Error::Data {
                context: format!("{} epoch {epoch}, training batch {b}", state.phase),
                source,
            })?;
            state.iteration = epoch * n_batches + b;
            let hypers = schedule.at(position(state.iteration, state.n_iterations));
            self.opt.set_group_hypers(&hypers)?;
            state.lrs = hypers.iter().map(|h| h.lr).collect();
            stop |= self.dispatch(cbs, state, Event::BeforeBatch)?;
            let TrainStep { loss, stop: cb_stop } = self.train_batch(&batch, cbs, state)?;
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    iteration: state.iteration,
                    loss: loss as f64,
                    lrs: state.lrs.clone(),
                });
            }
            stop |= cb_stop;
            state.loss = loss as f64;
            state.smooth_loss = smooth.update(loss) as f64;
            n_items += batch.len();
            self.recorder.record_iteration(IterRecord {
                phase: state.phase,
                epoch,
                iteration: state.iteration,
                loss,
                smooth_loss: state.smooth_loss as f32,
                lrs: state.lrs.clone(),
                moms: hypers.iter().map(|h| h.mom).collect(),
            });
            if let Some(progress) = self.progress.as_mut() {
                progress.iteration = state.iteration + 1;
                progress.smooth = *smooth;
            }
            self.reporter.batch(&BatchProgress {
                epoch,
                batch: b,
                n_batches,
                train: true,
                loss: state.smooth_loss,
                items_per_sec: n_items as f64 / start.elapsed().as_secs_f64().max(1e-9),
            });
            stop |= self.dispatch(cbs, state, Event::AfterBatch)?;
            // After the epoch's last batch the stop waits for its validation, so the checkpoint holds the epoch's
            // row and a resumed fit starts with the next epoch, as an uninterrupted one would.
            if b + 1 < n_batches {
                self.check_interrupt(state)?;
            }
            if stop {
                break;
            }
        }
        let validation = self.validate_epoch(epoch)?;
        let row = EpochRow {
            phase: state.phase,
            epoch,
            train_loss: state.smooth_loss,
            valid_loss: validation.as_ref().map(|v| v.loss),
            metrics: validation.map(|v| v.metrics).unwrap_or_default(),
            seconds: start.elapsed().as_secs_f64(),
        };
        self.recorder.record_epoch(row.clone());
        // Saved before the row is shown: an epoch the user has seen is an epoch that survives a kill.
        if let Some(name) = self.config.epoch_checkpoint.clone() {
            self.save(&name)?;
        }
        self.reporter.epoch_end(&row);
        stop |= self.dispatch(cbs, state, Event::AfterEpoch(&row))?;
        self.check_interrupt(state)?;
        Ok(stop)
    }

    /// On interruption: saves the state after the last finished batch as checkpoint `interrupted`, then errors.
    fn check_interrupt(&mut self, state: &FitState) -> Result<()> {
        if !self.interrupt.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let path = self.save("interrupted")?;
        self.reporter.message(&format!("interrupted: checkpoint written to {}", path.display()));
        Err(Error::Interrupted {
            epoch: state.epoch,
            iteration: state.iteration,
            what: format!("the state after that iteration is saved in {}", path.display()),
        })
    }

    /// Runs one event on every callback; saves checkpoints they ask for; returns true if one asked to stop.
    fn dispatch(&mut self, cbs: &mut [Box<dyn Callback>], state: &FitState, event: Event<'_>) -> Result<bool> {
        let mut stop = false;
        for cb in cbs.iter_mut() {
            let flow = match event {
                Event::BeforeFit => cb.before_fit(state),
                Event::BeforeEpoch => cb.before_epoch(state),
                Event::BeforeBatch => cb.before_batch(state),
                Event::AfterBackward => cb.after_backward(state),
                Event::AfterStep => cb.after_step(state),
                Event::AfterBatch => cb.after_batch(state),
                Event::AfterEpoch(row) => cb.after_epoch(state, row),
                Event::AfterFit => cb.after_fit(state),
            }?;
            match flow {
                Flow::Continue => {}
                Flow::Stop => {
                    self.reporter.message(&format!("{} stopped the fit", cb.name()));
                    stop = true;
                }
                Flow::Save(name) => {
                    let path = self.save(&name)?;
                    self.reporter.message(&format!("{}: checkpoint written to {}", cb.name(), path.display()));
                }
            }
        }
        Ok(stop)
    }
}
