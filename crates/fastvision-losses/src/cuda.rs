//! The CUDA twins of the CPU kernels: each `cuda_fwd` of `custom_ops.rs` lands here and launches a kernel of
//! `fastvision_kernels::LOSSES_PTX` (`fastvision-kernels/src/losses.cu`) through fastvision-ops' `cuda::launch`.
//! Every launch (entry point, grid, arguments in order) comes from [`crate::launch`], which fastvision-cuda-emu's
//! tests run on the CPU.
//!
//! Bad input is flagged by the kernels in one u64 (lowest bad row · 4 + code); the forward reads it back, which
//! synchronises the stream once per loss, and looks up the offending value to build the same error as the CPU.

use candle::backend::BackendStorage;
use candle::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, ValidAsZeroBits};
use candle::cuda_backend::CudaDType;
use candle::op::BackpropOp;
use candle::{CudaDevice, CudaStorage, Layout, Shape, Storage, Tensor};
use fastvision_ops::cuda::{Buffer, Module};

use crate::cpu::{self, RowError};
use crate::custom_ops::{
    reduced_shape, row_error, BceBwdOp, BceOp, CrossEntropyBwdOp, CrossEntropyOp, NllBwdOp, NllOp, OpState,
    SoftmaxBwdOp, SoftmaxOp,
};
use crate::launch::{self, Float, Launch, NO_ERROR};
use crate::Reduction;

/// `losses.cu`'s PTX, cached by candle per device under this name.
const MODULE: Module = Module { name: "fastvision_losses", ptx_by_arch: fastvision_kernels::LOSSES_PTX_BY_ARCH };

/// The float types the kernels are instantiated for.
pub(crate) trait GpuFloat: fastvision_ops::Float + CudaDType + DeviceRepr + ValidAsZeroBits {
    const FLOAT: Float;
}

impl GpuFloat for f32 {
    const FLOAT: Float = Float::F32;
}

impl GpuFloat for f64 {
    const FLOAT: Float = Float::F64;
}

/// Launches one kernel of `losses.cu`, once its description was built.
fn run(dev: &CudaDevice, launch: fastvision_ops::Result<Launch<Buffer>>) -> candle::Result<()> {
    fastvision_ops::cuda::launch(dev, MODULE, &launch?)
}

/// The contiguous part of a CUDA input.
fn view<'a, T: CudaDType>(storage: &'a CudaStorage, layout: &Layout) -> candle::Result<CudaView<'a, T>> {
    fastvision_ops::cuda::view(storage, layout, "fastvision-losses")
}

/// Per-class weights on the device, all ones when none were given.
fn upload_weights<T: GpuFloat>(
    dev: &CudaDevice,
    weight: Option<&[f64]>,
    n_classes: usize,
) -> candle::Result<CudaSlice<T>> {
    let host: Vec<T> = match weight {
        Some(weight) => weight.iter().map(|&w| T::from_f64(w)).collect(),
        None => vec![T::from_f64(1.0); n_classes],
    };
    dev.clone_htod(&host)
}

/// A device tensor (no autograd) holding `slice`.
fn device_tensor<T: GpuFloat>(slice: CudaSlice<T>, dev: &CudaDevice, len: usize) -> Tensor {
    let storage = CudaStorage::wrap_cuda_slice(slice, dev.clone());
    Tensor::from_storage(Storage::Cuda(storage), len, BackpropOp::none(), false)
}

/// The CUDA slice of a tensor the forward saved.
fn saved_view<T: GpuFloat, R>(
    saved: &Tensor,
    f: impl FnOnce(CudaView<'_, T>) -> candle::Result<R>,
) -> candle::Result<R> {
    let (storage, layout) = saved.storage_and_layout();
    match &*storage {
        Storage::Cuda(cuda_storage) => f(view::<T>(cuda_storage, layout)?),
        _ => Err(candle::Error::Msg("fastvision-losses: saved statistics are not on the GPU".into())),
    }
}

/// Where to look up the offending value when a kernel flagged a row.
struct ErrorContext<'a, T> {
    what: &'static str,
    n_cols: usize,
    values: &'a CudaView<'a, T>,
    targets: Option<&'a CudaView<'a, i64>>,
}

/// Reads the error slot back; on a flagged row, fetches the bad value and records the detailed error.
fn check<T: GpuFloat>(
    state: &OpState,
    dev: &CudaDevice,
    err: &CudaSlice<u64>,
    context: ErrorContext<'_, T>,
) -> candle::Result<()> {
    let key = dev.clone_dtoh(err)?.first().copied().unwrap_or(NO_ERROR);
    if key == NO_ERROR {
        return Ok(());
    }
    let (row, code) = ((key / 4) as usize, key % 4);
    let error = match (code, context.targets) {
        (1, Some(targets)) => {
            let value = dev.clone_dtoh(&targets.slice(row..row + 1))?.first().copied().unwrap_or(-1);
            RowError::Target { row, value }
        }
        _ => {
            let n_cols = context.n_cols;
            let values: Vec<T> = dev.clone_dtoh(&context.values.slice(row * n_cols..(row + 1) * n_cols))?;
            cpu::non_finite(row, &values)
        }
    };
    Err(state.fail(row_error(error, context.what, context.n_cols)))
}

// ---------------------------------------------------------------------------------------------- softmax

pub(crate) fn softmax_fwd<T: GpuFloat>(
    op: &SoftmaxOp,
    storage: &CudaStorage,
    layout: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = storage.device().clone();
    let src = view::<T>(storage, layout)?;
    let n_cols = layout.dims().last().copied().unwrap_or(1);
    let n_rows = layout.shape().elem_count() / n_cols;
    // SAFETY: the kernel writes every element.
    let dst = unsafe { dev.alloc::<T>(n_rows * n_cols) }?;
    let err = dev.clone_htod(&[NO_ERROR])?;
    run(&dev, launch::softmax_fwd::<Buffer>(T::FLOAT, &src, &dst, n_rows, n_cols, op.log, &err))?;
    check(&op.state, &dev, &err, ErrorContext { what: "logits", n_cols, values: &src, targets: None })?;
    Ok((CudaStorage::wrap_cuda_slice(dst, dev), layout.shape().clone()))
}

pub(crate) fn softmax_bwd<T: GpuFloat>(
    op: &SoftmaxBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let (output, grad) = (view::<T>(s1, l1)?, view::<T>(s2, l2)?);
    let n_cols = l1.dims().last().copied().unwrap_or(1);
    let n_rows = l1.shape().elem_count() / n_cols;
    // SAFETY: the kernel writes every element.
    let dst = unsafe { dev.alloc::<T>(n_rows * n_cols) }?;
    run(&dev, launch::softmax_bwd::<Buffer>(T::FLOAT, &output, &grad, &dst, n_rows, n_cols, op.log))?;
    Ok((CudaStorage::wrap_cuda_slice(dst, dev), l1.shape().clone()))
}

// ----------------------------------------------------------------------------------------- cross-entropy

pub(crate) fn cross_entropy_fwd<T: GpuFloat>(
    op: &CrossEntropyOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (logits, targets) = (view::<T>(s1, l1)?, view::<i64>(s2, l2)?);
    let (n_rows, n_classes) = (l2.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    let saved = dev.alloc_zeros::<T>(launch::saved_len(n_rows))?;
    let part = dev.alloc_zeros::<T>(launch::part_len(n_rows))?;
    let err = dev.clone_htod(&[NO_ERROR])?;
    let (smoothing, ignore_index) = (params.smoothing, params.ignore_index);
    run(
        &dev,
        launch::cross_entropy_fwd::<Buffer>(
            T::FLOAT,
            &logits,
            &targets,
            &weight,
            n_rows,
            n_classes,
            smoothing,
            ignore_index,
            &saved,
            &part,
            &err,
        ),
    )?;
    let context = ErrorContext { what: "logits", n_cols: n_classes, values: &logits, targets: Some(&targets) };
    check(&op.state, &dev, &err, context)?;
    let loss = class_reduce::<T>(&dev, &part, n_rows, n_classes, params.smoothing, params.reduction, &saved)?;
    op.state.save(device_tensor(saved, &dev, launch::saved_len(n_rows)));
    Ok((CudaStorage::wrap_cuda_slice(loss, dev), reduced_shape(params.reduction, n_rows)))
}

/// Combines the per-row parts into the loss and writes the normalisers after the row statistics in `saved`.
fn class_reduce<T: GpuFloat>(
    dev: &CudaDevice,
    part: &CudaSlice<T>,
    n_rows: usize,
    n_classes: usize,
    smoothing: f64,
    reduction: Reduction,
    saved: &CudaSlice<T>,
) -> candle::Result<CudaSlice<T>> {
    let n_out = if reduction == Reduction::None { n_rows } else { 1 };
    let loss = dev.alloc_zeros::<T>(n_out)?;
    run(dev, launch::class_reduce::<Buffer>(T::FLOAT, part, n_rows, n_classes, smoothing, reduction, &loss, saved))?;
    Ok(loss)
}

pub(crate) fn cross_entropy_bwd<T: GpuFloat>(
    op: &CrossEntropyBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    saved_view::<T, _>(&op.saved, |saved| cross_entropy_bwd_saved::<T>(op, s1, l1, s2, l2, s3, l3, saved))
}

#[allow(clippy::too_many_arguments)]
fn cross_entropy_bwd_saved<T: GpuFloat>(
    op: &CrossEntropyBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
    saved: CudaView<'_, T>,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (logits, targets, grad) = (view::<T>(s1, l1)?, view::<i64>(s2, l2)?, view::<T>(s3, l3)?);
    let (n_rows, n_classes) = (l2.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    // SAFETY: the kernel writes every element.
    let dst = unsafe { dev.alloc::<T>(n_rows * n_classes) }?;
    let grad_per_row = l3.shape().elem_count() > 1;
    let kernel = launch::cross_entropy_bwd::<Buffer>(
        T::FLOAT,
        &logits,
        &targets,
        &weight,
        &grad,
        grad_per_row,
        &saved,
        n_rows,
        n_classes,
        params.smoothing,
        params.ignore_index,
        params.reduction,
        &dst,
    );
    run(&dev, kernel)?;
    Ok((CudaStorage::wrap_cuda_slice(dst, dev), l1.shape().clone()))
}

// ------------------------------------------------------------------------------------------------- NLL

pub(crate) fn nll_fwd<T: GpuFloat>(
    op: &NllOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (log_probs, targets) = (view::<T>(s1, l1)?, view::<i64>(s2, l2)?);
    let (n_rows, n_classes) = (l2.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    let saved = dev.alloc_zeros::<T>(launch::saved_len(n_rows))?;
    let part = dev.alloc_zeros::<T>(launch::part_len(n_rows))?;
    let err = dev.clone_htod(&[NO_ERROR])?;
    let ignore_index = params.ignore_index;
    run(
        &dev,
        launch::nll_fwd::<Buffer>(
            T::FLOAT,
            &log_probs,
            &targets,
            &weight,
            n_rows,
            n_classes,
            ignore_index,
            &part,
            &err,
        ),
    )?;
    let context =
        ErrorContext { what: "log-probabilities", n_cols: n_classes, values: &log_probs, targets: Some(&targets) };
    check(&op.state, &dev, &err, context)?;
    let loss = class_reduce::<T>(&dev, &part, n_rows, n_classes, 0.0, params.reduction, &saved)?;
    op.state.save(device_tensor(saved, &dev, launch::saved_len(n_rows)));
    Ok((CudaStorage::wrap_cuda_slice(loss, dev), reduced_shape(params.reduction, n_rows)))
}

pub(crate) fn nll_bwd<T: GpuFloat>(
    op: &NllBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let saved = op
        .saved
        .as_ref()
        .ok_or_else(|| candle::Error::Msg("fastvision-losses: NLL backward without forward".into()))?;
    saved_view::<T, _>(saved, |saved| nll_bwd_saved::<T>(op, s1, l1, s2, l2, saved))
}

fn nll_bwd_saved<T: GpuFloat>(
    op: &NllBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    saved: CudaView<'_, T>,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (targets, grad) = (view::<i64>(s1, l1)?, view::<T>(s2, l2)?);
    let (n_rows, n_classes) = (l1.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    let norm = saved.slice(2 * n_rows..);
    // SAFETY: the kernel writes every element.
    let dst = unsafe { dev.alloc::<T>(n_rows * n_classes) }?;
    let grad_per_row = l2.shape().elem_count() > 1;
    let kernel = launch::nll_bwd::<Buffer>(
        T::FLOAT,
        &targets,
        &weight,
        &grad,
        grad_per_row,
        &norm,
        n_rows,
        n_classes,
        params.ignore_index,
        params.reduction,
        &dst,
    );
    run(&dev, kernel)?;
    Ok((CudaStorage::wrap_cuda_slice(dst, dev), Shape::from((n_rows, n_classes))))
}

// ---------------------------------------------------------------------------------------- BCE with logits

pub(crate) fn bce_fwd<T: GpuFloat>(
    op: &BceOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (logits, targets) = (view::<T>(s1, l1)?, view::<T>(s2, l2)?);
    let (n, n_classes) = (l1.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    let pos_weight = upload_weights::<T>(&dev, params.pos_weight.as_deref(), n_classes)?;
    // SAFETY: the kernel writes every element.
    let per_element = unsafe { dev.alloc::<T>(n) }?;
    let err = dev.clone_htod(&[NO_ERROR])?;
    run(
        &dev,
        launch::bce_fwd::<Buffer>(T::FLOAT, &logits, &targets, &weight, &pos_weight, n, n_classes, &per_element, &err),
    )?;
    check(&op.state, &dev, &err, ErrorContext { what: "logits", n_cols: n_classes, values: &logits, targets: None })?;
    let scale = match params.reduction {
        Reduction::None => return Ok((CudaStorage::wrap_cuda_slice(per_element, dev), Shape::from(n))),
        Reduction::Mean => 1.0 / n as f64,
        Reduction::Sum => 1.0,
    };
    let total = dev.alloc_zeros::<T>(1)?;
    run(&dev, launch::sum_reduce::<Buffer>(T::FLOAT, &per_element, n, scale, &total))?;
    Ok((CudaStorage::wrap_cuda_slice(total, dev), Shape::from(())))
}

pub(crate) fn bce_bwd<T: GpuFloat>(
    op: &BceBwdOp,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
) -> candle::Result<(CudaStorage, Shape)> {
    let dev = s1.device().clone();
    let params = &op.params;
    let (logits, targets, grad) = (view::<T>(s1, l1)?, view::<T>(s2, l2)?, view::<T>(s3, l3)?);
    let (n, n_classes) = (l1.shape().elem_count(), params.n_classes);
    let weight = upload_weights::<T>(&dev, params.weight.as_deref(), n_classes)?;
    let pos_weight = upload_weights::<T>(&dev, params.pos_weight.as_deref(), n_classes)?;
    let scale = if params.reduction == Reduction::Mean { 1.0 / n as f64 } else { 1.0 };
    let grad_per_element = l3.shape().elem_count() > 1;
    // SAFETY: the kernel writes every element.
    let dst = unsafe { dev.alloc::<T>(n) }?;
    let kernel = launch::bce_bwd::<Buffer>(
        T::FLOAT,
        &logits,
        &targets,
        &weight,
        &pos_weight,
        &grad,
        grad_per_element,
        n,
        n_classes,
        scale,
        &dst,
    );
    run(&dev, kernel)?;
    Ok((CudaStorage::wrap_cuda_slice(dst, dev), l1.shape().clone()))
}
