//! torchvision's ImageNet weights by architecture name, through PyTorch's own hub cache: a checkpoint PyTorch
//! downloaded is used as it is, and one fastvision downloads is one PyTorch accepts (same name, bytes and folder).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::download::{self, part_path, Progress, Timeouts};
use crate::error::io_err;
use crate::extract::{remove_quietly, sha256_hex};
use crate::{Error, Result};

/// The environment variable that replaces [`TORCHVISION_WEIGHTS_URL`], for a mirror (or a test server).
pub const WEIGHTS_URL_ENV: &str = "FASTVISION_WEIGHTS_URL";

/// Where torchvision publishes its checkpoints; a file's address is `<this>/<file name>`.
pub const TORCHVISION_WEIGHTS_URL: &str = "https://download.pytorch.org/models";

/// One torchvision ImageNet checkpoint: the architecture it fits and its file name, whose part after the last
/// `-` is the start of the file's SHA-256 (PyTorch's `check_hash` convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagenetCheckpoint {
    /// The architecture, as torchvision and fastai name it (`resnet34`).
    pub arch: &'static str,
    /// torchvision's name for these weights (`ResNet34_Weights.IMAGENET1K_V1`).
    pub weights: &'static str,
    /// The file name on the server and in the cache (`resnet34-b627a593.pth`).
    pub file_name: &'static str,
}

/// The checkpoints `vision_learner(dls, resnetXX)` loads with `pretrained=True`.
// fastai (2.7.10 on, with torchvision >= 0.13; the reference harness runs fastai 2.8.12 and torchvision 0.29.2)
// builds the body with `arch(weights=meta['weights'])`, and `_resnet_meta` holds `'weights':'DEFAULT'`: see
// `create_vision_model` in fastai/vision/learner.py (nbs/21_vision.learner.ipynb, whose text adds that the
// default "is currently IMAGENET1K_V2"). torchvision/models/resnet.py sets `DEFAULT = IMAGENET1K_V1` for
// resnet18/34, their only weights, and `DEFAULT = IMAGENET1K_V2` for resnet50/101/152 (the newer training
// recipe; 80.9 % top-1 for resnet50 against 76.1 % for V1's resnet50-0676ba61.pth).
pub const IMAGENET_CHECKPOINTS: [ImagenetCheckpoint; 5] = [
    ImagenetCheckpoint {
        arch: "resnet18",
        weights: "ResNet18_Weights.IMAGENET1K_V1",
        file_name: "resnet18-f37072fd.pth",
    },
    ImagenetCheckpoint {
        arch: "resnet34",
        weights: "ResNet34_Weights.IMAGENET1K_V1",
        file_name: "resnet34-b627a593.pth",
    },
    ImagenetCheckpoint {
        arch: "resnet50",
        weights: "ResNet50_Weights.IMAGENET1K_V2",
        file_name: "resnet50-11ad3fa6.pth",
    },
    ImagenetCheckpoint {
        arch: "resnet101",
        weights: "ResNet101_Weights.IMAGENET1K_V2",
        file_name: "resnet101-cd907fc2.pth",
    },
    ImagenetCheckpoint {
        arch: "resnet152",
        weights: "ResNet152_Weights.IMAGENET1K_V2",
        file_name: "resnet152-f82ba261.pth",
    },
];

impl ImagenetCheckpoint {
    /// The checkpoint for `arch`, or [`Error::UnknownArch`] listing the known names.
    pub fn by_arch(arch: &str) -> Result<&'static ImagenetCheckpoint> {
        IMAGENET_CHECKPOINTS.iter().find(|checkpoint| checkpoint.arch == arch).ok_or_else(|| {
            let known: Vec<&str> = IMAGENET_CHECKPOINTS.iter().map(|checkpoint| checkpoint.arch).collect();
            Error::UnknownArch { arch: arch.into(), known: known.join(", ") }
        })
    }
}

/// Where [`hub_checkpoint`] looks for and downloads checkpoints, and its network limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// The cache folder; `None` means PyTorch's, [`torch_hub_checkpoints`].
    pub cache_dir: Option<PathBuf>,
    /// The address files are fetched from, as `<base_url>/<file name>`; `None` means `$FASTVISION_WEIGHTS_URL`
    /// if set, else [`TORCHVISION_WEIGHTS_URL`].
    pub base_url: Option<String>,
    /// Longest wait for a connection (30 s).
    pub connect_timeout: Duration,
    /// Longest wait for any single read of the response (60 s); a stalled transfer fails and can be resumed.
    pub read_timeout: Duration,
}

impl Default for HubOptions {
    /// PyTorch's cache, torchvision's server (or `$FASTVISION_WEIGHTS_URL`), 30 s and 60 s timeouts.
    fn default() -> Self {
        Self {
            cache_dir: None,
            base_url: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl HubOptions {
    /// The cache folder these options use: [`HubOptions::cache_dir`] or [`torch_hub_checkpoints`].
    pub fn checkpoints_dir(&self) -> Result<PathBuf> {
        self.cache_dir.clone().map_or_else(torch_hub_checkpoints, Ok)
    }

    /// The address of `file_name`: `<base>/<file_name>`, the base as [`HubOptions::base_url`] documents.
    pub fn url_for(&self, file_name: &str) -> String {
        let from_env = || std::env::var(WEIGHTS_URL_ENV).ok().filter(|url| !url.is_empty());
        let base = self.base_url.clone().or_else(from_env).unwrap_or_else(|| TORCHVISION_WEIGHTS_URL.into());
        format!("{}/{file_name}", base.trim_end_matches('/'))
    }
}

/// PyTorch's checkpoint cache, `torch.hub.get_dir()/checkpoints`, computed as PyTorch does:
/// `$TORCH_HOME/hub/checkpoints`, else `$XDG_CACHE_HOME/torch/hub/checkpoints`, else
/// `~/.cache/torch/hub/checkpoints`, with a leading `~` expanded.
/// An empty variable counts as unset (PyTorch would use a folder relative to wherever it runs).
pub fn torch_hub_checkpoints() -> Result<PathBuf> {
    hub_checkpoints_from(&|name| std::env::var_os(name))
}

/// [`torch_hub_checkpoints`] with the environment passed in, so tests need not change the process's.
pub(crate) fn hub_checkpoints_from(var: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let home = || set("HOME").or_else(|| set("USERPROFILE")).ok_or(Error::NoTorchHome);
    let torch_home = match (set("TORCH_HOME"), set("XDG_CACHE_HOME")) {
        (Some(torch_home), _) => torch_home,
        (None, Some(cache)) => cache.join("torch"),
        (None, None) => PathBuf::from("~").join(".cache").join("torch"),
    };
    // Python's `os.path.expanduser` on the whole path: only a leading `~` component is the home folder.
    let torch_home = match torch_home.strip_prefix("~") {
        Ok(rest) => home()?.join(rest),
        Err(_) => torch_home,
    };
    Ok(torch_home.join("hub").join("checkpoints"))
}

/// torchvision's ImageNet weights for `arch` (`resnet18` ... `resnet152`, see [`IMAGENET_CHECKPOINTS`]): the path
/// of the checkpoint in the torch hub cache, downloaded first if it is not there. See [`hub_checkpoint`].
pub fn imagenet_weights(arch: &str, options: &HubOptions, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    hub_checkpoint(ImagenetCheckpoint::by_arch(arch)?.file_name, options, progress)
}

/// A checkpoint named with its hash prefix (`resnet34-b627a593.pth`), from the cache or else downloaded into it.
///
/// A cached file is hashed every time before it is returned: the cache is shared with PyTorch and other tools,
/// and a truncated or wrong file there is an [`Error::CachedWeightsHashMismatch`] (the file is left alone).
/// Otherwise the file is downloaded from [`HubOptions::url_for`] into `<file>.part` in the cache folder, resuming
/// an earlier partial transfer, hashed, and renamed into place only if its SHA-256 starts with the prefix.
/// `progress` hears about the download ([`crate::Stage::Downloading`]) and the hashing ([`crate::Stage::Verifying`]).
///
/// Without a cached file and without a connection, the error is [`Error::WeightsUnavailable`], naming the file,
/// the cache folder and the address.
pub fn hub_checkpoint(file_name: &str, options: &HubOptions, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    let expected_prefix = hash_prefix(file_name)?;
    let cache_dir = options.checkpoints_dir()?;
    let path = cache_dir.join(file_name);
    if path.is_file() {
        verify_cached(&path, expected_prefix, progress)?;
    } else {
        let url = options.url_for(file_name);
        download_into_cache(file_name, expected_prefix, &cache_dir, &url, options, progress)?;
    }
    Ok(path)
}

/// The cached checkpoint `file_name` if the cache holds one, not yet checked; it tells a caller whether
/// [`hub_checkpoint`] will download (to word its progress bar).
pub fn cached_checkpoint(file_name: &str, options: &HubOptions) -> Result<Option<PathBuf>> {
    hash_prefix(file_name)?;
    let path = options.checkpoints_dir()?.join(file_name);
    Ok(path.is_file().then_some(path))
}

/// Checks a cached checkpoint against its name's hash prefix; a bad one is reported and left for its owner.
fn verify_cached(path: &Path, expected_prefix: &str, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let actual = sha256_hex(path, progress)?;
    if actual.starts_with(expected_prefix) {
        return Ok(());
    }
    let (path, expected_prefix) = (path.to_path_buf(), expected_prefix.into());
    Err(Error::CachedWeightsHashMismatch { path, expected_prefix, actual })
}

/// Downloads `url` to `cache_dir/file_name` through a `.part` file, checked against the name's hash prefix
/// before the rename, so the cache never holds a file PyTorch would refuse.
fn download_into_cache(
    file_name: &str,
    expected_prefix: &str,
    cache_dir: &Path,
    url: &str,
    options: &HubOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let not_writable = |source| Error::CacheNotWritable { dir: cache_dir.to_path_buf(), source };
    std::fs::create_dir_all(cache_dir).map_err(not_writable)?;
    let dest = cache_dir.join(file_name);
    let part = part_path(&dest);
    // Opening the part file first turns an unwritable cache into an error naming it, before any network wait.
    OpenOptions::new().append(true).create(true).open(&part).map_err(not_writable)?;
    let timeouts = Timeouts { connect: options.connect_timeout, read: options.read_timeout };
    if let Err(error) = download::download_part(url, &part, None, timeouts, progress) {
        remove_if_empty(&part);
        return Err(match error {
            Error::Network { url, source } => {
                Error::WeightsUnavailable { file_name: file_name.into(), cache_dir: cache_dir.into(), url, source }
            }
            other => other,
        });
    }
    let actual = sha256_hex(&part, progress)?;
    if !actual.starts_with(expected_prefix) {
        remove_quietly(&part);
        let (url, file_name, expected_prefix) = (url.into(), file_name.into(), expected_prefix.into());
        return Err(Error::WeightsHashMismatch { url, file_name, expected_prefix, actual });
    }
    std::fs::rename(&part, &dest).map_err(io_err("renaming into place", &dest))
}

/// Removes the part file this call created if nothing was written to it; a real partial download is kept.
fn remove_if_empty(part: &Path) {
    if std::fs::metadata(part).is_ok_and(|meta| meta.len() == 0) {
        remove_quietly(part);
    }
}

/// The hash prefix PyTorch reads from a checkpoint's file name: the hex digits after the first `-` that are
/// followed by a `.` (its `HASH_REGEX`, `-([a-f0-9]*)\.`). The name must also be a plain file name, as it is
/// joined to the cache folder and the address.
pub(crate) fn hash_prefix(file_name: &str) -> Result<&str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let invalid = |hint: &str| Error::InvalidConfig {
        what: "checkpoint file name",
        hint: format!("{file_name:?} {hint}, like torchvision's resnet34-b627a593.pth"),
    };
    if file_name.starts_with('.') || !file_name.chars().all(plain) {
        return Err(invalid("must be a plain file name (letters, digits, '.', '-', '_')"));
    }
    let prefix = file_name.match_indices('-').find_map(|(dash, _)| {
        let rest = &file_name[dash + 1..];
        let n_hex = rest.find(|c: char| !matches!(c, '0'..='9' | 'a'..='f')).unwrap_or(rest.len());
        rest[n_hex..].starts_with('.').then_some(&rest[..n_hex])
    });
    match prefix {
        Some(prefix) if !prefix.is_empty() => Ok(prefix),
        _ => Err(invalid("has no hash prefix ('-' then lowercase hex digits then '.') to check the file against")),
    }
}

#[cfg(test)]
mod tests;
