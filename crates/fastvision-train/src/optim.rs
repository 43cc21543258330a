//! fastai's optimisers over candle `Var`s: Adam with decoupled weight decay and fastai's debiasing, and SGD with
//! momentum, both with parameter groups that each carry their own learning rate and momentum.

use std::cell::RefCell;
use std::collections::BTreeMap;

use candle::{backprop::GradStore, Tensor, Var};
use fastvision_ops::CandleContext;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::GroupHypers;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// fastai's `Adam` (decoupled weight decay, i.e. AdamW).
    Adam,
    /// fastai's `SGD`: momentum without dampening when `mom` is not 0, decoupled weight decay.
    Sgd,
}

/// Optimiser settings; `Default` = fastai's `Adam` defaults (`vision_learner`'s `opt_func`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Learning rate until a schedule sets one.
    pub lr: f64,
    /// Momentum (Adam's beta1); schedules overwrite it per iteration.
    pub mom: f64,
    /// Adam's beta2.
    pub sqr_mom: f64,
    /// Adam's epsilon, added after the square root.
    pub eps: f64,
    /// Decoupled weight decay (`p *= 1 - lr * wd`), skipped for BatchNorm and bias parameters.
    pub wd: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self { kind: OptimizerKind::Adam, lr: 1e-3, mom: 0.9, sqr_mom: 0.99, eps: 1e-5, wd: 0.01 }
    }
}

impl OptimizerConfig {
    /// fastai's `SGD(mom=mom)`: no weight decay by default, like fastai.
    pub fn sgd(mom: f64) -> Self {
        Self { kind: OptimizerKind::Sgd, mom, wd: 0.0, ..Self::default() }
    }
}

/// One trainable tensor and whether weight decay applies to it.
#[derive(Debug, Clone)]
pub struct OptParam {
    /// Its name (for checkpoints), e.g. `0.4.0.bn1.weight`.
    pub name: String,
    /// The variable the optimiser updates in place.
    pub var: Var,
    /// False for BatchNorm and bias parameters (fastai's `wd_bn_bias=False`).
    pub do_wd: bool,
}

/// The hyper-parameters of one parameter group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hypers {
    /// Learning rate.
    pub lr: f64,
    /// Momentum.
    pub mom: f64,
    /// Adam's beta2.
    pub sqr_mom: f64,
    /// Adam's epsilon.
    pub eps: f64,
    /// Decoupled weight decay.
    pub wd: f64,
}

/// Per-parameter moving averages. The CPU step updates these tensors in place, so the optimiser must be their only
/// holder: snapshots, restores, exports and imports copy them ([`ParamState::deep_copy`]). `Clone` shares the
/// tensors: it is for snapshots, whose tensors nothing updates.
#[derive(Debug, Clone)]
struct ParamState {
    grad_avg: Option<Tensor>,
    sqr_avg: Option<Tensor>,
    step: u64,
}

impl ParamState {
    /// A copy that shares no storage with `self`.
    fn deep_copy(&self) -> candle::Result<Self> {
        let copy = |t: &Option<Tensor>| t.as_ref().map(Tensor::copy).transpose();
        Ok(Self { grad_avg: copy(&self.grad_avg)?, sqr_avg: copy(&self.sqr_avg)?, step: self.step })
    }
}

/// Copies of every parameter's state (see [`ParamState::deep_copy`]).
fn deep_copy_states(states: &[Vec<Option<ParamState>>]) -> candle::Result<Vec<Vec<Option<ParamState>>>> {
    states
        .iter()
        .map(|group| group.iter().map(|s| s.as_ref().map(ParamState::deep_copy).transpose()).collect())
        .collect()
}

/// A copy of the optimiser's state (moments, step counts, hypers) to restore later, e.g. after lr_find.
#[derive(Debug, Clone)]
pub struct OptimizerSnapshot {
    state: Vec<Vec<Option<ParamState>>>,
    hypers: Vec<Hypers>,
}

/// What a checkpoint stores besides the tensors: hypers and step counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerMeta {
    /// The settings.
    pub config: OptimizerConfig,
    /// Hypers of each group.
    pub hypers: Vec<Hypers>,
    /// Step count of each parameter that has state, by `group/name`.
    pub steps: BTreeMap<String, u64>,
}

/// fastai's `Optimizer`: parameter groups, per-group hypers, per-parameter state, one pass per group per step.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    groups: Vec<Vec<OptParam>>,
    hypers: Vec<Hypers>,
    state: Vec<Vec<Option<ParamState>>>,
}

/// fastai's `debias(mom, damp, step)`, in float64 as fastai computes it.
fn debias(mom: f64, damp: f64, step: u64) -> f64 {
    damp * (1.0 - mom.powi(step as i32)) / (1.0 - mom)
}

impl Optimizer {
    /// An optimiser over `groups` (one list of parameters per group), every group starting with `config`'s hypers.
    pub fn new(groups: Vec<Vec<OptParam>>, config: OptimizerConfig) -> Result<Self> {
        if groups.is_empty() {
            return Err(Error::GroupCount { what: "parameter groups", expected: 1, actual: 0 });
        }
        let hyper = Hypers { lr: config.lr, mom: config.mom, sqr_mom: config.sqr_mom, eps: config.eps, wd: config.wd };
        let state = groups.iter().map(|g| vec![None; g.len()]).collect();
        Ok(Self { config, hypers: vec![hyper; groups.len()], groups, state })
    }

    /// The settings it was made with.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Number of parameter groups.
    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// The parameters of each group.
    pub fn groups(&self) -> &[Vec<OptParam>] {
        &self.groups
    }

    /// The current hypers of each group.
    pub fn hypers(&self) -> &[Hypers] {
        &self.hypers
    }

    /// Sets each group's learning rate.
    pub fn set_lrs(&mut self, lrs: &[f64]) -> Result<()> {
        self.check_len("learning rates", lrs.len())?;
        self.hypers.iter_mut().zip(lrs).for_each(|(h, &lr)| h.lr = lr);
        Ok(())
    }

    /// Sets each group's learning rate and momentum, as a schedule gives them.
    pub fn set_group_hypers(&mut self, values: &[GroupHypers]) -> Result<()> {
        self.check_len("scheduled hypers", values.len())?;
        for (h, v) in self.hypers.iter_mut().zip(values) {
            h.lr = v.lr;
            h.mom = v.mom;
        }
        Ok(())
    }

    /// Sets the weight decay of every group.
    pub fn set_wd(&mut self, wd: f64) {
        self.hypers.iter_mut().for_each(|h| h.wd = wd);
    }

    fn check_len(&self, what: &'static str, actual: usize) -> Result<()> {
        if actual == self.groups.len() {
            return Ok(());
        }
        Err(Error::GroupCount { what, expected: self.groups.len(), actual })
    }

    /// Forgets all moving averages and step counts (fastai's `clear_state`, called by `unfreeze`).
    pub fn clear_state(&mut self) {
        self.state.iter_mut().flatten().for_each(|s| *s = None);
    }

    /// One update of every parameter that has a gradient in `grads`; parameters without one (frozen) are skipped,
    /// like fastai's `all_params(with_grad=True)`. Returns the number of tensors updated.
    pub fn step(&mut self, grads: &GradStore) -> Result<usize> {
        self.step_with(|var| grads.get(var.as_tensor()).cloned())
    }

    /// [`Optimizer::step`] with gradients from a function (tests, gradient accumulation).
    pub fn step_with(&mut self, mut grad_of: impl FnMut(&Var) -> Option<Tensor>) -> Result<usize> {
        let mut n_updated = 0;
        for (g, group) in self.groups.iter().enumerate() {
            let hyper = self.hypers[g];
            for (i, param) in group.iter().enumerate() {
                let Some(grad) = grad_of(&param.var) else { continue };
                let state = self.state[g][i].take().unwrap_or(ParamState { grad_avg: None, sqr_avg: None, step: 0 });
                let new_state = match self.config.kind {
                    OptimizerKind::Adam => adam_update(param, &grad.detach(), &hyper, state),
                    OptimizerKind::Sgd => sgd_update(param, &grad.detach(), &hyper, state, self.config.mom != 0.0),
                }
                .ctx(&format!("optimizer step on parameter {} (group {g})", param.name))?;
                self.state[g][i] = Some(new_state);
                n_updated += 1;
            }
        }
        Ok(n_updated)
    }

    /// A snapshot of moments, step counts and hypers: a copy, since steps update the moments in place.
    pub fn snapshot(&self) -> Result<OptimizerSnapshot> {
        let state = deep_copy_states(&self.state).ctx("copying the optimizer state for a snapshot")?;
        Ok(OptimizerSnapshot { state, hypers: self.hypers.clone() })
    }

    /// Puts back a snapshot taken from this optimiser (copied again, so the snapshot can be restored twice).
    pub fn restore(&mut self, snapshot: &OptimizerSnapshot) -> Result<()> {
        self.check_len("optimizer snapshot groups", snapshot.hypers.len())?;
        self.state = deep_copy_states(&snapshot.state).ctx("copying an optimizer snapshot back")?;
        self.hypers = snapshot.hypers.clone();
        Ok(())
    }

    /// The state as named tensors (`opt/{group}/{name}/grad_avg`, `.../sqr_avg`) plus metadata, for checkpoints.
    /// The tensors are copies: later steps do not change them.
    pub fn export_state(&self) -> Result<(BTreeMap<String, Tensor>, OptimizerMeta)> {
        let mut tensors = BTreeMap::new();
        let mut steps = BTreeMap::new();
        for (g, group) in self.groups.iter().enumerate() {
            for (param, state) in group.iter().zip(&self.state[g]) {
                let Some(state) = state else { continue };
                let key = format!("{g}/{}", param.name);
                for (what, t) in [("grad_avg", &state.grad_avg), ("sqr_avg", &state.sqr_avg)] {
                    if let Some(t) = t {
                        let copy = t.copy().ctx(&format!("copying optimizer state {key}/{what}"))?;
                        tensors.insert(format!("opt/{key}/{what}"), copy);
                    }
                }
                steps.insert(key, state.step);
            }
        }
        Ok((tensors, OptimizerMeta { config: self.config, hypers: self.hypers.clone(), steps }))
    }

    /// Loads state written by [`Optimizer::export_state`]; `tensors` are looked up by the same names and copied.
    pub fn import_state(&mut self, tensors: &BTreeMap<String, Tensor>, meta: &OptimizerMeta) -> Result<()> {
        self.check_len("checkpoint optimizer groups", meta.hypers.len())?;
        self.hypers = meta.hypers.clone();
        self.clear_state();
        for (g, group) in self.groups.iter().enumerate() {
            for (i, param) in group.iter().enumerate() {
                let key = format!("{g}/{}", param.name);
                let Some(&step) = meta.steps.get(&key) else { continue };
                let load = |what: &str| -> Result<Option<Tensor>> {
                    let Some(t) = tensors.get(&format!("opt/{key}/{what}")) else { return Ok(None) };
                    let device = param.var.device();
                    // A copy, never `t` itself: steps update the state in place.
                    let t = t
                        .to_device(device)
                        .and_then(|t| t.copy())
                        .ctx(&format!("copying optimizer state {key} to the device"))?;
                    if t.shape() != param.var.shape() {
                        return Err(Error::InvalidParameter {
                            name: "optimizer state",
                            value: format!("{key}/{what} {:?} vs parameter {:?}", t.shape(), param.var.shape()),
                            why: "the checkpoint was written for a different model",
                        });
                    }
                    Ok(Some(t))
                };
                self.state[g][i] = Some(ParamState { grad_avg: load("grad_avg")?, sqr_avg: load("sqr_avg")?, step });
            }
        }
        Ok(())
    }
}

/// fastai's Adam: `weight_decay`, `average_grad(dampening=True)`, `average_sqr_grad`, `step_stat`, `adam_step`.
fn adam_update(param: &OptParam, grad: &Tensor, h: &Hypers, state: ParamState) -> candle::Result<ParamState> {
    if let Some(fused) = adam_update_cpu(param, grad, h, &state)? {
        return Ok(fused);
    }
    let mut p = param.var.as_detached_tensor();
    if param.do_wd && h.wd != 0.0 {
        p = p.affine(1.0 - h.lr * h.wd, 0.0)?;
    }
    let grad_avg = match state.grad_avg {
        Some(avg) => (avg.affine(h.mom, 0.0)? + grad.affine(1.0 - h.mom, 0.0)?)?,
        None => grad.affine(1.0 - h.mom, 0.0)?,
    };
    let sq = grad.sqr()?.affine(1.0 - h.sqr_mom, 0.0)?;
    let sqr_avg = match state.sqr_avg {
        Some(avg) => (avg.affine(h.sqr_mom, 0.0)? + sq)?,
        None => sq,
    };
    let step = state.step + 1;
    let debias1 = debias(h.mom, 1.0 - h.mom, step);
    let debias2 = debias(h.sqr_mom, 1.0 - h.sqr_mom, step);
    let denom = (sqr_avg.affine(1.0 / debias2, 0.0)?.sqrt()? + h.eps)?;
    let update = grad_avg.div(&denom)?.affine(-h.lr / debias1, 0.0)?;
    param.var.set(&(p + update)?)?;
    Ok(ParamState { grad_avg: Some(grad_avg), sqr_avg: Some(sqr_avg), step })
}

/// A contiguous f32 CPU tensor's values, borrowed from its storage, with the address of the whole storage (to tell
/// tensors that share one apart).
fn cpu_f32<'a>(storage: &'a candle::Storage, layout: &candle::Layout) -> Option<(&'a [f32], *const f32)> {
    let candle::Storage::Cpu(cpu) = storage else { return None };
    let (start, end) = layout.contiguous_offsets()?;
    let all = cpu.as_slice::<f32>().ok()?;
    Some((&all[start..end], all.as_ptr()))
}

/// Whether `t` is a contiguous f32 CPU tensor of `n` values, and the address of its storage.
fn cpu_f32_storage(t: &Tensor, n: usize) -> Option<*const f32> {
    if fastvision_ops::path::generic_forced() {
        return None;
    }
    let (store, layout) = t.storage_and_layout();
    cpu_f32(&store, layout).filter(|(v, _)| v.len() == n).map(|(_, ptr)| ptr)
}

/// Runs a function on the values of a contiguous f32 CPU tensor, in place, under candle's write lock.
struct InPlace<F>(RefCell<F>);

impl<F: FnMut(&mut [f32]) -> candle::Result<()>> candle::InplaceOp1 for InPlace<F> {
    fn name(&self) -> &'static str {
        "adam-in-place"
    }

    fn cpu_fwd(&self, storage: &mut candle::CpuStorage, layout: &candle::Layout) -> candle::Result<()> {
        let (candle::CpuStorage::F32(all), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
            candle::bail!("adam-in-place needs a contiguous f32 tensor")
        };
        (self.0.borrow_mut())(&mut all[start..end])
    }
}

/// `f` on the values of `t`, which [`cpu_f32_storage`] has checked, in place.
fn with_values_mut(t: &Tensor, f: impl FnMut(&mut [f32]) -> candle::Result<()>) -> candle::Result<()> {
    t.inplace_op1(&InPlace(RefCell::new(f)))
}

/// The float32 constants of one Adam update, derived from the hypers and the step count as fastai derives them.
#[derive(Clone, Copy)]
struct AdamConsts {
    wd: f32,
    mom: f32,
    damp: f32,
    sqr_mom: f32,
    sqr_damp: f32,
    debias2: f32,
    step_size: f32,
    eps: f32,
    /// No moving average yet (first step): it starts from 0 rather than `avg * mom`.
    fresh_avg: bool,
    fresh_sqr: bool,
}

/// Elements per parallel task: large enough that a task outweighs rayon's scheduling, small enough to split the
/// big convolution weights (up to 2.4M values in resnet18) over every thread.
const ADAM_CHUNK: usize = 1 << 15;

/// fastai's Adam update of `p`, `avg` and `sqr` in place from `g`, element by element, in parallel chunks; each
/// element's float32 operations are the same, in the same order, as [`adam_update`]'s tensor operations.
fn adam_kernel(p: &mut [f32], g: &[f32], avg: &mut [f32], sqr: &mut [f32], c: AdamConsts) {
    let serial = |p: &mut [f32], g: &[f32], avg: &mut [f32], sqr: &mut [f32]| {
        for (((p, a), s), &g) in p.iter_mut().zip(avg.iter_mut()).zip(sqr.iter_mut()).zip(g) {
            let new_a = if c.fresh_avg { 0.0 } else { *a * c.mom } + g * c.damp;
            let new_s = if c.fresh_sqr { 0.0 } else { *s * c.sqr_mom } + g * g * c.sqr_damp;
            *p = *p * c.wd + c.step_size * (new_a / ((new_s / c.debias2).sqrt() + c.eps));
            *a = new_a;
            *s = new_s;
        }
    };
    if p.len() <= ADAM_CHUNK {
        serial(p, g, avg, sqr);
        return;
    }
    p.par_chunks_mut(ADAM_CHUNK)
        .zip(g.par_chunks(ADAM_CHUNK))
        .zip(avg.par_chunks_mut(ADAM_CHUNK))
        .zip(sqr.par_chunks_mut(ADAM_CHUNK))
        .for_each(|(((p, g), avg), sqr)| serial(p, g, avg, sqr));
}

/// [`adam_update`] on contiguous f32 CPU tensors: one parallel pass that updates the parameter and the moving
/// averages in place (the optimiser owns its state tensors alone, see [`ParamState`]). `None` when the tensors are
/// elsewhere, of another type, or share storage.
fn adam_update_cpu(
    param: &OptParam,
    grad: &Tensor,
    h: &Hypers,
    state: &ParamState,
) -> candle::Result<Option<ParamState>> {
    let n = param.var.elem_count();
    let (Some(p_ptr), Some(g_ptr)) = (cpu_f32_storage(&param.var, n), cpu_f32_storage(grad, n)) else {
        return Ok(None);
    };
    let (fresh_avg, fresh_sqr) = (state.grad_avg.is_none(), state.sqr_avg.is_none());
    let zeros = || Tensor::zeros(param.var.shape(), candle::DType::F32, &candle::Device::Cpu);
    let avg_t = state.grad_avg.clone().map_or_else(zeros, Ok)?;
    let sqr_t = state.sqr_avg.clone().map_or_else(zeros, Ok)?;
    let (Some(avg_ptr), Some(sqr_ptr)) = (cpu_f32_storage(&avg_t, n), cpu_f32_storage(&sqr_t, n)) else {
        return Ok(None);
    };
    // Writing a storage while another lock on it is held would deadlock: all four must be distinct.
    let ptrs = [p_ptr, g_ptr, avg_ptr, sqr_ptr];
    if (1..4).any(|i| ptrs[..i].contains(&ptrs[i])) {
        return Ok(None);
    }
    let step = state.step + 1;
    let c = AdamConsts {
        wd: if param.do_wd && h.wd != 0.0 { (1.0 - h.lr * h.wd) as f32 } else { 1.0 },
        mom: h.mom as f32,
        damp: (1.0 - h.mom) as f32,
        sqr_mom: h.sqr_mom as f32,
        sqr_damp: (1.0 - h.sqr_mom) as f32,
        debias2: debias(h.sqr_mom, 1.0 - h.sqr_mom, step) as f32,
        step_size: (-h.lr / debias(h.mom, 1.0 - h.mom, step)) as f32,
        eps: h.eps as f32,
        fresh_avg,
        fresh_sqr,
    };
    {
        let (g_store, g_layout) = grad.storage_and_layout();
        let Some((g, _)) = cpu_f32(&g_store, g_layout) else { return Ok(None) };
        with_values_mut(&avg_t, |avg| {
            with_values_mut(&sqr_t, |sqr| {
                with_values_mut(&param.var, |p| {
                    adam_kernel(p, g, avg, sqr, c);
                    Ok(())
                })
            })
        })?;
    }
    Ok(Some(ParamState { grad_avg: Some(avg_t), sqr_avg: Some(sqr_t), step }))
}

/// fastai's SGD: `weight_decay`, then `momentum_step` over `average_grad` (no dampening) or plain `sgd_step`.
fn sgd_update(
    param: &OptParam,
    grad: &Tensor,
    h: &Hypers,
    state: ParamState,
    use_momentum: bool,
) -> candle::Result<ParamState> {
    let mut p = param.var.as_detached_tensor();
    if param.do_wd && h.wd != 0.0 {
        p = p.affine(1.0 - h.lr * h.wd, 0.0)?;
    }
    let grad_avg = match (use_momentum, state.grad_avg) {
        (false, _) => None,
        (true, Some(avg)) => Some((avg.affine(h.mom, 0.0)? + grad)?),
        (true, None) => Some(grad.clone()),
    };
    let direction = grad_avg.as_ref().unwrap_or(grad);
    param.var.set(&(p - direction.affine(h.lr, 0.0)?)?)?;
    Ok(ParamState { grad_avg, sqr_avg: None, step: state.step + 1 })
}

#[cfg(test)]
mod tests;
