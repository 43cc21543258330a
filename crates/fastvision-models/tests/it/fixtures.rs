//! Eval-mode outputs against PyTorch: $FASTVISION_SHARED/fixtures/resnet (torchvision resnet18 in f32, resnet50 in
//! f16 storage, fastai's resnet18 + head(37)), all on the same 2×3×64×64 input.

use candle::Device;
use fastvision_models::{Arch, ResNet, VisionModel};

use crate::common::{assert_close, load_tensors, max_abs, shared};

const F32_TOL: f64 = 1e-4;
const F16_TOL: f64 = 1e-3;

/// Elements of every tensor, running statistics included (how README.json counts).
fn n_params(model: &ResNet) -> usize {
    model.named_tensors().iter().map(|(_, t)| t.elem_count()).sum()
}

fn input() -> candle::Tensor {
    load_tensors("fixtures/resnet/inputs.safetensors").remove("input").expect("tensor `input`")
}

#[test]
fn torchvision_resnet18_f32_matches_pytorch() {
    let model = ResNet::from_safetensors(
        Arch::ResNet18,
        1000,
        &shared("fixtures/resnet/torchvision-resnet18.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(n_params(&model), 11_699_112, "README.json's parameter count");
    let expected = load_tensors("fixtures/resnet/torchvision-resnet18-outputs.safetensors");
    let features = model.features_t(&input(), false).unwrap();
    let e1 = assert_close("resnet18 body_features", &features, &expected["body_features"], F32_TOL);
    let logits = model.forward_t(&input(), false).unwrap();
    let e2 = assert_close("resnet18 logits", &logits, &expected["logits"], F32_TOL);
    let (s1, s2) = (max_abs(&expected["body_features"]), max_abs(&expected["logits"]));
    println!("resnet18 f32: max abs error body_features {e1:.3e} (max |x| {s1:.3}), logits {e2:.3e} (max |x| {s2:.3})");
}

#[test]
fn torchvision_resnet50_f16_storage_matches_pytorch() {
    let model = ResNet::from_safetensors(
        Arch::ResNet50,
        1000,
        &shared("fixtures/resnet/torchvision-resnet50.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(n_params(&model), 25_610_152, "README.json's parameter count");
    let expected = load_tensors("fixtures/resnet/torchvision-resnet50-outputs.safetensors");
    let features = model.features_t(&input(), false).unwrap();
    let e1 = assert_close("resnet50 body_features", &features, &expected["body_features"], F16_TOL);
    let logits = model.forward_t(&input(), false).unwrap();
    let e2 = assert_close("resnet50 logits", &logits, &expected["logits"], F16_TOL);
    let (s1, s2) = (max_abs(&expected["body_features"]), max_abs(&expected["logits"]));
    println!("resnet50 f16 storage: max abs error body_features {e1:.3e} (max |x| {s1:.3}), logits {e2:.3e} (max |x| {s2:.3})");
}

#[test]
fn fastai_resnet18_head37_matches_pytorch() {
    let model = VisionModel::new(Arch::ResNet18, 37, &Device::Cpu, 0).unwrap();
    model.load(&shared("fixtures/resnet/fastai-resnet18-head37.safetensors")).unwrap();
    let expected = load_tensors("fixtures/resnet/fastai-resnet18-head37-outputs.safetensors");
    let logits = model.forward_t(&input(), false).unwrap();
    let err = assert_close("fastai resnet18+head37 logits", &logits, &expected["logits"], F16_TOL);
    let scale = max_abs(&expected["logits"]);
    println!("fastai resnet18+head37 (f16 storage): max abs error logits {err:.3e} (max |x| {scale:.3})");
}

#[test]
fn load_body_from_torchvision_file_gives_torchvision_features() {
    let path = shared("fixtures/resnet/torchvision-resnet18.safetensors");
    let model = VisionModel::new(Arch::ResNet18, 5, &Device::Cpu, 3).unwrap();
    let head_before = model.named_tensors().into_iter().find(|(n, _)| n == "1.8.weight").unwrap().1.copy().unwrap();
    model.load_body(&path).unwrap();
    let expected = load_tensors("fixtures/resnet/torchvision-resnet18-outputs.safetensors");
    let features = model.body_features(&input(), false).unwrap();
    assert_close("load_body features", &features, &expected["body_features"], F32_TOL);
    let head_after = model.named_tensors().into_iter().find(|(n, _)| n == "1.8.weight").unwrap().1;
    assert_eq!(crate::common::max_abs_diff(&head_before, &head_after), 0.0, "load_body must keep the new head");
    assert_eq!(model.forward_t(&input(), false).unwrap().dims(), &[2, 5]);
}

#[test]
fn f32_weights_load_into_an_f16_model() {
    let model = ResNet::with_dtype(Arch::ResNet18, 1000, candle::DType::F16, &Device::Cpu, 0).unwrap();
    model.load(&shared("fixtures/resnet/torchvision-resnet18.safetensors")).unwrap();
    assert!(model.named_tensors().iter().all(|(_, t)| t.dtype() == candle::DType::F16));
    let expected = load_tensors("fixtures/resnet/torchvision-resnet18-outputs.safetensors");
    let logits = model.forward_t(&input(), false).unwrap();
    assert_eq!(logits.dtype(), candle::DType::F32, "logits are always f32");
    // Half-precision activations through 18 layers: about 3 significant digits.
    let err = assert_close("resnet18 in f16", &logits, &expected["logits"], 1e-2);
    println!("resnet18 run in f16: max abs error logits {err:.3e}");
}
