//! The CIFAR-10 ResNets of He et al. 2016 (20/32/44/56/110 layers, "option A" parameter-free shortcuts), named as
//! in akamaster/pytorch_resnet_cifar10 so its trained weights load unchanged.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use candle::{DType, Device, Tensor};
use fastvision_weights::StateDict;

use crate::error::{Context, Error, Result};
use crate::init::{Init, Place};
use crate::layers::{
    add_relu, collect_stages, forward_stages, BatchNorm, Collector, Conv2d, Entry, Linear, Pass, ResidualBlock,
};
use crate::pool::{adaptive_pool, Reduce};
use crate::resnet::check_images;
use crate::weights::{self, Param};

/// A CIFAR ResNet depth: 6n + 2 layers with n BasicBlocks per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CifarArch {
    /// `resnet20`: n = 3.
    ResNet20,
    /// `resnet32`: n = 5.
    ResNet32,
    /// `resnet44`: n = 7.
    ResNet44,
    /// `resnet56`: n = 9.
    ResNet56,
    /// `resnet110`: n = 18.
    ResNet110,
}

impl CifarArch {
    /// Every depth, shallowest first.
    pub const ALL: [CifarArch; 5] =
        [CifarArch::ResNet20, CifarArch::ResNet32, CifarArch::ResNet44, CifarArch::ResNet56, CifarArch::ResNet110];

    /// BasicBlocks per stage.
    pub fn blocks_per_stage(self) -> usize {
        match self {
            CifarArch::ResNet20 => 3,
            CifarArch::ResNet32 => 5,
            CifarArch::ResNet44 => 7,
            CifarArch::ResNet56 => 9,
            CifarArch::ResNet110 => 18,
        }
    }

    /// The name used on the command line and in akamaster's repository (`"resnet20"`...).
    pub fn name(self) -> &'static str {
        match self {
            CifarArch::ResNet20 => "resnet20",
            CifarArch::ResNet32 => "resnet32",
            CifarArch::ResNet44 => "resnet44",
            CifarArch::ResNet56 => "resnet56",
            CifarArch::ResNet110 => "resnet110",
        }
    }
}

impl fmt::Display for CifarArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cifar-{}", self.name())
    }
}

impl FromStr for CifarArch {
    type Err = Error;

    /// Accepts `resnet20` or `cifar-resnet20` (any case).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        let bare = lower.strip_prefix("cifar-").unwrap_or(&lower);
        CifarArch::ALL.into_iter().find(|a| a.name() == bare).ok_or_else(|| Error::UnknownArch {
            name: s.to_string(),
            known: "cifar-resnet20, cifar-resnet32, cifar-resnet44, cifar-resnet56, cifar-resnet110",
        })
    }
}

/// conv3×3(stride)-bn-relu-conv3×3-bn, plus the shortcut, then relu.
#[derive(Debug, Clone)]
struct CifarBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Option A: channels added on each side of the subsampled input when the shape changes.
    pad_channels: Option<usize>,
}

impl CifarBlock {
    fn new(c_in: usize, planes: usize, stride: usize, init: &mut Init, place: &Place) -> candle::Result<Self> {
        Ok(Self {
            conv1: Conv2d::new(c_in, planes, 3, stride, 1, false, init, place)?,
            bn1: BatchNorm::new(planes, 0.0, place)?,
            conv2: Conv2d::new(planes, planes, 3, 1, 1, false, init, place)?,
            bn2: BatchNorm::new(planes, 0.0, place)?,
            pad_channels: (stride != 1 || c_in != planes).then_some(planes / 4),
        })
    }
}

impl ResidualBlock for CifarBlock {
    fn forward(&self, xs: &Tensor, pass: Pass) -> candle::Result<Tensor> {
        let ys = self.bn1.forward_relu(&self.conv1.forward(xs, pass)?, pass)?;
        let ys = self.bn2.forward(&self.conv2.forward(&ys, pass)?, pass)?;
        let shortcut = match self.pad_channels {
            Some(p) => subsample2(xs)?.pad_with_zeros(1, p, p)?,
            None => xs.clone(),
        };
        add_relu(&ys, &shortcut)
    }

    fn collect(&self, prefix: &str, out: &mut Collector) {
        self.conv1.collect(&format!("{prefix}.conv1"), out);
        self.bn1.collect(&format!("{prefix}.bn1"), out);
        self.conv2.collect(&format!("{prefix}.conv2"), out);
        self.bn2.collect(&format!("{prefix}.bn2"), out);
    }
}

/// `x[:, :, ::2, ::2]` from reshapes and narrows (odd sizes padded by one, which is never selected).
fn subsample2(xs: &Tensor) -> candle::Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let padded = xs.pad_with_zeros(2, 0, 2 * oh - h)?.pad_with_zeros(3, 0, 2 * ow - w)?;
    padded.reshape((n, c, oh, 2, ow, 2))?.narrow(3, 0, 1)?.narrow(5, 0, 1)?.reshape((n, c, oh, ow))
}

/// The CIFAR ResNet up to `layer3` (everything before the pooling and `linear`), the body of a
/// [`crate::VisionModel`] built on a [`CifarArch`].
#[derive(Debug, Clone)]
pub(crate) struct CifarBody {
    conv1: Conv2d,
    bn1: BatchNorm,
    stages: [Vec<CifarBlock>; 3],
}

/// How the body's modules are named: akamaster's attributes, or indices of a `Sequential(conv1, bn1, layer1,
/// layer2, layer3)` as fastai's `create_body` numbers a model's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CifarNames {
    /// `conv1`, `bn1`, `layer1`..`layer3`.
    Akamaster,
    /// `0.0`, `0.1`, `0.2`..`0.4`.
    Fastai,
}

impl CifarNames {
    fn module(self, akamaster: &str, index: usize) -> String {
        match self {
            CifarNames::Akamaster => akamaster.to_string(),
            CifarNames::Fastai => format!("0.{index}"),
        }
    }
}

impl CifarBody {
    pub fn new(arch: CifarArch, init: &mut Init, place: &Place) -> candle::Result<Self> {
        let conv1 = Conv2d::new(3, 16, 3, 1, 1, false, init, place)?;
        let bn1 = BatchNorm::new(16, 0.0, place)?;
        let mut stages: [Vec<CifarBlock>; 3] = Default::default();
        let mut c_in = 16;
        for (s, stage) in stages.iter_mut().enumerate() {
            let planes = 16 << s;
            for b in 0..arch.blocks_per_stage() {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                stage.push(CifarBlock::new(c_in, planes, stride, init, place)?);
                c_in = planes;
            }
        }
        Ok(Self { conv1, bn1, stages })
    }

    /// The body's output, N×64×H/4×W/4; `frozen[g]` detaches group `g`'s weights (group 0: stem, layer1, layer2;
    /// group 1: layer3 — the split fastai's resnet splitter makes, one stage shorter).
    pub fn forward(&self, xs: &Tensor, train: bool, frozen: [bool; 2]) -> candle::Result<Tensor> {
        let pass0 = Pass { train, frozen: frozen[0] };
        let ys = self.bn1.forward_relu(&self.conv1.forward(xs, pass0)?, pass0)?;
        forward_stages(&self.stages, ys, train, frozen)
    }

    /// Pushes the body's tensors: group `first_group` for the stem, layer1 and layer2, `first_group + 1` for layer3.
    pub fn collect(&self, names: CifarNames, first_group: usize, out: &mut Collector) {
        out.group = first_group;
        self.conv1.collect(&names.module("conv1", 0), out);
        self.bn1.collect(&names.module("bn1", 1), out);
        collect_stages(&self.stages, first_group, |s| names.module(&format!("layer{}", s + 1), s + 2), out);
    }
}

/// A CIFAR ResNet: `conv1` 3×3 3→16, `bn1`, three stages of 16/32/64 channels, global average pool, `linear`.
///
/// ```
/// # fn main() -> fastvision_models::Result<()> {
/// use fastvision_models::{CifarArch, CifarResNet};
/// let model = CifarResNet::new(CifarArch::ResNet20, 10, &candle::Device::Cpu, 0)?;
/// let xs = candle::Tensor::zeros((2, 3, 32, 32), candle::DType::F32, &candle::Device::Cpu).unwrap();
/// assert_eq!(model.forward_t(&xs, false)?.dims(), &[2, 10]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CifarResNet {
    arch: CifarArch,
    place: Place,
    body: CifarBody,
    linear: Linear,
}

impl CifarResNet {
    /// A model initialised as akamaster's (kaiming-normal fan-in convs and linear weight), from `seed`, in f32.
    pub fn new(arch: CifarArch, n_classes: usize, device: &Device, seed: u64) -> Result<Self> {
        Self::build(arch, n_classes, device, &mut Init::seeded(seed, 0x6369_6661))
    }

    /// A model whose weights come from a file with akamaster's names (f32, f16 or bf16): safetensors or a PyTorch
    /// checkpoint such as akamaster's own `.th`, detected by content (the name is kept for existing callers).
    pub fn from_safetensors(arch: CifarArch, n_classes: usize, path: &Path, device: &Device) -> Result<Self> {
        let model = Self::build(arch, n_classes, device, &mut Init::Zeros)?;
        model.load(path)?;
        Ok(model)
    }

    /// A model whose weights come from `state`, read with the caller's [`fastvision_weights::ReadOptions`].
    pub fn from_state(arch: CifarArch, n_classes: usize, state: &StateDict, device: &Device) -> Result<Self> {
        let model = Self::build(arch, n_classes, device, &mut Init::Zeros)?;
        model.load_state(state)?;
        Ok(model)
    }

    fn build(arch: CifarArch, n_classes: usize, device: &Device, init: &mut Init) -> Result<Self> {
        if n_classes == 0 {
            return Err(Error::InvalidParameter { name: "n_classes", value: "0".into(), reason: "must be at least 1" });
        }
        let place = Place { device: device.clone(), dtype: DType::F32 };
        let layers = (|| -> candle::Result<_> {
            let body = CifarBody::new(arch, init, &place)?;
            let linear = Linear::kaiming_with_bias(64, n_classes, init, &place)?;
            Ok((body, linear))
        })();
        let (body, linear) = layers.ctx("creating the CIFAR ResNet")?;
        Ok(Self { arch, place, body, linear })
    }

    /// The depth.
    pub fn arch(&self) -> CifarArch {
        self.arch
    }

    /// Logits N×classes (f32) for normalised images N×3×H×W (32×32 for CIFAR).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let xs = check_images(xs, &self.arch.to_string(), self.place.dtype)?;
        let pass = Pass { train, frozen: false };
        let run = || -> candle::Result<Tensor> {
            let ys = self.body.forward(&xs, train, [false; 2])?;
            let pooled = adaptive_pool(&ys, (1, 1), Reduce::Mean)?.flatten_from(1)?;
            self.linear.forward(&pooled, pass)
        };
        run().ctx(&format!("{} forward on {:?}", self.arch, xs.dims()))
    }

    /// The trainable parameters (one group, 0) with akamaster's names.
    pub fn params(&self) -> Vec<Param> {
        weights::params(&self.entries(), &[])
    }

    /// Every tensor with its name, buffers included.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        weights::named_tensors(&self.entries())
    }

    /// Loads a weight file with akamaster's names, in any format fastvision-weights reads (DataParallel's
    /// `module.` prefix is removed when every name has it). Nothing changes when it fails.
    pub fn load(&self, path: &Path) -> Result<()> {
        weights::load(&self.entries(), path, &self.arch.to_string(), &|name| Some(name.to_string()))
    }

    /// [`CifarResNet::load`] from tensors already read.
    pub fn load_state(&self, state: &StateDict) -> Result<()> {
        weights::load_state(&self.entries(), state, &self.arch.to_string(), &|name| Some(name.to_string()))
    }

    /// Saves every tensor under akamaster's names, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        weights::save(&self.entries(), path, &self.arch.to_string())
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = Collector::default();
        self.body.collect(CifarNames::Akamaster, 0, &mut out);
        self.linear.collect("linear", &mut out);
        // A plain CifarResNet is one parameter group; the body's split is for VisionModel.
        for entry in &mut out.entries {
            entry.group = 0;
        }
        out.entries
    }
}
