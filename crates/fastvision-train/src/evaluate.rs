//! Accuracy of a bare classifier's weights (a torchvision or CIFAR ResNet, not a fastai export) on a folder of
//! class sub-folders: what `fastvision eval` does, as library calls.

use std::path::Path;

use candle::{Device, Tensor};
use fastvision_augment::{BatchAugment, Normalize};
use fastvision_core::Vocab;
use fastvision_data::ResizeMethod;
use fastvision_data::{CategoryBlock, DataBlock, DataLoader, Item, ItemTransform, Labeller, LoaderConfig, Resize};
use fastvision_models::{Backbone, CifarResNet, ResNet};
use fastvision_ops::CandleContext;
use fastvision_weights::StateDict;

use crate::error::{Error, Result};

/// The images of a folder with one sub-folder per class, the sorted folder names being the class indices.
#[derive(Debug, Clone)]
pub struct ClassFolders {
    /// Every image, labelled by its folder, in sorted file order.
    pub items: Vec<Item>,
    /// The classes: the sorted folder names.
    pub vocab: Vocab,
}

impl ClassFolders {
    /// Lists `dir`'s images (as `get_image_files` does) and labels each by the name of its folder.
    pub fn read(dir: &Path) -> Result<Self> {
        let data = |source| Error::Data { context: format!("listing the class folders of {}", dir.display()), source };
        let block = DataBlock::builder().get_y(Labeller::ParentFolder).category(CategoryBlock::new()).build();
        let files = block.map_err(data)?.get_items(dir).map_err(data)?;
        let labels: Vec<String> =
            files.iter().map(|f| Labeller::ParentFolder.label(f)).collect::<Result<_, _>>().map_err(data)?;
        let vocab = Vocab::from_labels(&labels);
        let items = files
            .into_iter()
            .zip(&labels)
            .map(|(path, label)| Item { label: vocab.index_of(label).unwrap_or(0) as u32, path })
            .collect();
        Ok(Self { items, vocab })
    }
}

/// A bare classifier of either family, loaded from a state dict with the family's own names.
#[derive(Debug, Clone)]
pub enum Classifier {
    /// akamaster's CIFAR ResNet (`conv1`, `layer1`…, `linear`).
    Cifar(CifarResNet),
    /// torchvision's ResNet (`conv1`, `layer1`…, `fc`).
    ImageNet(ResNet),
}

impl Classifier {
    /// `backbone` with `n_classes` outputs and the weights of `state`.
    pub fn from_state(backbone: Backbone, n_classes: usize, state: &StateDict, device: &Device) -> Result<Self> {
        let model = |source| Error::Model { context: format!("loading {backbone}"), source };
        Ok(match backbone {
            Backbone::Cifar(arch) => {
                Self::Cifar(CifarResNet::from_state(arch, n_classes, state, device).map_err(model)?)
            }
            Backbone::ResNet(arch) => {
                Self::ImageNet(ResNet::from_state(arch, n_classes, state, device).map_err(model)?)
            }
        })
    }

    /// Logits in eval mode.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let model = |source| Error::Model { context: "evaluation forward pass".into(), source };
        match self {
            Self::Cifar(m) => m.forward_t(xs, false).map_err(model),
            Self::ImageNet(m) => m.forward_t(xs, false).map_err(model),
        }
    }
}

/// How [`evaluate`] feeds the images; `Default` is `fastvision eval`'s: 32 px, batches of 256, ImageNet
/// normalisation, on the CPU.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// The side the model sees; images of another size are squished to it.
    pub size: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// Normalisation of the inputs (`None`: they stay in [0, 1]).
    pub normalize: Option<Normalize>,
    /// Where the model and batches live.
    pub device: Device,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { size: 32, batch_size: 256, normalize: Some(Normalize::imagenet()), device: Device::Cpu }
    }
}

/// How many of the images the classifier got right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// Images evaluated.
    pub n_items: usize,
    /// Images whose argmax is their class.
    pub n_correct: usize,
}

impl Evaluation {
    /// `n_correct / n_items` (NaN when nothing was evaluated).
    pub fn accuracy(&self) -> f64 {
        self.n_correct as f64 / self.n_items as f64
    }
}

/// Predicts every image of `data` with `model` (argmax of the logits) and counts the correct ones.
pub fn evaluate(model: &Classifier, data: &ClassFolders, config: &EvalConfig) -> Result<Evaluation> {
    let loader = eval_loader(data, config)?;
    let mut evaluation = Evaluation { n_items: 0, n_correct: 0 };
    for (b, batch) in loader.epoch(0).enumerate() {
        let batch = batch.map_err(|source| Error::Data { context: format!("evaluation batch {b}"), source })?;
        let predicted = model.forward(&batch.images)?.argmax(1).and_then(|p| p.to_vec1::<u32>());
        let predicted = predicted.ctx("reading the predicted classes")?;
        let targets = batch.targets.to_vec1::<u32>().ctx("reading targets")?;
        evaluation.n_correct += predicted.iter().zip(&targets).filter(|(p, t)| p == t).count();
        evaluation.n_items += targets.len();
    }
    Ok(evaluation)
}

/// Every item once, in order, squished to `config.size`, normalised, no augmentation.
fn eval_loader(data: &ClassFolders, config: &EvalConfig) -> Result<DataLoader> {
    let context = format!("batches of {} at {} px", config.batch_size, config.size);
    let size = config.size;
    let item_tfm = ItemTransform::Resize(Resize { height: size, width: size, method: ResizeMethod::Squish });
    let loader_config =
        LoaderConfig { device: config.device.clone(), ..LoaderConfig::new(config.batch_size, item_tfm) };
    let batch_tfm = BatchAugment::identity(config.normalize)
        .map_err(|source| Error::Augment { context: context.clone(), source })?;
    DataLoader::new(data.items.clone(), loader_config, batch_tfm).map_err(|source| Error::Data { context, source })
}
