//! The CIFAR ResNets with real trained weights against reference-logits.json (20 training JPEGs, an independent
//! float64 forward pass).
//!
//! The reference decoded the JPEGs with Pillow (libjpeg-turbo). A decoder that differs by even 3 levels (as the
//! `image` crate's zune-jpeg did) moves resnet20's logits by up to 0.64 and flips one argmax (frog/0001), so the
//! model is tested on Pillow's own pixels, independent of any decoder (fastvision-data decodes with libjpeg-turbo
//! and checks it gets exactly these pixels in its tests/it/jpeg.rs): `data/cifar20-pillow-pixels`
//! holds them (u8, N×32×32×3, the reference's image order), made with Pillow 13.0.0 by
//! `np.stack([np.asarray(Image.open(io.BytesIO(tar.extractfile(f"train/{name}").read())).convert("RGB"))
//! for name in reference["images"]])` from `$FASTVISION_SHARED/data/cifar10-train.tar.gz`.

use candle::{DType, Device, Tensor};
use fastvision_models::{CifarArch, CifarResNet};

use crate::common::{max_abs_diff, shared};

/// Logits within this absolute error of the float64 reference (the README's "about 1e-4").
const LOGIT_TOL: f64 = 1e-4;

pub struct Reference {
    mean: [f32; 3],
    std: [f32; 3],
    pub json: serde_json::Value,
}

pub fn reference() -> Reference {
    let text = std::fs::read_to_string(shared("weights/cifar-resnet/reference-logits.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let triple = |key: &str| -> [f32; 3] {
        let v: Vec<f32> =
            json["normalize"][key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        [v[0], v[1], v[2]]
    };
    Reference { mean: triple("mean"), std: triple("std"), json }
}

/// Pillow's pixels of the reference images, normalised into N×3×32×32.
pub fn load_images(reference: &Reference) -> Tensor {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/cifar20-pillow-pixels.safetensors");
    let pixels = candle::safetensors::load(path, &Device::Cpu).unwrap().remove("pixels").unwrap();
    assert_eq!(pixels.dims(), &[reference.json["images"].as_array().unwrap().len(), 32, 32, 3]);
    let pixels = pixels.to_dtype(DType::F32).unwrap().permute((0, 3, 1, 2)).unwrap();
    let mean = Tensor::new(&reference.mean, &Device::Cpu).unwrap().reshape((1, 3, 1, 1)).unwrap();
    let std = Tensor::new(&reference.std, &Device::Cpu).unwrap().reshape((1, 3, 1, 1)).unwrap();
    (pixels / 255.0).unwrap().broadcast_sub(&mean).unwrap().broadcast_div(&std).unwrap()
}

fn check(arch: CifarArch, reference: &Reference, images: &Tensor) {
    let model = CifarResNet::from_safetensors(
        arch,
        10,
        &shared(&format!("weights/cifar-resnet/{}.safetensors", arch.name())),
        &Device::Cpu,
    )
    .unwrap();
    let logits = model.forward_t(images, false).unwrap();
    let expected_json = &reference.json["models"][arch.name()];
    let expected: Vec<f32> = expected_json["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect::<Vec<_>>())
        .collect();
    let expected = Tensor::from_vec(expected, logits.dims(), &Device::Cpu).unwrap();
    let argmax: Vec<u32> = logits.argmax(1).unwrap().to_vec1().unwrap();
    let expected_argmax: Vec<u32> =
        expected_json["argmax"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    let err = max_abs_diff(&logits, &expected);
    println!("{arch}: max abs logit error {err:.3e} over {} images", logits.dim(0).unwrap());
    assert_eq!(argmax, expected_argmax, "{arch} argmax");
    assert!(err <= LOGIT_TOL, "{arch}: max abs logit error {err:.3e} > {LOGIT_TOL:.0e}");
}

#[test]
fn cifar_resnet20_and_56_match_reference_logits() {
    let reference = reference();
    let images = load_images(&reference);
    check(CifarArch::ResNet20, &reference, &images);
    check(CifarArch::ResNet56, &reference, &images);
}

#[test]
fn every_cifar_depth_trains() {
    for arch in CifarArch::ALL {
        let model = CifarResNet::new(arch, 10, &Device::Cpu, 1).unwrap();
        let xs = crate::common::images(2, 8, 5);
        let loss = model.forward_t(&xs, true).unwrap().sqr().unwrap().mean_all().unwrap();
        let grads = loss.backward().unwrap();
        for p in model.params() {
            let g = grads.get(&p.var).unwrap_or_else(|| panic!("{arch}: no gradient for {}", p.name));
            assert!(crate::common::max_abs(g) > 0.0, "{arch}: zero gradient for {}", p.name);
        }
    }
}

#[test]
fn a_vision_model_on_the_real_cifar_body_reproduces_its_features() {
    use fastvision_models::{Backbone, VisionModel};
    let reference = reference();
    let images = load_images(&reference);
    let weights = shared("weights/cifar-resnet/resnet20.safetensors");
    let backbone: Backbone = "cifar-resnet20".parse().unwrap();
    assert_eq!(backbone, Backbone::Cifar(CifarArch::ResNet20));
    assert_eq!(backbone.to_string(), "cifar-resnet20");
    let model = VisionModel::new(backbone, 3, &Device::Cpu, 0).unwrap();
    model.load_body(&weights).unwrap();
    // The real classifier on the pooled body features gives the reference logits: the body loaded whole.
    let features = model.body_features(&images, false).unwrap();
    assert_eq!(features.dims(), &[20, 64, 8, 8]);
    let mut tensors = candle::safetensors::load(&weights, &Device::Cpu).unwrap();
    let (w, b) = (tensors.remove("linear.weight").unwrap(), tensors.remove("linear.bias").unwrap());
    let pooled = features.mean(3).unwrap().mean(2).unwrap();
    let logits = pooled.matmul(&w.t().unwrap()).unwrap().broadcast_add(&b).unwrap();
    let expected: Vec<f32> = reference.json["models"]["resnet20"]["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect::<Vec<_>>())
        .collect();
    let expected = Tensor::from_vec(expected, (20, 10), &Device::Cpu).unwrap();
    let err = max_abs_diff(&logits, &expected);
    assert!(err <= LOGIT_TOL, "max abs logit error {err:.3e}");

    // fastai's resnet split, one stage shorter: stem + layer1 + layer2, layer3, head.
    let params = model.params();
    let count = |g: usize| params.iter().filter(|p| p.group == g).count();
    assert_eq!((count(0), count(1), count(2)), (3 + 6 * 6, 3 * 6, 6));
    assert_eq!(params[0].name, "0.0.weight");
    assert!(params.iter().any(|p| p.name == "0.4.2.conv2.weight" && p.group == 1));
    assert_eq!(model.forward_t(&images, false).unwrap().dims(), &[20, 3]);
}

#[test]
fn a_classifier_file_is_not_a_cifar_body() {
    use fastvision_models::VisionModel;
    let model = VisionModel::new(CifarArch::ResNet20, 10, &Device::Cpu, 0).unwrap();
    let torchvision = shared("fixtures/resnet/torchvision-resnet18.safetensors");
    let message = model.load_body(&torchvision).unwrap_err().to_string();
    assert!(message.contains("cifar-resnet20") && message.contains("0.0.weight"), "{message}");
    assert!("resnet7".parse::<fastvision_models::Backbone>().unwrap_err().to_string().contains("cifar-resnet20"));
}
