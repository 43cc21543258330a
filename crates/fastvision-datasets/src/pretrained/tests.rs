//! Unit tests of the pieces PyTorch defines: the hash prefix in a file name and the hub cache folder.

use super::*;

#[test]
fn hash_prefix_follows_torch_hash_regex() {
    let cases = [
        ("resnet34-b627a593.pth", "b627a593"),
        ("alexnet-owt-7be5be79.pth", "7be5be79"),
        ("resnet18-f37072fd.tar.pth", "f37072fd"),
        ("efficientnet_b0_rwightman-7f5810bc.pth", "7f5810bc"),
    ];
    for (file_name, expected) in cases {
        assert_eq!(hash_prefix(file_name).ok(), Some(expected), "{file_name}");
    }
}

#[test]
fn names_without_a_hash_prefix_or_with_a_path_are_refused() {
    for file_name in ["resnet18.pth", "resnet18-.pth", "resnet18-F37072FD.pth", "../x-abcd.pth", "a/b-abcd.pth", ""] {
        match hash_prefix(file_name) {
            Err(error @ Error::InvalidConfig { .. }) => {
                assert!(error.to_string().contains("resnet34-b627a593.pth"), "{error}")
            }
            other => panic!("{file_name:?}: expected InvalidConfig, got {other:?}"),
        }
    }
}

#[test]
fn every_table_entry_has_a_hash_prefix_and_its_arch_name() {
    for checkpoint in IMAGENET_CHECKPOINTS {
        assert_eq!(hash_prefix(checkpoint.file_name).map(str::len).ok(), Some(8), "{checkpoint:?}");
        assert!(checkpoint.file_name.starts_with(&format!("{}-", checkpoint.arch)), "{checkpoint:?}");
    }
}

/// The hub folder for an environment given as `(name, value)` pairs.
fn hub_dir(vars: &[(&str, &str)]) -> Result<PathBuf> {
    let lookup = |name: &str| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value));
    hub_checkpoints_from(&lookup)
}

#[test]
fn hub_folder_is_computed_as_torch_hub_get_dir() {
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("TORCH_HOME", "/t"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], "/t/hub/checkpoints"),
        (&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")], "/x/torch/hub/checkpoints"),
        (&[("HOME", "/h")], "/h/.cache/torch/hub/checkpoints"),
        (&[("TORCH_HOME", "~/t"), ("HOME", "/h")], "/h/t/hub/checkpoints"),
        (&[("XDG_CACHE_HOME", "~/x"), ("HOME", "/h")], "/h/x/torch/hub/checkpoints"),
        (&[("TORCH_HOME", ""), ("XDG_CACHE_HOME", ""), ("HOME", "/h")], "/h/.cache/torch/hub/checkpoints"),
        (&[("USERPROFILE", "/u")], "/u/.cache/torch/hub/checkpoints"),
    ];
    for (vars, expected) in cases {
        assert_eq!(hub_dir(vars).ok(), Some(PathBuf::from(expected)), "{vars:?}");
    }
}

#[test]
fn hub_folder_without_any_home_is_an_error() {
    assert!(matches!(hub_dir(&[]), Err(Error::NoTorchHome)));
    assert_eq!(hub_dir(&[("TORCH_HOME", "/t")]).ok(), Some(PathBuf::from("/t/hub/checkpoints")), "no HOME needed");
}

#[test]
fn base_url_option_wins_and_a_trailing_slash_is_dropped() {
    let options = HubOptions { base_url: Some("http://mirror.example/models/".into()), ..HubOptions::default() };
    assert_eq!(options.url_for("resnet18-f37072fd.pth"), "http://mirror.example/models/resnet18-f37072fd.pth");
}

#[test]
fn web_pages_are_recognised_by_their_first_bytes() {
    for head in [&b"<!DOCTYPE html>"[..], b"<html>", b"\xEF\xBB\xBF  \n<!doctype html>", b"<HTML lang=en>"] {
        assert!(download::looks_like_html(head), "{head:?}");
    }
    for head in [&b"PK\x03\x04"[..], b"\x80\x02", b"<!-- x", b"", b"<h"] {
        assert!(!download::looks_like_html(head), "{head:?}");
    }
}
