//! The data flags shared by every command, and the `DataBlock` they describe.

use std::path::PathBuf;

use anyhow::{Context, Result};
use fastvision::prelude::*;

/// Where the images are and how to label and split them.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Folder of images (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Label regex on the file name; capture group 1 is the label (fastbook's pets pattern by default).
    #[arg(long, value_name = "RE", default_value = r"(.+)_\d+.jpg$", conflicts_with = "label_parent")]
    pub label_regex: String,
    /// Label each image by the name of its folder instead.
    #[arg(long)]
    pub label_parent: bool,
    /// Fraction of items for validation (ignored when DIR has `train/` and `valid/` folders).
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    pub valid_pct: f64,
    /// Seed of the split, the shuffles and the augmentation.
    #[arg(long, default_value_t = 42, value_name = "N")]
    pub seed: u64,
    /// Presize: the item resize (px) done on the CPU before the batch transform.
    #[arg(long, default_value_t = 460, value_name = "PX")]
    pub presize: usize,
    /// Final image size (px) after the batch transform.
    #[arg(long, default_value_t = 224, value_name = "PX")]
    pub size: usize,
    /// Smallest fraction of the image kept by the random resized crop.
    #[arg(long, default_value_t = 0.75, value_name = "F")]
    pub min_scale: f64,
    /// Batch size.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub bs: usize,
}

impl DataArgs {
    /// The `DataBlock` these flags describe, with fastai's `aug_transforms(size, min_scale)` batch transform.
    pub fn datablock(&self, normalize: Option<Normalize>) -> Result<DataBlock> {
        let labeller = if self.label_parent {
            Labeller::ParentFolder
        } else {
            Labeller::regex_on_name(&self.label_regex).context("--label-regex")?
        };
        let has_split_folders = self.data.join("train").is_dir() && self.data.join("valid").is_dir();
        let splitter =
            if has_split_folders { Splitter::grandparent() } else { Splitter::random(self.valid_pct, self.seed) };
        let augment = BatchAugment::new(AugConfig::with_size(self.size, self.min_scale), normalize)?;
        let block = DataBlock::builder()
            .get_y(labeller)
            .splitter(splitter)
            .item_tfms(ItemTransform::resize(self.presize))
            .batch_tfms(augment)
            .seed(self.seed)
            .build()?;
        Ok(block)
    }
}
