//! `DataBlock`: fastai's recipe object — how to get items, label them, split them and turn them into batches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle::Device;
use fastvision_augment::BatchAugment;
use fastvision_core::Vocab;

use crate::category::{encode, CategoryBlock};
use crate::decode::DecodeLimits;
use crate::files::{check_not_empty, FileFilter, Listing};
use crate::label::Labeller;
use crate::loader::{DataLoader, Item, LoaderConfig, OnBadItem};
use crate::resize::ItemTransform;
use crate::split::Splitter;
use crate::{DataLoaders, Error, Result};

type GetItemsFn = dyn Fn(&Path) -> Result<Vec<PathBuf>> + Send + Sync;

/// How a block lists its items: `get_image_files` with a filter, or the caller's function.
#[derive(Clone)]
enum GetItems {
    ImageFiles(FileFilter),
    Custom { name: String, f: Arc<GetItemsFn> },
}

/// A problem with one item, found while listing or labelling; `summary` prints every one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// The step that failed (`"label"`, `"decode"`, …).
    pub step: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The labelled and split items of a folder: what `DataBlock::datasets` returns.
#[derive(Debug, Clone)]
pub struct Datasets {
    /// Every file `get_items` found, sorted.
    pub files: Vec<PathBuf>,
    /// The class vocabulary.
    pub vocab: Vocab,
    /// Training items.
    pub train: Vec<Item>,
    /// Validation items.
    pub valid: Vec<Item>,
    /// Files that could not be labelled (left out of both splits).
    pub errors: Vec<ItemError>,
}

/// fastai's `DataBlock(blocks=(ImageBlock, CategoryBlock), get_items, get_y, splitter, item_tfms, batch_tfms)`.
///
/// Build it with [`DataBlock::builder`]; it checks its parameters when built.
#[derive(Clone)]
pub struct DataBlock {
    get_items: GetItems,
    labeller: Labeller,
    splitter: Splitter,
    category: CategoryBlock,
    item_tfm: ItemTransform,
    batch_tfm: BatchAugment,
    seed: u64,
    on_bad_item: OnBadItem,
    decode_limits: DecodeLimits,
    device: Device,
}

/// The settings of a block under construction (everything but the labeller and the batch transform).
#[derive(Clone)]
struct DataBlockFields {
    get_items: GetItems,
    splitter: Splitter,
    category: CategoryBlock,
    item_tfm: ItemTransform,
    seed: u64,
    on_bad_item: OnBadItem,
    decode_limits: DecodeLimits,
    device: Device,
}

/// Builder of a [`DataBlock`]; every setting has fastai's default.
#[derive(Clone)]
pub struct DataBlockBuilder {
    block: DataBlockFields,
    labeller: Option<Labeller>,
    batch_tfm: Option<BatchAugment>,
    exclude: Vec<PathBuf>,
}

impl DataBlock {
    /// A builder with fastai's defaults: `get_image_files`, `RandomSplitter(0.2, seed 42)`, `Resize(460)`, no
    /// augmentation (only u8→float), the CPU.
    pub fn builder() -> DataBlockBuilder {
        let block = DataBlockFields {
            get_items: GetItems::ImageFiles(FileFilter::default()),
            splitter: Splitter::random(0.2, 42),
            category: CategoryBlock::new(),
            item_tfm: ItemTransform::resize(460),
            seed: 42,
            on_bad_item: OnBadItem::Stop,
            decode_limits: DecodeLimits::default(),
            device: Device::Cpu,
        };
        DataBlockBuilder { block, labeller: None, batch_tfm: None, exclude: Vec::new() }
    }

    /// The labeller.
    pub fn labeller(&self) -> &Labeller {
        &self.labeller
    }

    /// The splitter.
    pub fn splitter(&self) -> &Splitter {
        &self.splitter
    }

    /// The item transform.
    pub fn item_tfm(&self) -> &ItemTransform {
        &self.item_tfm
    }

    /// The batch transform.
    pub fn batch_tfm(&self) -> &BatchAugment {
        &self.batch_tfm
    }

    /// The listing function's name, for summaries.
    pub fn get_items_name(&self) -> &str {
        match &self.get_items {
            GetItems::ImageFiles(_) => "get_image_files",
            GetItems::Custom { name, .. } => name,
        }
    }

    /// Lists the files under `path` with `get_items`.
    pub fn get_items(&self, path: &Path) -> Result<Vec<PathBuf>> {
        Ok(self.list_items(path)?.files)
    }

    /// Lists the files under `path` with `get_items`, with what the listing skipped and why (a custom
    /// `get_items` skips nothing). No files is an error ([`Error::NoImages`] for `get_image_files`).
    pub fn list_items(&self, path: &Path) -> Result<Listing> {
        match &self.get_items {
            GetItems::ImageFiles(filter) => {
                let listing = filter.list(path)?;
                check_not_empty(path, &listing)?;
                Ok(listing)
            }
            GetItems::Custom { f, .. } => Ok(Listing { files: f(path)?, skipped: Vec::new() }),
        }
    }

    /// The config of this block's training loader with `batch_size` items per batch (shuffled, augmented): with
    /// [`DataBlock::valid_loader_config`], the one constructor behind [`DataBlock::dataloaders`] and
    /// [`DataBlock::summary`], so the summary decodes with the seed, limits and bad-item policy of training.
    pub fn train_loader_config(&self, batch_size: usize) -> LoaderConfig {
        self.loader_config(batch_size, true)
    }

    /// The config of this block's validation loader (in order, centre crops): see
    /// [`DataBlock::train_loader_config`].
    pub fn valid_loader_config(&self, batch_size: usize) -> LoaderConfig {
        self.loader_config(batch_size, false)
    }

    pub(crate) fn loader_config(&self, batch_size: usize, train: bool) -> LoaderConfig {
        LoaderConfig {
            train,
            seed: self.seed,
            decode_limits: self.decode_limits,
            on_bad_item: self.on_bad_item,
            device: self.device.clone(),
            ..LoaderConfig::new(batch_size, self.item_tfm)
        }
    }

    /// Lists, labels and splits the items under `path`. Files that cannot be labelled are collected in
    /// [`Datasets::errors`] rather than stopping everything, so that all of them can be reported at once.
    pub fn datasets(&self, path: &Path) -> Result<Datasets> {
        let found = self.get_items(path)?;
        let (mut files, mut labels, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for file in &found {
            match self.labeller.label(file) {
                Ok(label) => {
                    files.push(file.clone());
                    labels.push(label);
                }
                Err(e) => errors.push(ItemError { step: "label", path: file.clone(), message: e.to_string() }),
            }
        }
        if files.is_empty() {
            return Ok(Datasets {
                files: found,
                vocab: Vocab::from_labels::<&str>([]),
                train: vec![],
                valid: vec![],
                errors,
            });
        }
        let split = self.splitter.split(&files)?;
        let vocab = self.category.vocab_for(&split.train.iter().map(|&i| labels[i].clone()).collect::<Vec<_>>());
        let to_items = |ids: &[usize]| -> Result<Vec<Item>> {
            ids.iter()
                .map(|&i| Ok(Item { path: files[i].clone(), label: encode(&vocab, &labels[i], &files[i])? }))
                .collect()
        };
        check_valid_classes(&vocab, &split.valid, &labels, &files, self.category.has_vocab())?;
        let (train, valid) = (to_items(&split.train)?, to_items(&split.valid)?);
        Ok(Datasets { files: found, vocab, train, valid, errors })
    }

    /// Training and validation loaders over the items under `path`, with `batch_size` items per batch.
    ///
    /// Any file that cannot be labelled is an error here (run [`DataBlock::summary`] to see them all).
    pub fn dataloaders(&self, path: &Path, batch_size: usize) -> Result<DataLoaders> {
        let datasets = self.datasets(path)?;
        check_datasets(&datasets)?;
        let train = DataLoader::new(datasets.train, self.train_loader_config(batch_size), self.batch_tfm.clone())?;
        let valid = DataLoader::new(datasets.valid, self.valid_loader_config(batch_size), self.batch_tfm.clone())?;
        if train.n_batches() == 0 {
            return Err(Error::Parameter {
                name: "batch_size",
                value: batch_size.to_string(),
                expected: format!(
                    "at most the {} training items (training drops the last partial batch)",
                    train.n_items()
                ),
            });
        }
        Ok(DataLoaders::new(train, valid, datasets.vocab))
    }
}

/// fastai builds the vocabulary from the training labels; a class seen only in validation cannot be learned, so it is
/// named here with the split it is in and what to do (rather than "not in the vocab").
fn check_valid_classes(
    vocab: &Vocab,
    valid: &[usize],
    labels: &[String],
    files: &[std::path::PathBuf],
    given_vocab: bool,
) -> Result<()> {
    if given_vocab {
        return Ok(()); // a given vocab's own error (NotInVocab) says it best
    }
    let mut missing: std::collections::BTreeMap<&str, (usize, &std::path::Path)> = Default::default();
    for &i in valid {
        if vocab.index_of(&labels[i]).is_none() {
            missing.entry(labels[i].as_str()).or_insert((0, &files[i])).0 += 1;
        }
    }
    let Some((class, (n, example))) = missing.iter().next() else { return Ok(()) };
    Err(Error::ClassOnlyInValidation {
        class: (*class).to_owned(),
        n_images: *n,
        example: example.to_path_buf(),
        others: missing.keys().skip(1).map(|c| (*c).to_owned()).collect(),
    })
}

/// Errors that make a `Datasets` unusable for training: unlabelled files, a single class.
pub(crate) fn check_datasets(datasets: &Datasets) -> Result<()> {
    if let Some(first) = datasets.errors.first() {
        return Err(Error::Labelling {
            n_failed: datasets.errors.len(),
            n_items: datasets.files.len(),
            first: first.message.clone(),
        });
    }
    if datasets.vocab.len() < 2 {
        return Err(Error::OneClass {
            class: datasets.vocab.name(0).unwrap_or_default().to_owned(),
            n_items: datasets.files.len(),
        });
    }
    Ok(())
}

impl DataBlockBuilder {
    /// How items are listed (default: `get_image_files`). Exclusions ([`DataBlockBuilder::exclude`]) apply to
    /// the default only: a custom function does its own listing.
    pub fn get_items(mut self, name: &str, f: impl Fn(&Path) -> Result<Vec<PathBuf>> + Send + Sync + 'static) -> Self {
        self.block.get_items = GetItems::Custom { name: name.into(), f: Arc::new(f) };
        self
    }

    /// A file or folder `get_image_files` never lists nor enters, e.g. the run's output folder or the download
    /// cache, so a run over `.` does not read its own outputs back as data. It need not exist yet; a folder that
    /// contains the listed folder is ignored (the caller named that one). `Err` at [`DataBlockBuilder::build`]
    /// with a custom `get_items`, which would not apply it.
    pub fn exclude(mut self, path: impl Into<PathBuf>) -> Self {
        self.exclude.push(path.into());
        self
    }

    /// How items are labelled (`get_y`); required.
    pub fn get_y(mut self, labeller: Labeller) -> Self {
        self.labeller = Some(labeller);
        self
    }

    /// How items are split (default `RandomSplitter(0.2, seed 42)`).
    pub fn splitter(mut self, splitter: Splitter) -> Self {
        self.block.splitter = splitter;
        self
    }

    /// The category block (vocabulary from the data, or fixed).
    pub fn category(mut self, category: CategoryBlock) -> Self {
        self.block.category = category;
        self
    }

    /// The per-item transform, the presizing step (default `Resize(460)`).
    pub fn item_tfms(mut self, item_tfm: ItemTransform) -> Self {
        self.block.item_tfm = item_tfm;
        self
    }

    /// The batch transform (augmentation and normalisation; default: only u8→float).
    pub fn batch_tfms(mut self, batch_tfm: BatchAugment) -> Self {
        self.batch_tfm = Some(batch_tfm);
        self
    }

    /// The seed of shuffling, random crops and augmentation (the splitter has its own).
    pub fn seed(mut self, seed: u64) -> Self {
        self.block.seed = seed;
        self
    }

    /// What to do with files that fail to decode mid-epoch.
    pub fn on_bad_item(mut self, policy: OnBadItem) -> Self {
        self.block.on_bad_item = policy;
        self
    }

    /// Decode limits.
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.block.decode_limits = limits;
        self
    }

    /// The device batches are put on.
    pub fn device(mut self, device: Device) -> Self {
        self.block.device = device;
        self
    }

    /// Checks the settings and builds the block.
    pub fn build(self) -> Result<DataBlock> {
        let Some(labeller) = self.labeller else {
            return Err(Error::Parameter {
                name: "get_y",
                value: "unset".into(),
                expected: "a labeller, e.g. `Labeller::regex_on_name(r\"(.+)_\\d+.jpg$\")` or `Labeller::ParentFolder`"
                    .into(),
            });
        };
        self.block.item_tfm.validate()?;
        let batch_tfm = match self.batch_tfm {
            Some(batch_tfm) => batch_tfm,
            None => BatchAugment::identity(None).map_err(Error::Augment)?,
        };
        let mut f = self.block;
        match &mut f.get_items {
            GetItems::ImageFiles(filter) => filter.exclude.extend(self.exclude),
            GetItems::Custom { name, .. } if !self.exclude.is_empty() => {
                return Err(Error::Parameter {
                    name: "exclude",
                    value: format!("{:?}", self.exclude),
                    expected: format!("no exclusions with the custom get_items {name:?} (leave them out in it)"),
                });
            }
            GetItems::Custom { .. } => {}
        }
        Ok(DataBlock {
            get_items: f.get_items,
            labeller,
            splitter: f.splitter,
            category: f.category,
            item_tfm: f.item_tfm,
            batch_tfm,
            seed: f.seed,
            on_bad_item: f.on_bad_item,
            decode_limits: f.decode_limits,
            device: f.device,
        })
    }
}

impl fmt::Debug for DataBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataBlock")
            .field("get_items", &self.get_items_name())
            .field("get_y", &self.labeller)
            .field("splitter", &self.splitter)
            .field("item_tfms", &self.item_tfm)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}
