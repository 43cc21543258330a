//! The named data sets `untar_data` knows (fastai's `URLs`), each with its archive's address, size and checksum
//! and the data block preset that labels and splits it, as plain data for `fastvision-data` to map.

use crate::{Error, Result};

/// How items get their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labelling {
    /// The first capture group of this regex applied to the file name (fastai's `RegexLabeller` on `.name`).
    Regex(String),
    /// The name of the folder holding the file (fastai's `parent_label`).
    ParentFolder,
}

/// How items are split into training and validation sets.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitRule {
    /// A seeded random fraction goes to validation (fastai's `RandomSplitter(valid_pct, seed)`).
    Random {
        /// Fraction of items in the validation set.
        valid_pct: f64,
        /// The splitter's seed.
        seed: u64,
    },
    /// Items under these top-level folders of the images folder (fastai's `GrandparentSplitter`).
    Folders {
        /// The training folder's name.
        train: String,
        /// The validation folder's name.
        valid: String,
    },
}

/// The old name of [`SplitRule`], kept for code written against the crate's README.
#[deprecated(note = "renamed SplitRule: `fastvision_data::SplitIndices` is the split itself")]
pub type Split = SplitRule;

/// The data block settings a data set is meant to be read with.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The folder holding the images, relative to the extracted data set ("" for the data set's own folder).
    pub images: String,
    /// How labels are found.
    pub labelling: Labelling,
    /// How the split is made.
    pub split: SplitRule,
}

/// A downloadable data set: where its archive lives, how to check it, and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The short name (`pets`).
    pub name: String,
    /// The archive's address (a `.tgz` or `.tar.gz` over http or https).
    pub url: String,
    /// The archive's size in bytes, when known.
    pub size_bytes: Option<u64>,
    /// The archive's MD5 as lowercase hex, when known (fastai's `checks.txt` records MD5).
    pub md5: Option<String>,
    /// The archive's SHA-256 as lowercase hex, when known.
    pub sha256: Option<String>,
    /// How to read the extracted data.
    pub preset: Preset,
}

/// The names [`Dataset::by_name`] accepts.
pub const DATASET_NAMES: [&str; 3] = ["pets", "imagenette", "cifar10"];

impl Dataset {
    /// Oxford-IIIT Pet (fastai's `URLs.PETS`): about 7,400 photos of 37 breeds, 774 MiB; labels from the file
    /// name as in fastbook chapter 5.
    pub fn pets() -> Self {
        Self {
            name: "pets".into(),
            url: "https://s3.amazonaws.com/fast-ai-imageclas/oxford-iiit-pet.tgz".into(),
            // Size and MD5 from fastai's fastai/data/checks.txt.
            size_bytes: Some(811_706_944),
            md5: Some("e4db5c768afd933bb91f5f594d7417a4".into()),
            sha256: None,
            preset: Preset {
                images: "images".into(),
                labelling: Labelling::Regex(r"(.+)_\d+.jpg$".into()),
                split: SplitRule::Random { valid_pct: 0.2, seed: 42 },
            },
        }
    }

    /// Imagenette at 160 px (fastai's `URLs.IMAGENETTE_160`): 13,394 ImageNet photos of 10 classes, about 94 MiB;
    /// labels from folders, split by the `train` and `val` folders.
    pub fn imagenette() -> Self {
        Self {
            name: "imagenette".into(),
            url: "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz".into(),
            size_bytes: Some(99_003_388),
            md5: Some("c475f8f7617a200ba35b9facc48443c3".into()),
            sha256: None,
            preset: folder_preset("val"),
        }
    }

    /// CIFAR-10 (fastai's `URLs.CIFAR`): 60,000 PNGs of 32×32 pixels in 10 classes, about 160 MiB; labels from
    /// folders, split by the `train` and `test` folders.
    pub fn cifar10() -> Self {
        Self {
            name: "cifar10".into(),
            url: "https://s3.amazonaws.com/fast-ai-sample/cifar10.tgz".into(),
            size_bytes: Some(168_168_549),
            md5: Some("a5f8c31371b63a406b23368042812d3c".into()),
            sha256: None,
            preset: folder_preset("test"),
        }
    }

    /// The registered data set called `name` (one of [`DATASET_NAMES`]).
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "pets" => Ok(Self::pets()),
            "imagenette" => Ok(Self::imagenette()),
            "cifar10" => Ok(Self::cifar10()),
            _ => Err(Error::UnknownDataset { name: name.to_string(), known: DATASET_NAMES.join(", ") }),
        }
    }

    /// The archive's file name: the last segment of the address (`oxford-iiit-pet.tgz`).
    pub fn archive_name(&self) -> Result<String> {
        let invalid = |hint| Error::InvalidUrl { url: self.url.clone(), hint };
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"))
            .ok_or_else(|| invalid("only http:// and https:// addresses are supported"))?;
        let path = rest.split(['?', '#']).next().unwrap_or_default();
        let name = path.split_once('/').map(|(_, path)| path.rsplit('/').next().unwrap_or_default()).unwrap_or("");
        let is_safe = !name.is_empty() && !name.starts_with('.') && !name.contains('\\');
        if !is_safe || !(name.ends_with(".tgz") || name.ends_with(".tar.gz")) {
            return Err(invalid("the address must end in a .tgz or .tar.gz file name"));
        }
        Ok(name.to_string())
    }

    /// The folder the data set is extracted to under the data cache: the archive name without its extension
    /// (`oxford-iiit-pet`), as fastai's `untar_data` names it.
    pub fn folder_name(&self) -> Result<String> {
        let archive = self.archive_name()?;
        let stem = archive.strip_suffix(".tgz").or_else(|| archive.strip_suffix(".tar.gz")).unwrap_or(&archive);
        Ok(stem.to_string())
    }
}

fn folder_preset(valid: &str) -> Preset {
    Preset {
        images: String::new(),
        labelling: Labelling::ParentFolder,
        split: SplitRule::Folders { train: "train".into(), valid: valid.into() },
    }
}

#[cfg(test)]
mod tests;
