//! Helpers shared by the tests: the shared folder, reading, and writing checkpoints byte by byte (torch is not
//! installed here, so pickles are written by hand with the opcodes torch.save uses).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use fastvision_weights::{Error, ReadOptions, StateDict};

pub use fastvision_core::testing::shared;

/// One of the real checkpoints in `weights/pytorch-formats`.
pub fn pytorch_file(name: &str) -> PathBuf {
    shared(&format!("weights/pytorch-formats/{name}"))
}

/// Reads `bytes` written to a file named `name` in `dir`.
pub fn read_bytes(dir: &Path, name: &str, bytes: &[u8], options: &ReadOptions) -> Result<StateDict, Error> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    StateDict::read(&path, options)
}

/// The error of reading `bytes`, which must fail and name the file.
pub fn read_err(dir: &Path, name: &str, bytes: &[u8]) -> Error {
    let path = dir.join(name);
    match read_bytes(dir, name, bytes, &ReadOptions::default()) {
        Ok(state) => panic!("{name}: expected an error, read {} tensors", state.len()),
        Err(err) => {
            assert!(err.to_string().contains(&path.display().to_string()), "{name}: message lacks the path: {err}");
            err
        }
    }
}

/// A dict entry: its key and what writes its value.
pub type Entry<'a> = (&'a str, &'a dyn Fn(&mut Pickle));

/// A protocol-2 pickle written opcode by opcode.
#[derive(Default)]
pub struct Pickle {
    pub bytes: Vec<u8>,
    memo: u32,
}

impl Pickle {
    pub fn new() -> Self {
        Self { bytes: vec![0x80, 2], memo: 0 }
    }

    pub fn op(&mut self, code: u8) -> &mut Self {
        self.bytes.push(code);
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    pub fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.raw(format!("c{module}\n{name}\n").as_bytes())
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.op(b'X').raw(&(text.len() as u32).to_le_bytes()).raw(text.as_bytes())
    }

    pub fn int(&mut self, value: u32) -> &mut Self {
        match value {
            0..=0xff => self.op(b'K').raw(&[value as u8]),
            0x100..=0xffff => self.op(b'M').raw(&(value as u16).to_le_bytes()),
            _ => self.op(b'J').raw(&(value as i32).to_le_bytes()),
        }
    }

    pub fn ints(&mut self, values: &[usize]) -> &mut Self {
        self.op(b'(');
        for &v in values {
            self.int(v as u32);
        }
        self.op(b't')
    }

    /// BINPUT of the top under the next memo index.
    pub fn put(&mut self) -> &mut Self {
        let id = self.memo;
        self.memo += 1;
        self.op(b'r').raw(&id.to_le_bytes())
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    pub fn tensor(&mut self, storage: &Storage, offset: usize, shape: &[usize], stride: &[usize]) -> &mut Self {
        self.global("torch._utils", "_rebuild_tensor_v2").op(b'(');
        self.op(b'(').text("storage").global("torch", storage.class).text(&storage.key).text("cpu");
        self.int(storage.numel as u32).op(b't').op(b'Q');
        self.int(offset as u32).ints(shape).ints(stride).op(0x89);
        self.global("collections", "OrderedDict").op(b')').op(b'R');
        self.op(b't').op(b'R')
    }

    /// A dict of `entries`, each written by its closure after its key.
    pub fn dict(&mut self, entries: &[Entry]) -> &mut Self {
        self.op(b'}').put().op(b'(');
        for (key, write) in entries {
            self.text(key);
            write(self);
        }
        self.op(b'u')
    }

    pub fn stop(&mut self) -> Vec<u8> {
        self.op(b'.');
        std::mem::take(&mut self.bytes)
    }
}

/// A storage as a pickle names it, and its raw little-endian bytes.
pub struct Storage {
    pub class: &'static str,
    pub key: String,
    pub numel: usize,
    pub bytes: Vec<u8>,
}

impl Storage {
    pub fn f32(key: &str, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { class: "FloatStorage", key: key.into(), numel: values.len(), bytes }
    }

    pub fn i64(key: &str, values: &[i64]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { class: "LongStorage", key: key.into(), numel: values.len(), bytes }
    }
}

/// A torch zip checkpoint: `archive/data.pkl`, `archive/byteorder` and a stored record per storage.
pub fn zip_checkpoint(pickle: &[u8], storages: &[&Storage], byteorder: &str) -> Vec<u8> {
    let mut records: Vec<(String, &[u8])> = vec![("archive/data.pkl".into(), pickle)];
    records.push(("archive/byteorder".into(), byteorder.as_bytes()));
    for s in storages {
        records.push((format!("archive/data/{}", s.key), &s.bytes));
    }
    zip_of(&records)
}

/// A zip of stored records.
pub fn zip_of(records: &[(String, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in records {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// The records of a zip, in order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            (entry.name().unwrap().into_owned(), data)
        })
        .collect()
}

/// A legacy checkpoint: magic, protocol, little-endian system info, `object`, the storage keys, the storages.
pub fn legacy_checkpoint(object: &[u8], storages: &[&Storage]) -> Vec<u8> {
    let mut out = vec![0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.'];
    out.extend_from_slice(b"\x80\x02M\xe9\x03.");
    let mut info = Pickle::new();
    out.extend(
        info.dict(&[("little_endian", &|p| {
            p.op(0x88);
        })])
        .stop(),
    );
    out.extend_from_slice(object);
    let mut keys = Pickle::new();
    keys.op(b']').op(b'(');
    for s in storages {
        keys.text(&s.key);
    }
    out.extend(keys.op(b'e').stop());
    for s in storages {
        out.extend_from_slice(&(s.numel as u64).to_le_bytes());
        out.extend_from_slice(&s.bytes);
    }
    out
}
