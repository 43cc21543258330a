//! Tests that run the `fastvision` binary as a user would: exit codes, printed output, files written.

mod limits;
mod listing;
mod weights;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod reliability;

pub(crate) fn fastvision(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastvision")).args(args).current_dir(cwd).output().expect("running fastvision")
}

/// Runs `command`, failing the test (and killing it) if it has not finished within `seconds`: a hang.
fn run_within(mut command: Command, seconds: u64) -> Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting the command");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    // The pipes are drained on this thread, so a chatty child cannot block on a full pipe.
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(seconds)) {
        Ok(output) => output.expect("waiting for the command"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{command:?} did not finish within {seconds} s: it hangs");
        }
    }
}

/// `fastvision args` in `cwd`, within `seconds`.
fn fastvision_within(args: &[&str], cwd: &Path, seconds: u64) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fastvision"));
    command.args(args).current_dir(cwd);
    run_within(command, seconds)
}

pub(crate) fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

pub(crate) fn pets() -> String {
    let shared = std::env::var("FASTVISION_SHARED").expect("set FASTVISION_SHARED to the shared/ folder");
    format!("{shared}/data/oxford-pets-370/images")
}

pub(crate) fn tiny_folder(dir: &Path, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        let image = image::RgbImage::from_fn(40 + i as u32, 36, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7) as u8, (i * 40) as u8])
        });
        image.save(dir.join(name)).unwrap();
    }
}

#[test]
fn summary_of_pets_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let output = fastvision(&["summary", "--data", &pets(), "--presize", "64", "--size", "32"], tmp.path());
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("Found 370 items") && out.contains("37 classes") && out.contains("Every step succeeded"),
        "{out}"
    );
}

#[test]
fn summary_names_unlabelled_files_and_exits_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_folder(
        tmp.path(),
        &[
            "cat_1.jpg",
            "cat_2.jpg",
            "cat_3.jpg",
            "cat_4.jpg",
            "cat_5.jpg",
            "dog_1.jpg",
            "dog_2.jpg",
            "dog_3.jpg",
            "dog_4.jpg",
            "IMG-20240101.jpg",
        ],
    );
    let output = fastvision(&["summary", "--data", tmp.path().to_str().unwrap()], tmp.path());
    let out = text(&output);
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("IMG-20240101.jpg") && out.contains("FAILED at step `label`"), "{out}");
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let output = fastvision(&["show-batch", "--data", "no/such/folder"], tmp.path());
    let out = text(&output);
    assert!(!output.status.success());
    assert!(out.contains("no/such/folder") && !out.contains("panicked"), "{out}");
}

#[test]
fn show_batch_writes_a_png() {
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("grid.png");
    let args = ["show-batch", "--data", &pets(), "--presize", "96", "--size", "64", "--out", png.to_str().unwrap()];
    let output = fastvision(&args, tmp.path());
    assert!(output.status.success(), "{}", text(&output));
    let grid = image::open(&png).unwrap();
    assert!(grid.width() > 3 * 64, "{}", grid.width());
}

#[test]
fn train_runs_end_to_end_on_a_tiny_folder() {
    let data = tempfile::tempdir().unwrap();
    let names: Vec<String> = (1..=8).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(data.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    let out = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--data",
        data.path().to_str().unwrap(),
        "--presize",
        "40",
        "--size",
        "32",
        "--bs",
        "4",
        "--epochs",
        "1",
        "--lr-find-iters",
        "20",
        "--no-pretrained",
        "--out",
        out.path().to_str().unwrap(),
    ];
    let output = fastvision(&args, out.path());
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for needle in ["epoch", "train_loss", "valid_loss", "error_rate", "final error_rate", "lr_find"] {
        assert!(printed.contains(needle), "output lacks {needle:?}:\n{printed}");
    }
    for file in [
        "show_batch.png",
        "lr_find.png",
        "loss.png",
        "model.safetensors",
        "confusion_matrix.png",
        "top_losses.png",
        "most_confused.json",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing; output:\n{printed}");
    }
    let interpret = fastvision(
        &[
            "interpret",
            "--model",
            out.path().join("model.safetensors").to_str().unwrap(),
            "--data",
            data.path().to_str().unwrap(),
            "--out",
            out.path().join("interp").to_str().unwrap(),
        ],
        out.path(),
    );
    assert!(interpret.status.success(), "{}", text(&interpret));
    assert!(out.path().join("interp/confusion_matrix.png").is_file());
}

#[test]
fn train_on_photos_defaults_to_imagenet_weights_and_says_what_to_do_offline() {
    let data = tempfile::tempdir().unwrap();
    let names: Vec<String> = (1..=4).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(data.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    let home = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let output = Command::new(env!("CARGO_BIN_EXE_fastvision"))
        .args(["train", "--data", data.path().to_str().unwrap(), "--arch", "resnet34", "--out"])
        .arg(home.path().join("run"))
        .env("TORCH_HOME", home.path())
        .env("FASTVISION_WEIGHTS_URL", "http://127.0.0.1:9")
        .current_dir(home.path())
        .output()
        .unwrap();
    let printed = text(&output);
    assert!(!output.status.success(), "{printed}");
    let cache = home.path().join("hub/checkpoints");
    for needle in ["resnet34-b627a593.pth", cache.to_str().unwrap(), "http://127.0.0.1:9/", "--no-pretrained"] {
        assert!(printed.contains(needle), "the error lacks {needle:?}:\n{printed}");
    }
    assert!(!printed.contains("lr_find"), "it stops before training: {printed}");
    assert!(!home.path().join("run/show_batch.png").exists(), "and before writing outputs");
}

#[test]
fn predict_after_a_short_training_on_pets() {
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("run");
    let train = fastvision(
        &[
            "train",
            "--data",
            &pets(),
            "--no-pretrained",
            "--presize",
            "48",
            "--size",
            "32",
            "--bs",
            "32",
            "--epochs",
            "1",
            "--lr",
            "2e-3",
            "--out",
            run.to_str().unwrap(),
        ],
        out.path(),
    );
    assert!(train.status.success(), "{}", text(&train));
    let model = run.join("model.safetensors");
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model.json")).unwrap()).unwrap();
    let vocab: Vec<String> =
        export["vocab"]["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(vocab.len(), 37);

    // A folder with a broken image and a missing path: both listed, the 370 photos classified.
    std::fs::write(out.path().join("broken.jpg"), b"<html>not a photo</html>").unwrap();
    let json = out.path().join("preds.json");
    let broken = out.path().join("broken.jpg");
    let predict = fastvision(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            &pets(),
            broken.to_str().unwrap(),
            "missing.jpg",
            "--top-k",
            "3",
            "--json",
            json.to_str().unwrap(),
        ],
        out.path(),
    );
    let printed = text(&predict);
    assert!(predict.status.success(), "{printed}");
    assert!(printed.contains("370 images classified, 2 could not be read"), "{printed}");
    assert!(printed.contains("broken.jpg") && printed.contains("missing.jpg"), "{printed}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let predictions = report["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 370);
    for p in predictions {
        let label = p["label"].as_str().unwrap();
        let top: Vec<f64> = p["top_k"].as_array().unwrap().iter().map(|c| c["prob"].as_f64().unwrap()).collect();
        assert!(vocab.iter().any(|c| c == label), "{label} is a class of the model");
        assert_eq!(p["top_k"][0]["label"].as_str(), Some(label));
        assert!(top.len() == 3 && top[0] >= top[1] && top[1] >= top[2], "{top:?}");
        let sum: f64 = p["probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
    }
    let failures: Vec<&str> =
        report["failures"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(failures.len(), 2, "{failures:?}");

    // The same photos, one at a time, through the CSV writer with test-time augmentation.
    let csv = out.path().join("preds.csv");
    let first = format!("{}/Abyssinian_12.jpg", pets());
    let predict = fastvision(
        &[
            "predict",
            "--model",
            model.to_str().unwrap(),
            &first,
            "--tta",
            "--top-k",
            "2",
            "--csv",
            csv.to_str().unwrap(),
        ],
        out.path(),
    );
    assert!(predict.status.success(), "{}", text(&predict));
    let table = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "path,label,index,prob,label_2,prob_2,error");
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((row.len(), row[0]), (7, first.as_str()));
    assert!(vocab.iter().any(|c| c == row[1]) && row[6].is_empty(), "{row:?}");
}

/// Issue 16 §4: the binary honours `RAYON_NUM_THREADS`, and 1 to 4 threads train the same `model.safetensors`,
/// byte for byte (lr_find included: its suggestion is the learning rate).
#[test]
fn r16_rayon_num_threads_1_to_4_train_the_same_model_file() {
    let data = tempfile::tempdir().unwrap();
    let names: Vec<String> = (1..=8).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(data.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    let train = |threads: usize| {
        let out = tempfile::tempdir().unwrap();
        let args =
            ["train", "--no-pretrained", "--data", data.path().to_str().unwrap(), "--presize", "40", "--size", "32"];
        let output = Command::new(env!("CARGO_BIN_EXE_fastvision"))
            .args(args)
            .args(["--bs", "4", "--epochs", "1", "--lr-find-iters", "20", "--out", out.path().to_str().unwrap()])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .current_dir(out.path())
            .output()
            .expect("running fastvision");
        let printed = text(&output);
        assert!(output.status.success(), "RAYON_NUM_THREADS={threads}: {printed}");
        let model = std::fs::read(out.path().join("model.safetensors")).expect("model.safetensors");
        let lr_line =
            printed.lines().find(|l| l.contains("iterations") && l.contains("valley")).unwrap_or_default().to_string();
        (model, lr_line)
    };
    let (reference, reference_lr) = train(1);
    for threads in 2..=4 {
        let (model, lr) = train(threads);
        assert_eq!(lr, reference_lr, "RAYON_NUM_THREADS={threads} against 1: lr_find");
        assert!(model == reference, "RAYON_NUM_THREADS={threads} against 1: model.safetensors differs ({lr})");
    }
}

/// Extracts the 20 reference images of `shared/weights/cifar-resnet/reference-logits.json` from the CIFAR tar.
fn cifar_reference_images(dir: &Path) -> Vec<(String, usize)> {
    let shared = std::path::PathBuf::from(std::env::var("FASTVISION_SHARED").expect("set FASTVISION_SHARED"));
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("weights/cifar-resnet/reference-logits.json")).unwrap(),
    )
    .unwrap();
    let wanted: Vec<String> =
        reference["images"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let archive = std::fs::File::open(shared.join("data/cifar10-train.tar.gz")).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().trim_start_matches("train/").to_owned();
        if wanted.contains(&path) {
            std::fs::create_dir_all(dir.join(&path).parent().unwrap()).unwrap();
            entry.unpack(dir.join(&path)).unwrap();
        }
    }
    let classes: Vec<&str> =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"].to_vec();
    let argmax = |model: &str| -> usize {
        let logits = reference["models"][model]["logits"].as_array().unwrap();
        wanted
            .iter()
            .zip(logits)
            .filter(|(image, row)| {
                let row: Vec<f64> = row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                classes[best] == image.split('/').next().unwrap()
            })
            .count()
    };
    vec![("resnet20".into(), argmax("resnet20")), ("resnet56".into(), argmax("resnet56"))]
}

#[test]
fn eval_of_the_real_cifar_resnets_matches_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = cifar_reference_images(tmp.path());
    let shared = std::env::var("FASTVISION_SHARED").unwrap();
    for (model, reference_correct) in reference {
        let weights = format!("{shared}/weights/cifar-resnet/{model}.safetensors");
        let arch = format!("cifar-{model}");
        let output = fastvision(
            &["eval", "--arch", &arch, "--weights", &weights, "--data", tmp.path().to_str().unwrap()],
            tmp.path(),
        );
        let printed = text(&output);
        assert!(output.status.success(), "{printed}");
        let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned();
        let accuracy: f64 =
            last.strip_prefix("accuracy: ").unwrap_or_else(|| panic!("last line {last:?}")).parse().unwrap();
        let correct = (accuracy * 20.0).round() as usize;
        // Exact: JPEGs are decoded by libjpeg-turbo with Pillow's settings, so the pixels are the reference's.
        assert_eq!(correct, reference_correct, "{model}: {correct}/20 correct, reference {reference_correct}/20");
    }
}
