//! Max pooling with padding and PyTorch's first-maximum gradient as a candle custom op (the ResNet stem; candle's
//! own has no padding and no backward when kernel ≠ stride): the forward records each window's argmax, the
//! backward scatters onto it. On the CPU, and on CUDA in f32 with feature `cuda` (`pool.cu`, [`launch`]); other
//! devices are the models crate's composition of candle ops.

use std::sync::{Arc, Mutex};

use candle::cpu_backend::{Map1, Map2};
use candle::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::context::CandleContext;
use crate::custom_op::contiguous;
use crate::error::Result;

#[cfg(feature = "cuda")]
mod cuda;
pub mod launch;

/// Max pooling over a contiguous-or-not N×C×H×W tensor on the CPU (any float dtype) or, with feature `cuda`, on
/// CUDA in f32 with square windows. The caller checks the geometry against the input (the models crate's
/// `max_pool2d` does) and picks this op or its own composition for other devices.
pub fn max_pool2d(xs: &Tensor, geom: PoolGeom) -> Result<Tensor> {
    let xs = xs.contiguous().op_ctx("max_pool2d", "making the input contiguous")?;
    Ok(xs.apply_op1(MaxPool::new(geom)).op_ctx("max_pool2d", "pooling")?)
}

/// Kernel, stride and padding of a 2-D pooling window, per axis (height, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    /// Window height and width.
    pub kernel: (usize, usize),
    /// Step between windows, per axis.
    pub stride: (usize, usize),
    /// Cells of implicit padding (never the maximum) before and after, per axis.
    pub padding: (usize, usize),
}

impl PoolGeom {
    /// Output height and width for an `h`×`w` input (floor mode, like PyTorch's default `ceil_mode=False`).
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let out = |n: usize, k: usize, s: usize, p: usize| (n + 2 * p - k) / s + 1;
        (out(h, self.kernel.0, self.stride.0, self.padding.0), out(w, self.kernel.1, self.stride.1, self.padding.1))
    }

    /// The flat index (within one `h`×`w` plane) of the first maximum of output cell (`oy`, `ox`), PyTorch's rule:
    /// a later value wins only when strictly greater (or NaN).
    fn argmax<T: WithDType>(&self, plane: &[T], h: usize, w: usize, oy: usize, ox: usize) -> usize {
        let y0 = (oy * self.stride.0) as isize - self.padding.0 as isize;
        let x0 = (ox * self.stride.1) as isize - self.padding.1 as isize;
        let (ys, ye) = (y0.max(0) as usize, ((y0 + self.kernel.0 as isize) as usize).min(h));
        let (xs, xe) = (x0.max(0) as usize, ((x0 + self.kernel.1 as isize) as usize).min(w));
        let mut best = ys * w + xs;
        let mut best_val = plane[best];
        for y in ys..ye {
            for (x, &v) in plane[y * w + xs..y * w + xe].iter().enumerate() {
                #[allow(clippy::eq_op)] // v != v is the generic NaN test
                if v > best_val || v != v {
                    best_val = v;
                    best = y * w + xs + x;
                }
            }
        }
        best
    }

    /// [`MaxPool`]'s forward pass over one f32 `h`×`w` plane: maxima into `out` (`oh`×`ow`), their flat indices into
    /// `argmax`. The columns whose window lies inside the row are done a row of outputs at a time, one window cell
    /// after the other, with selects instead of branches: a branch on which value wins is mispredicted often, and
    /// one output's comparisons form one dependent chain, whereas a row's outputs are independent and vectorise.
    /// Each output still sees its window's cells in [`PoolGeom::argmax`]'s order with its rule: same results.
    fn pool_plane_f32(&self, plane: &[f32], (h, w): (usize, usize), out: &mut [f32], argmax: &mut [u32]) {
        let (oh, ow) = self.out_hw(h, w);
        let ((kh, kw), (sh, sw), (ph, pw)) = (self.kernel, self.stride, self.padding);
        // Interior columns `lo..hi`: ox·sw ≥ pw and ox·sw - pw + kw ≤ w.
        let lo = pw.div_ceil(sw).min(ow);
        let hi = if w + pw >= kw { ((w + pw - kw) / sw + 1).min(ow) } else { 0 }.max(lo);
        let mut cells = vec![0f32; hi - lo];
        for oy in 0..oh {
            let (out, argmax) = (&mut out[oy * ow..(oy + 1) * ow], &mut argmax[oy * ow..(oy + 1) * ow]);
            for ox in (0..lo).chain(hi..ow) {
                let best = self.argmax(plane, h, w, oy, ox);
                (out[ox], argmax[ox]) = (plane[best], best as u32);
            }
            if lo == hi {
                continue;
            }
            let y0 = (oy * sh) as isize - ph as isize;
            let (ys, ye) = (y0.max(0) as usize, ((y0 + kh as isize) as usize).min(h));
            let (best_val, best_idx) = (&mut out[lo..hi], &mut argmax[lo..hi]);
            let x0 = lo * sw - pw;
            for (j, (v, i)) in best_val.iter_mut().zip(best_idx.iter_mut()).enumerate() {
                let first = ys * w + x0 + j * sw;
                (*v, *i) = (plane[first], first as u32);
            }
            for y in ys..ye {
                for dx in 0..kw {
                    let start = y * w + x0 + dx;
                    // The window cells of every output in a contiguous buffer, so the loop below vectorises.
                    let src = &plane[start..start + (cells.len() - 1) * sw + 1];
                    for (j, c) in cells.iter_mut().enumerate() {
                        *c = src[j * sw];
                    }
                    let (start, sw) = (start as u32, sw as u32);
                    for (j, ((v, i), &c)) in best_val.iter_mut().zip(best_idx.iter_mut()).zip(&cells).enumerate() {
                        let take = (c > *v) | c.is_nan();
                        let mask = 0u32.wrapping_sub(u32::from(take));
                        *v = f32::from_bits((v.to_bits() & !mask) | (c.to_bits() & mask));
                        *i = (*i & !mask) | ((start + j as u32 * sw) & mask);
                    }
                }
            }
        }
    }
}

/// Max pooling over N×C×H×W with padding; the gradient goes to the first maximum of each window, like PyTorch.
/// The forward pass records each window's argmax, so the backward pass is a plain scatter instead of a second
/// search (it was half of the pooling's cost in a ResNet training step).
#[derive(Debug)]
struct MaxPool {
    geom: PoolGeom,
    /// Flat index within its input plane of every output's maximum, filled by the forward pass.
    argmax: Mutex<Option<Arc<[u32]>>>,
    /// The same, on the GPU, when the forward ran there (`pool.cu`).
    #[cfg(feature = "cuda")]
    device_argmax: Mutex<Option<cuda::DeviceArgmax>>,
}

impl MaxPool {
    fn new(geom: PoolGeom) -> Self {
        Self {
            geom,
            argmax: Mutex::new(None),
            #[cfg(feature = "cuda")]
            device_argmax: Mutex::new(None),
        }
    }
}

impl MaxPool {
    /// The forward pass over contiguous planes: `plane(input plane, output plane, its argmax)` on each, in parallel.
    fn forward<T: WithDType>(
        &self,
        vs: &[T],
        layout: &Layout,
        plane: impl Fn(&[T], &mut [T], &mut [u32]) + Sync,
    ) -> candle::Result<Vec<T>> {
        let vs = contiguous(vs, layout, "max_pool2d")?;
        let (_, _, h, w) = layout.shape().dims4()?;
        if h * w > u32::MAX as usize {
            candle::bail!("max_pool2d: a {h}×{w} plane is too large");
        }
        let (oh, ow) = self.geom.out_hw(h, w);
        let n_out = vs.len() / (h * w) * oh * ow;
        let (mut out, mut argmax) = (vec![T::zero(); n_out], vec![0u32; n_out]);
        out.par_chunks_mut(oh * ow)
            .zip(argmax.par_chunks_mut(oh * ow))
            .zip(vs.par_chunks(h * w))
            .for_each(|((out, argmax), vs)| plane(vs, out, argmax));
        *self.argmax.lock().unwrap_or_else(|e| e.into_inner()) = Some(argmax.into());
        Ok(out)
    }
}

impl Map1 for MaxPool {
    fn f<T: WithDType>(&self, vs: &[T], layout: &Layout) -> candle::Result<Vec<T>> {
        let (_, _, h, w) = layout.shape().dims4()?;
        let (oh, ow) = self.geom.out_hw(h, w);
        self.forward(vs, layout, |plane, out, argmax| {
            for oy in 0..oh {
                for ox in 0..ow {
                    let best = self.geom.argmax(plane, h, w, oy, ox);
                    out[oy * ow + ox] = plane[best];
                    argmax[oy * ow + ox] = best as u32;
                }
            }
        })
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "fastvision-max-pool2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = layout.shape().dims4()?;
        let (oh, ow) = self.geom.out_hw(h, w);
        let out = match storage {
            CpuStorage::F32(vs) => CpuStorage::F32(
                self.forward(vs, layout, |plane, out, argmax| self.geom.pool_plane_f32(plane, (h, w), out, argmax))?,
            ),
            _ => self.map(storage, layout)?,
        };
        Ok((out, Shape::from((n, c, oh, ow))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, storage: &candle::CudaStorage, layout: &Layout) -> candle::Result<(candle::CudaStorage, Shape)> {
        let (out, shape, argmax) = cuda::forward(&self.geom, storage, layout)?;
        *self.device_argmax.lock().unwrap_or_else(|e| e.into_inner()) = Some(argmax);
        Ok((out, shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle::Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        #[cfg(feature = "cuda")]
        if arg.device().is_cuda() {
            let argmax = self.device_argmax.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let Some(argmax) = argmax else { candle::bail!("max_pool2d backward on CUDA without its forward") };
            let op = MaxPoolGather { geom: self.geom, argmax, input: arg.shape().clone() };
            return Ok(Some(grad.apply_op1_no_bwd(&op)?));
        }
        let argmax = self.argmax.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let grad = match argmax {
            Some(argmax) if argmax.len() == grad.elem_count() => {
                grad.apply_op1_no_bwd(&MaxPoolScatter { argmax, input: arg.shape().clone() })?
            }
            // No recorded forward (not expected): search the windows again.
            _ => arg.apply_op2_no_bwd(&grad, &MaxPoolBackward(self.geom))?,
        };
        Ok(Some(grad))
    }
}

/// The gradient of [`MaxPool`] on CUDA from the argmax its forward recorded there (`pool.cu`'s gather).
#[cfg(feature = "cuda")]
struct MaxPoolGather {
    geom: PoolGeom,
    argmax: cuda::DeviceArgmax,
    input: Shape,
}

#[cfg(feature = "cuda")]
impl CustomOp1 for MaxPoolGather {
    fn name(&self) -> &'static str {
        "fastvision-max-pool2d-gather"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        candle::bail!("fastvision-max-pool2d-gather runs on CUDA only")
    }

    fn cuda_fwd(&self, storage: &candle::CudaStorage, layout: &Layout) -> candle::Result<(candle::CudaStorage, Shape)> {
        let dx = cuda::backward(&self.geom, &self.argmax, &self.input, storage, layout)?;
        Ok((dx, self.input.clone()))
    }
}

/// The gradient of [`MaxPool`] from its recorded argmax: each output gradient added onto its window's maximum.
#[derive(Debug)]
struct MaxPoolScatter {
    argmax: Arc<[u32]>,
    input: Shape,
}

impl Map1 for MaxPoolScatter {
    fn f<T: WithDType>(&self, grad: &[T], layout: &Layout) -> candle::Result<Vec<T>> {
        let grad = contiguous(grad, layout, "max_pool2d_backward")?;
        let (_, _, h, w) = self.input.dims4()?;
        let (_, _, oh, ow) = layout.shape().dims4()?;
        let mut out = vec![T::zero(); self.input.elem_count()];
        out.par_chunks_mut(h * w).zip(grad.par_chunks(oh * ow)).zip(self.argmax.par_chunks(oh * ow)).for_each(
            |((out, grad), argmax)| {
                for (&g, &i) in grad.iter().zip(argmax) {
                    out[i as usize] += g;
                }
            },
        );
        Ok(out)
    }
}

impl CustomOp1 for MaxPoolScatter {
    fn name(&self) -> &'static str {
        "fastvision-max-pool2d-scatter"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle::Result<(CpuStorage, Shape)> {
        Ok((self.map(storage, layout)?, self.input.clone()))
    }
}

/// The gradient of [`MaxPool`] without a recorded argmax: scatters each output gradient onto its window's first
/// maximum.
#[derive(Debug, Clone, Copy)]
struct MaxPoolBackward(PoolGeom);

impl Map2 for MaxPoolBackward {
    const OP: &'static str = "max_pool2d_backward";

    fn f<T: WithDType>(&self, arg: &[T], l1: &Layout, grad: &[T], l2: &Layout) -> candle::Result<Vec<T>> {
        let arg = contiguous(arg, l1, Self::OP)?;
        let grad = contiguous(grad, l2, Self::OP)?;
        let (_, _, h, w) = l1.shape().dims4()?;
        let (_, _, oh, ow) = l2.shape().dims4()?;
        let mut out = vec![T::zero(); arg.len()];
        out.par_chunks_mut(h * w).zip(arg.par_chunks(h * w)).zip(grad.par_chunks(oh * ow)).for_each(
            |((out, plane), grad)| {
                for oy in 0..oh {
                    for ox in 0..ow {
                        out[self.0.argmax(plane, h, w, oy, ox)] += grad[oy * ow + ox];
                    }
                }
            },
        );
        Ok(out)
    }
}

impl CustomOp2 for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "fastvision-max-pool2d-backward"
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
