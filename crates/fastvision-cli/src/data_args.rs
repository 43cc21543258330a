//! The data flags shared by every command, where the images come from (a folder, a named data set, or the
//! built-in one), and the `DataBlock` they describe.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fastvision::core::DeviceChoice;
use fastvision::datasets::{self, Labelling, Preset, Split};
use fastvision::prelude::*;

/// Where the images are and how to label, split, presize and batch them.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Folder of images (searched recursively). Default: the built-in data set, rendered on first use.
    #[arg(long, value_name = "DIR", conflicts_with = "dataset")]
    pub data: Option<PathBuf>,
    /// A named data set, downloaded and cached like fastai's `untar_data`: pets, imagenette or cifar10.
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
    /// Label regex on the file name; capture group 1 is the label [default for --data: fastbook's `(.+)_\d+.jpg$`].
    #[arg(long, value_name = "RE", conflicts_with = "label_parent")]
    pub label_regex: Option<String>,
    /// Label each image by the name of its folder.
    #[arg(long)]
    pub label_parent: bool,
    /// Fraction of items for validation (ignored when DIR has `train/` and `valid/` folders).
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    pub valid_pct: f64,
    /// Seed of the split, the shuffles, the augmentation and the model's initialisation.
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,
    /// Presize: the item resize (px) done on the CPU before the batch transform [default: 460; 128 for the
    /// built-in data set].
    #[arg(long, value_name = "PX")]
    pub presize: Option<usize>,
    /// Final image size (px) after the batch transform [default: 224; 64 for the built-in data set].
    #[arg(long, value_name = "PX")]
    pub size: Option<usize>,
    /// Smallest fraction of the image kept by the random resized crop.
    #[arg(long, default_value_t = 0.75, value_name = "F")]
    pub min_scale: f64,
    /// Batch size.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub bs: usize,
    /// Device: auto (CUDA when this build has it and a GPU answers, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceChoice,
    /// Where the built-in data set is rendered and named data sets are cached [default: target/fastvision-data].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

/// The images folder and how to read it, once `--data` / `--dataset` / the default are resolved.
#[derive(Debug, Clone)]
pub struct Source {
    /// The folder handed to `get_image_files`.
    pub dir: PathBuf,
    /// Labelling and split.
    pub preset: Preset,
    /// Whether this is the built-in data set (smaller default sizes).
    pub builtin: bool,
}

impl DataArgs {
    /// Finds (and if needed renders or downloads) the images.
    pub fn source(&self) -> Result<Source> {
        let cache = self.cache.clone().unwrap_or_else(|| PathBuf::from("target/fastvision-data"));
        let (dir, preset, builtin) = if let Some(dir) = &self.data {
            let split = if dir.join("train").is_dir() && dir.join("valid").is_dir() {
                Split::Folders { train: "train".into(), valid: "valid".into() }
            } else {
                Split::Random { valid_pct: self.valid_pct, seed: self.seed }
            };
            let preset = Preset { images: String::new(), labelling: Labelling::Regex(r"(.+)_\d+.jpg$".into()), split };
            (dir.clone(), preset, false)
        } else if let Some(name) = &self.dataset {
            let dataset = datasets::Dataset::by_name(name)?;
            let config = datasets::UntarConfig::in_home(&cache);
            let root = crate::progress::with_download_bar(|report| datasets::untar_data(&dataset, &config, report))?;
            (root.join(&dataset.preset.images), dataset.preset.clone(), false)
        } else {
            eprintln!("no --data given: using the built-in data set (rendered once into {})", cache.display());
            let dir = datasets::default_dataset(&cache).context("rendering the built-in data set")?;
            (dir, datasets::default_preset(), true)
        };
        let mut preset = preset;
        if self.label_parent {
            preset.labelling = Labelling::ParentFolder;
        } else if let Some(re) = &self.label_regex {
            preset.labelling = Labelling::Regex(re.clone());
        }
        Ok(Source { dir, preset, builtin })
    }

    /// Presize and final size, with the smaller defaults of the built-in data set.
    pub fn sizes(&self, source: &Source) -> (usize, usize) {
        let (presize, size) = if source.builtin { (128, 64) } else { (460, 224) };
        (self.presize.unwrap_or(presize), self.size.unwrap_or(size))
    }

    /// Opens `--device` and says on stderr which device was chosen and why.
    pub fn device(&self) -> Result<candle::Device> {
        open_device(self.device)
    }

    /// The `DataBlock` for `source`, with fastai's `aug_transforms(size, min_scale)` batch transform, its batches
    /// on `--device`.
    pub fn datablock(
        &self,
        source: &Source,
        normalize: Option<Normalize>,
        device: &candle::Device,
    ) -> Result<DataBlock> {
        let labeller = match &source.preset.labelling {
            Labelling::ParentFolder => Labeller::ParentFolder,
            Labelling::Regex(re) => Labeller::regex_on_name(re).with_context(|| format!("label regex {re:?}"))?,
        };
        let splitter = match &source.preset.split {
            Split::Random { valid_pct, seed } => Splitter::random(*valid_pct, *seed),
            Split::Folders { train, valid } => {
                Splitter::Grandparent { train_name: train.clone(), valid_name: valid.clone() }
            }
        };
        let (presize, size) = self.sizes(source);
        let augment = BatchAugment::new(AugConfig::with_size(size, self.min_scale), normalize)?;
        let block = DataBlock::builder()
            .get_y(labeller)
            .splitter(splitter)
            .item_tfms(ItemTransform::resize(presize))
            .batch_tfms(augment)
            .seed(self.seed)
            .device(device.clone())
            .build()?;
        Ok(block)
    }
}

/// Opens `choice`, saying on stderr which device it is (and, for `auto`, why).
pub fn open_device(choice: DeviceChoice) -> Result<candle::Device> {
    let opened = choice.open()?;
    eprintln!("device: {}", opened.description);
    Ok(opened.device)
}

/// `path` shown relative to the working directory when it is inside it.
pub fn display(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}
