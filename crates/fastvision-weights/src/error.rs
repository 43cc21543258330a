//! The one error type of `fastvision-weights`, grouped by who is at fault; every variant names the file.

use std::path::PathBuf;

use crate::Format;

/// Everything that can keep a weight file from becoming a [`crate::StateDict`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- the file ---
    /// The file is none of the formats read here; `looks_like` says what it seems to be instead.
    #[error("{path} is not a weights file: it looks like {looks_like}")]
    NotWeights {
        /// The file.
        path: PathBuf,
        /// What its content looks like, with what to do.
        looks_like: String,
    },
    /// The file has a known format but its content is damaged (truncated, corrupt pickle, bad header).
    #[error("{path} is a damaged {format}: {detail} (download or save it again)")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: Format,
        /// What is wrong and where.
        detail: String,
    },
    /// The pickle names a Python object a state dict never needs; nothing is ever executed, so it is refused.
    #[error(
        "{path} refers to the Python object `{global}`, which is not part of a state dict; fastvision never runs \
         pickled code{hint}"
    )]
    UnknownGlobal {
        /// The file.
        path: PathBuf,
        /// `module.name`, as pickled.
        global: String,
        /// What to do, depending on what the object suggests.
        hint: &'static str,
    },
    /// A tensor's storage holds fewer elements than the tensor's offset, sizes and strides reach.
    #[error(
        "tensor {tensor:?} in {path} reaches element {needed} of its storage, which holds only {available} \
         (the file is truncated or damaged: download or save it again)"
    )]
    StorageTooShort {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Elements the tensor needs (its last element's index + 1).
        needed: u64,
        /// Elements the storage holds.
        available: u64,
    },
    /// A tensor's description (sizes, strides, offset, storage) is not one PyTorch writes.
    #[error("tensor {tensor:?} in {path} is malformed: {detail} (the file is damaged: download or save it again)")]
    BadTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// The file was written on a big-endian machine.
    #[error(
        "{path} was saved on a big-endian machine; fastvision reads little-endian checkpoints \
         (load it in PyTorch on any machine and save it again, or convert it there to safetensors)"
    )]
    BigEndian {
        /// The file.
        path: PathBuf,
    },
    // --- which state dict (a parameter) ---
    /// No dict in the file holds tensors.
    #[error("{path} holds no tensors{}", keys_note(keys))]
    NoTensors {
        /// The file.
        path: PathBuf,
        /// The top-level keys, when the file holds a dict.
        keys: Vec<String>,
    },
    /// Several entries of the checkpoint hold tensors and none was chosen.
    #[error(
        "{path} holds several state dicts: {}; choose one with --weights-key KEY (ReadOptions::key)",
        quoted(candidates)
    )]
    AmbiguousStateDict {
        /// The file.
        path: PathBuf,
        /// The keys whose values hold tensors (`<top level>` when the top level does too).
        candidates: Vec<String>,
    },
    /// The chosen key is not in the checkpoint.
    #[error("{path} has no key {key:?}; its keys: {}", quoted(keys))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key asked for.
        key: String,
        /// The keys it has.
        keys: Vec<String>,
    },
    /// The chosen key's value holds no tensors, or the file has no wrapper keys at all.
    #[error("{path}: key {key:?} cannot be chosen: {reason}")]
    KeyNotApplicable {
        /// The file.
        path: PathBuf,
        /// The key asked for.
        key: String,
        /// Why.
        reason: String,
    },
    // --- unsupported ---
    /// A tensor's element type is not one a state dict here keeps.
    #[error(
        "tensor {tensor:?} in {path} is stored as {dtype}; fastvision reads f32, f16, bf16, f64 and i64 tensors \
         (convert it in PyTorch, e.g. `.float()`, and save again)"
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The stored type (PyTorch's storage class or safetensors' dtype).
        dtype: String,
    },
    /// A valid file that uses a feature not read here.
    #[error("{path}: {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The feature, and what to do instead.
        what: String,
    },
    // --- limits ---
    /// The pickle exceeds a bound no state dict comes near (size, nesting, work); a crafted or damaged file.
    #[error("{path}: {detail}; no state dict comes near this limit, so the file is damaged or crafted")]
    Limit {
        /// The file.
        path: PathBuf,
        /// Which limit and the value that exceeded it.
        detail: String,
    },
    // --- I/O ---
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The zip archive could not be read.
    #[error("reading the zip archive {path}: {source} (a truncated or damaged download? download it again)")]
    Zip {
        /// The file.
        path: PathBuf,
        /// The zip reader's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A safetensors file could not be parsed.
    #[error("{path} is a damaged safetensors file: {source} (download or save it again)")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The tensors could not be encoded as safetensors.
    #[error("encoding {path} as safetensors: {source}")]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The output file could not be written.
    #[error("saving weights: {source}")]
    Write {
        /// The atomic writer's error (it names the path).
        #[source]
        source: fastvision_core::Error,
    },
    /// candle refused to build a tensor from checked bytes (a bug: please report it with the file).
    #[error("building tensor {tensor:?} of {path}: {source}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// candle's error.
        #[source]
        source: candle::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `"a", "b", "c"`, at most 20 of them.
fn quoted(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = items.iter().take(SHOWN).map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

fn keys_note(keys: &[String]) -> String {
    if keys.is_empty() {
        " (save `model.state_dict()` with torch.save)".into()
    } else {
        format!(" (its keys: {}; save `model.state_dict()` with torch.save)", quoted(keys))
    }
}
