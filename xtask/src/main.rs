//! `cargo xtask`: the project's command line. Thin wrappers that call cargo, so training and benchmarks get an
//! optimised build with the right features while xtask itself stays quick to compile (it does not depend on candle).

// xtask reports its steps on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![allow(
    clippy::disallowed_methods,
    reason = "xtask does not depend on fastvision-core (it stays quick to compile): its listings sort where order \
              matters (kernels, bundles) and the rest only search, copy or sum"
)]

mod ci;
mod docs;
mod gpu_bundle;
mod kernels;
mod ptx_signatures;
#[path = "../../crates/fastvision-kernels/src/signatures.rs"]
mod signatures;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// fastvision's tasks: train, inspect data, interpret, benchmark, and run the CI checks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Train end to end: data block, lr_find, fine_tune, interpretation (built-in data set by default).
    /// Run `cargo xtask train --help` for the options.
    #[command(disable_help_flag = true)]
    Train(Forward),
    /// Print the DataBlock summary of a folder of images.
    #[command(disable_help_flag = true)]
    Summary(Forward),
    /// Write a PNG grid of a training batch with its labels.
    #[command(name = "show-batch", disable_help_flag = true)]
    ShowBatch(Forward),
    /// Interpret an exported model on a folder of images (confusion matrix, most confused, top losses).
    #[command(disable_help_flag = true)]
    Interpret(Forward),
    /// Classify images or folders with an exported model (`--model run/model.safetensors IMAGE|DIR [--top-k 3]
    /// [--json FILE | --csv FILE] [--tta]`).
    #[command(disable_help_flag = true)]
    Predict(Forward),
    /// Accuracy of classifier weights on a folder of class sub-folders (e.g. the CIFAR-10 ResNets).
    #[command(disable_help_flag = true)]
    Eval(Forward),
    /// Write a PyTorch checkpoint (.pth/.th, zip or legacy) as safetensors: `convert IN OUT.safetensors
    /// [--weights-key KEY]`.
    #[command(disable_help_flag = true)]
    Convert(Forward),
    /// Run a benchmark: items, augment, loss or train. Prints a table; `--json FILE` writes the report.
    Bench {
        /// Which benchmark.
        #[arg(value_parser = ["items", "augment", "loss", "train"])]
        name: String,
        /// Build with CUDA support.
        #[arg(long)]
        cuda: bool,
        /// Arguments for the benchmark (e.g. `--json out.json`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Regenerate docs/walkthrough/ (printed output and PNGs) from a real run of the release binary.
    Docs,
    /// Compile-check the CUDA side without a GPU: every kernel through nvcc/ptxas for sm_80 and sm_90 with each
    /// entry's parameters checked against signatures.rs, then `cargo clippy --features cuda` with candle's
    /// kernels stubbed. Needs python3 and PyPI the first time.
    Kernels,
    /// Build, without a GPU, what a GPU machine with no Rust needs to check the CUDA path: a stripped `fastvision`
    /// built with `cuda`, `gpu-check.sh`, the PyTorch twin of the timed epoch and the photos (under 56 MiB).
    #[command(name = "gpu-bundle")]
    GpuBundle {
        /// Where to put the bundle.
        #[arg(long, default_value = "target/gpu-bundle/bundle")]
        out: PathBuf,
        /// Compute capability of candle's PTX (the driver JIT-compiles it for newer GPUs).
        #[arg(long, default_value = "80")]
        arch: String,
        /// Photos for the timed epoch (default: $FASTVISION_SHARED/data/oxford-pets-370/images).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Everything CI checks: formatting, clippy, the whole test suite, then `kernels`
    /// (`FASTVISION_SKIP_CUDA_CHECK=1` skips that last step locally; CI never sets it).
    Ci,
}

/// Arguments passed through to the `fastvision` binary.
#[derive(Debug, clap::Args)]
struct Forward {
    /// Build with CUDA support (`--features cuda`).
    #[arg(long)]
    cuda: bool,
    /// Arguments for the command (see `--help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Train(fwd) => run_cli("train", fwd),
        Task::Summary(fwd) => run_cli("summary", fwd),
        Task::ShowBatch(fwd) => run_cli("show-batch", fwd),
        Task::Interpret(fwd) => run_cli("interpret", fwd),
        Task::Eval(fwd) => run_cli("eval", fwd),
        Task::Predict(fwd) => run_cli("predict", fwd),
        Task::Convert(fwd) => run_cli("convert", fwd),
        Task::Bench { name, cuda, args } => bench(&name, cuda, &args),
        Task::Ci => ci::run(),
        Task::Docs => docs::run(),
        Task::Kernels => kernels::run(),
        Task::GpuBundle { out, arch, data } => {
            gpu_bundle::run(gpu_bundle::Options { out: Some(project_root().join(out)), arch, data })
        }
    }
}

/// Runs `fastvision <command> <args>` from an optimised build.
fn run_cli(command: &str, fwd: Forward) -> Result<()> {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--release", "--package", "fastvision-cli"]);
    if fwd.cuda {
        cmd.args(["--features", "cuda"]);
    }
    cmd.args(["--", command]).args(&fwd.args);
    run(cmd)
}

fn bench(name: &str, cuda: bool, args: &[String]) -> Result<()> {
    let package = match name {
        "items" => "fastvision-data",
        "augment" => "fastvision-augment",
        "loss" => "fastvision-losses",
        "train" => "fastvision-train",
        other => bail!("unknown benchmark {other:?}: choose items, augment, loss or train"),
    };
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--release", "--package", package, "--example", &format!("bench_{name}")]);
    if cuda {
        cmd.args(["--features", "cuda"]);
    }
    cmd.arg("--").args(args);
    run(cmd)
}

/// `$CARGO` (the cargo that runs xtask), in the project root.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

fn run(mut cmd: Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// The workspace root (xtask lives one level below it).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}
