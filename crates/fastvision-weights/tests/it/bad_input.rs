//! A generated corpus of files that are not weights: each is an error that names the file and says what it looks
//! like, whatever its extension.

use fastvision_weights::Error;

use crate::common::{read_err, zip_of, Pickle};

#[test]
fn files_that_are_not_weights_say_what_they_look_like() {
    let dir = tempfile::tempdir().unwrap();
    let mut tar = vec![0u8; 512];
    tar[..9].copy_from_slice(b"model.pth");
    tar[257..263].copy_from_slice(b"ustar\0");
    let zip_without_pickle = zip_of(&[("weights/model.bin".into(), b"\x00\x01".as_slice())]);
    let mut not_torch = Pickle::new();
    let plain_pickle = not_torch.op(b'}').stop();
    let cases: &[(&str, &[u8], &str)] = &[
        ("empty.pth", b"", "an empty file"),
        (
            "proxy.pth",
            b"\n<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>denied</body></html>",
            r#"an HTML page titled "403 Forbidden""#,
        ),
        ("page.safetensors", b"<html><body>Not Found</body></html>", "an HTML page"),
        ("model.pth.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip"),
        ("model.tar", &tar, "a tar archive"),
        ("lfs.pth", b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "Git LFS pointer"),
        ("config.pth", b"{\"arch\": \"resnet34\"}", "JSON text"),
        ("notes.th", b"these are not the weights you are looking for\n", "text starting \"these are not"),
        ("archive.pth", &zip_without_pickle, "a zip archive without data.pkl"),
        ("pickled.pkl", &plain_pickle, "a Python pickle without torch's magic number"),
        ("noise.bin", b"\x00\x01\x02\x03\xfe\xfd\xfc\xfb\x00\x00", "unrecognised binary data"),
        ("array.npy", b"\x93NUMPY\x01\x00", "NumPy"),
        (
            "protocol4.th",
            b"\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.",
            "pickled with protocol 4",
        ),
    ];
    for (name, bytes, expected) in cases {
        let err = read_err(dir.path(), name, bytes);
        assert!(matches!(err, Error::NotWeights { .. }), "{name}: {err}");
        assert!(err.to_string().contains(expected), "{name}: expected {expected:?} in: {err}");
    }
}

#[test]
fn damaged_safetensors_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[0; 8]);
    let cases: &[(&str, &[u8], &str)] = &[
        ("cut-header.safetensors", &file[..20], "truncated: its header says"),
        ("cut-data.safetensors", &file[..file.len() - 3], "do not end where the file does"),
        ("bad-json.safetensors", b"\x05\x00\x00\x00\x00\x00\x00\x00{\"w\":", "invalid JSON"),
    ];
    for (name, bytes, expected) in cases {
        let err = read_err(dir.path(), name, bytes);
        assert!(err.to_string().contains(expected), "{name}: expected {expected:?} in: {err}");
    }
    let mut ints = file.clone();
    let i32_header = br#"{"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
    ints[8..8 + i32_header.len()].copy_from_slice(i32_header);
    let err = read_err(dir.path(), "ints.safetensors", &ints);
    assert!(matches!(&err, Error::UnsupportedDtype { tensor, .. } if tensor == "w"), "{err}");
}
