//! safetensors files: read in data order with each tensor's own type, and written atomically.

use std::collections::HashMap;
use std::path::Path;

use candle::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensorError, SafeTensors};

use crate::tensors::Source;
use crate::{Error, ReadOptions, Result};

/// The tensors of a safetensors file held in `bytes`, in the order of their data.
pub(crate) fn read(source: Source, bytes: &[u8], options: &ReadOptions) -> Result<Vec<(String, Tensor)>> {
    if let Some(key) = &options.key {
        let reason = "a safetensors file holds one flat set of tensors: leave out the key".into();
        return Err(Error::KeyNotApplicable { path: source.path.to_path_buf(), key: key.clone(), reason });
    }
    check_header_length(source, bytes)?;
    let parse_error = |e: SafeTensorError| match e {
        SafeTensorError::MetadataIncompleteBuffer => source
            .damaged("the tensors its header describes do not end where the file does (truncated, or bytes appended)"),
        e => Error::Safetensors { path: source.path.to_path_buf(), source: e },
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(parse_error)?;
    let file = SafeTensors::deserialize(bytes).map_err(parse_error)?;
    let mut tensors = Vec::with_capacity(file.len());
    for name in metadata.offset_keys() {
        let view = file.tensor(&name).map_err(parse_error)?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            Dtype::I64 => DType::I64,
            other => {
                let path = source.path.to_path_buf();
                return Err(Error::UnsupportedDtype { path, tensor: name, dtype: format!("{other:?}") });
            }
        };
        let tensor = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)
            .map_err(|e| Error::Tensor { path: source.path.to_path_buf(), tensor: name.clone(), source: e })?;
        tensors.push((name, tensor));
    }
    Ok(tensors)
}

/// A header length past the end of the file is a truncated file; say so rather than "invalid header length".
fn check_header_length(source: Source, bytes: &[u8]) -> Result<()> {
    let declared = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())).unwrap_or(0);
    let present = bytes.len().saturating_sub(8) as u64;
    if declared > present {
        return Err(source.damaged(format!(
            "truncated: its header says {declared} bytes of JSON follow, the file has {present} after the length"
        )));
    }
    Ok(())
}

/// Writes `tensors` under their names with `metadata` as a safetensors file, through a temporary file renamed into
/// place (a failed write leaves any previous file whole). The one safetensors writer of the workspace: models'
/// `save` and [`StateDict::save_safetensors`](crate::StateDict::save_safetensors) both go through it.
pub fn write(path: &Path, tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<()> {
    let views = tensors.iter().map(|(name, tensor)| (name.as_str(), tensor));
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|source| Error::Encode { path: path.to_path_buf(), source })?;
    fastvision_core::fs::atomic_write_bytes(path, &bytes).map_err(|source| Error::Write { source })
}
