//! torch.save's legacy format (torch < 1.6), as `torch/serialization.py`'s `_legacy_load` reads it: five pickles
//! (magic number, protocol version, system info, the object, the list of storage keys), then for each key in that
//! list an 8-byte little-endian element count and the storage's raw bytes.

use std::collections::BTreeMap;

use candle::pickle::Object;

use crate::detect::LEGACY_MAGIC;
use crate::tensors::{self, Loaded, Source};
use crate::{gather, pickle, Error, ReadOptions, Result};

/// The only protocol version `_legacy_load` accepts.
const PROTOCOL_VERSION: i64 = 1001;

/// The chosen state dict of the legacy checkpoint in `bytes` (which starts with the magic number).
pub(crate) fn read(source: Source, bytes: &[u8], options: &ReadOptions) -> Result<Loaded> {
    let mut pos = LEGACY_MAGIC.len();
    let mut next = |what: &str| -> Result<Object> {
        let unpickled = pickle::unpickle(bytes, pos)
            .map_err(|e| e.into_error(source.path, source.format, &format!("the file (in its {what} pickle)")))?;
        pos = unpickled.end;
        Ok(unpickled.object)
    };
    match next("protocol version")? {
        Object::Int(v) if i64::from(v) == PROTOCOL_VERSION => {}
        Object::Int(v) => return Err(source.damaged(format!("its protocol version is {v}, not {PROTOCOL_VERSION}"))),
        _ => return Err(source.damaged("its protocol version is not a number")),
    }
    check_little_endian(source, &next("system info")?)?;
    let object = next("object")?;
    let keys = next("storage keys")?;
    let declared = tensors::storages(source, &object)?;
    let selection = tensors::select(source, &object, options)?;
    let storages = storage_bytes(source, bytes, pos, &keys, &declared)?;
    let mut out = Vec::with_capacity(selection.tensors.len());
    let mut budget = gather::Budget::for_file(bytes.len() as u64);
    for (name, tensor) in &selection.tensors {
        let key = &tensor.storage.key;
        let storage = storages.get(key.as_str()).ok_or_else(|| {
            source.damaged(format!("tensor {name:?} uses storage {key:?}, which is not in the storage list"))
        })?;
        out.push((name.clone(), gather::tensor(source, name, tensor, storage, &mut budget)?));
    }
    Ok(Loaded { key: selection.key, tensors: out })
}

/// `sys_info['little_endian']` must be true.
fn check_little_endian(source: Source, info: &Object) -> Result<()> {
    let Object::Dict(pairs) = info else { return Err(source.damaged("its system info is not a dict")) };
    let flag = pairs.iter().find(|(k, _)| matches!(k, Object::Unicode(k) if k == "little_endian")).map(|(_, v)| v);
    match flag {
        Some(Object::Bool(true)) => Ok(()),
        Some(Object::Bool(false)) => Err(Error::BigEndian { path: source.path.to_path_buf() }),
        _ => Err(source.damaged("its system info has no little_endian flag")),
    }
}

/// The bytes of each storage, stepping through the records that follow the pickles (`start` is the first).
fn storage_bytes<'a>(
    source: Source,
    bytes: &'a [u8],
    start: usize,
    keys: &Object,
    declared: &BTreeMap<String, tensors::StorageRef>,
) -> Result<BTreeMap<String, &'a [u8]>> {
    let Object::List(keys) = keys else { return Err(source.damaged("its storage key list is not a list")) };
    let mut found = BTreeMap::new();
    let mut pos = start;
    for key in keys {
        let Object::Unicode(key) = key else { return Err(source.damaged("a storage key that is not text")) };
        let storage = declared
            .get(key)
            .ok_or_else(|| source.damaged(format!("storage {key:?} is listed but no object refers to it")))?;
        let count = bytes
            .get(pos..pos + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .ok_or_else(|| source.damaged(format!("truncated: the file ends at byte {pos}, before storage {key:?}")))?;
        if count != storage.numel {
            return Err(source.damaged(format!(
                "storage {key:?} at byte {pos} holds {count} elements, its tensors were saved with {}",
                storage.numel
            )));
        }
        let data_start = pos + 8;
        let data_end = count
            .checked_mul(storage.kind.elem_size as u64)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| data_start.checked_add(n))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                source.damaged(format!(
                    "truncated: storage {key:?} needs {count} elements from byte {data_start}, the file has {} bytes",
                    bytes.len()
                ))
            })?;
        found.insert(key.clone(), &bytes[data_start..data_end]);
        pos = data_end;
    }
    Ok(found)
}
