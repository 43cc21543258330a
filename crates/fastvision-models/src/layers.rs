//! The layers the models are built from, each owning its `candle::Var`s, so a frozen layer can hand out detached
//! weights and a faster fused kernel can later replace one layer's forward without touching the models.

use candle::{DType, Tensor, Var};
use fastvision_core::rng::Rng;
use fastvision_ops::{Activation, BatchNormConfig, Conv2dConfig};

use crate::init::{constant, Init, Place};

/// How one forward pass runs through a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    /// Training mode: BatchNorm uses and updates batch statistics, dropout is active.
    pub train: bool,
    /// The layer's group is frozen: its non-BatchNorm weights are detached, so no gradient is computed for them.
    pub frozen: bool,
}

impl Pass {
    /// The weight as this pass sees it: detached when frozen.
    fn weight(&self, var: &Var) -> Tensor {
        if self.frozen {
            var.as_detached_tensor()
        } else {
            var.as_tensor().clone()
        }
    }
}

/// A residual block, the unit a ResNet body's stages repeat (torchvision's BasicBlock/Bottleneck, the CIFAR
/// ResNets' option-A block).
pub(crate) trait ResidualBlock {
    /// The block's output for `xs`.
    fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor>;
    /// Pushes the block's tensors, named under `prefix`.
    fn collect(&self, prefix: &str, out: &mut Collector);
}

/// The first stage in fastai's second parameter group: its ResNet splitter cuts after `layer2`, so the stem and the
/// first two stages form group 0 and the rest group 1, for torchvision's and the CIFAR ResNets alike.
const SECOND_GROUP_STAGE: usize = 2;

/// Runs a body's stages after its stem; `frozen[g]` detaches group `g`'s weights.
pub(crate) fn forward_stages<B: ResidualBlock>(
    stages: &[Vec<B>],
    mut ys: Tensor,
    train: bool,
    frozen: [bool; 2],
) -> candle::Result<Tensor> {
    for (s, stage) in stages.iter().enumerate() {
        let pass = Pass { train, frozen: frozen[usize::from(s >= SECOND_GROUP_STAGE)] };
        for block in stage {
            ys = block.forward(&ys, pass)?;
        }
    }
    Ok(ys)
}

/// Pushes a body's stages' tensors: group `first_group` for the first two, `first_group + 1` for the rest;
/// block `b` of stage `s` is named `{stage_name(s)}.{b}`.
pub(crate) fn collect_stages<B: ResidualBlock>(
    stages: &[Vec<B>],
    first_group: usize,
    stage_name: impl Fn(usize) -> String,
    out: &mut Collector,
) {
    for (s, stage) in stages.iter().enumerate() {
        out.group = first_group + usize::from(s >= SECOND_GROUP_STAGE);
        let name = stage_name(s);
        for (b, block) in stage.iter().enumerate() {
            block.collect(&format!("{name}.{b}"), out);
        }
    }
}

/// What a named tensor is, which decides weight decay, freezing and whether it is trained at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Weight,
    Bias,
    BnWeight,
    BnBias,
    RunningMean,
    RunningVar,
}

impl Role {
    pub fn is_param(self) -> bool {
        !matches!(self, Role::RunningMean | Role::RunningVar)
    }

    pub fn is_batchnorm(self) -> bool {
        matches!(self, Role::BnWeight | Role::BnBias | Role::RunningMean | Role::RunningVar)
    }
}

/// One named tensor of a model, in PyTorch's `state_dict` order.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    pub var: Var,
    pub role: Role,
    /// The parameter group (fastai's splitter), 0 where a model has one group.
    pub group: usize,
}

/// Collects a model's named tensors; layers push under a prefix, the model sets the group as it walks.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub entries: Vec<Entry>,
    pub group: usize,
}

impl Collector {
    fn push(&mut self, prefix: &str, leaf: &str, var: &Var, role: Role) {
        let name = if prefix.is_empty() { leaf.to_string() } else { format!("{prefix}.{leaf}") };
        self.entries.push(Entry { name, var: var.clone(), role, group: self.group });
    }
}

/// `nn.Conv2d` without bias (every ResNet conv is followed by BatchNorm).
#[derive(Debug, Clone)]
pub(crate) struct Conv2d {
    weight: Var,
    config: Conv2dConfig,
}

impl Conv2d {
    /// A `k`×`k` convolution, weights drawn N(0, gain²/fan) with fan = `c_out·k·k` (`fan_out`, torchvision) or
    /// `c_in·k·k` (`fan_in`, the CIFAR ResNets); gain √2 (ReLU).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        fan_out: bool,
        init: &mut Init,
        place: &Place,
    ) -> candle::Result<Self> {
        let fan = if fan_out { c_out * k * k } else { c_in * k * k };
        let weight = init.normal(&[c_out, c_in, k, k], (2.0 / fan as f64).sqrt(), place)?;
        Ok(Self { weight, config: Conv2dConfig::default().with_stride(stride).with_padding(padding) })
    }

    /// fastvision-ops' packed-GEMM convolution on the CPU (both gradients as custom ops, none for a detached frozen
    /// weight); candle's conv2d elsewhere.
    pub fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        Ok(fastvision_ops::conv2d(xs, &pass.weight(&self.weight), &self.config)?)
    }

    pub fn collect(&self, prefix: &str, out: &mut Collector) {
        out.push(prefix, "weight", &self.weight, Role::Weight);
    }
}

/// `nn.BatchNorm1d`/`nn.BatchNorm2d` (channels on dim 1): batch statistics and a running-average update in training
/// (momentum 0.1, unbiased variance for the running value), running statistics in eval. Its scale and shift are
/// never detached: fastai trains BatchNorm even in frozen groups (`train_bn=True`).
#[derive(Debug, Clone)]
pub(crate) struct BatchNorm {
    weight: Var,
    bias: Var,
    running_mean: Var,
    running_var: Var,
    eps: f64,
    momentum: f64,
}

impl BatchNorm {
    /// PyTorch's defaults: scale 1, shift `bias`, running mean 0 and variance 1, eps 1e-5, momentum 0.1.
    pub fn new(channels: usize, bias: f64, place: &Place) -> candle::Result<Self> {
        Ok(Self {
            weight: constant(&[channels], 1.0, place)?,
            bias: constant(&[channels], bias, place)?,
            running_mean: constant(&[channels], 0.0, place)?,
            running_var: constant(&[channels], 1.0, place)?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    pub fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        self.forward_act(xs, pass, Activation::Identity)
    }

    /// `relu(bn(xs))`, fused into one op on the CPU in f32/f64.
    pub fn forward_relu(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        self.forward_act(xs, pass, Activation::Relu)
    }

    /// f32/f64: fastvision-ops' fused BatchNorm(+ReLU) (one pass forward, hand-written backward); half precision
    /// keeps the composition below, which accumulates its statistics in f32.
    fn forward_act(&self, xs: &Tensor, pass: Pass, activation: Activation) -> candle::Result<Tensor> {
        if !matches!(xs.dtype(), DType::F32 | DType::F64) || xs.dtype() != self.weight.dtype() {
            let ys = self.forward_composed(xs, pass)?;
            return if activation == Activation::Relu { Ok(fastvision_ops::relu(&ys)?) } else { Ok(ys) };
        }
        let channels = self.weight.dim(0)?;
        if xs.rank() < 2 || xs.dim(1)? != channels {
            candle::bail!("BatchNorm over {channels} channels got an input of shape {:?}", xs.dims());
        }
        let (weight, bias) = (self.weight.as_tensor(), self.bias.as_tensor());
        let config = BatchNormConfig { eps: self.eps, activation };
        if pass.train {
            let (ys, stats) = fastvision_ops::batch_norm_train(xs, weight, bias, &config)?;
            self.update_running(&stats.mean, &stats.var, stats.count)?;
            Ok(ys)
        } else {
            let mean = self.running_mean.as_detached_tensor();
            let var = self.running_var.as_detached_tensor();
            Ok(fastvision_ops::batch_norm_eval(xs, weight, bias, &mean, &var, &config)?)
        }
    }

    /// The unfused formula in candle ops (statistics of half-precision activations in f32).
    fn forward_composed(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        let dtype = xs.dtype();
        // Statistics of half-precision activations are accumulated in f32.
        let work = if matches!(dtype, DType::F16 | DType::BF16) { DType::F32 } else { dtype };
        let xs = xs.to_dtype(work)?;
        let rank = xs.rank();
        let channels = self.weight.dim(0)?;
        if rank < 2 || xs.dim(1)? != channels {
            candle::bail!("BatchNorm over {channels} channels got an input of shape {:?}", xs.dims());
        }
        let stat_shape: Vec<usize> = (0..rank).map(|d| if d == 1 { channels } else { 1 }).collect();
        let per_channel = |v: &Var| v.as_tensor().to_dtype(work)?.reshape(stat_shape.as_slice());
        let (weight, bias) = (per_channel(&self.weight)?, per_channel(&self.bias)?);
        let ys = if pass.train {
            let reduce: Vec<usize> = (0..rank).filter(|&d| d != 1).collect();
            let count = xs.elem_count() / channels;
            if count < 2 {
                candle::bail!("BatchNorm in training needs more than one value per channel, got input {:?}", xs.dims());
            }
            let mean = xs.mean_keepdim(reduce.as_slice())?;
            let centered = xs.broadcast_sub(&mean)?;
            let var = centered.sqr()?.mean_keepdim(reduce.as_slice())?;
            self.update_running(&mean, &var, count)?;
            let scale = (var + self.eps)?.sqrt()?.recip()?.broadcast_mul(&weight)?;
            centered.broadcast_mul(&scale)?.broadcast_add(&bias)?
        } else {
            let mean = self.running_mean.as_detached_tensor().to_dtype(work)?.reshape(stat_shape.as_slice())?;
            let var = self.running_var.as_detached_tensor().to_dtype(work)?.reshape(stat_shape.as_slice())?;
            let scale = (var + self.eps)?.sqrt()?.recip()?.mul(&weight)?;
            let shift = bias.sub(&mean.mul(&scale)?)?;
            xs.broadcast_mul(&scale)?.broadcast_add(&shift)?
        };
        ys.to_dtype(dtype)
    }

    /// `running = (1 - momentum)·running + momentum·batch`, with the batch variance made unbiased (n/(n-1)).
    fn update_running(&self, mean: &Tensor, var: &Tensor, count: usize) -> candle::Result<()> {
        let m = self.momentum;
        let dtype = self.running_mean.dtype();
        let mean = mean.detach().flatten_all()?.to_dtype(dtype)?;
        let var = (var.detach().flatten_all()? * (count as f64 / (count - 1) as f64))?.to_dtype(dtype)?;
        let new_mean = ((self.running_mean.as_detached_tensor() * (1.0 - m))? + (mean * m)?)?;
        let new_var = ((self.running_var.as_detached_tensor() * (1.0 - m))? + (var * m)?)?;
        self.running_mean.set(&new_mean)?;
        self.running_var.set(&new_var)
    }

    pub fn collect(&self, prefix: &str, out: &mut Collector) {
        out.push(prefix, "weight", &self.weight, Role::BnWeight);
        out.push(prefix, "bias", &self.bias, Role::BnBias);
        out.push(prefix, "running_mean", &self.running_mean, Role::RunningMean);
        out.push(prefix, "running_var", &self.running_var, Role::RunningVar);
    }
}

/// `nn.Linear` on N×in inputs.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    weight: Var,
    bias: Option<Var>,
}

impl Linear {
    /// PyTorch's default init: weight and bias U(-1/√in, 1/√in).
    pub fn torch_default(c_in: usize, c_out: usize, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let bound = 1.0 / (c_in as f64).sqrt();
        let weight = init.uniform(&[c_out, c_in], bound, place)?;
        let bias = Some(init.uniform(&[c_out], bound, place)?);
        Ok(Self { weight, bias })
    }

    /// fastai's head init (`init_default` with `kaiming_normal_`): weight N(0, 2/in), bias (if any) 0.
    pub fn kaiming_head(c_in: usize, c_out: usize, bias: bool, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let weight = init.normal(&[c_out, c_in], (2.0 / c_in as f64).sqrt(), place)?;
        let bias = if bias { Some(constant(&[c_out], 0.0, place)?) } else { None };
        Ok(Self { weight, bias })
    }

    /// `kaiming_normal_` weight (fan_in, gain √2) and PyTorch's default bias: the CIFAR ResNets' classifier.
    pub fn kaiming_with_bias(c_in: usize, c_out: usize, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let weight = init.normal(&[c_out, c_in], (2.0 / c_in as f64).sqrt(), place)?;
        let bias = Some(init.uniform(&[c_out], 1.0 / (c_in as f64).sqrt(), place)?);
        Ok(Self { weight, bias })
    }

    pub fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        let ys = fastvision_ops::path::autocast_binary(xs, &pass.weight(&self.weight), |x, w| x.matmul(&w.t()?))?;
        match &self.bias {
            Some(b) => ys.broadcast_add(&pass.weight(b)),
            None => Ok(ys),
        }
    }

    pub fn collect(&self, prefix: &str, out: &mut Collector) {
        out.push(prefix, "weight", &self.weight, Role::Weight);
        if let Some(b) = &self.bias {
            out.push(prefix, "bias", b, Role::Bias);
        }
    }
}

/// Inverted dropout (`nn.Dropout(p)`): in training, zeroes each value with probability `p` and scales the rest by
/// 1/(1-p); the identity in eval. The mask comes from `rng`, so runs repeat exactly.
pub(crate) fn dropout(xs: &Tensor, p: f64, rng: &mut Rng) -> candle::Result<Tensor> {
    if p <= 0.0 {
        return Ok(xs.clone());
    }
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..xs.elem_count()).map(|_| if rng.bernoulli(p) { 0.0 } else { keep as f32 }).collect();
    let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
    xs.mul(&mask)
}

/// `relu(a + b)` (the end of a residual block): fastvision-ops' fused op on the CPU in f32/f64, else the sum
/// through fastvision-ops' [`fastvision_ops::relu`] (PyTorch's gradient at 0 on the CPU).
pub(crate) fn add_relu(a: &Tensor, b: &Tensor) -> candle::Result<Tensor> {
    if fastvision_ops::path::cpu_native(a)
        && matches!(a.dtype(), candle::DType::F32 | candle::DType::F64)
        && a.dtype() == b.dtype()
    {
        Ok(fastvision_ops::add_relu(a, b)?)
    } else {
        Ok(fastvision_ops::relu(&(a + b)?)?)
    }
}
