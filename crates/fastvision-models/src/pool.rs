//! Pooling that trains: max pooling with padding (candle's has neither padding nor a backward when kernel ≠ stride)
//! and adaptive average / max / concat pooling (candle has none), on every device.

use candle::{DType, Tensor};
use fastvision_ops::pool::PoolGeom;

use crate::error::{Context, Error, Result};

/// Max pooling over N×C×H×W with a square `kernel`, `stride` and zero-free `padding` (padded cells never win),
/// like `torch.nn.MaxPool2d(kernel, stride, padding)`. The gradient goes to the first maximum of each window.
///
/// On the CPU, and on CUDA in f32 with the `cuda` feature (`pool.cu`), one custom op; elsewhere a composition of
/// candle ops (ties then share the gradient).
pub fn max_pool2d(xs: &Tensor, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
    let geom = PoolGeom { kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding) };
    check_geom(xs, &geom)?;
    max_pool2d_geom(xs, geom).ctx("max_pool2d")
}

fn check_geom(xs: &Tensor, geom: &PoolGeom) -> Result<()> {
    let (k, s, p) = (geom.kernel.0, geom.stride.0, geom.padding.0);
    if k == 0 || s == 0 || 2 * p > k {
        let value = format!("kernel {k}, stride {s}, padding {p}");
        let reason = "kernel and stride must be at least 1 and padding at most half the kernel";
        return Err(Error::InvalidParameter { name: "max_pool2d geometry", value, reason });
    }
    match xs.dims() {
        [_, _, h, w] if h + 2 * p >= k && w + 2 * p >= k => Ok(()),
        dims => Err(Error::BadInput {
            model: "max_pool2d".into(),
            expected: format!("an N×C×H×W tensor with H, W + 2·padding ≥ {k}"),
            actual: dims.to_vec(),
        }),
    }
}

/// [`max_pool2d`] with per-axis geometry and no argument checks (callers own valid shapes).
pub(crate) fn max_pool2d_geom(xs: &Tensor, geom: PoolGeom) -> candle::Result<Tensor> {
    if fastvision_ops::path::cpu_native(xs) || cuda_native(xs, &geom) {
        Ok(fastvision_ops::pool::max_pool2d(xs, geom)?)
    } else {
        max_pool2d_composed(xs, geom)
    }
}

/// Whether `pool.cu` takes this pooling: a `cuda` build, an f32 CUDA tensor, square windows, the generic path not
/// forced.
fn cuda_native(xs: &Tensor, geom: &PoolGeom) -> bool {
    cfg!(feature = "cuda")
        && xs.device().is_cuda()
        && xs.dtype() == DType::F32
        && geom.kernel.0 == geom.kernel.1
        && geom.stride.0 == geom.stride.1
        && geom.padding.0 == geom.padding.1
        && !fastvision_ops::path::generic_forced()
}

/// Max pooling from candle ops only (pad with -inf, take each of the k×k strided views, elementwise maximum), so
/// it runs and trains on any device. Also the reference the custom op is tested against.
pub(crate) fn max_pool2d_composed(xs: &Tensor, geom: PoolGeom) -> candle::Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    let (oh, ow) = geom.out_hw(h, w);
    let ((kh, kw), (sh, sw), (ph, pw)) = (geom.kernel, geom.stride, geom.padding);
    // Extra `stride` cells at the end so every view can be reshaped into (out, stride) pairs.
    let padded = pad_neg_inf(xs, 2, ph, ph + sh)?;
    let padded = pad_neg_inf(&padded, 3, pw, pw + sw)?;
    let mut best: Option<Tensor> = None;
    for dy in 0..kh {
        for dx in 0..kw {
            let view = padded
                .narrow(2, dy, oh * sh)?
                .narrow(3, dx, ow * sw)?
                .reshape((n, c, oh, sh, ow, sw))?
                .narrow(3, 0, 1)?
                .narrow(5, 0, 1)?
                .reshape((n, c, oh, ow))?;
            best = Some(match best {
                None => view,
                Some(b) => b.maximum(&view)?,
            });
        }
    }
    best.ok_or_else(|| candle::Error::Msg("max_pool2d with an empty kernel".into()))
}

fn pad_neg_inf(xs: &Tensor, dim: usize, before: usize, after: usize) -> candle::Result<Tensor> {
    let mut dims = xs.dims().to_vec();
    let block = |len: usize, dims: &mut Vec<usize>| {
        dims[dim] = len;
        Tensor::full(f32::NEG_INFINITY, dims.as_slice(), xs.device())?.to_dtype(xs.dtype())
    };
    let mut parts = Vec::with_capacity(3);
    if before > 0 {
        parts.push(block(before, &mut dims)?);
    }
    parts.push(xs.clone());
    if after > 0 {
        parts.push(block(after, &mut dims)?);
    }
    Tensor::cat(&parts, dim)
}

/// `torch.nn.AdaptiveAvgPool2d(out)`: averages each of `out.0`×`out.1` bins (bin `i` of `n` cells spans
/// `floor(i·n/out) .. ceil((i+1)·n/out)`).
pub fn adaptive_avg_pool2d(xs: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    check_adaptive(xs, out, "adaptive_avg_pool2d")?;
    adaptive_pool(xs, out, Reduce::Mean).ctx("adaptive_avg_pool2d")
}

/// `torch.nn.AdaptiveMaxPool2d(out)`: the maximum of each bin (bins as in [`adaptive_avg_pool2d`]).
pub fn adaptive_max_pool2d(xs: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    check_adaptive(xs, out, "adaptive_max_pool2d")?;
    adaptive_pool(xs, out, Reduce::Max).ctx("adaptive_max_pool2d")
}

/// fastai's `AdaptiveConcatPool2d(out)`: `cat([max_pool, avg_pool], dim 1)`, so 2·C channels, max first.
/// The learner's head uses `out = (1, 1)`; other sizes work too.
pub fn adaptive_concat_pool2d(xs: &Tensor, out: (usize, usize)) -> Result<Tensor> {
    check_adaptive(xs, out, "adaptive_concat_pool2d")?;
    concat_pool(xs, out).ctx("adaptive_concat_pool2d")
}

pub(crate) fn concat_pool(xs: &Tensor, out: (usize, usize)) -> candle::Result<Tensor> {
    let max = adaptive_pool(xs, out, Reduce::Max)?;
    let avg = adaptive_pool(xs, out, Reduce::Mean)?;
    Tensor::cat(&[max, avg], 1)
}

fn check_adaptive(xs: &Tensor, out: (usize, usize), op: &str) -> Result<()> {
    match xs.dims() {
        [_, _, h, w] if out.0 >= 1 && out.1 >= 1 && *h >= 1 && *w >= 1 => Ok(()),
        dims => Err(Error::BadInput {
            model: op.into(),
            expected: format!("an N×C×H×W tensor with H, W ≥ 1 and output size {out:?} ≥ (1, 1)"),
            actual: dims.to_vec(),
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduce {
    Mean,
    Max,
}

pub(crate) fn adaptive_pool(xs: &Tensor, (oh, ow): (usize, usize), reduce: Reduce) -> candle::Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    if h % oh == 0 && w % ow == 0 {
        return uniform_pool(xs, (h / oh, w / ow), reduce);
    }
    let mut rows = Vec::with_capacity(oh);
    for i in 0..oh {
        let (y0, y1) = (i * h / oh, ((i + 1) * h).div_ceil(oh));
        let mut cells = Vec::with_capacity(ow);
        for j in 0..ow {
            let (x0, x1) = (j * w / ow, ((j + 1) * w).div_ceil(ow));
            let bin = xs.narrow(2, y0, y1 - y0)?.narrow(3, x0, x1 - x0)?;
            cells.push(uniform_pool(&bin, (y1 - y0, x1 - x0), reduce)?);
        }
        rows.push(Tensor::cat(&cells, 3)?);
    }
    Tensor::cat(&rows, 2)?.reshape((n, c, oh, ow))
}

/// Pooling with non-overlapping `kh`×`kw` windows that tile the input exactly.
fn uniform_pool(xs: &Tensor, (kh, kw): (usize, usize), reduce: Reduce) -> candle::Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    match reduce {
        Reduce::Mean if kh == h && kw == w => {
            // Global average: accumulate half-precision inputs in f32.
            let dtype = xs.dtype();
            let work = if matches!(dtype, DType::F16 | DType::BF16) { xs.to_dtype(DType::F32)? } else { xs.clone() };
            work.mean_keepdim((2, 3))?.to_dtype(dtype)
        }
        Reduce::Mean => {
            xs.reshape((n, c, h / kh, kh, w / kw, kw))?.mean_keepdim((3, 5))?.reshape((n, c, h / kh, w / kw))
        }
        Reduce::Max => {
            let geom = PoolGeom { kernel: (kh, kw), stride: (kh, kw), padding: (0, 0) };
            if fastvision_ops::path::cpu_native(xs) {
                max_pool2d_geom(xs, geom)
            } else {
                // Not candle's `max_pool2d`: its backward (candle-core 0.11 backprop.rs) scales the gradient by
                // (number of maxima)/k², 1/49 for the head's 7×7 pool at 224 px. A max over both window axes
                // sends the whole gradient to the maximum, as PyTorch does (ties, rare in floats, each get it).
                xs.reshape((n, c, h / kh, kh, w / kw, kw))?.max_keepdim(5)?.max_keepdim(3)?.reshape((
                    n,
                    c,
                    h / kh,
                    w / kw,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests;
