//! Where a learner's starting weights come from: random (fastai's `pretrained=False`), torchvision's ImageNet
//! weights by architecture name (fastai's `pretrained=True`: the torch hub cache, downloaded into it when
//! missing), or a weights file the user has.

use std::path::{Path, PathBuf};

#[cfg(feature = "datasets")]
use fastvision_datasets::{imagenet_weights, HubOptions};
use fastvision_models::Backbone;

#[cfg(feature = "datasets")]
use crate::error::Error;
use crate::error::Result;

/// What a download of ImageNet weights reports (fastvision-datasets' `Progress`).
#[cfg(feature = "datasets")]
pub use fastvision_datasets::Progress;

/// Stands in for fastvision-datasets' `Progress` without the `datasets` feature: nothing is downloaded, so no
/// progress is ever reported.
#[cfg(not(feature = "datasets"))]
#[derive(Debug, Clone, Copy)]
pub enum Progress {}

/// The starting weights of [`crate::vision_learner`]'s body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Pretrained {
    /// Random initialisation: no normalisation added, nothing frozen (fastai's `pretrained=False`).
    #[default]
    No,
    /// torchvision's ImageNet weights for the architecture (resnet18…resnet152, the files fastai uses), from
    /// `$TORCH_HOME/hub/checkpoints` or downloaded there, SHA-256 checked either way. Only with the `datasets`
    /// feature (on by default), the one that may use the network.
    #[cfg(feature = "datasets")]
    ImageNet(HubOptions),
    /// A weights file: safetensors or a PyTorch checkpoint (`.pth`/`.pt`/`.th`/`.bin`, read by content).
    File {
        /// The file.
        path: PathBuf,
        /// The entry of a wrapped checkpoint (`{'state_dict': …}`) that holds the weights; `None` picks the one
        /// that holds tensors.
        key: Option<String>,
    },
}

impl Pretrained {
    /// torchvision's ImageNet weights through the default hub settings.
    #[cfg(feature = "datasets")]
    pub fn imagenet() -> Self {
        Self::ImageNet(HubOptions::default())
    }

    /// A weights file, its wrapper entry chosen automatically.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File { path: path.into(), key: None }
    }

    /// Whether the body starts from trained weights (then ImageNet normalisation is added and it starts frozen).
    pub fn is_pretrained(&self) -> bool {
        !matches!(self, Self::No)
    }

    /// The wrapper entry to read from the weights file (`--weights-key`), if one was chosen.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::File { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// The weights file for `arch` and how exports name it, fetching torchvision's file when needed
    /// (`progress` sees the download and the hash check); `None` for [`Pretrained::No`].
    #[cfg_attr(not(feature = "datasets"), allow(unused_variables))]
    pub fn resolve(&self, arch: Backbone, progress: &mut dyn FnMut(Progress)) -> Result<Option<(PathBuf, String)>> {
        match self {
            Self::No => Ok(None),
            Self::File { path, .. } => Ok(Some((path.clone(), file_name(path)))),
            #[cfg(feature = "datasets")]
            Self::ImageNet(hub) => {
                let Backbone::ResNet(resnet) = arch else {
                    return Err(Error::InvalidParameter {
                        name: "pretrained",
                        value: arch.to_string(),
                        why: "torchvision has ImageNet weights for resnet18…resnet152 only; give a CIFAR ResNet a \
                              weights file (akamaster's CIFAR-10 weights) or train it from scratch",
                    });
                };
                let path = imagenet_weights(&resnet.to_string(), hub, progress).map_err(|source| {
                    Error::Pretrained { context: format!("torchvision's ImageNet weights for {arch}"), source }
                })?;
                let name = format!("imagenet:{}", file_name(&path));
                Ok(Some((path, name)))
            }
        }
    }
}

/// `None` is random initialisation, `Some(path)` a weights file (the signature `vision_learner` had before).
impl From<Option<&Path>> for Pretrained {
    fn from(path: Option<&Path>) -> Self {
        path.map_or(Self::No, Self::file)
    }
}

impl From<&Path> for Pretrained {
    fn from(path: &Path) -> Self {
        Self::file(path)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned()
}
