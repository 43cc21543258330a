//! Parameters and weight files: the `Param` list optimisers and freezing use, and loading (safetensors or PyTorch
//! checkpoints through fastvision-weights, any float type, every misfit reported at once) and atomic saving as
//! safetensors under PyTorch's names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use candle::{DType, Tensor, Var};
use fastvision_weights::{ReadOptions, StateDict};

use crate::error::{Context, Error, MismatchReport, Result, ShapeMismatch};
use crate::layers::{Entry, Role};

/// One trainable parameter of a model.
#[derive(Debug, Clone)]
pub struct Param {
    /// PyTorch's name (`layer1.0.conv1.weight`, or `0.4.0.conv1.weight` in a [`crate::VisionModel`]).
    pub name: String,
    /// The variable; optimisers update it in place with `Var::set`.
    pub var: Var,
    /// Parameter group (fastai's splitter): 0, 1 or 2 for ResNets, 0 for the CIFAR ResNets.
    pub group: usize,
    /// BatchNorm parameters and biases: fastai leaves them out of weight decay (`wd_bn_bias=False`).
    pub no_weight_decay: bool,
    /// A BatchNorm scale or shift: trained even when its group is frozen (fastai's `train_bn=True`).
    pub is_batchnorm: bool,
    /// Whether the forward pass computes a gradient for it now (false for non-BatchNorm params of frozen groups).
    pub trainable: bool,
}

/// The params among `entries`; those whose group is listed in `frozen_groups` are untrainable unless BatchNorm.
pub(crate) fn params(entries: &[Entry], frozen_groups: &[usize]) -> Vec<Param> {
    entries
        .iter()
        .filter(|e| e.role.is_param())
        .map(|e| Param {
            name: e.name.clone(),
            var: e.var.clone(),
            group: e.group,
            no_weight_decay: e.role != Role::Weight,
            is_batchnorm: e.role.is_batchnorm(),
            trainable: e.role.is_batchnorm() || !frozen_groups.contains(&e.group),
        })
        .collect()
}

pub(crate) fn named_tensors(entries: &[Entry]) -> Vec<(String, Tensor)> {
    entries.iter().map(|e| (e.name.clone(), e.var.as_detached_tensor())).collect()
}

/// Model parameters must be floats.
pub(crate) fn check_float(dtype: DType) -> Result<()> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => Ok(()),
        other => Err(Error::InvalidParameter {
            name: "dtype",
            value: format!("{other:?}"),
            reason: "model parameters must be f32, f16, bf16 or f64",
        }),
    }
}

/// Loads the weight file `path` (safetensors or a PyTorch checkpoint, detected by content) into `entries`.
pub(crate) fn load(entries: &[Entry], path: &Path, model: &str, rename: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let state = StateDict::read(path, &ReadOptions::default()).map_err(Error::Weights)?;
    load_state(entries, &state, model, rename)
}

/// Loads `state` into `entries`. `rename` maps a file name to the model's name, or `None` to skip it (a head when
/// loading a body). Every name and shape is checked before anything is set, so a failed load changes nothing.
pub(crate) fn load_state(
    entries: &[Entry],
    state: &StateDict,
    model: &str,
    rename: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let path = state.path();
    let by_name: BTreeMap<&str, &Entry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut report = MismatchReport::default();
    let mut found = BTreeSet::new();
    let mut matched = Vec::new();
    let mut file_tensors: Vec<&(String, Tensor)> = state.tensors().iter().collect();
    file_tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (file_name, tensor) in file_tensors {
        if file_name.ends_with("num_batches_tracked") {
            continue;
        }
        let Some(name) = rename(file_name) else { continue };
        let Some(entry) = by_name.get(name.as_str()) else {
            report.unexpected.push((file_name.clone(), tensor.dims().to_vec()));
            continue;
        };
        found.insert(name.clone());
        if entry.var.dims() != tensor.dims() {
            report.mismatched.push(ShapeMismatch {
                name,
                expected: entry.var.dims().to_vec(),
                found: tensor.dims().to_vec(),
            });
        } else if check_float(tensor.dtype()).is_err() {
            return Err(Error::UnsupportedDtype {
                path: path.into(),
                name: file_name.clone(),
                dtype: format!("{:?}", tensor.dtype()),
            });
        } else {
            matched.push((*entry, tensor));
        }
    }
    report.missing =
        entries.iter().filter(|e| !found.contains(&e.name)).map(|e| (e.name.clone(), e.var.dims().to_vec())).collect();
    report.missing.sort();
    if !report.is_empty() {
        return Err(Error::StateMismatch { path: path.to_path_buf(), model: model.to_string(), report });
    }
    for (entry, tensor) in matched {
        let context = format!("loading {} from {}", entry.name, path.display());
        let tensor = tensor.to_device(entry.var.device()).and_then(|t| t.to_dtype(entry.var.dtype())).ctx(&context)?;
        entry.var.set(&tensor).ctx(&context)?;
    }
    Ok(())
}

/// Writes every entry under its name (in the model's type) with fastvision-weights' one safetensors writer
/// (atomic: a temporary file renamed into place).
pub(crate) fn save(entries: &[Entry], path: &Path, model: &str) -> Result<()> {
    let tensors: Vec<(String, Tensor)> = named_tensors(entries);
    let metadata = HashMap::from([("source".to_string(), format!("fastvision-models {model}"))]);
    fastvision_weights::write_safetensors(path, &tensors, metadata).map_err(Error::Weights)
}
