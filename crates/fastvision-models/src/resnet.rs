//! torchvision's ResNet 18/34/50/101/152 (v1.5: stride on the 3×3 conv) with its exact parameter names, so weights
//! saved by PyTorch load unchanged.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use candle::{DType, Device, Tensor};
use fastvision_ops::pool::PoolGeom;
use fastvision_weights::StateDict;

use crate::error::{Context, Error, Result};
use crate::init::{Init, Place};
use crate::layers::{
    add_relu, collect_stages, forward_stages, BatchNorm, Collector, Conv2d, Entry, Linear, Pass, ResidualBlock,
};
use crate::pool::{adaptive_pool, max_pool2d_geom, Reduce};
use crate::weights::{self, Param};

/// An ImageNet ResNet architecture, as in `torchvision.models`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// `resnet18`: BasicBlocks [2, 2, 2, 2], 512 features.
    ResNet18,
    /// `resnet34`: BasicBlocks [3, 4, 6, 3], 512 features.
    ResNet34,
    /// `resnet50`: Bottlenecks [3, 4, 6, 3], 2048 features.
    ResNet50,
    /// `resnet101`: Bottlenecks [3, 4, 23, 3], 2048 features.
    ResNet101,
    /// `resnet152`: Bottlenecks [3, 8, 36, 3], 2048 features.
    ResNet152,
}

impl Arch {
    /// Every architecture, smallest first.
    pub const ALL: [Arch; 5] = [Arch::ResNet18, Arch::ResNet34, Arch::ResNet50, Arch::ResNet101, Arch::ResNet152];

    /// torchvision's name (`"resnet18"`...).
    pub fn name(self) -> &'static str {
        match self {
            Arch::ResNet18 => "resnet18",
            Arch::ResNet34 => "resnet34",
            Arch::ResNet50 => "resnet50",
            Arch::ResNet101 => "resnet101",
            Arch::ResNet152 => "resnet152",
        }
    }

    /// Blocks per stage (`layer1`..`layer4`).
    pub fn blocks(self) -> [usize; 4] {
        match self {
            Arch::ResNet18 => [2, 2, 2, 2],
            Arch::ResNet34 | Arch::ResNet50 => [3, 4, 6, 3],
            Arch::ResNet101 => [3, 4, 23, 3],
            Arch::ResNet152 => [3, 8, 36, 3],
        }
    }

    /// True for the Bottleneck architectures (50 and deeper).
    pub fn is_bottleneck(self) -> bool {
        !matches!(self, Arch::ResNet18 | Arch::ResNet34)
    }

    /// Channels of the body's output (the classifier's input): 512 or 2048.
    pub fn n_features(self) -> usize {
        if self.is_bottleneck() {
            2048
        } else {
            512
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Arch::ALL.into_iter().find(|a| a.name() == s.to_ascii_lowercase()).ok_or_else(|| Error::UnknownArch {
            name: s.to_string(),
            known: "resnet18, resnet34, resnet50, resnet101, resnet152",
        })
    }
}

/// `downsample`: 1×1 conv (with the block's stride) + BatchNorm, where the shortcut changes shape.
#[derive(Debug, Clone)]
struct Downsample {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Downsample {
    fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        self.bn.forward(&self.conv.forward(xs, pass)?, pass)
    }

    fn collect(&self, prefix: &str, out: &mut Collector) {
        self.conv.collect(&format!("{prefix}.downsample.0"), out);
        self.bn.collect(&format!("{prefix}.downsample.1"), out);
    }
}

/// A residual block: BasicBlock (two 3×3 convs) or Bottleneck (1×1, 3×3 with the stride, 1×1 ×4 channels).
#[derive(Debug, Clone)]
struct Block {
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    downsample: Option<Downsample>,
}

impl Block {
    fn basic(c_in: usize, planes: usize, stride: usize, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let convs = vec![
            Conv2d::new(c_in, planes, 3, stride, 1, true, init, place)?,
            Conv2d::new(planes, planes, 3, 1, 1, true, init, place)?,
        ];
        let bns = vec![BatchNorm::new(planes, 0.0, place)?, BatchNorm::new(planes, 0.0, place)?];
        let downsample = Self::downsample(c_in, planes, stride, init, place)?;
        Ok(Self { convs, bns, downsample })
    }

    fn bottleneck(c_in: usize, planes: usize, stride: usize, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let c_out = planes * 4;
        let convs = vec![
            Conv2d::new(c_in, planes, 1, 1, 0, true, init, place)?,
            Conv2d::new(planes, planes, 3, stride, 1, true, init, place)?,
            Conv2d::new(planes, c_out, 1, 1, 0, true, init, place)?,
        ];
        let bns = vec![
            BatchNorm::new(planes, 0.0, place)?,
            BatchNorm::new(planes, 0.0, place)?,
            BatchNorm::new(c_out, 0.0, place)?,
        ];
        let downsample = Self::downsample(c_in, c_out, stride, init, place)?;
        Ok(Self { convs, bns, downsample })
    }

    fn downsample(
        c_in: usize,
        c_out: usize,
        stride: usize,
        init: &mut Init,
        place: &Place,
    ) -> candle::Result<Option<Downsample>> {
        if stride == 1 && c_in == c_out {
            return Ok(None);
        }
        let conv = Conv2d::new(c_in, c_out, 1, stride, 0, true, init, place)?;
        Ok(Some(Downsample { conv, bn: BatchNorm::new(c_out, 0.0, place)? }))
    }
}

impl ResidualBlock for Block {
    fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        let mut ys = xs.clone();
        let last = self.convs.len() - 1;
        for (i, (conv, bn)) in self.convs.iter().zip(&self.bns).enumerate() {
            let zs = conv.forward(&ys, pass)?;
            ys = if i < last { bn.forward_relu(&zs, pass)? } else { bn.forward(&zs, pass)? };
        }
        let identity = match &self.downsample {
            Some(d) => d.forward(xs, pass)?,
            None => xs.clone(),
        };
        add_relu(&ys, &identity)
    }

    fn collect(&self, prefix: &str, out: &mut Collector) {
        for (i, (conv, bn)) in self.convs.iter().zip(&self.bns).enumerate() {
            conv.collect(&format!("{prefix}.conv{}", i + 1), out);
            bn.collect(&format!("{prefix}.bn{}", i + 1), out);
        }
        if let Some(d) = &self.downsample {
            d.collect(prefix, out);
        }
    }
}

/// How the body's modules are named: torchvision's attributes, or fastai's `create_body` Sequential indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyNames {
    /// `conv1`, `bn1`, `layer1`..`layer4`.
    Torchvision,
    /// `0.0`, `0.1`, `0.4`..`0.7` (children 2 and 3 are the parameter-free ReLU and max pool).
    Fastai,
}

impl BodyNames {
    fn module(self, torchvision: &str, index: usize) -> String {
        match self {
            BodyNames::Torchvision => torchvision.to_string(),
            BodyNames::Fastai => format!("0.{index}"),
        }
    }
}

/// The ResNet backbone up to `layer4` (fastai's `create_body`: everything before the pooling and `fc`).
#[derive(Debug, Clone)]
pub(crate) struct ResNetBody {
    conv1: Conv2d,
    bn1: BatchNorm,
    stages: [Vec<Block>; 4],
}

impl ResNetBody {
    pub fn new(arch: Arch, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let conv1 = Conv2d::new(3, 64, 7, 2, 3, true, init, place)?;
        let bn1 = BatchNorm::new(64, 0.0, place)?;
        let expansion = if arch.is_bottleneck() { 4 } else { 1 };
        let mut c_in = 64;
        let mut stages: [Vec<Block>; 4] = Default::default();
        for (s, n_blocks) in arch.blocks().into_iter().enumerate() {
            let planes = 64 << s;
            for b in 0..n_blocks {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                let block = if arch.is_bottleneck() {
                    Block::bottleneck(c_in, planes, stride, init, place)?
                } else {
                    Block::basic(c_in, planes, stride, init, place)?
                };
                stages[s].push(block);
                c_in = planes * expansion;
            }
        }
        Ok(Self { conv1, bn1, stages })
    }

    /// The body's output; `frozen[g]` detaches group `g`'s weights (group 0: stem, layer1, layer2; group 1:
    /// layer3, layer4).
    pub fn forward(&self, xs: &Tensor, train: bool, frozen: [bool; 2]) -> candle::Result<Tensor> {
        let pass0 = Pass { train, frozen: frozen[0] };
        let ys = self.bn1.forward_relu(&self.conv1.forward(xs, pass0)?, pass0)?;
        let stem_pool = PoolGeom { kernel: (3, 3), stride: (2, 2), padding: (1, 1) };
        forward_stages(&self.stages, max_pool2d_geom(&ys, stem_pool)?, train, frozen)
    }

    /// Pushes the body's tensors with group 0 for the stem, layer1, layer2 and group `first_group + 1` after.
    pub fn collect(&self, names: BodyNames, first_group: usize, out: &mut Collector) {
        out.group = first_group;
        self.conv1.collect(&names.module("conv1", 0), out);
        self.bn1.collect(&names.module("bn1", 1), out);
        collect_stages(&self.stages, first_group, |s| names.module(&format!("layer{}", s + 1), s + 4), out);
    }
}

/// Checks that `xs` is an N×3×H×W batch and casts it to the model's type.
pub(crate) fn check_images(xs: &Tensor, model: &str, dtype: DType) -> Result<Tensor> {
    match xs.dims() {
        [n, 3, h, w] if *n > 0 && *h > 0 && *w > 0 => xs.to_dtype(dtype).ctx("casting the input to the model's type"),
        dims => Err(Error::BadInput {
            model: model.to_string(),
            expected: "an N×3×H×W float tensor (N, H, W ≥ 1)".into(),
            actual: dims.to_vec(),
        }),
    }
}

/// torchvision's `ResNet`: the body, global average pooling and `fc`, with torchvision's parameter names.
///
/// ```
/// # fn main() -> fastvision_models::Result<()> {
/// use fastvision_models::{Arch, ResNet};
/// let model = ResNet::new(Arch::ResNet18, 10, &candle::Device::Cpu, 0)?;
/// let xs = candle::Tensor::zeros((1, 3, 32, 32), candle::DType::F32, &candle::Device::Cpu).unwrap();
/// assert_eq!(model.forward_t(&xs, false)?.dims(), &[1, 10]);
/// assert_eq!(model.params()[0].name, "conv1.weight");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ResNet {
    arch: Arch,
    n_classes: usize,
    place: Place,
    body: ResNetBody,
    fc: Linear,
}

impl ResNet {
    /// A ResNet with torchvision's initialisation drawn from `seed` (kaiming-normal fan-out convs, BatchNorm 1/0,
    /// PyTorch's default `fc`), in f32.
    pub fn new(arch: Arch, n_classes: usize, device: &Device, seed: u64) -> Result<Self> {
        Self::with_dtype(arch, n_classes, DType::F32, device, seed)
    }

    /// [`ResNet::new`] with parameters of type `dtype` (f32, f16, bf16 or f64).
    pub fn with_dtype(arch: Arch, n_classes: usize, dtype: DType, device: &Device, seed: u64) -> Result<Self> {
        Self::build(arch, n_classes, dtype, device, &mut Init::seeded(seed, 0x7265_736e))
    }

    /// A ResNet whose weights come from a torchvision-named file (f32, f16 or bf16, converted to f32): safetensors
    /// or a PyTorch checkpoint such as torchvision's `resnet34-b627a593.pth`, detected by content (the name is kept
    /// for existing callers).
    pub fn from_safetensors(arch: Arch, n_classes: usize, path: &Path, device: &Device) -> Result<Self> {
        let model = Self::build(arch, n_classes, DType::F32, device, &mut Init::Zeros)?;
        model.load(path)?;
        Ok(model)
    }

    /// A ResNet whose weights come from `state`, read with the caller's [`fastvision_weights::ReadOptions`].
    pub fn from_state(arch: Arch, n_classes: usize, state: &StateDict, device: &Device) -> Result<Self> {
        let model = Self::build(arch, n_classes, DType::F32, device, &mut Init::Zeros)?;
        model.load_state(state)?;
        Ok(model)
    }

    fn build(arch: Arch, n_classes: usize, dtype: DType, device: &Device, init: &mut Init) -> Result<Self> {
        weights::check_float(dtype)?;
        if n_classes == 0 {
            return Err(Error::InvalidParameter { name: "n_classes", value: "0".into(), reason: "must be at least 1" });
        }
        let place = Place { device: device.clone(), dtype };
        let body = ResNetBody::new(arch, init, &place).ctx("creating the ResNet body")?;
        let fc = Linear::torch_default(arch.n_features(), n_classes, init, &place).ctx("creating fc")?;
        Ok(Self { arch, n_classes, place, body, fc })
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The number of outputs of `fc`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Logits N×`n_classes` (f32) for images N×3×H×W; `train` selects batch statistics (and updates the running
    /// ones) instead of the running statistics.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let features = self.features_t(xs, train)?;
        let pooled = adaptive_pool(&features, (1, 1), Reduce::Mean).ctx("resnet avgpool")?;
        let pooled = pooled.flatten_from(1).ctx("resnet flatten")?;
        let logits = self.fc.forward(&pooled, Pass { train, frozen: false }).ctx("resnet fc")?;
        logits.to_dtype(DType::F32).ctx("resnet logits to f32")
    }

    /// The body's output before pooling: N×512×H/32×W/32 (N×2048×… for Bottleneck architectures).
    pub fn features_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let xs = check_images(xs, self.arch.name(), self.place.dtype)?;
        self.body.forward(&xs, train, [false, false]).ctx(&format!("{} forward on {:?}", self.arch, xs.dims()))
    }

    /// The trainable parameters with torchvision's names, in `state_dict` order, grouped like fastai's resnet
    /// splitter (0: stem, layer1, layer2; 1: layer3, layer4; 2: fc).
    pub fn params(&self) -> Vec<Param> {
        weights::params(&self.entries(), &[])
    }

    /// Every tensor with its torchvision name, buffers included (`running_mean`, `running_var`), in `state_dict`
    /// order. `num_batches_tracked` is not kept.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        weights::named_tensors(&self.entries())
    }

    /// Loads a torchvision-named weight file, safetensors or a PyTorch checkpoint; every name and shape must fit
    /// (`num_batches_tracked` is ignored). Nothing changes when it fails.
    pub fn load(&self, path: &Path) -> Result<()> {
        weights::load(&self.entries(), path, self.arch.name(), &|name| Some(name.to_string()))
    }

    /// [`ResNet::load`] from tensors already read.
    pub fn load_state(&self, state: &StateDict) -> Result<()> {
        weights::load_state(&self.entries(), state, self.arch.name(), &|name| Some(name.to_string()))
    }

    /// Saves every tensor under torchvision's names as safetensors, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        weights::save(&self.entries(), path, self.arch.name())
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = Collector::default();
        self.body.collect(BodyNames::Torchvision, 0, &mut out);
        out.group = 2;
        self.fc.collect("fc", &mut out);
        out.entries
    }
}
