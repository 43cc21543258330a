//! Issue 16, "special files never block; listing never reads a run's own outputs", at the command line.

use std::path::Path;
use std::process::Command;

use crate::{fastvision_within, text, tiny_folder};

fn cats_and_dogs(dir: &Path, n: usize) {
    let names: Vec<String> = (1..=n).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(dir, &names.iter().map(String::as_str).collect::<Vec<_>>());
}

const QUICK_TRAIN: [&str; 10] =
    ["--presize", "40", "--size", "32", "--bs", "4", "--epochs", "1", "--lr-find-iters", "20"];

/// Issue 16: a FIFO named like an image blocked `train` forever, and `summary` said "Every step succeeded".
#[test]
fn r16_a_fifo_in_the_data_folder_blocks_neither_summary_nor_train() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path(), 8);
    let status = Command::new("mkfifo").arg(data.path().join("cat_9.jpg")).status().unwrap();
    assert!(status.success());
    let dir = data.path().to_str().unwrap();
    let output = fastvision_within(&["summary", "--all", "--data", dir], data.path(), 120);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("Skipped 1 entries") && printed.contains("cat_9.jpg: a FIFO"), "{printed}");

    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["train", "--no-pretrained", "--data", dir, "--out", out.path().to_str().unwrap()];
    args.extend(QUICK_TRAIN);
    let output = fastvision_within(&args, out.path(), 600);
    assert!(output.status.success(), "{}", text(&output));
}

/// Issue 16: `--data .` with the default `--out` trained on its own outputs the second time (the PNGs became a
/// class, or failed the labeller).
#[test]
fn r16_training_twice_on_dot_does_not_read_the_first_runs_outputs() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path(), 8);
    let mut args = vec!["train", "--no-pretrained", "--data", "."];
    args.extend(QUICK_TRAIN);
    for run in 1..=2 {
        let output = fastvision_within(&args, data.path(), 600);
        let printed = text(&output);
        assert!(output.status.success(), "run {run}:\n{printed}");
        assert!(printed.contains("2 classes, 13 training / 3 validation images"), "run {run}:\n{printed}");
    }
    assert!(data.path().join("target/fastvision-run/model.safetensors").is_file());
}

#[test]
fn r16_summary_says_which_output_and_cache_folders_it_skipped() {
    let data = tempfile::tempdir().unwrap();
    cats_and_dogs(data.path(), 4);
    let old_run = data.path().join("runs/first");
    fastvision::core::fs::mark_output_dir(&old_run).unwrap();
    tiny_folder(&old_run, &["confusion_matrix_1.jpg"]);
    let cache = data.path().join("my-cache/shapes");
    std::fs::create_dir_all(&cache).unwrap();
    tiny_folder(&cache, &["circle_1.jpg"]);
    let output = fastvision_within(&["summary", "--data", ".", "--cache", "my-cache"], data.path(), 120);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    for needle in ["Found 8 items", "Skipped 2 entries", "my-cache: excluded", "runs/first: a fastvision run's output"]
    {
        assert!(printed.contains(needle), "the summary should say {needle:?}:\n{printed}");
    }
}
