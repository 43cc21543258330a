//! `eval --weights` with PyTorch checkpoints and `convert`, through the binary: akamaster's legacy resnet32 and the
//! zip resnet20 as users download them, and the errors a user sees for a wrong file or an ambiguous checkpoint.

use super::{cifar_reference_images, fastvision, text};

fn checkpoint(name: &str) -> String {
    let shared = std::env::var("FASTVISION_SHARED").expect("set FASTVISION_SHARED to the shared/ folder");
    format!("{shared}/weights/pytorch-formats/{name}")
}

/// The accuracy `eval` prints on its last line.
fn accuracy(output: &std::process::Output) -> f64 {
    assert!(output.status.success(), "{}", text(output));
    let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned();
    last.strip_prefix("accuracy: ").unwrap_or_else(|| panic!("last line {last:?}")).parse().unwrap()
}

#[test]
fn eval_and_convert_take_pytorch_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    cifar_reference_images(&images);
    let data = images.to_str().unwrap();
    let legacy = checkpoint("resnet32-d509ac18.th");
    let output = fastvision(&["eval", "--arch", "cifar-resnet32", "--weights", &legacy, "--data", data], tmp.path());
    let printed = text(&output);
    assert!(printed.contains(r#"PyTorch legacy checkpoint (torch < 1.6), key "state_dict""#), "{printed}");
    let legacy_accuracy = accuracy(&output);
    assert!(legacy_accuracy >= 0.9, "resnet32 on 20 CIFAR training images: {legacy_accuracy}");

    // convert, then eval of the safetensors gives the same accuracy.
    let converted = tmp.path().join("resnet32.safetensors");
    let output = fastvision(&["convert", &legacy, converted.to_str().unwrap()], tmp.path());
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("wrote") && printed.contains("157 tensors, f32, 466426 values"), "{printed}");
    let output = fastvision(
        &["eval", "--arch", "cifar-resnet32", "--weights", converted.to_str().unwrap(), "--data", data],
        tmp.path(),
    );
    assert_eq!(accuracy(&output), legacy_accuracy);

    // The f16 {'model': …} file, with its key chosen explicitly.
    let wrapped = checkpoint("resnet20-f16-wrapped.pth");
    let args = ["eval", "--arch", "cifar-resnet20", "--weights", &wrapped, "--weights-key", "model", "--data", data];
    assert!(accuracy(&fastvision(&args, tmp.path())) >= 0.9);
}

#[test]
fn a_wrong_file_or_key_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("resnet34-b627a593.pth");
    std::fs::write(&page, "<!DOCTYPE html><html><head><title>Access denied</title></head></html>").unwrap();
    let out = tmp.path().join("out.safetensors");
    let output = fastvision(&["convert", page.to_str().unwrap(), out.to_str().unwrap()], tmp.path());
    let printed = text(&output);
    assert!(!output.status.success() && printed.contains("an HTML page titled \"Access denied\""), "{printed}");
    assert!(!out.exists(), "nothing is written when reading fails");
    let wrapped = checkpoint("resnet20-f16-wrapped.pth");
    let output = fastvision(&["convert", &wrapped, out.to_str().unwrap(), "--weights-key", "state_dict"], tmp.path());
    let printed = text(&output);
    assert!(!output.status.success() && printed.contains(r#"its keys: "model", "epoch""#), "{printed}");
}

/// Issue 16: eval's two common mistakes get a sentence that says what to do, not a list of names or shapes.
#[test]
fn eval_says_what_to_do_with_an_export_or_a_folder_without_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let shared = std::env::var("FASTVISION_SHARED").expect("set FASTVISION_SHARED");
    let weights = format!("{shared}/weights/cifar-resnet/resnet20.safetensors");
    let flat = tmp.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    crate::tiny_folder(&flat, &["a_1.jpg", "b_2.jpg"]);
    let eval = |weights: &str, data: &std::path::Path| {
        crate::text(&crate::fastvision(
            &["eval", "--arch", "cifar-resnet20", "--weights", weights, "--data", data.to_str().unwrap()],
            tmp.path(),
        ))
    };
    assert!(eval(&weights, &flat).contains("has no class sub-folders"), "{}", eval(&weights, &flat));
    let two = tmp.path().join("two");
    for class in ["cat", "dog"] {
        std::fs::create_dir_all(two.join(class)).unwrap();
        crate::tiny_folder(&two.join(class), &["1.jpg"]);
    }
    let printed = eval(&weights, &two);
    assert!(printed.contains("classifies 10 classes, but") && printed.contains("2 class folders"), "{printed}");
    // A fastai-layout file (an export's names): a minimal safetensors with one `0.0.weight`.
    let header = br#"{"0.0.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1f32.to_le_bytes());
    let export = tmp.path().join("model.safetensors");
    std::fs::write(&export, bytes).unwrap();
    let printed = eval(export.to_str().unwrap(), &two);
    assert!(printed.contains("fastvision predict --model"), "{printed}");
}
