//! Saving and loading: round trips, f16/bf16 files, and errors that list every misfit.

use std::collections::BTreeMap;

use candle::{DType, Device, Tensor};
use fastvision_models::{Arch, CifarArch, CifarResNet, Error, ShapeMismatch, VisionModel};

use crate::common::{images, max_abs_diff, shared};

fn tensors_of(model: &CifarResNet) -> BTreeMap<String, Tensor> {
    model.named_tensors().into_iter().collect()
}

fn write(path: &std::path::Path, tensors: &BTreeMap<String, Tensor>) {
    candle::safetensors::save(&tensors.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), path).unwrap();
}

#[test]
fn vision_model_round_trips_through_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let a = VisionModel::new(Arch::ResNet18, 7, &Device::Cpu, 1).unwrap();
    // One training pass moves the running statistics away from their defaults, so buffers are tested too.
    a.forward_t(&images(2, 32, 1), true).unwrap();
    a.save(&path).unwrap();
    let b = VisionModel::new(Arch::ResNet18, 7, &Device::Cpu, 2).unwrap();
    b.load(&path).unwrap();
    for ((name_a, ta), (name_b, tb)) in a.named_tensors().iter().zip(b.named_tensors().iter()) {
        assert_eq!(name_a, name_b);
        assert_eq!(max_abs_diff(ta, tb), 0.0, "{name_a} differs after the round trip");
    }
    let xs = images(2, 32, 9);
    assert_eq!(max_abs_diff(&a.forward_t(&xs, false).unwrap(), &b.forward_t(&xs, false).unwrap()), 0.0);
    // The file uses fastai's names.
    let saved = candle::safetensors::load(&path, &Device::Cpu).unwrap();
    assert!(saved.contains_key("0.4.0.conv1.weight") && saved.contains_key("1.8.weight"));
    let listed = fastvision_core::fs::list_sorted(dir.path()).unwrap();
    assert!(!listed.iter().any(|p| p.file_name().unwrap().to_string_lossy().contains("tmp")));
}

#[test]
fn half_precision_files_load_into_f32_models() {
    let dir = tempfile::tempdir().unwrap();
    let source = CifarResNet::new(CifarArch::ResNet20, 10, &Device::Cpu, 4).unwrap();
    for dtype in [DType::F16, DType::BF16] {
        let path = dir.path().join(format!("{dtype:?}.safetensors"));
        let halves: BTreeMap<String, Tensor> =
            tensors_of(&source).into_iter().map(|(k, v)| (k, v.to_dtype(dtype).unwrap())).collect();
        write(&path, &halves);
        let loaded = CifarResNet::from_safetensors(CifarArch::ResNet20, 10, &path, &Device::Cpu).unwrap();
        for (name, t) in tensors_of(&loaded) {
            assert_eq!(t.dtype(), DType::F32);
            let expected = halves[&name].to_dtype(DType::F32).unwrap();
            assert_eq!(max_abs_diff(&t, &expected), 0.0, "{name} from {dtype:?}");
        }
    }
}

#[test]
fn wrong_names_are_listed_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renamed.safetensors");
    let model = CifarResNet::new(CifarArch::ResNet20, 10, &Device::Cpu, 5).unwrap();
    let mut tensors = tensors_of(&CifarResNet::new(CifarArch::ResNet20, 10, &Device::Cpu, 6).unwrap());
    let moved = tensors.remove("layer2.0.conv1.weight").unwrap();
    tensors.insert("layer2.0.conv9.weight".into(), moved);
    tensors.remove("linear.bias");
    write(&path, &tensors);
    let before = tensors_of(&model);
    let err = model.load(&path).unwrap_err();
    let Error::StateMismatch { report, .. } = &err else { panic!("expected StateMismatch, got {err}") };
    assert_eq!(
        report.missing,
        [("layer2.0.conv1.weight".to_string(), vec![32, 16, 3, 3]), ("linear.bias".to_string(), vec![10])]
    );
    assert_eq!(report.unexpected, [("layer2.0.conv9.weight".to_string(), vec![32, 16, 3, 3])]);
    assert!(report.mismatched.is_empty());
    let message = err.to_string();
    assert!(
        message.contains("missing linear.bias [10]") && message.contains("unexpected layer2.0.conv9.weight"),
        "{message}"
    );
    for (name, t) in tensors_of(&model) {
        assert_eq!(max_abs_diff(&t, &before[&name]), 0.0, "{name} changed by a failed load");
    }
}

#[test]
fn wrong_shapes_are_listed() {
    // A 37-class fastai model does not load into a 10-class one; its body does.
    let path = shared("fixtures/resnet/fastai-resnet18-head37.safetensors");
    let model = VisionModel::new(Arch::ResNet18, 10, &Device::Cpu, 0).unwrap();
    let err = model.load(&path).unwrap_err();
    let Error::StateMismatch { report, .. } = &err else { panic!("expected StateMismatch, got {err}") };
    let expected = ShapeMismatch { name: "1.8.weight".into(), expected: vec![10, 512], found: vec![37, 512] };
    assert_eq!(report.mismatched, [expected]);
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    assert!(err.to_string().contains("shape of 1.8.weight: model [10, 512], file [37, 512]"), "{err}");
    model.load_body(&path).unwrap();
    // A resnet34 body does not fit a resnet18 file: layer blocks are missing.
    let deeper = VisionModel::new(Arch::ResNet34, 10, &Device::Cpu, 0).unwrap();
    let Error::StateMismatch { report, .. } = deeper.load_body(&path).unwrap_err() else { panic!("StateMismatch") };
    assert!(report.missing.iter().any(|(n, _)| n == "0.4.2.conv1.weight"), "{report}");
}

#[test]
fn not_weights_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = CifarResNet::new(CifarArch::ResNet20, 10, &Device::Cpu, 0).unwrap();
    // Detected by content: a damaged zip, whatever the extension, and an HTML page saved as .safetensors.
    let zip = dir.path().join("model.safetensors");
    std::fs::write(&zip, b"PK\x03\x04 not a real archive").unwrap();
    let err = model.load(&zip).unwrap_err();
    assert!(matches!(err, Error::Weights(fastvision_weights::Error::Zip { .. })), "{err}");
    let html = dir.path().join("model.pth");
    std::fs::write(&html, b"<!DOCTYPE html><html><title>Sign in</title></html>").unwrap();
    let message = model.load(&html).unwrap_err().to_string();
    assert!(message.contains("model.pth") && message.contains("an HTML page"), "{message}");
    let missing = model.load(&dir.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(missing, Error::Weights(fastvision_weights::Error::Read { .. })), "{missing}");
}
