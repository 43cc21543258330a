//! A tensor copied out of its storage's bytes by offset, sizes and strides, every index bounds-checked first: views
//! that share a storage and transposed (non-contiguous) tensors come out as PyTorch sees them.

use candle::{Device, Tensor};

use crate::tensors::{Source, TensorRef};
use crate::{Error, Result};

/// A view may have more elements than its storage only by broadcasting (stride 0); beyond this many elements that
/// would let a tiny file claim any amount of memory.
const MAX_BROADCAST_ELEMENTS: u64 = 1 << 24;

/// Bytes the storages read and the tensors gathered may take together, as a multiple of the file's size (plus a
/// floor). Views repeat their storage's bytes (tied weights twice or three times); a crafted file could otherwise
/// view one large storage from any number of tensors, or point many zip records at the same bytes.
pub(crate) struct Budget {
    left: u64,
}

impl Budget {
    pub(crate) fn for_file(file_len: u64) -> Self {
        Self { left: file_len.saturating_mul(8).saturating_add(256 << 20) }
    }

    /// Takes `bytes` for `what` (a tensor or a storage record) from the budget.
    pub(crate) fn spend(&mut self, source: Source, what: &str, bytes: u64) -> Result<()> {
        self.left = self.left.checked_sub(bytes).ok_or_else(|| Error::Limit {
            path: source.path.to_path_buf(),
            detail: format!("{what} would take the tensors past 8 times the file's size"),
        })?;
        Ok(())
    }
}

/// The tensor `name` described by `tensor`, from `storage`: its storage's bytes, `tensor.storage.numel` elements.
pub(crate) fn tensor(
    source: Source,
    name: &str,
    tensor: &TensorRef,
    storage: &[u8],
    budget: &mut Budget,
) -> Result<Tensor> {
    let kind = tensor.storage.kind;
    let dtype = kind.dtype.ok_or_else(|| Error::UnsupportedDtype {
        path: source.path.to_path_buf(),
        tensor: name.to_string(),
        dtype: format!("torch.{}", kind.name),
    })?;
    let elem = kind.elem_size;
    let available = (storage.len() / elem) as u64;
    let overflow = || source.bad_tensor(name, "its sizes, strides and offset overflow 64 bits");
    let numel = tensor.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)).ok_or_else(overflow)?;
    if numel == 0 {
        return Tensor::zeros(tensor.shape.as_slice(), dtype, &Device::Cpu).map_err(|e| candle_error(source, name, e));
    }
    let last =
        tensor.shape.iter().zip(&tensor.stride).try_fold(tensor.offset, |at, (&size, &stride)| {
            at.checked_add((size as u64 - 1).checked_mul(stride as u64)?)
        });
    let needed = last.and_then(|l| l.checked_add(1)).ok_or_else(overflow)?;
    if needed > available {
        return Err(Error::StorageTooShort { path: source.path.to_path_buf(), tensor: name.into(), needed, available });
    }
    if numel > available.max(MAX_BROADCAST_ELEMENTS) {
        let detail = format!(
            "{numel} elements from a storage of {available} (a broadcast view? call .contiguous() before saving)"
        );
        return Err(source.bad_tensor(name, detail));
    }
    budget.spend(source, &format!("tensor {name:?}"), numel * elem as u64)?;
    // Every index below is at most `last` < `available`, so the slicing cannot fail.
    let bytes = gather(storage, elem, tensor, numel as usize);
    Tensor::from_raw_buffer(&bytes, dtype, &tensor.shape, &Device::Cpu).map_err(|e| candle_error(source, name, e))
}

/// The tensor's elements in row-major order.
fn gather(storage: &[u8], elem: usize, tensor: &TensorRef, numel: usize) -> Vec<u8> {
    let start = tensor.offset as usize;
    if is_row_major(&tensor.shape, &tensor.stride) {
        return storage[start * elem..(start + numel) * elem].to_vec();
    }
    let rank = tensor.shape.len();
    let mut out = Vec::with_capacity(numel * elem);
    let mut index = vec![0usize; rank];
    let mut at = start;
    for _ in 0..numel {
        out.extend_from_slice(&storage[at * elem..(at + 1) * elem]);
        // An odometer over the indices, last dimension fastest.
        for dim in (0..rank).rev() {
            // Wrapping: a size-1 dimension may carry any stride, and stepping past it is undone at once.
            index[dim] += 1;
            at = at.wrapping_add(tensor.stride[dim]);
            if index[dim] < tensor.shape[dim] {
                break;
            }
            at = at.wrapping_sub(tensor.stride[dim].wrapping_mul(tensor.shape[dim]));
            index[dim] = 0;
        }
    }
    out
}

/// Whether the strides are the contiguous ones (size-1 dimensions may have any stride).
fn is_row_major(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&size, &stride) in shape.iter().zip(stride).rev() {
        if size != 1 && stride != expected {
            return false;
        }
        expected *= size;
    }
    true
}

fn candle_error(source: Source, name: &str, error: candle::Error) -> Error {
    Error::Tensor { path: source.path.to_path_buf(), tensor: name.into(), source: error }
}
