//! The losses as candle custom ops: each fused forward keeps what its backward needs and registers a backward op,
//! so the losses work inside candle's autograd. Each op writes only its typed `cpu::<F>` (calling `cpu.rs`);
//! fastvision-ops' `float_custom_op!` makes it a `CustomOpN` whose `cuda_fwd` calls `cuda.rs` (feature `cuda`).

use std::sync::{Arc, Mutex, PoisonError};

use candle::{CpuStorage, Layout, Shape, Storage, Tensor, WithDType};

use crate::cpu::{self, BinaryParams, ClassParams, RowError};
use crate::{Error, Reduction};
use fastvision_ops::Float;

/// State shared between an op handed to candle and the function that applied it: the forward's saved tensor and
/// the detailed input error (candle's error type cannot carry ours back).
#[derive(Default)]
pub(crate) struct OpState {
    saved: Mutex<Option<Tensor>>,
    exps: Mutex<Option<Tensor>>,
    error: Mutex<Option<Error>>,
}

impl OpState {
    /// Records a bad-input error and returns the candle error that stops the op.
    pub(crate) fn fail(&self, error: Error) -> candle::Error {
        let message = error.to_string();
        *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
        candle::Error::Msg(message)
    }

    /// The recorded bad-input error, if the op failed on its input.
    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    pub(crate) fn save(&self, tensor: Tensor) {
        *self.saved.lock().unwrap_or_else(PoisonError::into_inner) = Some(tensor);
    }

    fn saved(&self, op: &'static str) -> candle::Result<Tensor> {
        let saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner).clone();
        saved.ok_or_else(|| candle::Error::Msg(format!("{op}: backward called before forward")))
    }

    pub(crate) fn save_exps(&self, tensor: Tensor) {
        *self.exps.lock().unwrap_or_else(PoisonError::into_inner) = Some(tensor);
    }

    fn exps(&self) -> Option<Tensor> {
        self.exps.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The saved tensor, when the forward saved one (the CUDA NLL does; the CPU one recomputes).
    fn saved_if_any(&self) -> Option<Tensor> {
        self.saved.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Turns a kernel's row error into the crate's error, naming the tensor.
pub(crate) fn row_error(error: RowError, what: &'static str, n_classes: usize) -> Error {
    match error {
        RowError::Target { row, value } => Error::TargetOutOfRange { row, value, n_classes },
        RowError::NonFinite { row, col, value } => Error::NonFiniteLogits { what, row, col, value },
    }
}

/// The contiguous part of a CPU storage that `layout` covers.
fn cpu_slice<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout) -> candle::Result<&'a [T]> {
    fastvision_ops::custom_op::cpu_slice(storage, layout, "fastvision-losses")
}

/// The CPU slice of a saved tensor.
fn with_saved<T: WithDType, R>(saved: &Tensor, f: impl FnOnce(&[T]) -> candle::Result<R>) -> candle::Result<R> {
    let (storage, layout) = saved.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu_storage) => f(cpu_slice::<T>(cpu_storage, layout)?),
        _ => Err(candle::Error::Msg("fastvision-losses: saved statistics are not on the CPU".into())),
    }
}

/// The shape of a reduced output: `(n,)` for `Reduction::None`, a scalar otherwise.
pub(crate) fn reduced_shape(reduction: Reduction, n: usize) -> Shape {
    match reduction {
        Reduction::None => Shape::from(n),
        Reduction::Mean | Reduction::Sum => Shape::from(()),
    }
}

/// Softmax or log-softmax over the last axis.
pub(crate) struct SoftmaxOp {
    pub log: bool,
    pub state: Arc<OpState>,
}

impl SoftmaxOp {
    fn cpu<F: Float>(&self, storage: &CpuStorage, layout: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        let src = cpu_slice::<F>(storage, layout)?;
        let n_cols = layout.dims().last().copied().unwrap_or(1);
        let out = cpu::softmax(src, n_cols, self.log).map_err(|e| self.state.fail(row_error(e, "logits", n_cols)))?;
        Ok((F::to_cpu_storage_owned(out), layout.shape().clone()))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp1 for SoftmaxOp, float of input 1, cpu = cpu, cuda = crate::cuda::softmax_fwd::<F>;

    fn name(&self) -> &'static str {
        if self.log {
            "fastvision-log-softmax"
        } else {
            "fastvision-softmax"
        }
    }

    fn bwd(&self, _logits: &Tensor, output: &Tensor, grad_output: &Tensor) -> candle::Result<Option<Tensor>> {
        let grad = output.apply_op2_no_bwd(&grad_output.contiguous()?, &SoftmaxBwdOp { log: self.log })?;
        Ok(Some(grad))
    }
}

/// Backward of [`SoftmaxOp`] from its output and the incoming gradient.
pub(crate) struct SoftmaxBwdOp {
    pub log: bool,
}

impl SoftmaxBwdOp {
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let n_cols = l1.dims().last().copied().unwrap_or(1);
        let out = cpu::softmax_bwd(cpu_slice::<F>(s1, l1)?, cpu_slice::<F>(s2, l2)?, n_cols, self.log);
        Ok((F::to_cpu_storage_owned(out), l1.shape().clone()))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp2 for SoftmaxBwdOp, float of input 1, cpu = cpu, cuda = crate::cuda::softmax_bwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-softmax-bwd"
    }
}

/// Fused log-softmax + NLL (+ label smoothing) over `(logits n×C, targets n i64)`.
pub(crate) struct CrossEntropyOp {
    pub params: ClassParams,
    pub state: Arc<OpState>,
    /// Keep `exp(x - max)` for the backward (CPU; set when the logits need a gradient).
    pub keep_exps: bool,
}

impl CrossEntropyOp {
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let targets = cpu_slice::<i64>(s2, l2)?;
        let forward = cpu::cross_entropy_fwd(cpu_slice::<F>(s1, l1)?, targets, &self.params, self.keep_exps)
            .map_err(|e| self.state.fail(row_error(e, "logits", self.params.n_classes)))?;
        let n_saved = forward.saved.len();
        self.state.save(Tensor::from_vec(forward.saved, n_saved, &candle::Device::Cpu)?);
        if let Some(exps) = forward.exps {
            let n_exps = exps.len();
            self.state.save_exps(Tensor::from_vec(exps, n_exps, &candle::Device::Cpu)?);
        }
        Ok((F::to_cpu_storage_owned(forward.loss), reduced_shape(self.params.reduction, targets.len())))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp2 for CrossEntropyOp, float of input 1, cpu = cpu, cuda = crate::cuda::cross_entropy_fwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-cross-entropy"
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        let backward = CrossEntropyBwdOp {
            params: self.params.clone(),
            saved: self.state.saved(self.name())?,
            exps: self.state.exps(),
        };
        let grad = logits.apply_op3_no_bwd(targets, &grad_loss.contiguous()?, &backward)?;
        Ok((Some(grad), None))
    }
}

/// Backward of [`CrossEntropyOp`] over `(logits, targets, incoming gradient)`, with the forward's statistics.
pub(crate) struct CrossEntropyBwdOp {
    pub params: ClassParams,
    pub saved: Tensor,
    /// The CPU forward's `exp(x - max)` per logit, when it kept them.
    pub exps: Option<Tensor>,
}

impl CrossEntropyBwdOp {
    #[allow(clippy::too_many_arguments)]
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let (logits, targets, grad) = (cpu_slice::<F>(s1, l1)?, cpu_slice::<i64>(s2, l2)?, cpu_slice::<F>(s3, l3)?);
        let out = with_saved::<F, _>(&self.saved, |saved| match &self.exps {
            Some(exps) => with_saved::<F, _>(exps, |exps| {
                Ok(cpu::cross_entropy_bwd(logits, targets, grad, saved, Some(exps), &self.params))
            }),
            None => Ok(cpu::cross_entropy_bwd(logits, targets, grad, saved, None, &self.params)),
        })?;
        Ok((F::to_cpu_storage_owned(out), l1.shape().clone()))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp3 for CrossEntropyBwdOp, float of input 1, cpu = cpu, cuda = crate::cuda::cross_entropy_bwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-cross-entropy-bwd"
    }
}

/// NLL over `(log-probabilities n×C, targets n i64)`.
pub(crate) struct NllOp {
    pub params: ClassParams,
    pub state: Arc<OpState>,
}

impl NllOp {
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let targets = cpu_slice::<i64>(s2, l2)?;
        let loss = cpu::nll_fwd(cpu_slice::<F>(s1, l1)?, targets, &self.params)
            .map_err(|e| self.state.fail(row_error(e, "log-probabilities", self.params.n_classes)))?;
        Ok((F::to_cpu_storage_owned(loss), reduced_shape(self.params.reduction, targets.len())))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp2 for NllOp, float of input 1, cpu = cpu, cuda = crate::cuda::nll_fwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-nll"
    }

    fn bwd(
        &self,
        _log_probs: &Tensor,
        targets: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        let backward = NllBwdOp { params: self.params.clone(), saved: self.state.saved_if_any() };
        let grad = targets.apply_op2_no_bwd(&grad_loss.contiguous()?, &backward)?;
        Ok((Some(grad), None))
    }
}

/// Backward of [`NllOp`] over `(targets, incoming gradient)`; writes an `n×C` gradient of the gradient's dtype.
pub(crate) struct NllBwdOp {
    pub params: ClassParams,
    /// The CUDA forward's statistics (its normalisers); the CPU backward recomputes them from the targets.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub saved: Option<Tensor>,
}

impl NllBwdOp {
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let targets = cpu_slice::<i64>(s1, l1)?;
        let out = cpu::nll_bwd(targets, cpu_slice::<F>(s2, l2)?, &self.params);
        Ok((F::to_cpu_storage_owned(out), Shape::from((targets.len(), self.params.n_classes))))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp2 for NllBwdOp, float of input 2, cpu = cpu, cuda = crate::cuda::nll_bwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-nll-bwd"
    }
}

/// Binary cross-entropy with logits over `(logits m, targets m)` in the logits' float dtype.
pub(crate) struct BceOp {
    pub params: BinaryParams,
    pub state: Arc<OpState>,
}

impl BceOp {
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let logits = cpu_slice::<F>(s1, l1)?;
        let loss = cpu::bce_fwd(logits, cpu_slice::<F>(s2, l2)?, &self.params)
            .map_err(|e| self.state.fail(row_error(e, "logits", self.params.n_classes)))?;
        Ok((F::to_cpu_storage_owned(loss), reduced_shape(self.params.reduction, logits.len())))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp2 for BceOp, float of input 1, cpu = cpu, cuda = crate::cuda::bce_fwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-bce-with-logits"
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        let backward = BceBwdOp { params: self.params.clone() };
        let grad = logits.apply_op3_no_bwd(targets, &grad_loss.contiguous()?, &backward)?;
        Ok((Some(grad), None))
    }
}

/// Backward of [`BceOp`] over `(logits, targets, incoming gradient)`.
pub(crate) struct BceBwdOp {
    pub params: BinaryParams,
}

impl BceBwdOp {
    #[allow(clippy::too_many_arguments)]
    fn cpu<F: Float>(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        let out = cpu::bce_bwd(cpu_slice::<F>(s1, l1)?, cpu_slice::<F>(s2, l2)?, cpu_slice::<F>(s3, l3)?, &self.params);
        Ok((F::to_cpu_storage_owned(out), l1.shape().clone()))
    }
}

fastvision_ops::float_custom_op! {
    CustomOp3 for BceBwdOp, float of input 1, cpu = cpu, cuda = crate::cuda::bce_bwd::<F>;

    fn name(&self) -> &'static str {
        "fastvision-bce-with-logits-bwd"
    }
}
