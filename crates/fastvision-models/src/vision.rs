//! fastai's learner model, `Sequential(create_body(arch), create_head(nf, n_classes))`, with fastai's names
//! (`0.*`, `1.*`), head initialisation, resnet splitter groups and freezing that detaches frozen weights.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use candle::{DType, Device, Tensor};
use fastvision_core::rng::Rng;
use fastvision_weights::{ReadOptions, StateDict};

use crate::cifar::{CifarArch, CifarBody, CifarNames};
use crate::error::{Context, Error, Result};
use crate::init::{Init, Place};
use crate::layers::{dropout, BatchNorm, Collector, Entry, Linear, Pass};
use crate::ops::relu;
use crate::pool::{adaptive_pool, concat_pool, Reduce};
use crate::resnet::{check_images, Arch, BodyNames, ResNetBody};
use crate::weights::{self, Param};

/// The body of a [`VisionModel`]: a torchvision ResNet, or a CIFAR ResNet (small 32×32 images, and the real
/// trained weights in `weights/cifar-resnet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backbone {
    /// torchvision's `resnet18`..`resnet152`.
    ResNet(Arch),
    /// akamaster's CIFAR `resnet20`..`resnet110`.
    Cifar(CifarArch),
}

impl Backbone {
    /// Every backbone, in the order help texts and errors list them: torchvision's, then the CIFAR ones.
    pub const ALL: [Backbone; 10] = [
        Backbone::ResNet(Arch::ResNet18),
        Backbone::ResNet(Arch::ResNet34),
        Backbone::ResNet(Arch::ResNet50),
        Backbone::ResNet(Arch::ResNet101),
        Backbone::ResNet(Arch::ResNet152),
        Backbone::Cifar(CifarArch::ResNet20),
        Backbone::Cifar(CifarArch::ResNet32),
        Backbone::Cifar(CifarArch::ResNet44),
        Backbone::Cifar(CifarArch::ResNet56),
        Backbone::Cifar(CifarArch::ResNet110),
    ];

    /// The names of [`Backbone::ALL`] as [`Backbone::from_str`] reads them, comma-separated: the list an
    /// unknown name's error gives (a test checks that it is `ALL`'s).
    pub const NAMES: &'static str = "resnet18, resnet34, resnet50, resnet101, resnet152, cifar-resnet20, \
                                     cifar-resnet32, cifar-resnet44, cifar-resnet56, cifar-resnet110";

    /// Channels of the body's output: 512 or 2048 for torchvision's ResNets, 64 for the CIFAR ones.
    pub fn n_features(self) -> usize {
        match self {
            Backbone::ResNet(arch) => arch.n_features(),
            Backbone::Cifar(_) => 64,
        }
    }
}

impl From<Arch> for Backbone {
    fn from(arch: Arch) -> Self {
        Backbone::ResNet(arch)
    }
}

impl From<CifarArch> for Backbone {
    fn from(arch: CifarArch) -> Self {
        Backbone::Cifar(arch)
    }
}

impl fmt::Display for Backbone {
    /// `resnet34` or `cifar-resnet20`: the names [`Backbone::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backbone::ResNet(arch) => arch.fmt(f),
            Backbone::Cifar(arch) => arch.fmt(f),
        }
    }
}

impl FromStr for Backbone {
    type Err = Error;

    /// torchvision's names (`resnet18`...), then the CIFAR ones (`cifar-resnet20`, or `resnet20`...).
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(arch) = s.parse::<Arch>() {
            return Ok(Backbone::ResNet(arch));
        }
        s.parse::<CifarArch>()
            .map(Backbone::Cifar)
            .map_err(|_| Error::UnknownArch { name: s.to_string(), known: Backbone::NAMES })
    }
}

/// The body's layers for either backbone.
#[derive(Debug, Clone)]
enum Body {
    ResNet(ResNetBody),
    Cifar(CifarBody),
}

impl Body {
    fn new(backbone: Backbone, init: &mut Init, place: &Place) -> candle::Result<Self> {
        Ok(match backbone {
            Backbone::ResNet(arch) => Body::ResNet(ResNetBody::new(arch, init, place)?),
            Backbone::Cifar(arch) => Body::Cifar(CifarBody::new(arch, init, place)?),
        })
    }

    fn forward(&self, xs: &Tensor, train: bool, frozen: [bool; 2]) -> candle::Result<Tensor> {
        match self {
            Body::ResNet(body) => body.forward(xs, train, frozen),
            Body::Cifar(body) => body.forward(xs, train, frozen),
        }
    }

    /// The body's tensors under fastai's names (`0.*`), groups 0 and 1.
    fn collect(&self, out: &mut Collector) {
        match self {
            Body::ResNet(body) => body.collect(BodyNames::Fastai, 0, out),
            Body::Cifar(body) => body.collect(CifarNames::Fastai, 0, out),
        }
    }
}

/// fastai's `create_head` options; `Default` is fastai's defaults (`lin_ftrs=[512]`, `ps=0.5`,
/// `concat_pool=True`, `first_bn=True`, `lin_first=False`, `bn_final=False`).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadConfig {
    /// Hidden layer sizes between the pooled features and the classes.
    pub lin_ftrs: Vec<usize>,
    /// Dropout before the last linear layer; the earlier ones use `ps / 2` (fastai's rule for a single `ps`).
    pub ps: f64,
    /// Pool with [`crate::adaptive_concat_pool2d`] (max and average, 2·nf features) instead of average only.
    pub concat_pool: bool,
    /// BatchNorm before the first linear layer (which then has no bias).
    pub first_bn: bool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self { lin_ftrs: vec![512], ps: 0.5, concat_pool: true, first_bn: true }
    }
}

/// Everything [`VisionModel::with_config`] needs beyond the architecture and classes.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    /// The head's layout.
    pub head: HeadConfig,
    /// Parameter type: f32 (default), f16, bf16 or f64. Logits are always returned as f32.
    pub dtype: DType,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self { head: HeadConfig::default(), dtype: DType::F32 }
    }
}

/// One `LinBnDrop` of the head: BatchNorm1d, Dropout, Linear, then ReLU except on the last.
#[derive(Debug, Clone)]
struct HeadBlock {
    bn: Option<(usize, BatchNorm)>,
    p: f64,
    linear: (usize, Linear),
    relu: bool,
}

/// fastai's head: pooling, flatten, then the `LinBnDrop` blocks, named by their index in the Sequential.
#[derive(Debug, Clone)]
struct Head {
    concat_pool: bool,
    blocks: Vec<HeadBlock>,
}

impl Head {
    /// fastai's `create_head(nf, n_out)` followed by `apply_init(head, kaiming_normal_)`: linear weights kaiming
    /// normal, biases 0; BatchNorm (fastai's `BatchNorm`) scale 1, shift 1e-3.
    fn new(nf: usize, n_out: usize, config: &HeadConfig, init: &mut Init, place: &Place) -> Result<Self> {
        if !(0.0..1.0).contains(&config.ps) {
            let value = config.ps.to_string();
            return Err(Error::InvalidParameter { name: "HeadConfig::ps", value, reason: "must be in [0, 1)" });
        }
        let first = if config.concat_pool { 2 * nf } else { nf };
        let sizes: Vec<usize> = std::iter::once(first).chain(config.lin_ftrs.iter().copied()).chain([n_out]).collect();
        if sizes.contains(&0) {
            let value = format!("{sizes:?}");
            return Err(Error::InvalidParameter { name: "head sizes", value, reason: "every layer needs ≥ 1 unit" });
        }
        let n_blocks = sizes.len() - 1;
        let mut index = 2; // 0: pooling, 1: Flatten
        let mut blocks = Vec::with_capacity(n_blocks);
        for (i, pair) in sizes.windows(2).enumerate() {
            let with_bn = i > 0 || config.first_bn;
            let p = if i + 1 == n_blocks { config.ps } else { config.ps / 2.0 };
            let bn = if with_bn {
                index += 1;
                Some((index - 1, BatchNorm::new(pair[0], 1e-3, place).ctx("creating head BatchNorm")?))
            } else {
                None
            };
            index += usize::from(p != 0.0);
            let linear = Linear::kaiming_head(pair[0], pair[1], !with_bn, init, place).ctx("creating head Linear")?;
            let relu = i + 1 < n_blocks;
            blocks.push(HeadBlock { bn, p, linear: (index, linear), relu });
            index += 1 + usize::from(relu);
        }
        Ok(Self { concat_pool: config.concat_pool, blocks })
    }

    fn forward(&self, features: &Tensor, pass: Pass, rng: &mut Rng) -> candle::Result<Tensor> {
        let pooled = if self.concat_pool {
            concat_pool(features, (1, 1))?
        } else {
            adaptive_pool(features, (1, 1), Reduce::Mean)?
        };
        let mut xs = pooled.flatten_from(1)?;
        for block in &self.blocks {
            if let Some((_, bn)) = &block.bn {
                xs = bn.forward(&xs, pass)?;
            }
            if pass.train {
                xs = dropout(&xs, block.p, rng)?;
            }
            xs = block.linear.1.forward(&xs, pass)?;
            if block.relu {
                xs = relu(&xs)?;
            }
        }
        Ok(xs)
    }

    fn collect(&self, out: &mut Collector) {
        for block in &self.blocks {
            if let Some((i, bn)) = &block.bn {
                bn.collect(&format!("1.{i}"), out);
            }
            block.linear.1.collect(&format!("1.{}", block.linear.0), out);
        }
    }
}

/// fastai's learner model for a ResNet: `Sequential(body, head)` with parameter names `0.*` (body, as fastai's
/// `create_body` numbers torchvision's children) and `1.*` (head), three parameter groups (body\[:6\], body\[6:\],
/// head) and freezing.
///
/// Freezing detaches the non-BatchNorm weights of frozen groups in the forward pass, so candle computes no gradient
/// for them at all; BatchNorm scales and shifts keep training (fastai's `train_bn=True`).
#[derive(Debug)]
pub struct VisionModel {
    arch: Backbone,
    n_classes: usize,
    place: Place,
    body: Body,
    head: Head,
    head_config: HeadConfig,
    frozen_groups: usize,
    dropout_seed: AtomicU64,
    dropout_calls: AtomicU64,
    compute_dtype: Option<DType>,
}

impl VisionModel {
    /// A model with a randomly initialised body (torchvision's init) and fastai's head for `n_classes`, from
    /// `seed` (which also seeds dropout). Load pretrained weights with [`VisionModel::load_body`].
    pub fn new(arch: impl Into<Backbone>, n_classes: usize, device: &Device, seed: u64) -> Result<Self> {
        Self::with_config(arch, n_classes, &VisionConfig::default(), device, seed)
    }

    /// [`VisionModel::new`] with a head layout and parameter type.
    pub fn with_config(
        arch: impl Into<Backbone>,
        n_classes: usize,
        config: &VisionConfig,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let arch = arch.into();
        weights::check_float(config.dtype)?;
        if n_classes == 0 {
            return Err(Error::InvalidParameter { name: "n_classes", value: "0".into(), reason: "must be at least 1" });
        }
        let place = Place { device: device.clone(), dtype: config.dtype };
        let body = Body::new(arch, &mut Init::seeded(seed, 1), &place).ctx("creating the body")?;
        let head = Head::new(arch.n_features(), n_classes, &config.head, &mut Init::seeded(seed, 2), &place)?;
        Ok(Self {
            arch,
            n_classes,
            place,
            body,
            head,
            head_config: config.head.clone(),
            frozen_groups: 0,
            dropout_seed: AtomicU64::new(seed),
            dropout_calls: AtomicU64::new(0),
            compute_dtype: None,
        })
    }

    /// The backbone architecture.
    pub fn arch(&self) -> Backbone {
        self.arch
    }

    /// The number of classes (outputs).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.place.device
    }

    /// The head's layout it was built with.
    pub fn head_config(&self) -> &HeadConfig {
        &self.head_config
    }

    /// The parameters' type.
    pub fn dtype(&self) -> DType {
        self.place.dtype
    }

    /// Logits N×`n_classes` (f32) for images N×3×H×W. `train`: BatchNorm uses (and updates) batch statistics and
    /// dropout is active, with masks drawn from the model's seed and a per-call counter.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        fastvision_ops::path::autocast(self.compute_dtype, || self.forward_in_precision(xs, train))
    }

    /// Mixed precision (fastai's `to_fp16()`): with `Some(BF16)` or `Some(F16)`, convolutions and the head's
    /// linear layers of an f32 model compute in that type (tensor cores on a GPU), while BatchNorm, pooling, the
    /// loss and the weights stay f32; f16 training needs loss scaling, which the `Learner` does. `None` (the
    /// default) computes everything in the parameters' type. On the CPU f16 works but is slow (candle's generic
    /// half-precision kernels; there f32 is the fast path), meant for tests; bf16 is refused there (candle's CPU
    /// matrix products have none).
    pub fn set_compute_dtype(&mut self, dtype: Option<DType>) -> Result<()> {
        match dtype {
            None | Some(DType::F32) => self.compute_dtype = None,
            Some(DType::BF16) if self.place.device.is_cpu() => {
                return Err(Error::InvalidParameter {
                    name: "compute dtype",
                    value: "BF16 on the CPU".into(),
                    reason: "candle's CPU matrix products have no bf16: train in f32 on the CPU (its fast path), or \
                             use bf16 on a GPU",
                });
            }
            Some(d @ (DType::BF16 | DType::F16)) if self.place.dtype == DType::F32 => {
                self.compute_dtype = Some(d);
            }
            Some(d) => {
                return Err(Error::InvalidParameter {
                    name: "compute dtype",
                    value: format!("{d:?} for {:?} parameters on {:?}", self.place.dtype, self.place.device.location()),
                    reason: "mixed precision is bf16 or f16 over f32 parameters",
                });
            }
        }
        Ok(())
    }

    /// The type convolutions and linear layers compute in (see [`VisionModel::set_compute_dtype`]).
    pub fn compute_dtype(&self) -> Option<DType> {
        self.compute_dtype
    }

    fn forward_in_precision(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let features = self.body_features(xs, train)?;
        let pass = Pass { train, frozen: self.frozen_groups > 2 };
        let call = if train { self.dropout_calls.fetch_add(1, Ordering::Relaxed) } else { 0 };
        let mut rng = Rng::derive(self.dropout_seed.load(Ordering::Relaxed), call);
        let logits = self.head.forward(&features, pass, &mut rng).ctx("head forward")?;
        logits.to_dtype(DType::F32).ctx("logits to f32")
    }

    /// The body's output (fastai's `create_body`), N×nf×H/32×W/32 (H/4×W/4 for a CIFAR body), before the head's
    /// pooling.
    pub fn body_features(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let xs = check_images(xs, &self.arch.to_string(), self.place.dtype)?;
        let frozen = [self.frozen_groups > 0, self.frozen_groups > 1];
        self.body.forward(&xs, train, frozen).ctx(&format!("{} body forward on {:?}", self.arch, xs.dims()))
    }

    /// Restarts the dropout masks from `seed`, as if the model had just been created with it.
    pub fn reseed_dropout(&self, seed: u64) {
        self.dropout_seed.store(seed, Ordering::Relaxed);
        self.dropout_calls.store(0, Ordering::Relaxed);
    }

    /// Where the dropout masks stand: (seed, training forward passes drawn so far). A checkpoint keeps it, so a
    /// resumed fit draws the masks an uninterrupted one would.
    pub fn dropout_position(&self) -> (u64, u64) {
        (self.dropout_seed.load(Ordering::Relaxed), self.dropout_calls.load(Ordering::Relaxed))
    }

    /// Puts the dropout masks back at `position` (from [`VisionModel::dropout_position`]).
    pub fn set_dropout_position(&self, (seed, calls): (u64, u64)) {
        self.dropout_seed.store(seed, Ordering::Relaxed);
        self.dropout_calls.store(calls, Ordering::Relaxed);
    }

    /// The number of parameter groups: 3 (body\[:6\] = stem, layer1, layer2; body\[6:\] = layer3, layer4; head).
    /// A CIFAR body splits the same way: stem, layer1, layer2; then layer3; then the head.
    pub fn n_groups(&self) -> usize {
        3
    }

    /// Freezes groups `0..n` (fastai's `freeze_to(n)`): their non-BatchNorm parameters are detached in the forward
    /// pass. `n` may be at most [`VisionModel::n_groups`].
    pub fn freeze_to(&mut self, n: usize) -> Result<()> {
        if n > self.n_groups() {
            let value = n.to_string();
            return Err(Error::InvalidParameter { name: "freeze_to n", value, reason: "at most n_groups() = 3" });
        }
        self.frozen_groups = n;
        Ok(())
    }

    /// Freezes everything but the head (fastai's `freeze()`, what `fine_tune` does first).
    pub fn freeze(&mut self) {
        self.frozen_groups = self.n_groups() - 1;
    }

    /// Makes every parameter trainable again.
    pub fn unfreeze(&mut self) {
        self.frozen_groups = 0;
    }

    /// How many leading groups are frozen.
    pub fn frozen_groups(&self) -> usize {
        self.frozen_groups
    }

    /// The parameters with fastai's names, groups and flags, in `state_dict` order.
    pub fn params(&self) -> Vec<Param> {
        let frozen: Vec<usize> = (0..self.frozen_groups).collect();
        weights::params(&self.entries(), &frozen)
    }

    /// Every tensor with fastai's name, buffers included, in `state_dict` order.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        weights::named_tensors(&self.entries())
    }

    /// Loads a whole model saved under fastai's names (`0.*`, `1.*`), e.g. by [`VisionModel::save`] or from
    /// `learn.model.state_dict()`; names and shapes must fit exactly.
    pub fn load(&self, path: &Path) -> Result<()> {
        weights::load(&self.entries(), path, &self.description(), &|name| Some(name.to_string()))
    }

    /// [`VisionModel::load`] from tensors already read.
    pub fn load_state(&self, state: &StateDict) -> Result<()> {
        weights::load_state(&self.entries(), state, &self.description(), &|name| Some(name.to_string()))
    }

    /// Loads only the body, keeping the new head: from a torchvision file (`conv1.*`, `layer1.*`...; `fc.*` is
    /// skipped), an akamaster CIFAR file (`conv1.*`, `layer1.*`...; `linear.*` is skipped) or a fastai file (`0.*`;
    /// `1.*` is skipped). The file may be safetensors or a PyTorch checkpoint (torchvision's `.pth`, a legacy
    /// `.th`), detected by content.
    pub fn load_body(&self, path: &Path) -> Result<()> {
        let state = StateDict::read(path, &ReadOptions::default()).map_err(Error::Weights)?;
        self.load_body_state(&state)
    }

    /// [`VisionModel::load_body`] from tensors already read (with a chosen `--weights-key`, say).
    pub fn load_body_state(&self, state: &StateDict) -> Result<()> {
        let mut out = Collector::default();
        self.body.collect(&mut out);
        let layout = match self.arch {
            Backbone::ResNet(_) => &TORCHVISION,
            Backbone::Cifar(_) => &AKAMASTER,
        };
        weights::load_state(&out.entries, state, &format!("the {} body", self.arch), &|name| layout.to_body(name))
    }

    /// Saves every tensor under fastai's names, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        weights::save(&self.entries(), path, &self.description())
    }

    fn description(&self) -> String {
        format!("{} + head({})", self.arch, self.n_classes)
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = Collector::default();
        self.body.collect(&mut out);
        out.group = 2;
        self.head.collect(&mut out);
        out.entries
    }
}

/// How a classifier file names its body: the classifier's prefix (skipped), the number of `layerK` stages and the
/// fastai index of `layer1` in `create_body`'s Sequential.
struct BodyLayout {
    classifier: &'static str,
    stages: usize,
    first_stage: usize,
}

/// torchvision: `conv1, bn1, relu, maxpool, layer1..4, avgpool, fc`.
const TORCHVISION: BodyLayout = BodyLayout { classifier: "fc.", stages: 4, first_stage: 4 };
/// akamaster's CIFAR ResNets: `conv1, bn1, layer1..3, linear` (ReLU and pooling are functional).
const AKAMASTER: BodyLayout = BodyLayout { classifier: "linear.", stages: 3, first_stage: 2 };

impl BodyLayout {
    /// Maps a classifier-file or fastai name to the body's fastai name; `None` for head/classifier tensors.
    fn to_body(&self, name: &str) -> Option<String> {
        if name.starts_with(self.classifier) || name.starts_with("1.") {
            return None;
        }
        let mapped = if let Some(rest) = name.strip_prefix("conv1.") {
            format!("0.0.{rest}")
        } else if let Some(rest) = name.strip_prefix("bn1.") {
            format!("0.1.{rest}")
        } else {
            let stage = name.strip_prefix("layer").and_then(|r| r.split_once('.'));
            let valid = |k: &usize| (1..=self.stages).contains(k);
            match stage.and_then(|(k, rest)| Some((k.parse::<usize>().ok().filter(valid)?, rest))) {
                Some((k, rest)) => format!("0.{}.{rest}", k - 1 + self.first_stage),
                None => name.to_string(),
            }
        };
        Some(mapped)
    }
}
