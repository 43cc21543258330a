//! Export for inference (fastai's `learn.export` / `load_learner`, without pickle): the model's tensors and a JSON
//! description (architecture, vocab, presize, batch-transform size, normalisation) in one safetensors file, plus a
//! readable copy of the JSON beside it. Prediction with the loaded model is in `predict.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use candle::{Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment, Normalize, OutputDType};
use fastvision_core::Vocab;
use fastvision_data::{ItemTransform, PadMode, Resize, ResizeMethod};
use fastvision_losses::CrossEntropyLossFlat;
use fastvision_models::{Backbone, HeadConfig, VisionConfig, VisionModel};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{read_safetensors, set_model_tensors, to_safetensors};
use crate::error::{Error, Result};
use crate::learner::Learner;

/// What inference needs besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportMeta {
    /// Always `fastvision-export`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Architecture name (`resnet34`, `cifar-resnet20`).
    pub arch: String,
    /// Class names; the index is the model's output.
    pub vocab: Vocab,
    /// Presize (height, width) of the item transform, applied as a centre crop + resize (the validation path).
    pub presize: (usize, usize),
    /// fastai's `ResizeMethod` of the item transform: `crop`, `squish`, `pad-zeros`, `pad-border` or
    /// `pad-reflection` (a random resized crop is exported as `crop`: its validation path is a centre crop).
    pub resize_method: String,
    /// Output side of the batch transform (`None`: the presize is kept).
    pub size: Option<usize>,
    /// `min_scale` of the batch transform (below 1: validation takes the centre square).
    pub min_scale: f64,
    /// Per-channel (mean, std) normalisation, if the model was trained with it.
    pub normalize: Option<([f32; 3], [f32; 3])>,
    /// The head's layout (absent in older exports: fastai's default head).
    #[serde(default)]
    pub head: ExportHead,
    /// The item transform as the loaders applied it (`Resize` or `RandomResizedCrop`, with every parameter): the
    /// validation path for predictions, the random training path for test-time augmentation. Absent in older
    /// exports, which rebuild a centre-crop `Resize` from `presize` and `resize_method`.
    #[serde(default)]
    pub item_tfm: Option<ItemTransform>,
    /// The training batch augmentation (fastai's `aug_transforms` arguments), for test-time augmentation; its
    /// `size` and `min_scale` also give the validation path. Absent in older exports (fastai's defaults then).
    #[serde(default)]
    pub augment: Option<AugConfig>,
    /// Where the starting weights came from (`imagenet:resnet34-b627a593.pth`, a file name, or absent: random).
    #[serde(default)]
    pub pretrained: Option<String>,
}

/// The largest image side an export may ask for (the data pipeline's own limit).
const MAX_SIDE: usize = 8192;
/// The most hidden units per head layer, and hidden layers, an export may ask for: a header edited to huge values
/// must be refused before the model is allocated.
const MAX_HEAD_WIDTH: usize = 1 << 16;
const MAX_HEAD_LAYERS: usize = 8;

impl ExportMeta {
    /// Checks every field before anything is built from it: a file edited by hand, or by another version, gets an
    /// error naming the field, its value and what is accepted.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.version != 1 {
            return Err(format!(
                "version {} (this fastvision reads version 1; was it written by a newer one?)",
                self.version
            ));
        }
        let classes = self.vocab.classes();
        if classes.is_empty() {
            return Err("vocab: no classes".into());
        }
        // Vocabularies are built sorted and unique; anything else is an edited file whose labels would be wrong.
        if let Some(pair) = classes.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!(
                "vocab: {:?} comes before {:?}, but class names are stored sorted and unique; the file was edited \
                 (export the model again)",
                pair[0], pair[1]
            ));
        }
        let side = |name: &str, v: usize| {
            if v == 0 || v > MAX_SIDE {
                Err(format!("{name} = {v}: must be between 1 and {MAX_SIDE} pixels"))
            } else {
                Ok(())
            }
        };
        side("presize height", self.presize.0)?;
        side("presize width", self.presize.1)?;
        if let Some(size) = self.size {
            side("size", size)?;
        }
        const METHODS: [&str; 5] = ["crop", "squish", "pad-zeros", "pad-border", "pad-reflection"];
        if !METHODS.contains(&self.resize_method.as_str()) {
            return Err(format!("resize_method {:?}: one of {}", self.resize_method, METHODS.join(", ")));
        }
        if !(self.min_scale > 0.0 && self.min_scale <= 1.0) {
            return Err(format!("min_scale = {}: must be in (0, 1]", self.min_scale));
        }
        if let Some((mean, std)) = &self.normalize {
            if mean.iter().chain(std).any(|v| !v.is_finite()) || std.iter().any(|s| *s <= 0.0) {
                return Err(format!("normalize = {mean:?} / {std:?}: finite means and positive standard deviations"));
            }
        }
        let head = &self.head;
        if head.lin_ftrs.len() > MAX_HEAD_LAYERS || head.lin_ftrs.iter().any(|&n| n == 0 || n > MAX_HEAD_WIDTH) {
            return Err(format!(
                "head.lin_ftrs = {:?}: at most {MAX_HEAD_LAYERS} layers of 1 to {MAX_HEAD_WIDTH} units",
                head.lin_ftrs
            ));
        }
        if !(0.0..1.0).contains(&head.ps) {
            return Err(format!("head.ps = {}: a dropout probability in [0, 1)", head.ps));
        }
        if let Some(item_tfm) = &self.item_tfm {
            item_tfm.validate().map_err(|e| format!("item_tfm: {e}"))?;
        }
        Ok(())
    }
}

/// [`HeadConfig`] as written in an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportHead {
    /// Hidden layer sizes.
    pub lin_ftrs: Vec<usize>,
    /// Final dropout probability.
    pub ps: f64,
    /// Concatenated max + average pooling.
    pub concat_pool: bool,
    /// BatchNorm before the first linear layer.
    pub first_bn: bool,
}

impl Default for ExportHead {
    fn default() -> Self {
        HeadConfig::default().into()
    }
}

impl From<HeadConfig> for ExportHead {
    fn from(h: HeadConfig) -> Self {
        Self { lin_ftrs: h.lin_ftrs, ps: h.ps, concat_pool: h.concat_pool, first_bn: h.first_bn }
    }
}

impl From<ExportHead> for HeadConfig {
    fn from(h: ExportHead) -> Self {
        Self { lin_ftrs: h.lin_ftrs, ps: h.ps, concat_pool: h.concat_pool, first_bn: h.first_bn }
    }
}

impl Learner {
    /// Writes what inference needs to `path` (a `.safetensors` file) and a readable copy of the description to
    /// the same path with extension `json`. Both are written atomically; the safetensors file alone is enough
    /// for [`load_learner`].
    pub fn export(&self, path: &Path) -> Result<()> {
        let valid = self.dls.valid();
        let (item_tfm, batch_tfm) = (valid.config().item_tfm, valid.batch_tfm());
        let resize_method = match item_tfm {
            ItemTransform::Resize(Resize { method: ResizeMethod::Squish, .. }) => "squish",
            ItemTransform::Resize(Resize { method: ResizeMethod::Pad(PadMode::Zeros), .. }) => "pad-zeros",
            ItemTransform::Resize(Resize { method: ResizeMethod::Pad(PadMode::Border), .. }) => "pad-border",
            ItemTransform::Resize(Resize { method: ResizeMethod::Pad(PadMode::Reflection), .. }) => "pad-reflection",
            _ => "crop",
        };
        let meta = ExportMeta {
            format: "fastvision-export".into(),
            version: 1,
            arch: self.model.arch().to_string(),
            vocab: self.dls.vocab().clone(),
            presize: item_tfm.output_size(),
            resize_method: resize_method.into(),
            size: batch_tfm.config().size,
            min_scale: batch_tfm.config().min_scale,
            normalize: batch_tfm.normalize().map(|n| (n.mean, n.std)),
            head: self.model.head_config().clone().into(),
            item_tfm: Some(item_tfm),
            augment: Some(batch_tfm.config().clone()),
            pretrained: self.pretrained.clone(),
        };
        let json = serde_json::to_string_pretty(&meta)
            .map_err(|source| Error::Json { what: "export description".into(), source })?;
        let tensors: BTreeMap<String, Tensor> = self.model.named_tensors().into_iter().collect();
        let bytes = to_safetensors(&tensors, json.clone(), path)?;
        let write = |p: &Path, b: &[u8]| {
            fastvision_core::fs::atomic_write_bytes(p, b)
                .map_err(|source| Error::Core { context: format!("writing export {}", p.display()), source })
        };
        write(path, &bytes)?;
        write(&path.with_extension("json"), json.as_bytes())
    }
}

/// A model loaded for prediction.
pub struct InferenceLearner {
    /// The description it was exported with.
    pub meta: ExportMeta,
    /// The model (eval mode only).
    pub model: VisionModel,
    pub(crate) item_tfm: ItemTransform,
    pub(crate) batch_tfm: BatchAugment,
    pub(crate) loss: CrossEntropyLossFlat,
}

impl std::fmt::Debug for InferenceLearner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceLearner").field("meta", &self.meta).finish_non_exhaustive()
    }
}

/// fastai's `load_learner`: reads a file written by [`Learner::export`] onto `device`.
pub fn load_learner(path: &Path, device: &Device) -> Result<InferenceLearner> {
    let (tensors, json) = read_safetensors(path, device)?;
    let bad = |why: String| Error::BadCheckpoint { path: path.to_path_buf(), why };
    let meta: ExportMeta = serde_json::from_str(&json).map_err(|e| bad(format!("description: {e}")))?;
    if meta.format != "fastvision-export" {
        return Err(bad(format!("is a {}, not an export (use Learner::load for checkpoints)", meta.format)));
    }
    meta.validate().map_err(bad)?;
    let arch: Backbone = meta.arch.parse().map_err(|_| bad(format!("unknown architecture {:?}", meta.arch)))?;
    let vision = VisionConfig { head: meta.head.clone().into(), ..VisionConfig::default() };
    let model = VisionModel::with_config(arch, meta.vocab.len(), &vision, device, 0)
        .map_err(|source| Error::Model { context: format!("creating {arch}"), source })?;
    set_model_tensors(&model, |n| tensors.get(n).cloned(), path)?;
    let (height, width) = meta.presize;
    let method = match meta.resize_method.as_str() {
        "squish" => ResizeMethod::Squish,
        "pad-zeros" => ResizeMethod::Pad(PadMode::Zeros),
        "pad-border" => ResizeMethod::Pad(PadMode::Border),
        "pad-reflection" => ResizeMethod::Pad(PadMode::Reflection),
        _ => ResizeMethod::Crop,
    };
    let item_tfm = meta.item_tfm.unwrap_or(ItemTransform::Resize(Resize { height, width, method }));
    item_tfm.validate().map_err(|e| bad(format!("item transform: {e}")))?;
    let aug = meta.augment.clone().unwrap_or(AugConfig {
        size: meta.size,
        min_scale: meta.min_scale,
        ..AugConfig::default()
    });
    // The model runs in f32 here, whatever precision it was trained in.
    let aug = AugConfig { output_dtype: OutputDType::F32, ..aug };
    let normalize = meta.normalize.map(|(mean, std)| Normalize { mean, std });
    let batch_tfm = BatchAugment::new(aug, normalize)
        .map_err(|source| Error::Augment { context: "rebuilding the batch transform".into(), source })?;
    Ok(InferenceLearner { meta, model, item_tfm, batch_tfm, loss: CrossEntropyLossFlat::default() })
}
