//! `fastvision`: the terminal front end. Parsed flags become validated configuration for the library crates;
//! this binary owns stdout, progress bars and exit codes.

// This binary owns the terminal, so printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod convert;
mod data_args;
mod eval;
mod gpu_check;
mod interpret;
mod predict;
mod progress;
mod run_dir;
mod show_batch;
mod signals;
mod summary;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// fastai's vision workflow: data blocks, presizing, fine_tune, interpretation.
#[derive(Debug, Parser)]
#[command(name = "fastvision", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train end to end: summary, show_batch, lr_find, fine_tune, export and interpretation.
    Train(train::Args),
    /// Accuracy of a classifier's weights on a folder of class sub-folders.
    Eval(eval::Args),
    /// Interpret an exported model on the validation images of a folder.
    Interpret(interpret::Args),
    /// Classify images or folders of images with an exported model: label, probability and top-k per image.
    Predict(predict::Args),
    /// Print the DataBlock summary: items, labels, split, one sample and one batch, step by step.
    Summary(summary::Args),
    /// Write a PNG grid of an augmented training batch with its labels.
    #[command(name = "show-batch")]
    ShowBatch(show_batch::Args),
    /// Write a weight file (a PyTorch .pth/.th checkpoint, zip or legacy, or safetensors) as safetensors.
    Convert(convert::Args),
    /// Check the CUDA path on this machine's GPU against the CPU (parity and speed), as one JSON report.
    #[command(name = "gpu-check")]
    GpuCheck(gpu_check::Args),
}

fn main() {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Train(_) | Command::GpuCheck(_)) {
        // The allocator is the binary's choice, not the libraries': the commands that train let glibc keep freed
        // buffers for the next step (docs/performance.md, change 8; FASTVISION_MALLOC=default opts out).
        fastvision::ops::malloc::retain_freed_memory();
    }
    let result: Result<()> = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Interpret(args) => interpret::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Summary(args) => summary::run(args),
        Command::ShowBatch(args) => show_batch::run(args),
        Command::GpuCheck(args) => gpu_check::run(args),
        Command::Convert(args) => convert::run(args),
    };
    if let Err(error) = result {
        if let Some(exit) = error.downcast_ref::<Exit>() {
            eprintln!("{}", exit.message);
            std::process::exit(exit.code);
        }
        eprintln!("error: {}", chain(error.as_ref()));
        std::process::exit(1);
    }
}

/// A command that stops with a particular exit code (128 + a signal for a run stopped by one).
#[derive(Debug)]
pub struct Exit {
    /// The process's exit code.
    pub code: i32,
    /// What to print on stderr.
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The error and its causes, leaving out a cause whose text the message before it already contains (our error
/// messages usually quote their source, and anyhow's `{:#}` would print it twice).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
