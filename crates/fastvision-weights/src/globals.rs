//! The Python objects a state dict's pickle may name, and nothing else. None of them is ever called: the
//! unpickler only records `module.name` and its arguments, and `tensors.rs` reads those as data.

use candle::DType;

/// A `torch.*Storage` class: the element type of the raw bytes a tensor views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StorageType {
    /// PyTorch's class name, e.g. `FloatStorage`.
    pub name: &'static str,
    /// Bytes per element.
    pub elem_size: usize,
    /// The candle type, when a state dict here can hold it.
    pub dtype: Option<DType>,
}

/// Every storage class `torch.save` writes; the unsupported ones are still sized, so the legacy format can step
/// over their bytes when they belong to an entry that is not loaded (an optimiser's int state, say).
const STORAGES: &[StorageType] = &[
    StorageType { name: "FloatStorage", elem_size: 4, dtype: Some(DType::F32) },
    StorageType { name: "HalfStorage", elem_size: 2, dtype: Some(DType::F16) },
    StorageType { name: "BFloat16Storage", elem_size: 2, dtype: Some(DType::BF16) },
    StorageType { name: "DoubleStorage", elem_size: 8, dtype: Some(DType::F64) },
    StorageType { name: "LongStorage", elem_size: 8, dtype: Some(DType::I64) },
    StorageType { name: "IntStorage", elem_size: 4, dtype: None },
    StorageType { name: "ShortStorage", elem_size: 2, dtype: None },
    StorageType { name: "CharStorage", elem_size: 1, dtype: None },
    StorageType { name: "ByteStorage", elem_size: 1, dtype: None },
    StorageType { name: "BoolStorage", elem_size: 1, dtype: None },
    StorageType { name: "ComplexFloatStorage", elem_size: 8, dtype: None },
    StorageType { name: "ComplexDoubleStorage", elem_size: 16, dtype: None },
];

/// `torch._utils` functions that rebuild a tensor or parameter from a storage (recognised by `tensors.rs`).
pub(crate) const REBUILD_TENSOR: &str = "_rebuild_tensor";
/// torch ≥ 1.0's form, with `requires_grad` and hooks after the strides.
pub(crate) const REBUILD_TENSOR_V2: &str = "_rebuild_tensor_v2";
/// `nn.Parameter(tensor, requires_grad)`.
pub(crate) const REBUILD_PARAMETER: &str = "_rebuild_parameter";

/// The storage class `torch.<name>`, if it is one.
pub(crate) fn storage_type(module: &str, name: &str) -> Option<&'static StorageType> {
    (module == "torch").then(|| STORAGES.iter().find(|s| s.name == name)).flatten()
}

/// `Ok` for the names a checkpoint of weights may hold; otherwise the hint the error gives.
///
/// Besides the tensor machinery and `OrderedDict`, three inert data constructors are accepted:
/// `numpy.core.multiarray.scalar` (also under numpy 2's `numpy._core`), `numpy.dtype` and `_codecs.encode`.
/// Training scripts often store a metric such as `best_prec1` as a numpy scalar, which protocol 2 pickles through
/// them. They are recorded, never called, and what they describe is not a tensor, so it is skipped like any
/// other non-tensor entry; refusing them would reject common checkpoints for a value that is never read.
pub(crate) fn check(module: &str, name: &str) -> Result<(), &'static str> {
    let allowed = match module {
        "collections" => name == "OrderedDict",
        "torch._utils" => [REBUILD_TENSOR, REBUILD_TENSOR_V2, REBUILD_PARAMETER].contains(&name),
        "torch" => storage_type(module, name).is_some(),
        "numpy.core.multiarray" | "numpy._core.multiarray" => name == "scalar",
        "numpy" => name == "dtype",
        "_codecs" => name == "encode",
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(hint(module))
    }
}

fn hint(module: &str) -> &'static str {
    if module.starts_with("__torch__") || module.starts_with("torch.jit") {
        " (a TorchScript file? load it with torch.jit.load and save `model.state_dict()` with torch.save)"
    } else if module.starts_with("fastai") {
        " (a fastai Learner from learn.export? save `learn.model.state_dict()` with torch.save)"
    } else if module.starts_with("torch.nn") || module.starts_with("torchvision") || module == "__main__" {
        " (a whole pickled model? load it in PyTorch and save `model.state_dict()` with torch.save)"
    } else {
        " (load it in PyTorch and save the weights alone, `model.state_dict()`, with torch.save)"
    }
}
