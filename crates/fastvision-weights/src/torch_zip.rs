//! torch.save's zip format (torch ≥ 1.6, what torchvision's weights use): `<archive>/data.pkl` describes the object,
//! each storage is the record `<archive>/data/<key>`, and `<archive>/byteorder` says the machine's endianness.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};

use zip::ZipArchive;

use crate::tensors::{self, Loaded, Source, TensorRef};
use crate::{gather, pickle, Error, ReadOptions, Result};

/// Largest `data.pkl` read; a state dict's is a few hundred bytes per tensor.
const MAX_PICKLE_BYTES: u64 = 256 << 20;

/// The chosen state dict of the zip checkpoint `file` (`file_len` bytes): its wrapper key and tensors.
pub(crate) fn read(source: Source, file: File, file_len: u64, options: &ReadOptions) -> Result<Loaded> {
    let zip_error = |e| Error::Zip { path: source.path.to_path_buf(), source: e };
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    let names: Vec<String> =
        archive.file_names().map(|n| n.map(|n| n.into_owned())).collect::<Result<_, _>>().map_err(zip_error)?;
    let prefix = record_prefix(source, &names)?;
    check_byte_order(source, &mut archive, &names, &prefix)?;
    let pickle_bytes = read_record(source, &mut archive, &format!("{prefix}data.pkl"), MAX_PICKLE_BYTES)?;
    let unpickled = pickle::unpickle(&pickle_bytes, 0)
        .map_err(|e| e.into_error(source.path, source.format, &format!("{prefix}data.pkl")))?;
    let selection = tensors::select(source, &unpickled.object, options)?;
    let mut storages: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut budget = gather::Budget::for_file(file_len);
    let mut out = Vec::with_capacity(selection.tensors.len());
    for (name, tensor) in &selection.tensors {
        let key = &tensor.storage.key;
        if !storages.contains_key(key) {
            let bytes = read_storage(source, &mut archive, &prefix, name, tensor, file_len, &mut budget)?;
            storages.insert(key.clone(), bytes);
        }
        out.push((name.clone(), gather::tensor(source, name, tensor, &storages[key], &mut budget)?));
    }
    Ok(Loaded { key: selection.key, tensors: out })
}

/// The `<archive>/` every record of a torch zip starts with, found from its `data.pkl`.
fn record_prefix(source: Source, names: &[String]) -> Result<String> {
    let pickles: Vec<&String> =
        names.iter().filter(|n| n.strip_suffix("data.pkl").is_some_and(|p| p.is_empty() || is_top_dir(p))).collect();
    let [pickle] = pickles.as_slice() else {
        if pickles.is_empty() {
            let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
            let more = names.len().saturating_sub(shown.len());
            let looks_like = format!(
                "a zip archive without data.pkl, so not a torch.save checkpoint (it holds {}{}); unpack it if the \
                 checkpoint is inside",
                if shown.is_empty() { "nothing".to_string() } else { shown.join(", ") },
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
            return Err(Error::NotWeights { path: source.path.to_path_buf(), looks_like });
        }
        return Err(source.damaged(format!("it has {} data.pkl records, torch writes one", pickles.len())));
    };
    let prefix = pickle.trim_end_matches("data.pkl").to_string();
    if names.iter().any(|n| *n == format!("{prefix}constants.pkl") || n.starts_with(&format!("{prefix}code/"))) {
        return Err(Error::Unsupported {
            path: source.path.to_path_buf(),
            what: "this is a TorchScript archive (torch.jit.save), which holds code; load it with torch.jit.load \
                   and save `model.state_dict()` with torch.save"
                .into(),
        });
    }
    Ok(prefix)
}

/// `name/` with no other slash.
fn is_top_dir(prefix: &str) -> bool {
    prefix.strip_suffix('/').is_some_and(|dir| !dir.is_empty() && !dir.contains('/'))
}

/// Refuses big-endian archives; archives from before torch wrote `byteorder` are little-endian.
fn check_byte_order(
    source: Source,
    archive: &mut ZipArchive<BufReader<File>>,
    names: &[String],
    prefix: &str,
) -> Result<()> {
    let record = format!("{prefix}byteorder");
    if !names.contains(&record) {
        return Ok(());
    }
    match read_record(source, archive, &record, 16)?.as_slice() {
        b"little" => Ok(()),
        b"big" => Err(Error::BigEndian { path: source.path.to_path_buf() }),
        other => Err(source.damaged(format!("its byteorder record says {:?}", String::from_utf8_lossy(other)))),
    }
}

/// A whole record of at most `limit` bytes; reading it to the end checks its CRC.
fn read_record(source: Source, archive: &mut ZipArchive<BufReader<File>>, name: &str, limit: u64) -> Result<Vec<u8>> {
    let mut entry = archive.by_name(name).map_err(|e| Error::Zip { path: source.path.to_path_buf(), source: e })?;
    if entry.size() > limit {
        return Err(Error::Limit {
            path: source.path.to_path_buf(),
            detail: format!("record {name} declares {} bytes, more than the {limit} read", entry.size()),
        });
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    (&mut entry)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| source.damaged(format!("record {name} cannot be read: {e}")))?;
    if bytes.len() as u64 != entry.size() {
        return Err(source.damaged(format!(
            "record {name} holds {} bytes, not the {} it declares",
            bytes.len(),
            entry.size()
        )));
    }
    Ok(bytes)
}

/// The bytes of the storage `tensor` (named `name`) views: `numel` elements as declared in the pickle.
fn read_storage(
    source: Source,
    archive: &mut ZipArchive<BufReader<File>>,
    prefix: &str,
    name: &str,
    tensor: &TensorRef,
    file_len: u64,
    budget: &mut gather::Budget,
) -> Result<Vec<u8>> {
    let storage = &tensor.storage;
    let record = format!("{prefix}data/{}", storage.key);
    let declared = storage.numel.checked_mul(storage.kind.elem_size as u64).filter(|&b| b <= file_len);
    let declared = declared.ok_or_else(|| {
        source.bad_tensor(name, format!("its storage declares {} elements, more than the file holds", storage.numel))
    })?;
    let size = match archive.by_name(&record) {
        Ok(entry) => entry.size(),
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(source.damaged(format!("the storage record {record} of tensor {name:?} is missing")));
        }
        Err(e) => return Err(Error::Zip { path: source.path.to_path_buf(), source: e }),
    };
    budget.spend(source, &format!("storage record {record}"), size)?;
    let mut bytes = read_record(source, archive, &record, file_len)?;
    if (bytes.len() as u64) < declared {
        // Name the tensor and how far it reaches when it reaches past the end; otherwise the record is still short.
        gather::tensor(source, name, tensor, &bytes, budget)?;
        return Err(source.damaged(format!(
            "storage record {record} holds {} bytes, its tensors were saved with {declared}",
            bytes.len()
        )));
    }
    bytes.truncate(declared as usize);
    Ok(bytes)
}
