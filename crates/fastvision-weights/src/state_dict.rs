//! `StateDict`: a weight file's named tensors on the CPU in file order, whatever its format, and the options that
//! choose which state dict of a checkpoint to read.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle::Tensor;

use crate::tensors::{Loaded, Source};
use crate::{detect, safetensors_file, torch_legacy, torch_zip, Error, Result};

/// DataParallel's prefix, removed when every name has it.
const DATA_PARALLEL_PREFIX: &str = "module.";

/// The formats read, detected from a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// safetensors: an 8-byte header length, a JSON header, raw data.
    Safetensors,
    /// torch.save's zip format (torch ≥ 1.6; torchvision's `.pth` files).
    TorchZip,
    /// torch.save's legacy format (torch < 1.6): pickles followed by raw storages.
    TorchLegacy,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Safetensors => "safetensors file",
            Self::TorchZip => "PyTorch zip checkpoint (torch >= 1.6)",
            Self::TorchLegacy => "PyTorch legacy checkpoint (torch < 1.6)",
        })
    }
}

/// How to read a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The wrapper key whose value is the state dict (`state_dict`, `model`, `ema`...). `None` picks the only
    /// entry that holds tensors, or the top level when it is the state dict itself; several candidates are an
    /// error that lists them.
    pub key: Option<String>,
}

impl ReadOptions {
    /// Options that read the state dict under `key`.
    pub fn with_key(key: impl Into<String>) -> Self {
        Self { key: Some(key.into()) }
    }
}

/// The named tensors of a weight file, on the CPU, in file order and in the file's element types (f32, f16, bf16,
/// f64, or i64 for counters such as `num_batches_tracked`).
#[derive(Debug, Clone)]
pub struct StateDict {
    path: PathBuf,
    format: Format,
    key: Option<String>,
    removed_prefix: bool,
    tensors: Vec<(String, Tensor)>,
}

impl StateDict {
    /// Reads `path`, whose format is detected from its content, never its extension. No pickled code is run: a
    /// checkpoint naming anything but tensors, dicts and numbers is an error naming it. DataParallel's `module.`
    /// prefix is removed when every name has it; entries that are not tensors (`epoch`, `best_prec1`) are skipped.
    pub fn read(path: &Path, options: &ReadOptions) -> Result<Self> {
        let read_error = |source| Error::Read { path: path.to_path_buf(), source };
        let mut file = File::open(path).map_err(read_error)?;
        let file_len = file.metadata().map_err(read_error)?.len();
        let mut head = Vec::with_capacity(detect::HEAD_LEN);
        (&mut file).take(detect::HEAD_LEN as u64).read_to_end(&mut head).map_err(read_error)?;
        let format =
            detect::format(&head).map_err(|looks_like| Error::NotWeights { path: path.to_path_buf(), looks_like })?;
        let source = Source { path, format };
        let loaded = match format {
            Format::TorchZip => torch_zip::read(source, file, file_len, options)?,
            Format::Safetensors | Format::TorchLegacy => {
                let mut bytes = Vec::with_capacity(file_len as usize);
                bytes.extend_from_slice(&head);
                file.read_to_end(&mut bytes).map_err(read_error)?;
                if format == Format::Safetensors {
                    Loaded { key: None, tensors: safetensors_file::read(source, &bytes, options)? }
                } else {
                    torch_legacy::read(source, &bytes, options)?
                }
            }
        };
        Ok(Self::new(path, format, loaded.key, loaded.tensors))
    }

    fn new(path: &Path, format: Format, key: Option<String>, mut tensors: Vec<(String, Tensor)>) -> Self {
        let removed_prefix =
            !tensors.is_empty() && tensors.iter().all(|(name, _)| name.starts_with(DATA_PARALLEL_PREFIX));
        if removed_prefix {
            for (name, _) in &mut tensors {
                name.drain(..DATA_PARALLEL_PREFIX.len());
            }
        }
        Self { path: path.to_path_buf(), format, key, removed_prefix, tensors }
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format detected.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The wrapper key the state dict was under (`state_dict`, `model`...), `None` for a bare state dict.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether DataParallel's `module.` prefix was removed from every name.
    pub fn removed_module_prefix(&self) -> bool {
        self.removed_prefix
    }

    /// The tensors with their names, in file order.
    pub fn tensors(&self) -> &[(String, Tensor)] {
        &self.tensors
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensors with their names, in file order.
    pub fn into_tensors(self) -> Vec<(String, Tensor)> {
        self.tensors
    }

    /// Writes the tensors, in their own types, as a safetensors file at `path`, through a temporary file renamed
    /// into place (nothing half-written is ever left under `path`).
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let from = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let metadata = HashMap::from([
            // Hugging Face's convention for tensors that came from PyTorch.
            ("format".to_string(), "pt".to_string()),
            ("source".to_string(), format!("fastvision-weights from {from} ({})", self.format)),
        ]);
        safetensors_file::write(path, &self.tensors, metadata)
    }
}
