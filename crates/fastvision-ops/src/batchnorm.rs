//! BatchNorm (optionally followed by ReLU) as fused candle custom ops with hand-written backward passes: one pass
//! for the forward output and two for all three gradients, instead of the ten-odd tensors the unfused composition
//! allocates.

mod kernels;

use std::sync::Arc;

use candle::backend::BackendStorage;
use candle::{CpuStorage, CustomOp3, DType, Layout, Shape, Storage, Tensor, WithDType};

use crate::context::CandleContext;
use crate::custom_op::cpu_slice;
use crate::error::{Error, Result};
use crate::float::Float;
use kernels::Dims;

const OP_TRAIN: &str = "batch_norm_train";
const OP_EVAL: &str = "batch_norm_eval";

/// The batch statistics a training-mode BatchNorm normalised with, for the caller's running-average update.
#[derive(Debug, Clone)]
pub struct BatchStats {
    /// Per-channel mean (shape C, the input's dtype, detached).
    pub mean: Tensor,
    /// Per-channel biased variance, the one used to normalise (shape C, detached).
    pub var: Tensor,
    /// Values per channel the statistics were taken over (N·H·W).
    pub count: usize,
}

impl BatchStats {
    /// The unbiased variance `var · n/(n-1)`, which PyTorch folds into `running_var`.
    pub fn unbiased_var(&self) -> Result<Tensor> {
        let n = self.count as f64;
        Ok((&self.var * (n / (n - 1.0).max(1.0))).op_ctx(OP_TRAIN, "scaling the variance")?)
    }
}

/// The settings of [`batch_norm_train`] and [`batch_norm_eval`].
///
/// [`Default`] is PyTorch's `nn.BatchNorm2d`: eps 1e-5, no activation. ResNets fuse the ReLU that follows most of
/// their BatchNorms:
///
/// ```
/// use fastvision_ops::{Activation, BatchNormConfig};
/// let config = BatchNormConfig::default().with_activation(Activation::Relu);
/// assert_eq!(config, BatchNormConfig { eps: 1e-5, activation: Activation::Relu });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before its square root (PyTorch's default 1e-5); finite and at least 0.
    pub eps: f64,
    /// Applied to the normalised output in the same pass (default [`Activation::Identity`]).
    pub activation: Activation,
}

/// What a fused op applies to its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// Nothing: the output as computed.
    #[default]
    Identity,
    /// `max(0, y)`, with PyTorch's gradient of 0 at 0.
    Relu,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        Self { eps: 1e-5, activation: Activation::Identity }
    }
}

impl BatchNormConfig {
    /// This config with `eps`.
    pub const fn with_eps(self, eps: f64) -> Self {
        Self { eps, ..self }
    }

    /// This config with `activation`.
    pub const fn with_activation(self, activation: Activation) -> Self {
        Self { activation, ..self }
    }

    fn relu(&self) -> bool {
        self.activation == Activation::Relu
    }
}

/// Training-mode BatchNorm over dim 1 of `xs` (N×C×…), normalised with the batch's mean and biased variance, then
/// `weight·x̂ + bias`, then the config's activation. Returns the output and the batch statistics (the running-average
/// update is the caller's: `running = (1-momentum)·running + momentum·stat`, with [`BatchStats::unbiased_var`]).
///
/// Differentiable in `xs`, `weight` and `bias`. On the CPU in f32/f64 it is one fused op; elsewhere the same formula
/// in candle ops.
///
/// ```
/// use candle::{Device, Tensor};
/// let xs = Tensor::new(&[[1f32, 3.0], [3.0, 5.0]], &Device::Cpu)?; // N=2, C=2
/// let ones = Tensor::ones(2, candle::DType::F32, &Device::Cpu)?;
/// let zeros = Tensor::zeros(2, candle::DType::F32, &Device::Cpu)?;
/// let config = fastvision_ops::BatchNormConfig::default().with_activation(fastvision_ops::Activation::Relu);
/// let (ys, stats) = fastvision_ops::batch_norm_train(&xs, &ones, &zeros, &config)?;
/// assert_eq!(stats.mean.to_vec1::<f32>()?, [2.0, 4.0]);
/// let ys = ys.to_vec2::<f32>()?;
/// assert_eq!(ys[0], [0.0, 0.0]); // below the mean: ReLU'd away
/// assert!((ys[1][0] - 1.0).abs() < 1e-4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn batch_norm_train(
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    config: &BatchNormConfig,
) -> Result<(Tensor, BatchStats)> {
    let (eps, relu) = (config.eps, config.relu());
    let dims = check(OP_TRAIN, xs, &[("weight", weight), ("bias", bias)], eps)?;
    if dims.n * dims.r < 2 {
        return Err(Error::Shape {
            op: OP_TRAIN,
            what: "input",
            shape: xs.dims().to_vec(),
            expected: "training needs more than one value per channel".into(),
        });
    }
    if !all_native(&[xs, weight, bias]) {
        return composed_train(xs, weight, bias, eps, relu);
    }
    crate::profile::timed("batch_norm.forward", || train_native(xs, weight, bias, eps, relu, dims))
}

fn train_native(
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    eps: f64,
    relu: bool,
    dims: Dims,
) -> Result<(Tensor, BatchStats)> {
    let xs = xs.contiguous().op_ctx(OP_TRAIN, "making the input contiguous")?;
    let stats = Arc::new(with_slice(&xs, |x| kernels::stats(x, dims, eps), |x| kernels::stats(x, dims, eps))?);
    let to_tensor = |v: &[f64]| {
        Tensor::from_vec(v.to_vec(), v.len(), xs.device())
            .and_then(|t| t.to_dtype(xs.dtype()))
            .op_ctx(OP_TRAIN, "building the statistics")
    };
    let batch = BatchStats { mean: to_tensor(&stats.mean)?, var: to_tensor(&stats.var)?, count: dims.n * dims.r };
    let weight = weight.contiguous().op_ctx(OP_TRAIN, "making the weight contiguous")?;
    let bias = bias.contiguous().op_ctx(OP_TRAIN, "making the bias contiguous")?;
    let op = TrainOp { stats, dims, relu };
    let ys = xs.apply_op3(&weight, &bias, op).op_ctx(OP_TRAIN, "normalising")?;
    Ok((ys, batch))
}

/// Eval-mode BatchNorm: `(x - running_mean)/sqrt(running_var + eps)·weight + bias`, then the config's activation,
/// as one fused per-channel affine op (differentiable in `xs`, `weight` and `bias`; the running statistics are
/// constants).
pub fn batch_norm_eval(
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    config: &BatchNormConfig,
) -> Result<Tensor> {
    let (eps, relu) = (config.eps, config.relu());
    let others = [("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)];
    let dims = check(OP_EVAL, xs, &others, eps)?;
    let inv_std = (running_var.detach() + eps)
        .and_then(|v| v.sqrt())
        .and_then(|v| v.recip())
        .op_ctx(OP_EVAL, "computing 1/std")?;
    let scale = weight.mul(&inv_std).op_ctx(OP_EVAL, "computing the scale")?;
    let shift =
        bias.sub(&running_mean.detach().mul(&scale).op_ctx(OP_EVAL, "shifting")?).op_ctx(OP_EVAL, "shifting")?;
    channel_affine(xs, &scale, &shift, dims, relu)
}

/// `xs·scale + shift` per channel (dim 1), then ReLU when `relu`.
fn channel_affine(xs: &Tensor, scale: &Tensor, shift: &Tensor, dims: Dims, relu: bool) -> Result<Tensor> {
    if !all_native(&[xs, scale, shift]) {
        let shape = per_channel_shape(xs);
        let scale = scale.reshape(shape.as_slice()).op_ctx(OP_EVAL, "reshaping the scale")?;
        let shift = shift.reshape(shape.as_slice()).op_ctx(OP_EVAL, "reshaping the shift")?;
        let ys = xs.broadcast_mul(&scale).and_then(|y| y.broadcast_add(&shift)).op_ctx(OP_EVAL, "scaling")?;
        return if relu { Ok(ys.relu().op_ctx(OP_EVAL, "applying ReLU")?) } else { Ok(ys) };
    }
    let xs = xs.contiguous().op_ctx(OP_EVAL, "making the input contiguous")?;
    let scale = scale.contiguous().op_ctx(OP_EVAL, "making the scale contiguous")?;
    let shift = shift.contiguous().op_ctx(OP_EVAL, "making the shift contiguous")?;
    Ok(crate::profile::timed("batch_norm_eval.forward", || xs.apply_op3(&scale, &shift, AffineOp { dims, relu }))
        .op_ctx(OP_EVAL, "scaling")?)
}

/// Validates shapes, devices, dtypes and eps; returns the N×C×R view of `xs`.
fn check(op: &'static str, xs: &Tensor, per_channel: &[(&'static str, &Tensor)], eps: f64) -> Result<Dims> {
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(Error::Parameter { op, name: "eps", value: eps.to_string(), reason: "must be finite and >= 0" });
    }
    let d = xs.dims();
    if d.len() < 2 || d[1] == 0 {
        let expected = "it must be N×C×… with at least two dims and C > 0".into();
        return Err(Error::Shape { op, what: "input", shape: d.to_vec(), expected });
    }
    for (what, t) in per_channel {
        if t.dims() != [d[1]] {
            let expected = format!("it must hold one value per channel: shape [{}]", d[1]);
            return Err(Error::Shape { op, what, shape: t.dims().to_vec(), expected });
        }
        if t.dtype() != xs.dtype() || t.device().location() != xs.device().location() {
            let what = format!(
                "{what} is {:?} on {:?}, input is {:?} on {:?}",
                t.dtype(),
                t.device().location(),
                xs.dtype(),
                xs.device().location()
            );
            return Err(Error::Mismatch { op, what });
        }
    }
    Ok(Dims { n: d[0], c: d[1], r: d[2..].iter().product() })
}

fn all_native(ts: &[&Tensor]) -> bool {
    ts.iter().all(|t| crate::path::cpu_native(t) && matches!(t.dtype(), DType::F32 | DType::F64))
}

fn per_channel_shape(xs: &Tensor) -> Vec<usize> {
    (0..xs.rank()).map(|d| if d == 1 { xs.dims()[1] } else { 1 }).collect()
}

/// The unfused formula in candle ops, for devices and dtypes without a fused kernel (statistics in f32 at least).
fn composed_train(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64, relu: bool) -> Result<(Tensor, BatchStats)> {
    let go = || -> candle::Result<(Tensor, BatchStats)> {
        let dtype = xs.dtype();
        let work = if matches!(dtype, DType::F16 | DType::BF16) { DType::F32 } else { dtype };
        let x = xs.to_dtype(work)?;
        let shape = per_channel_shape(&x);
        let reduce: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
        let mean = x.mean_keepdim(reduce.as_slice())?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(reduce.as_slice())?;
        let scale = (&var + eps)?.sqrt()?.recip()?.broadcast_mul(&weight.to_dtype(work)?.reshape(shape.as_slice())?)?;
        let ys = centered.broadcast_mul(&scale)?.broadcast_add(&bias.to_dtype(work)?.reshape(shape.as_slice())?)?;
        let ys = if relu { ys.relu()? } else { ys }.to_dtype(dtype)?;
        let flat = |t: &Tensor| t.detach().flatten_all()?.to_dtype(dtype);
        let count = x.elem_count() / x.dims()[1];
        Ok((ys, BatchStats { mean: flat(&mean)?, var: flat(&var)?, count }))
    };
    Ok(go().op_ctx(OP_TRAIN, "running the unfused BatchNorm")?)
}

/// Runs `f` on a contiguous CPU tensor's data as f32 or f64.
fn with_slice<R>(t: &Tensor, f32_fn: impl FnOnce(&[f32]) -> R, f64_fn: impl FnOnce(&[f64]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(Error::Mismatch { op: OP_TRAIN, what: "the fused kernel needs a CPU tensor".into() });
    };
    Ok(slices(cpu, layout)
        .map(|s| match s {
            Slice::F32(x) => f32_fn(x),
            Slice::F64(x) => f64_fn(x),
        })
        .op_ctx(OP_TRAIN, "reading the tensor")?)
}

enum Slice<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

fn slices<'a>(s: &'a CpuStorage, l: &Layout) -> candle::Result<Slice<'a>> {
    const OP: &str = "fused BatchNorm";
    match s {
        CpuStorage::F32(_) => Ok(Slice::F32(cpu_slice(s, l, OP)?)),
        CpuStorage::F64(_) => Ok(Slice::F64(cpu_slice(s, l, OP)?)),
        _ => candle::bail!("fused BatchNorm: only f32 and f64 are supported, got {:?}", s.dtype()),
    }
}

/// Slices of one float type from three storages, or an error.
fn typed3<'a, T: Float>(
    op: &str,
    (s1, l1): (&'a CpuStorage, &Layout),
    (s2, l2): (&'a CpuStorage, &Layout),
    (s3, l3): (&'a CpuStorage, &Layout),
) -> candle::Result<(&'a [T], &'a [T], &'a [T])> {
    Ok((cpu_slice(s1, l1, op)?, cpu_slice(s2, l2, op)?, cpu_slice(s3, l3, op)?))
}

/// The batch statistics captured for the forward and backward passes, in f64.
#[derive(Debug)]
pub(crate) struct Stats {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub inv_std: Vec<f64>,
}

/// Training forward: (x, weight, bias) → y, with the statistics already taken.
struct TrainOp {
    stats: Arc<Stats>,
    dims: Dims,
    relu: bool,
}

impl CustomOp3 for TrainOp {
    fn name(&self) -> &'static str {
        "fastvision-batch-norm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        crate::dispatch_float!(s1, self.name(), |F| {
            let (x, w, b) = typed3::<F>(self.name(), (s1, l1), (s2, l2), (s3, l3))?;
            let (scale, shift) = kernels::fold(&self.stats, w, b);
            Ok((F::to_cpu_storage_owned(kernels::affine(x, &scale, &shift, self.dims, self.relu)), l1.shape().clone()))
        })
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _ys: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        crate::profile::timed("batch_norm.backward", || {
            let grad = grad.contiguous()?;
            let (dx, dw, db) = backward_tensors(xs, weight, bias, &grad, |x, w, b, dy| match (x, w, b, dy) {
                (Slice::F32(x), Slice::F32(w), Slice::F32(b), Slice::F32(dy)) => {
                    Ok(Grads::F32(kernels::train_backward(x, w, b, dy, &self.stats, self.dims, self.relu)))
                }
                (Slice::F64(x), Slice::F64(w), Slice::F64(b), Slice::F64(dy)) => {
                    Ok(Grads::F64(kernels::train_backward(x, w, b, dy, &self.stats, self.dims, self.relu)))
                }
                _ => candle::bail!("fused BatchNorm backward: mixed dtypes"),
            })?;
            Ok((xs.track_op().then_some(dx), Some(dw), Some(db)))
        })
    }
}

/// Per-channel affine + optional ReLU: (x, scale, shift) → y.
struct AffineOp {
    dims: Dims,
    relu: bool,
}

impl CustomOp3 for AffineOp {
    fn name(&self) -> &'static str {
        "fastvision-channel-affine"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle::Result<(CpuStorage, Shape)> {
        crate::dispatch_float!(s1, self.name(), |F| {
            let (x, a, b) = typed3::<F>(self.name(), (s1, l1), (s2, l2), (s3, l3))?;
            Ok((F::to_cpu_storage_owned(kernels::affine(x, a, b, self.dims, self.relu)), l1.shape().clone()))
        })
    }

    fn bwd(
        &self,
        xs: &Tensor,
        scale: &Tensor,
        shift: &Tensor,
        _ys: &Tensor,
        grad: &Tensor,
    ) -> candle::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        crate::profile::timed("batch_norm_eval.backward", || {
            let grad = grad.contiguous()?;
            let (dx, ds, db) = backward_tensors(xs, scale, shift, &grad, |x, a, b, dy| match (x, a, b, dy) {
                (Slice::F32(x), Slice::F32(a), Slice::F32(b), Slice::F32(dy)) => {
                    Ok(Grads::F32(kernels::affine_backward(x, a, b, dy, self.dims, self.relu)))
                }
                (Slice::F64(x), Slice::F64(a), Slice::F64(b), Slice::F64(dy)) => {
                    Ok(Grads::F64(kernels::affine_backward(x, a, b, dy, self.dims, self.relu)))
                }
                _ => candle::bail!("fused affine backward: mixed dtypes"),
            })?;
            Ok((xs.track_op().then_some(dx), Some(ds), Some(db)))
        })
    }
}

/// The three gradients a backward kernel computed: (input, per-channel a, per-channel b).
enum Grads {
    F32((Vec<f32>, Vec<f32>, Vec<f32>)),
    F64((Vec<f64>, Vec<f64>, Vec<f64>)),
}

/// Reads four CPU tensors (input, two per-channel tensors, output gradient) as slices, runs a backward kernel on
/// them, and wraps its three outputs as tensors shaped like (x, per-channel, per-channel).
fn backward_tensors(
    xs: &Tensor,
    per_channel: &Tensor,
    second_per_channel: &Tensor,
    grad: &Tensor,
    f: impl FnOnce(Slice<'_>, Slice<'_>, Slice<'_>, Slice<'_>) -> candle::Result<Grads>,
) -> candle::Result<(Tensor, Tensor, Tensor)> {
    let (sx, lx) = xs.storage_and_layout();
    let (sw, lw) = per_channel.storage_and_layout();
    let (sy, ly) = second_per_channel.storage_and_layout();
    let (sg, lg) = grad.storage_and_layout();
    let (Storage::Cpu(sx), Storage::Cpu(sw), Storage::Cpu(sy), Storage::Cpu(sg)) = (&*sx, &*sw, &*sy, &*sg) else {
        candle::bail!("fused BatchNorm backward: expected CPU tensors")
    };
    let grads = f(slices(sx, lx)?, slices(sw, lw)?, slices(sy, ly)?, slices(sg, lg)?)?;
    let (dev, x_shape, c_shape) = (xs.device(), xs.shape(), per_channel.shape());
    match grads {
        Grads::F32((dx, da, db)) => wrap3(dx, da, db, x_shape, c_shape, dev),
        Grads::F64((dx, da, db)) => wrap3(dx, da, db, x_shape, c_shape, dev),
    }
}

fn wrap3<T: candle::WithDType>(
    dx: Vec<T>,
    da: Vec<T>,
    db: Vec<T>,
    x_shape: &Shape,
    c_shape: &Shape,
    dev: &candle::Device,
) -> candle::Result<(Tensor, Tensor, Tensor)> {
    Ok((Tensor::from_vec(dx, x_shape, dev)?, Tensor::from_vec(da, c_shape, dev)?, Tensor::from_vec(db, c_shape, dev)?))
}
