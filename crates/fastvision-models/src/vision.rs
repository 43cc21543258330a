//! fastai's learner model, `Sequential(create_body(arch), create_head(nf, n_classes))`, with fastai's names
//! (`0.*`, `1.*`), head initialisation, resnet splitter groups and freezing that detaches frozen weights.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use candle::{DType, Device, Tensor};
use fastvision_core::rng::Rng;

use crate::error::{Context, Error, Result};
use crate::init::{Init, Place};
use crate::layers::{dropout, BatchNorm, Collector, Entry, Linear, Pass};
use crate::ops::relu;
use crate::pool::{adaptive_pool, concat_pool, Reduce};
use crate::resnet::{check_images, Arch, BodyNames, ResNetBody};
use crate::weights::{self, Param};

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
    arch: Arch,
    n_classes: usize,
    place: Place,
    body: ResNetBody,
    head: Head,
    frozen_groups: usize,
    dropout_seed: AtomicU64,
    dropout_calls: AtomicU64,
}

impl VisionModel {
    /// A model with a randomly initialised body (torchvision's init) and fastai's head for `n_classes`, from
    /// `seed` (which also seeds dropout). Load pretrained weights with [`VisionModel::load_body`].
    pub fn new(arch: Arch, n_classes: usize, device: &Device, seed: u64) -> Result<Self> {
        Self::with_config(arch, n_classes, &VisionConfig::default(), device, seed)
    }

    /// [`VisionModel::new`] with a head layout and parameter type.
    pub fn with_config(
        arch: Arch,
        n_classes: usize,
        config: &VisionConfig,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        weights::check_float(config.dtype)?;
        if n_classes == 0 {
            return Err(Error::InvalidParameter { name: "n_classes", value: "0".into(), reason: "must be at least 1" });
        }
        let place = Place { device: device.clone(), dtype: config.dtype };
        let body = ResNetBody::new(arch, &mut Init::seeded(seed, 1), &place).ctx("creating the body")?;
        let head = Head::new(arch.n_features(), n_classes, &config.head, &mut Init::seeded(seed, 2), &place)?;
        Ok(Self {
            arch,
            n_classes,
            place,
            body,
            head,
            frozen_groups: 0,
            dropout_seed: AtomicU64::new(seed),
            dropout_calls: AtomicU64::new(0),
        })
    }

    /// The backbone architecture.
    pub fn arch(&self) -> Arch {
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

    /// The parameters' type.
    pub fn dtype(&self) -> DType {
        self.place.dtype
    }

    /// Logits N×`n_classes` (f32) for images N×3×H×W. `train`: BatchNorm uses (and updates) batch statistics and
    /// dropout is active, with masks drawn from the model's seed and a per-call counter.
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let features = self.body_features(xs, train)?;
        let pass = Pass { train, frozen: self.frozen_groups > 2 };
        let call = if train { self.dropout_calls.fetch_add(1, Ordering::Relaxed) } else { 0 };
        let mut rng = Rng::derive(self.dropout_seed.load(Ordering::Relaxed), call);
        let logits = self.head.forward(&features, pass, &mut rng).ctx("head forward")?;
        logits.to_dtype(DType::F32).ctx("logits to f32")
    }

    /// The body's output (fastai's `create_body`), N×nf×H/32×W/32, before the head's pooling.
    pub fn body_features(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let xs = check_images(xs, self.arch.name(), self.place.dtype)?;
        let frozen = [self.frozen_groups > 0, self.frozen_groups > 1];
        self.body.forward(&xs, train, frozen).ctx(&format!("{} body forward on {:?}", self.arch, xs.dims()))
    }

    /// Restarts the dropout masks from `seed`, as if the model had just been created with it.
    pub fn reseed_dropout(&self, seed: u64) {
        self.dropout_seed.store(seed, Ordering::Relaxed);
        self.dropout_calls.store(0, Ordering::Relaxed);
    }

    /// The number of parameter groups: 3 (body\[:6\] = stem, layer1, layer2; body\[6:\] = layer3, layer4; head).
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

    /// Loads only the body, keeping the new head: from a torchvision file (`conv1.*`, `layer1.*`...; `fc.*` is
    /// skipped) or a fastai file (`0.*`; `1.*` is skipped).
    pub fn load_body(&self, path: &Path) -> Result<()> {
        let mut out = Collector::default();
        self.body.collect(BodyNames::Fastai, 0, &mut out);
        weights::load(&out.entries, path, &format!("the {} body", self.arch), &torchvision_to_body)
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
        self.body.collect(BodyNames::Fastai, 0, &mut out);
        out.group = 2;
        self.head.collect(&mut out);
        out.entries
    }
}

/// Maps a torchvision or fastai name to the body's fastai name; `None` for head tensors.
fn torchvision_to_body(name: &str) -> Option<String> {
    if name.starts_with("fc.") || name.starts_with("1.") {
        return None;
    }
    let mapped = if let Some(rest) = name.strip_prefix("conv1.") {
        format!("0.0.{rest}")
    } else if let Some(rest) = name.strip_prefix("bn1.") {
        format!("0.1.{rest}")
    } else {
        let stage = name.strip_prefix("layer").and_then(|r| r.split_once('.'));
        match stage.and_then(|(k, rest)| Some((k.parse::<usize>().ok().filter(|k| (1..=4).contains(k))?, rest))) {
            Some((k, rest)) => format!("0.{}.{rest}", k + 3),
            None => name.to_string(),
        }
    };
    Some(mapped)
}
