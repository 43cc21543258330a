//! The data flags shared by every command, where the images come from (a folder, a named data set, or the
//! built-in one), and the `DataBlock` they describe.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastvision::core::fs::mark_output_dir;
use fastvision::core::DeviceChoice;
use fastvision::data::DecodeLimits;
use fastvision::datasets::{self, Labelling, Preset, SplitRule};
use fastvision::prelude::*;

/// The default `--out` folders of `train` and `interpret`: never listed as data, even before a run marks them,
/// so `--data .` does not read a previous run's plots and model as images.
const DEFAULT_OUT_FOLDERS: [&str; 2] = ["target/fastvision-run", "target/fastvision-interpret"];

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
    /// Presize: the item resize (px, at most 8192) done on the CPU before the batch transform [default: 460; 128
    /// for the built-in data set].
    #[arg(long, value_name = "PX")]
    pub presize: Option<usize>,
    /// Final image size (px, at most 8192) after the batch transform [default: 224; 64 for the built-in data set].
    #[arg(long, value_name = "PX")]
    pub size: Option<usize>,
    /// Smallest fraction of the image kept by the random resized crop.
    #[arg(long, default_value_t = 0.75, value_name = "F")]
    pub min_scale: f64,
    /// Batch size; a batch (presized u8 plus transformed f32 images) may take at most 2 GiB.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub bs: usize,
    /// Most memory one image may take while it is decoded and presized, in MiB (width × height × channels × bytes
    /// per sample, plus the copies the presize makes); checked from the file's header, and a larger image is an
    /// error naming it.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub decode_limit_mib: u64,
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
    /// The cache folder: `--cache`, or `target/fastvision-data`.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(|| PathBuf::from("target/fastvision-data"))
    }

    /// Finds (and if needed renders or downloads) the images.
    pub fn source(&self) -> Result<Source> {
        let cache = self.cache_dir();
        let (dir, preset, builtin) = if let Some(dir) = &self.data {
            let split = if dir.join("train").is_dir() && dir.join("valid").is_dir() {
                SplitRule::Folders { train: "train".into(), valid: "valid".into() }
            } else {
                SplitRule::Random { valid_pct: self.valid_pct, seed: self.seed }
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

    /// `--decode-limit-mib` as the library's decode limits.
    pub fn decode_limits(&self) -> Result<DecodeLimits> {
        let bytes = self.decode_limit_mib.checked_mul(1 << 20).filter(|&b| b > 0);
        let max_alloc_bytes = bytes.with_context(|| {
            format!("--decode-limit-mib {}: must be between 1 and {}", self.decode_limit_mib, u64::MAX >> 20)
        })?;
        Ok(DecodeLimits { max_alloc_bytes, ..DecodeLimits::default() })
    }

    /// The `DataBlock` for `source`, with fastai's `aug_transforms(size, min_scale)` batch transform, its batches
    /// on `--device`. The cache folder and the default output folders are never listed as data (nor is any folder
    /// marked as a run's output); every size flag is checked here, and an error names the flag, its value and the
    /// limit.
    pub fn datablock(
        &self,
        source: &Source,
        normalize: Option<Normalize>,
        device: &candle::Device,
    ) -> Result<DataBlock> {
        self.datablock_excluding(source, normalize, device, &[])
    }

    /// [`DataArgs::datablock`] for a command that writes into the folder `out`: `out` must not be the data
    /// folder; it is created and marked as a run's output folder (`fastvision::core::fs::mark_output_dir`), and
    /// left out of the listing, so this run and later ones over the same data never read its outputs as images.
    pub fn datablock_for_run(
        &self,
        source: &Source,
        normalize: Option<Normalize>,
        device: &candle::Device,
        out: &Path,
    ) -> Result<DataBlock> {
        if same_folder(out, &source.dir) {
            bail!(
                "--out {} is the data folder: the run's plots and model would be read back as images next time; \
                 choose another folder, e.g. --out target/fastvision-run",
                out.display()
            );
        }
        let block = self.datablock_excluding(source, normalize, device, &[out])?;
        mark_output_dir(out).with_context(|| format!("--out {}", out.display()))?;
        Ok(block)
    }

    /// [`DataArgs::datablock`], also leaving the files or folders `exclude` out of the listing.
    pub fn datablock_excluding(
        &self,
        source: &Source,
        normalize: Option<Normalize>,
        device: &candle::Device,
        exclude: &[&Path],
    ) -> Result<DataBlock> {
        let (presize, size) = self.sizes(source);
        let augment = BatchAugment::new(AugConfig::with_size(size, self.min_scale), normalize)
            .with_context(|| format!("--size {size} --min-scale {}", self.min_scale))?;
        let mut builder = source
            .preset
            .datablock()?
            .item_tfms(ItemTransform::resize(presize))
            .batch_tfms(augment)
            .seed(self.seed)
            .decode_limits(self.decode_limits()?)
            .device(device.clone())
            .exclude(self.cache_dir());
        for path in DEFAULT_OUT_FOLDERS.iter().map(Path::new).chain(exclude.iter().copied()) {
            builder = builder.exclude(path);
        }
        let block = builder.build().with_context(|| format!("--presize {presize}"))?;
        // Checked now, before the summary or the loaders allocate anything of that size.
        block
            .train_loader_config(self.bs)
            .validate(block.batch_tfm())
            .with_context(|| format!("--bs {} (with --presize {presize} and --size {size})", self.bs))?;
        Ok(block)
    }
}

/// Whether `a` and `b` name the same folder (either may not exist yet).
fn same_folder(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf());
    resolve(a) == resolve(b)
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
