//! `fastvision`: the terminal front end. Parsed flags become validated configuration for the library crates;
//! this binary owns stdout, progress bars and exit codes.

// This binary owns the terminal, so printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod data_args;
mod show_batch;
mod summary;

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
    /// Print the DataBlock summary: items, labels, split, one sample and one batch, step by step.
    Summary(summary::Args),
    /// Write a PNG grid of an augmented training batch with its labels.
    #[command(name = "show-batch")]
    ShowBatch(show_batch::Args),
}

fn main() {
    let cli = Cli::parse();
    let result: Result<()> = match cli.command {
        Command::Summary(args) => summary::run(args),
        Command::ShowBatch(args) => show_batch::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
