//! Fault injection through the binary: signals mid-epoch and during lr_find, `kill -9`, a failing output at the
//! end, a second run into the same folder, reruns. Each stopped run is resumed and must reach the uninterrupted
//! run's model byte for byte.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{fastvision, text, tiny_folder};

/// 2 classes × 10 images of 40 px; small enough that a debug build trains it in seconds.
fn data() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let names: Vec<String> = (1..=10).flat_map(|i| [format!("cat_{i}.jpg"), format!("dog_{i}.jpg")]).collect();
    tiny_folder(data.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    data
}

/// The training flags of every run here (3 epochs of 4 batches, lr given so the runs skip lr_find).
fn train_args(data: &Path, out: &Path) -> Vec<String> {
    let mut args: Vec<String> =
        ["train", "--no-pretrained", "--presize", "40", "--size", "32", "--bs", "4", "--epochs", "3", "--lr", "1e-3"]
            .map(String::from)
            .to_vec();
    args.extend(["--data".into(), data.display().to_string(), "--out".into(), out.display().to_string()]);
    args
}

fn run(args: &[String], cwd: &Path) -> std::process::Output {
    fastvision(&args.iter().map(String::as_str).collect::<Vec<_>>(), cwd)
}

/// Starts `args`, waits until stdout shows a line starting with `when`, sends `signal`, and returns the output.
fn signal_when(args: &[String], cwd: &Path, when: &str, signal: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fastvision"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut printed = String::new();
    let mut sent = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if !sent && line.starts_with(when) {
            let ok = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success();
            assert!(ok, "sending {signal}");
            sent = true;
        }
        printed.push_str(&line);
        printed.push('\n');
    }
    let status = child.wait().unwrap();
    printed.push_str(&err_thread.join().unwrap());
    assert!(sent, "never saw {when:?}:\n{printed}");
    (status, printed)
}

fn model_bytes(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("model.safetensors")).unwrap()
}

fn uninterrupted(data: &Path, work: &Path) -> Vec<u8> {
    let out = work.join("reference");
    let output = run(&train_args(data, &out), work);
    assert!(output.status.success(), "{}", text(&output));
    model_bytes(&out)
}

#[test]
fn sigterm_sighup_and_sigint_stop_with_a_checkpoint_and_resume_reaches_the_same_model() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let reference = uninterrupted(data.path(), work.path());
    for (signal, code) in [("-TERM", 143), ("-HUP", 129), ("-INT", 130)] {
        let out = work.path().join(format!("run{signal}"));
        let args = train_args(data.path(), &out);
        // The epoch table's header: the fit is under way.
        let (status, printed) = signal_when(&args, work.path(), "epoch ", signal);
        assert_eq!(status.code(), Some(code), "{signal}: exit code 128 + signal\n{printed}");
        assert!(printed.contains("--resume"), "{signal}: says how to continue\n{printed}");
        assert!(!out.join("model.safetensors").exists(), "{signal}: a stopped run does not replace --out");
        let mut resume = args.clone();
        resume.push("--resume".into());
        let resumed = run(&resume, work.path());
        assert!(resumed.status.success(), "{signal}: {}", text(&resumed));
        assert!(model_bytes(&out) == reference, "{signal}: the resumed model differs from the uninterrupted one");
        let metrics: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(metrics["status"], "finished");
        assert_eq!(metrics["epochs"].as_array().unwrap().len(), 3, "{signal}: each epoch once in metrics.json");
    }
}

#[test]
fn a_signal_during_lr_find_stops_it_and_a_rerun_starts_over() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let mut args = train_args(data.path(), &out);
    let lr = args.iter().position(|a| a == "--lr").unwrap();
    args.drain(lr..lr + 2);
    // A sweep this long never ends by itself within the test.
    args.extend(["--lr-find-iters".into(), "100000".into()]);
    let (status, printed) = signal_when(&args, work.path(), "lr_find (", "-TERM");
    assert_eq!(status.code(), Some(143), "{printed}");
    assert!(printed.contains("lr_find stopped"), "{printed}");
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn kill_9_loses_at_most_an_epoch_and_resume_reaches_the_same_model() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let reference = uninterrupted(data.path(), work.path());
    let out = work.path().join("run");
    let args = train_args(data.path(), &out);
    // After the first epoch's row (its checkpoint is written right after it), mid-way through the second.
    let (status, printed) = signal_when(&args, work.path(), "0  ", "-KILL");
    assert_eq!(status.code(), None, "killed by a signal: {printed}");
    let staging = work.path().join(".run.partial/models");
    assert!(staging.join("last.safetensors").is_file(), "the epoch checkpoint is there");
    let mut resume = args.clone();
    resume.push("--resume".into());
    let resumed = run(&resume, work.path());
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(model_bytes(&out) == reference, "the model resumed from the epoch checkpoint differs");
}

#[test]
fn a_failing_plot_keeps_the_model_and_says_so() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let output = Command::new(env!("CARGO_BIN_EXE_fastvision"))
        .args(train_args(data.path(), &out))
        .env("FASTVISION_FAULT_WRITE", "loss.png,confusion_matrix.png")
        .current_dir(work.path())
        .output()
        .unwrap();
    let printed = text(&output);
    assert!(!output.status.success(), "failed outputs are an error at the end:\n{printed}");
    assert!(printed.contains("loss.png") && printed.contains("the model is saved in"), "{printed}");
    assert!(out.join("model.safetensors").is_file() && out.join("metrics.json").is_file(), "{printed}");
    assert!(!out.join("loss.png").exists());
}

#[test]
fn reruns_replace_the_run_whole_and_refuse_what_is_not_theirs() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let args = train_args(data.path(), &out);
    assert!(run(&args, work.path()).status.success());
    std::fs::write(out.join("stale.txt"), "from the first run").unwrap();
    // The same command again: the second run replaces the first whole.
    let again = run(&args, work.path());
    assert!(again.status.success(), "{}", text(&again));
    assert!(!out.join("stale.txt").exists(), "nothing of the first run is left");
    assert!(out.join("model.safetensors").is_file());

    // A folder of someone else's files is never replaced.
    let theirs = work.path().join("documents");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("thesis.tex"), "precious").unwrap();
    let refused = run(&train_args(data.path(), &theirs), work.path());
    assert!(!refused.status.success());
    assert!(text(&refused).contains("not a fastvision run"), "{}", text(&refused));
    assert_eq!(std::fs::read_to_string(theirs.join("thesis.tex")).unwrap(), "precious");

    // --resume with changed flags names the change.
    let stopped = work.path().join("stopped");
    let stop_args = train_args(data.path(), &stopped);
    let (status, _) = signal_when(&stop_args, work.path(), "epoch ", "-TERM");
    assert_eq!(status.code(), Some(143));
    let mut changed: Vec<String> = stop_args.iter().map(|a| if a == "3" { "5".into() } else { a.clone() }).collect();
    changed.push("--resume".into());
    let refused = run(&changed, work.path());
    assert!(text(&refused).contains("epochs: 3 → 5"), "{}", text(&refused));
    // A fresh run does not silently discard the stopped run's checkpoint; --overwrite does.
    let fresh = run(&stop_args, work.path());
    assert!(!fresh.status.success() && text(&fresh).contains("--overwrite"), "{}", text(&fresh));
    let mut overwrite = stop_args.clone();
    overwrite.push("--overwrite".into());
    assert!(run(&overwrite, work.path()).status.success());
}

#[test]
fn a_second_run_into_the_same_folder_refuses_while_the_first_holds_it() {
    let data = data();
    let work = tempfile::tempdir().unwrap();
    let out: PathBuf = work.path().join("run");
    let args = train_args(data.path(), &out);
    let mut first = Command::new(env!("CARGO_BIN_EXE_fastvision"))
        .args(&args)
        .current_dir(work.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("epoch ")), "the first run trains");
    let second = run(&args, work.path());
    assert!(!second.status.success());
    assert!(text(&second).contains("another fastvision run is writing to"), "{}", text(&second));
    for _ in lines {}
    assert!(first.wait().unwrap().success(), "the first run is not disturbed");
    // Its lock died with it: the folder is free again.
    assert!(run(&args, work.path()).status.success());
}
