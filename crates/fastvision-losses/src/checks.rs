//! Input checks shared by every entry point: device, dtype, shape, targets and parameters, each failing with an
//! [`Error`] that names the op and the tensor.

use std::sync::Arc;

use candle::{DType, Device, Tensor};

use crate::custom_ops::OpState;
use crate::{Error, Result};
use fastvision_ops::CandleContext;

/// Fails for devices this build cannot run the fused kernels on.
pub(crate) fn check_device(op: &'static str, tensor: &Tensor) -> Result<()> {
    match tensor.device() {
        Device::Cpu => Ok(()),
        Device::Cuda(_) if cfg!(feature = "cuda") => Ok(()),
        Device::Cuda(_) => Err(Error::CudaNotCompiled { hint: "rebuild with --features cuda" }),
        device => Err(Error::UnsupportedDevice { op, device: device.location() }),
    }
}

/// The logits as f32 or f64 (f16 and bf16 are widened to f32) and their original dtype, to convert the result back.
pub(crate) fn float_input(op: &'static str, what: &'static str, tensor: &Tensor) -> Result<(Tensor, DType)> {
    check_device(op, tensor)?;
    let dtype = tensor.dtype();
    let tensor = match dtype {
        DType::F32 | DType::F64 => tensor.clone(),
        DType::F16 | DType::BF16 => tensor.to_dtype(DType::F32).ctx("widening half-precision logits to f32")?,
        _ => {
            let hint = "pass f32 or f64 (f16 and bf16 are widened to f32)";
            return Err(Error::UnsupportedDType { op, what, dtype, hint });
        }
    };
    Ok((tensor, dtype))
}

/// Converts a result back to the caller's dtype (only differs for f16/bf16 inputs).
pub(crate) fn restore_dtype(tensor: Tensor, dtype: DType) -> Result<Tensor> {
    if tensor.dtype() == dtype {
        return Ok(tensor);
    }
    Ok(tensor.to_dtype(dtype).ctx("converting the result back to the logits' dtype")?)
}

/// Checks that `logits` is a non-empty `n × C` matrix and returns `(n, C)`.
pub(crate) fn matrix(op: &'static str, logits: &Tensor) -> Result<(usize, usize)> {
    let &[n_rows, n_classes] = logits.dims() else {
        return Err(Error::ShapeMismatch {
            op,
            what: "logits must be a batch × classes matrix (use the *Flat losses for other layouts)",
            expected: "[n, C]".into(),
            actual: format!("{:?}", logits.dims()),
        });
    };
    if n_rows == 0 || n_classes == 0 {
        return Err(Error::EmptyBatch { op, shape: format!("{:?}", logits.dims()) });
    }
    Ok((n_rows, n_classes))
}

/// Class-id targets as a contiguous i64 vector of `n_rows` on the logits' device.
pub(crate) fn class_targets(op: &'static str, targets: &Tensor, n_rows: usize, device: &Device) -> Result<Tensor> {
    if !targets.dtype().is_int() {
        let hint =
            "targets are class ids: pass u32 (or u8/i64); for multi-label float targets use BCEWithLogitsLossFlat";
        return Err(Error::UnsupportedDType { op, what: "targets", dtype: targets.dtype(), hint });
    }
    if targets.elem_count() != n_rows || targets.rank() > 1 {
        return Err(Error::ShapeMismatch {
            op,
            what: "one target per logits row",
            expected: format!("[{n_rows}]"),
            actual: format!("{:?}", targets.dims()),
        });
    }
    check_same_device(op, device, targets)?;
    let targets = targets.flatten_all().ctx("flattening the targets")?;
    Ok(targets.to_dtype(DType::I64).and_then(|t| t.contiguous()).ctx("converting the targets to i64")?)
}

/// Fails when `other` is not on `device`.
pub(crate) fn check_same_device(op: &'static str, device: &Device, other: &Tensor) -> Result<()> {
    if device.same_device(other.device()) {
        return Ok(());
    }
    Err(Error::DeviceMismatch { op, logits: device.location(), targets: other.device().location() })
}

/// Validates an optional per-class weight vector against the class count.
pub(crate) fn class_weights(
    op: &'static str,
    name: &'static str,
    weight: &Option<Vec<f64>>,
    n_classes: usize,
) -> Result<Option<Arc<[f64]>>> {
    let Some(weight) = weight else { return Ok(None) };
    if weight.len() != n_classes {
        return Err(Error::ShapeMismatch {
            op,
            what: if name == "pos_weight" { "one pos_weight per class" } else { "one weight per class" },
            expected: n_classes.to_string(),
            actual: weight.len().to_string(),
        });
    }
    if let Some(bad) = weight.iter().find(|w| !w.is_finite()) {
        return Err(Error::InvalidParameter { name, value: bad.to_string(), expected: "finite weights" });
    }
    Ok(Some(weight.as_slice().into()))
}

/// Fails unless `0 <= eps <= 1`.
pub(crate) fn check_smoothing(name: &'static str, eps: f64) -> Result<()> {
    if (0.0..=1.0).contains(&eps) {
        return Ok(());
    }
    Err(Error::InvalidParameter { name, value: eps.to_string(), expected: "a value in [0, 1]" })
}

/// Runs a custom op and recovers the detailed input error it recorded, if any.
pub(crate) fn apply(state: &OpState, context: &str, run: impl FnOnce() -> candle::Result<Tensor>) -> Result<Tensor> {
    run().map_err(|source| state.take_error().unwrap_or_else(|| Error::Candle { context: context.into(), source }))
}

/// The index of `axis` (negative counts from the end) in a tensor of `rank` dimensions.
pub(crate) fn axis_index(axis: isize, rank: usize) -> Result<usize> {
    let index = if axis < 0 { rank as isize + axis } else { axis };
    if index < 0 || index >= rank as isize {
        let expected = "an axis of the logits (negative counts from the end)";
        return Err(Error::InvalidParameter { name: "axis", value: format!("{axis} for rank {rank}"), expected });
    }
    Ok(index as usize)
}

/// Moves `axis` to the end (keeping the order of the other axes) and makes the result contiguous.
pub(crate) fn move_axis_last(tensor: &Tensor, axis: usize) -> Result<Tensor> {
    let rank = tensor.rank();
    if axis + 1 == rank {
        return Ok(tensor.contiguous().ctx("making the logits contiguous")?);
    }
    let mut order: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
    order.push(axis);
    Ok(tensor.permute(order).and_then(|t| t.contiguous()).ctx("moving the class axis last")?)
}
