//! ReLU whose gradient is 0 at 0, PyTorch's rule (candle's own relu passes the gradient through at 0), as a CPU
//! custom op; other devices take candle's relu.

use candle::cpu_backend::{Map1, Map2};
use candle::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::context::CandleContext;
use crate::custom_op::contiguous;
use crate::error::Result;

/// ReLU with PyTorch's gradient on the CPU (any float dtype); candle's relu elsewhere.
pub fn relu(xs: &Tensor) -> Result<Tensor> {
    if crate::path::cpu_native(xs) {
        let xs = xs.contiguous().op_ctx("relu", "making the input contiguous")?;
        Ok(xs.apply_op1(Relu).op_ctx("relu", "applying ReLU")?)
    } else {
        Ok(xs.relu().op_ctx("relu", "applying candle's ReLU")?)
    }
}

/// Elements per rayon task in element-wise ops: small enough to split a ResNet activation over 2-16 cores.
const CHUNK: usize = 1 << 14;

/// ReLU whose gradient is 0 at 0 (PyTorch's rule; candle's own relu passes the gradient through at 0).
#[derive(Debug, Clone, Copy)]
struct Relu;

impl Map1 for Relu {
    fn f<T: WithDType>(&self, vs: &[T], layout: &Layout) -> candle::Result<Vec<T>> {
        let vs = contiguous(vs, layout, "relu")?;
        let mut out = vec![T::zero(); vs.len()];
        out.par_chunks_mut(CHUNK).zip(vs.par_chunks(CHUNK)).for_each(|(out, vs)| {
            for (o, &v) in out.iter_mut().zip(vs) {
                // NaN propagates, as in PyTorch.
                #[allow(clippy::eq_op)]
                let keep = v > T::zero() || v != v;
                *o = if keep { v } else { T::zero() };
            }
        });
        Ok(out)
    }
}

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "fastvision-relu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        Ok((self.map(storage, layout)?, layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> candle::Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad_res.contiguous()?, &ReluBackward)?))
    }
}

/// The gradient of [`Relu`]: `grad` where the output is positive, else 0.
#[derive(Debug, Clone, Copy)]
struct ReluBackward;

impl Map2 for ReluBackward {
    const OP: &'static str = "relu_backward";

    fn f<T: WithDType>(&self, res: &[T], l1: &Layout, grad: &[T], l2: &Layout) -> candle::Result<Vec<T>> {
        let res = contiguous(res, l1, Self::OP)?;
        let grad = contiguous(grad, l2, Self::OP)?;
        let mut out = vec![T::zero(); res.len()];
        out.par_chunks_mut(CHUNK).zip(res.par_chunks(CHUNK)).zip(grad.par_chunks(CHUNK)).for_each(
            |((out, res), grad)| {
                for ((o, &r), &g) in out.iter_mut().zip(res).zip(grad) {
                    *o = if r > T::zero() { g } else { T::zero() };
                }
            },
        );
        Ok(out)
    }
}

impl CustomOp2 for ReluBackward {
    fn name(&self) -> &'static str {
        "fastvision-relu-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        Ok((self.map(s1, l1, s2, l2)?, l1.shape().clone()))
    }
}
