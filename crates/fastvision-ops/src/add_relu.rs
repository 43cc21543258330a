//! `relu(a + b)` as one candle custom op (the end of every ResNet block): one pass forward and one backward, where
//! the composition costs an add, a ReLU and, backward, a comparison, a cast and a product.

use candle::{CpuStorage, CustomOp2, DType, Layout, Shape, Storage, Tensor, WithDType};
use rayon::prelude::*;

use crate::context::CandleContext;
use crate::custom_op::cpu_slice;
use crate::error::{Error, Result};
use crate::float::Float;

const OP: &str = "add_relu";

/// Elements per parallel task: large enough to amortise scheduling, small enough to split a batch.
const CHUNK: usize = 1 << 16;

/// `max(a + b, 0)` elementwise, differentiable in both arguments; `a` and `b` must have the same shape, dtype and
/// device. Fused on the CPU in f32/f64, candle ops elsewhere.
///
/// ```
/// use candle::{Device, Tensor};
/// let a = Tensor::new(&[1f32, -2.0, 3.0], &Device::Cpu)?;
/// let b = Tensor::new(&[1f32, 1.0, -4.0], &Device::Cpu)?;
/// assert_eq!(fastvision_ops::add_relu(&a, &b)?.to_vec1::<f32>()?, [2.0, 0.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn add_relu(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.dims() != b.dims() {
        let expected = format!("it must match the first argument's shape {:?}", a.dims());
        return Err(Error::Shape { op: OP, what: "second argument", shape: b.dims().to_vec(), expected });
    }
    if a.dtype() != b.dtype() || a.device().location() != b.device().location() {
        let what = format!(
            "arguments are {:?} and {:?} on {:?} and {:?}",
            a.dtype(),
            b.dtype(),
            a.device().location(),
            b.device().location()
        );
        return Err(Error::Mismatch { op: OP, what });
    }
    let native = crate::path::cpu_native(a) && matches!(a.dtype(), DType::F32 | DType::F64);
    if !native {
        return Ok(a.add(b).and_then(|s| s.relu()).op_ctx(OP, "adding and applying ReLU")?);
    }
    let a = a.contiguous().op_ctx(OP, "making the first argument contiguous")?;
    let b = b.contiguous().op_ctx(OP, "making the second argument contiguous")?;
    Ok(crate::profile::timed("add_relu.forward", || a.apply_op2(&b, AddReluOp))
        .op_ctx(OP, "adding and applying ReLU")?)
}

fn forward<T: Float>(a: &[T], b: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); a.len()];
    y.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))).for_each(|(y, (a, b))| {
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            let v = a + b;
            // NaN propagates, as in PyTorch.
            *y = if v <= T::zero() { T::zero() } else { v };
        }
    });
    y
}

fn backward<T: Float>(y: &[T], dy: &[T]) -> Vec<T> {
    let mut g = vec![T::zero(); y.len()];
    g.par_chunks_mut(CHUNK).zip(y.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK))).for_each(|(g, (y, dy))| {
        for ((g, &y), &dy) in g.iter_mut().zip(y).zip(dy) {
            *g = dy.where_positive(y);
        }
    });
    g
}

struct AddReluOp;

impl CustomOp2 for AddReluOp {
    fn name(&self) -> &'static str {
        "fastvision-add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        // A second input of another dtype is refused by `cpu_slice` (candle's "unexpected dtype" error).
        crate::dispatch_float!(s1, OP, |F| {
            let y = forward::<F>(cpu_slice(s1, l1, OP)?, cpu_slice(s2, l2, OP)?);
            Ok((F::to_cpu_storage_owned(y), l1.shape().clone()))
        })
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let g = crate::profile::timed("add_relu.backward", || -> candle::Result<Tensor> {
            let (sy, ly) = y.storage_and_layout();
            let (sg, lg) = grad.storage_and_layout();
            let (Storage::Cpu(sy), Storage::Cpu(sg)) = (&*sy, &*sg) else {
                candle::bail!("{OP}: expected CPU tensors")
            };
            crate::dispatch_float!(sy, OP, |F| {
                let g = backward::<F>(cpu_slice(sy, ly, OP)?, cpu_slice(sg, lg, OP)?);
                Tensor::from_vec(g, y.shape(), y.device())
            })
        })?;
        Ok((a.track_op().then(|| g.clone()), b.track_op().then_some(g)))
    }
}
