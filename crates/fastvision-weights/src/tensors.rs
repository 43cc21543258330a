//! From the unpickled object to tensor descriptions: which dict is the state dict (bare, or under a wrapper key
//! such as `state_dict` or `model`), and each tensor's storage, offset, sizes and strides, read with checked access
//! (candle's own `into_tensor_info` panics on short tuples).

use std::collections::BTreeMap;
use std::path::Path;

use candle::pickle::Object;
use candle::Tensor;

use crate::globals::{self, StorageType, REBUILD_PARAMETER, REBUILD_TENSOR, REBUILD_TENSOR_V2};
use crate::{Error, Format, ReadOptions, Result};

/// The file being read, for errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub format: Format,
}

impl Source<'_> {
    pub(crate) fn damaged(&self, detail: impl Into<String>) -> Error {
        Error::Damaged { path: self.path.to_path_buf(), format: self.format, detail: detail.into() }
    }

    pub(crate) fn bad_tensor(&self, tensor: &str, detail: impl Into<String>) -> Error {
        Error::BadTensor { path: self.path.to_path_buf(), tensor: tensor.into(), detail: detail.into() }
    }
}

/// A storage as a tensor's pickle describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageRef {
    /// Its key: the record name under `data/` (zip) or the key in the storage list (legacy).
    pub key: String,
    pub kind: &'static StorageType,
    /// Elements, as declared.
    pub numel: u64,
}

/// One tensor: a strided view of a storage.
#[derive(Debug, Clone)]
pub(crate) struct TensorRef {
    pub storage: StorageRef,
    /// In elements.
    pub offset: u64,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// The state dict a file holds: the wrapper key it was under and its tensors in file order.
pub(crate) struct Loaded {
    pub key: Option<String>,
    pub tensors: Vec<(String, Tensor)>,
}

/// The state dict chosen in a pickle: its wrapper key and its tensors' descriptions in file order.
pub(crate) struct Selection {
    pub key: Option<String>,
    pub tensors: Vec<(String, TensorRef)>,
}

/// Chooses the state dict in `root` as `options` asks (see [`ReadOptions`]) and describes its tensors.
pub(crate) fn select(source: Source, root: &Object, options: &ReadOptions) -> Result<Selection> {
    let path = || source.path.to_path_buf();
    let Some(top) = as_dict(root) else {
        return Err(Error::NoTensors { path: path(), keys: Vec::new() });
    };
    let candidates: Vec<(&str, Vec<&(Object, Object)>)> =
        top.iter().filter_map(|(k, v)| Some((text(k)?, as_dict(v).filter(|d| holds_weights(d))?))).collect();
    let (key, entries) = match &options.key {
        Some(key) => {
            let Some((_, value)) = top.iter().rev().find(|(k, _)| text(k) == Some(key.as_str())) else {
                if holds_weights(&top) && candidates.is_empty() {
                    let reason = "the file is a bare state dict, with no wrapper keys: leave out the key".into();
                    return Err(Error::KeyNotApplicable { path: path(), key: key.clone(), reason });
                }
                return Err(Error::UnknownKey { path: path(), key: key.clone(), keys: text_keys(&top) });
            };
            let entries = as_dict(value).filter(|d| holds_weights(d)).ok_or_else(|| Error::KeyNotApplicable {
                path: path(),
                key: key.clone(),
                reason: "its value holds no tensors".into(),
            })?;
            (Some(key.clone()), entries)
        }
        None => match (holds_weights(&top), candidates.as_slice()) {
            (false, []) => return Err(Error::NoTensors { path: path(), keys: text_keys(&top) }),
            (true, []) => (None, top.clone()),
            (false, [(key, entries)]) => (Some(key.to_string()), entries.clone()),
            (top_holds, many) => {
                let top_level = top_holds.then(|| "<top level>".to_string());
                let candidates = top_level.into_iter().chain(many.iter().map(|(k, _)| k.to_string())).collect();
                return Err(Error::AmbiguousStateDict { path: path(), candidates });
            }
        },
    };
    Ok(Selection { key, tensors: describe(source, &entries)? })
}

/// The tensors among `entries`, in order; a name given twice keeps its first place and its last value, as a
/// Python dict does.
fn describe(source: Source, entries: &[&(Object, Object)]) -> Result<Vec<(String, TensorRef)>> {
    let mut tensors: Vec<(String, TensorRef)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (key, value) in entries {
        if rebuild_call(value).is_none() {
            continue;
        }
        let Some(name) = text(key) else {
            let shown = int(key).map_or_else(|| "<not text>".to_string(), |i| i.to_string());
            return Err(source.bad_tensor(&shown, "a tensor under a key that is not text"));
        };
        let tensor = tensor_ref(source, name, value)?;
        match index.get(name) {
            Some(&at) => tensors[at].1 = tensor,
            None => {
                index.insert(name.to_string(), tensors.len());
                tensors.push((name.to_string(), tensor));
            }
        }
    }
    Ok(tensors)
}

/// Every storage the object refers to, by key, so the legacy format can step over the bytes of entries that are
/// not loaded. A key declared twice must be declared alike.
pub(crate) fn storages(source: Source, root: &Object) -> Result<BTreeMap<String, StorageRef>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root];
    // Depth-first with an explicit stack; the unpickler already bounded nesting and size.
    while let Some(object) = pending.pop() {
        match object {
            Object::PersistentLoad(id) => {
                if let Some(storage) = storage_ref(id) {
                    let key = storage.key.clone();
                    match found.get(&key) {
                        Some(seen) if *seen != storage => {
                            return Err(source.damaged(format!("storage {key:?} is declared twice, differently")));
                        }
                        Some(_) => {}
                        None => {
                            found.insert(key, storage);
                        }
                    }
                }
            }
            Object::Tuple(items) | Object::List(items) => pending.extend(items),
            Object::Dict(pairs) => pending.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            Object::Reduce { callable, args } | Object::Build { callable, args } => {
                pending.extend([&**callable, &**args])
            }
            _ => {}
        }
    }
    Ok(found)
}

/// The rebuild function and its arguments, if `value` is a tensor or parameter.
fn rebuild_call(value: &Object) -> Option<(&str, &Object)> {
    let Object::Reduce { callable, args } = value else { return None };
    let Object::Class { module_name, class_name } = &**callable else { return None };
    let rebuilds = [REBUILD_TENSOR, REBUILD_TENSOR_V2, REBUILD_PARAMETER];
    (module_name == "torch._utils" && rebuilds.contains(&class_name.as_str())).then_some((class_name, &**args))
}

fn tensor_ref(source: Source, name: &str, value: &Object) -> Result<TensorRef> {
    let bad = |detail: &str| source.bad_tensor(name, detail);
    let Some((function, args)) = rebuild_call(value) else { return Err(bad("not a tensor")) };
    let Object::Tuple(args) = args else { return Err(bad("its rebuild arguments are not a tuple")) };
    if function == REBUILD_PARAMETER {
        // `_rebuild_parameter(data, requires_grad, backward_hooks)`: the tensor is the first argument.
        let data = args.first().filter(|d| rebuild_call(d).is_some_and(|(f, _)| f != REBUILD_PARAMETER));
        return tensor_ref(source, name, data.ok_or_else(|| bad("a parameter without a tensor"))?);
    }
    // `_rebuild_tensor(storage, storage_offset, size, stride)`; v2 adds requires_grad, hooks and metadata.
    let [storage, offset, shape, stride, ..] = args.as_slice() else {
        return Err(bad(&format!("{function} takes at least 4 arguments, the file gives {}", args.len())));
    };
    let Object::PersistentLoad(id) = storage else { return Err(bad("its storage is not a saved storage")) };
    let storage = storage_ref(id).ok_or_else(|| bad("its storage is not a torch storage"))?;
    let offset = int(offset).ok_or_else(|| bad("its storage offset is not a non-negative integer"))?;
    let shape = ints(shape).ok_or_else(|| bad("its sizes are not a tuple of non-negative integers"))?;
    let stride = ints(stride).ok_or_else(|| bad("its strides are not a tuple of non-negative integers"))?;
    if shape.len() != stride.len() {
        return Err(bad(&format!("{} sizes but {} strides", shape.len(), stride.len())));
    }
    let to_usize = |v: Vec<u64>| v.into_iter().map(usize::try_from).collect::<Result<Vec<_>, _>>();
    let (shape, stride) = match (to_usize(shape), to_usize(stride)) {
        (Ok(shape), Ok(stride)) => (shape, stride),
        _ => return Err(bad("a size or stride too large for this machine")),
    };
    Ok(TensorRef { storage, offset, shape, stride })
}

/// A persistent id `('storage', torch.XStorage, key, location, numel[, view_metadata])`, if `id` is one.
fn storage_ref(id: &Object) -> Option<StorageRef> {
    let Object::Tuple(parts) = id else { return None };
    let [kind, Object::Class { module_name, class_name }, key, _location, numel, rest @ ..] = parts.as_slice() else {
        return None;
    };
    // Legacy storage views (`view_metadata`) were never written by torch ≥ 0.4 and would need their own reader.
    if text(kind) != Some("storage") || rest.first().is_some_and(|v| *v != Object::None) {
        return None;
    }
    let kind = globals::storage_type(module_name, class_name)?;
    Some(StorageRef { key: text(key)?.to_string(), kind, numel: int(numel)? })
}

/// The items of the dict `object` is (a dict, or an `OrderedDict` rebuilt with a state by `BUILD`), in the file's
/// order.
///
/// candle's `SETITEMS` appends each batch of items in reverse. CPython's pickler, which torch.save uses, writes a
/// dict's items in batches of 1000 (one `SETITEMS` each, or `SETITEM` for a batch of one), so reversing each run
/// of 1000 restores the file's order. A hand-written pickle that batches otherwise only comes out in another order.
fn as_dict(object: &Object) -> Option<Vec<&(Object, Object)>> {
    const PICKLER_BATCH: usize = 1000;
    let pairs = match object {
        Object::Dict(pairs) => pairs,
        Object::Build { callable, .. } => match &**callable {
            Object::Dict(pairs) => pairs,
            _ => return None,
        },
        _ => return None,
    };
    Some(pairs.chunks(PICKLER_BATCH).flat_map(|batch| batch.iter().rev()).collect())
}

/// Whether a dict holds at least one tensor with a dimension: scalars such as a saved `best_acc1` tensor beside
/// the weights do not make a dict a state dict.
fn holds_weights(entries: &[&(Object, Object)]) -> bool {
    entries.iter().any(|(_, value)| rank(value).is_some_and(|r| r > 0))
}

/// The number of dimensions of a tensor value, read leniently (errors are reported when it is described).
fn rank(value: &Object) -> Option<usize> {
    let (function, Object::Tuple(args)) = rebuild_call(value)? else { return None };
    if function == REBUILD_PARAMETER {
        return args.first().and_then(|data| rebuild_call(data).filter(|(f, _)| *f != REBUILD_PARAMETER)).and_then(
            |(_, inner)| match inner {
                Object::Tuple(inner) => inner.get(2).and_then(tuple_len),
                _ => None,
            },
        );
    }
    args.get(2).and_then(tuple_len)
}

fn tuple_len(object: &Object) -> Option<usize> {
    match object {
        Object::Tuple(items) => Some(items.len()),
        _ => None,
    }
}

fn text(object: &Object) -> Option<&str> {
    match object {
        Object::Unicode(s) => Some(s),
        _ => None,
    }
}

fn text_keys(entries: &[&(Object, Object)]) -> Vec<String> {
    entries.iter().filter_map(|(k, _)| text(k).map(str::to_string)).collect()
}

fn int(object: &Object) -> Option<u64> {
    match object {
        Object::Int(v) => u64::try_from(*v).ok(),
        Object::Long(v) => u64::try_from(*v).ok(),
        _ => None,
    }
}

fn ints(object: &Object) -> Option<Vec<u64>> {
    match object {
        Object::Tuple(items) => items.iter().map(int).collect(),
        _ => None,
    }
}
