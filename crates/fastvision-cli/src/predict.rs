//! `fastvision predict`: classifies images or folders of images with an exported model (fastai's
//! `load_learner` + `learn.predict`, `learn.tta` with `--tta`), printing a table and optionally writing JSON or CSV.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use fastvision::core::DeviceChoice;
use fastvision::data::get_image_files;
use fastvision::train::{load_learner, InferenceLearner, PredictConfig, Predictions, Tta};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::data_args::{display, open_device};

/// Flags of `predict`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The exported model (`model.safetensors` written by `train`).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Images, or folders searched recursively for images.
    #[arg(value_name = "IMAGE|DIR", required = true)]
    inputs: Vec<PathBuf>,
    /// How many of the most probable classes to list per image.
    #[arg(long, default_value_t = 3, value_name = "K")]
    top_k: usize,
    /// Also write the predictions as JSON to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "csv")]
    json: Option<PathBuf>,
    /// Also write the predictions as CSV to FILE (one row per image; failures have an `error`).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Test-time augmentation (fastai's `learn.tta(n=4, beta=0.25)`): 4 passes with the training transforms,
    /// averaged and blended with the plain prediction.
    #[arg(long)]
    tta: bool,
    /// Seed of the test-time augmentation.
    #[arg(long, default_value_t = 0, value_name = "N")]
    seed: u64,
    /// Images per forward pass.
    #[arg(long, default_value_t = 64, value_name = "N")]
    bs: usize,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: DeviceChoice,
}

/// Loads the model, predicts every input and reports.
pub fn run(args: Args) -> Result<()> {
    if args.top_k == 0 {
        bail!("--top-k 0 lists nothing: give 1 or more");
    }
    if args.bs == 0 {
        bail!("--bs 0: give a batch size of 1 or more");
    }
    let device = open_device(args.device)?;
    let learner = load_learner(&args.model, &device).with_context(|| {
        format!(
            "loading {} (an export written by `train`: model.safetensors in its --out folder)",
            args.model.display()
        )
    })?;
    let (files, missing) = collect_inputs(&args.inputs)?;
    let config =
        PredictConfig { batch_size: args.bs, tta: args.tta.then_some(Tta { seed: args.seed, ..Tta::default() }) };
    let bar = progress_bar(files.len());
    let mut results = learner.predict_files(&files, &config, &mut |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    results.failures.extend(missing);
    print_table(&learner, &results, args.top_k);
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&to_json(&learner, &results, &args))?;
        fastvision::core::fs::atomic_write_bytes(path, text.as_bytes())?;
        println!("wrote {}", display(path));
    }
    if let Some(path) = &args.csv {
        fastvision::core::fs::atomic_write_bytes(path, to_csv(&learner, &results, args.top_k).as_bytes())?;
        println!("wrote {}", display(path));
    }
    if results.predictions.is_empty() {
        bail!("none of the {} inputs could be classified (see the reasons above)", results.failures.len());
    }
    Ok(())
}

/// An input that does not exist, with the reason (listed with the unreadable images).
type Missing = (PathBuf, fastvision::train::Error);

/// The image files named by `inputs` (folders listed recursively, in sorted order), and the inputs that do not
/// exist.
fn collect_inputs(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Missing>)> {
    let (mut files, mut missing) = (Vec::new(), Vec::new());
    for input in inputs {
        if input.is_dir() {
            let found = get_image_files(input).with_context(|| format!("listing the images in {}", input.display()))?;
            if found.is_empty() {
                eprintln!("note: {} holds no image files", display(input));
            }
            files.extend(found);
        } else if input.exists() {
            files.push(input.clone());
        } else {
            let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder");
            missing
                .push((input.clone(), fastvision::train::Error::Io { action: "reading", path: input.clone(), source }));
        }
    }
    Ok((files, missing))
}

/// A bar on stderr for more than one batch of images (hidden when stderr is not a terminal).
fn progress_bar(n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("predict [{bar:30}] {pos}/{len} images {elapsed_precise} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// One line per image: path, label, probability, the runners-up; then the failures with their reasons.
fn print_table(learner: &InferenceLearner, results: &Predictions, top_k: usize) {
    let width = results.predictions.iter().map(|(p, _)| display(p).len()).max().unwrap_or(4).clamp(4, 60);
    println!("{:<width$}  {:<24} {:>7}  others", "image", "label", "prob");
    for (path, prediction) in &results.predictions {
        let top = learner.top_k(prediction, top_k);
        let others: Vec<String> = top.iter().skip(1).map(|c| format!("{} {:.4}", c.label, c.prob)).collect();
        println!(
            "{:<width$}  {:<24} {:>7.4}  {}",
            display(path),
            prediction.label,
            prediction.probs[prediction.index],
            others.join(", ")
        );
    }
    for (path, error) in &results.failures {
        eprintln!("could not classify {}: {}", display(path), crate::chain(error));
    }
    println!(
        "{} image{} classified, {} could not be read",
        results.predictions.len(),
        if results.predictions.len() == 1 { "" } else { "s" },
        results.failures.len()
    );
}

fn to_json(learner: &InferenceLearner, results: &Predictions, args: &Args) -> serde_json::Value {
    let predictions: Vec<serde_json::Value> = results
        .predictions
        .iter()
        .map(|(path, p)| {
            json!({
                "path": path,
                "label": p.label,
                "index": p.index,
                "prob": p.probs[p.index],
                "top_k": learner.top_k(p, args.top_k),
                "probs": p.probs,
            })
        })
        .collect();
    let failures: Vec<serde_json::Value> =
        results.failures.iter().map(|(path, e)| json!({ "path": path, "error": crate::chain(e) })).collect();
    json!({
        "model": args.model,
        "vocab": learner.meta.vocab.classes(),
        "tta": args.tta,
        "predictions": predictions,
        "failures": failures,
    })
}

fn to_csv(learner: &InferenceLearner, results: &Predictions, top_k: usize) -> String {
    let mut header = vec!["path".to_string(), "label".into(), "index".into(), "prob".into()];
    for k in 2..=top_k {
        header.push(format!("label_{k}"));
        header.push(format!("prob_{k}"));
    }
    header.push("error".into());
    let mut out = csv_row(&header);
    for (path, p) in &results.predictions {
        let mut row =
            vec![path.display().to_string(), p.label.clone(), p.index.to_string(), p.probs[p.index].to_string()];
        let top = learner.top_k(p, top_k);
        for k in 1..top_k {
            match top.get(k) {
                Some(c) => row.extend([c.label.clone(), c.prob.to_string()]),
                None => row.extend([String::new(), String::new()]),
            }
        }
        row.push(String::new());
        out.push_str(&csv_row(&row));
    }
    for (path, error) in &results.failures {
        let mut row = vec![path.display().to_string()];
        row.resize(header.len() - 1, String::new());
        row.push(crate::chain(error));
        out.push_str(&csv_row(&row));
    }
    out
}

/// One RFC 4180 line: fields with a comma, quote or line break are quoted, quotes doubled.
fn csv_row(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    quoted.join(",") + "\n"
}

#[cfg(test)]
mod tests {
    use super::csv_row;

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        let row = csv_row(&["a,b".into(), "say \"hi\"".into(), "plain".into()]);
        assert_eq!(row, "\"a,b\",\"say \"\"hi\"\"\",plain\n");
    }
}
