//! The real PyTorch checkpoints of `$FASTVISION_SHARED/weights/pytorch-formats` loaded into the models: the same
//! logits as the safetensors of the same weights, and akamaster's legacy resnet32 classifying CIFAR images.

use candle::{Device, Tensor};
use fastvision_models::{CifarArch, CifarResNet, VisionModel};
use fastvision_weights::{ReadOptions, StateDict};

use crate::cifar::{load_images, reference};
use crate::common::{max_abs_diff, shared};

/// CIFAR-10's classes in index order.
const CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

fn checkpoint(name: &str) -> std::path::PathBuf {
    shared(&format!("weights/pytorch-formats/{name}"))
}

fn logits(arch: CifarArch, path: &std::path::Path, images: &Tensor) -> Tensor {
    let model = CifarResNet::from_safetensors(arch, 10, path, &Device::Cpu).unwrap();
    model.forward_t(images, false).unwrap()
}

#[test]
fn resnet20_checkpoints_give_the_safetensors_logits() {
    let images = load_images(&reference());
    let expected = logits(CifarArch::ResNet20, &shared("weights/cifar-resnet/resnet20.safetensors"), &images);
    let zip = logits(CifarArch::ResNet20, &checkpoint("resnet20-7b70fb0a.pth"), &images);
    assert_eq!(max_abs_diff(&zip, &expected), 0.0, "the zip checkpoint holds the same f32 weights");
    // The f16 copy under {'model': …}: weights rounded to 11 bits move the logits a little, not the classes.
    let half = logits(CifarArch::ResNet20, &checkpoint("resnet20-f16-wrapped.pth"), &images);
    let err = max_abs_diff(&half, &expected);
    println!("resnet20 from f16 weights: max abs logit change {err:.3e}");
    assert!(err < 0.05, "f16 weights moved the logits by {err}");
    assert_eq!(
        half.argmax(1).unwrap().to_vec1::<u32>().unwrap(),
        expected.argmax(1).unwrap().to_vec1::<u32>().unwrap()
    );
}

#[test]
fn legacy_resnet32_classifies_the_cifar_sample() {
    let reference = reference();
    let images = load_images(&reference);
    let predicted: Vec<u32> =
        logits(CifarArch::ResNet32, &checkpoint("resnet32-d509ac18.th"), &images).argmax(1).unwrap().to_vec1().unwrap();
    let labels: Vec<u32> = reference.json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| {
            let class = name.as_str().unwrap().split('/').next().unwrap();
            CLASSES.iter().position(|c| *c == class).unwrap() as u32
        })
        .collect();
    let correct = predicted.iter().zip(&labels).filter(|(p, l)| p == l).count();
    println!("resnet32-d509ac18.th: {correct}/{} of the CIFAR training sample", labels.len());
    // akamaster's resnet32 has 7.5 % test error; these are training images.
    assert!(correct >= 18, "{correct}/{} correct: predicted {predicted:?}, labels {labels:?}", labels.len());
}

#[test]
fn pretrained_bodies_load_from_checkpoints_as_train_does() {
    // vision_learner's `--pretrained FILE` calls load_body(path): a legacy file with `module.` names under
    // `state_dict` fits the CIFAR body as it is.
    let model = VisionModel::new(CifarArch::ResNet32, 3, &Device::Cpu, 0).unwrap();
    let legacy = checkpoint("resnet32-d509ac18.th");
    model.load_body(&legacy).unwrap();
    let state = StateDict::read(&legacy, &ReadOptions::default()).unwrap();
    let loaded = model.named_tensors().into_iter().find(|(n, _)| n == "0.4.4.bn2.running_var").unwrap().1;
    assert_eq!(max_abs_diff(&loaded, state.get("layer3.4.bn2.running_var").unwrap()), 0.0);
    // A chosen key reaches the models through load_body_state.
    let half = StateDict::read(&checkpoint("resnet20-f16-wrapped.pth"), &ReadOptions::with_key("model")).unwrap();
    VisionModel::new(CifarArch::ResNet20, 3, &Device::Cpu, 0).unwrap().load_body_state(&half).unwrap();
    let err = VisionModel::new(CifarArch::ResNet20, 3, &Device::Cpu, 0).unwrap().load_body(&legacy).unwrap_err();
    assert!(err.to_string().contains("resnet32-d509ac18.th"), "{err}");
}
