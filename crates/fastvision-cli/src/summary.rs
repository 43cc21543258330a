//! `fastvision summary`: prints `DataBlock::summary` (or `summary_all` with `--all`) and fails with a non-zero exit
//! code when a step fails.

use anyhow::{bail, Result};

use crate::data_args::DataArgs;

/// Flags of `summary`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Decode and presize every file, as training would, and list each one that fails (not just one batch).
    #[arg(long)]
    all: bool,
}

/// Prints the summary; an error when any step failed.
pub fn run(args: Args) -> Result<()> {
    let source = args.data.source()?;
    let block = args.data.datablock(&source, None, &args.data.device()?)?;
    let batch_size = args.data.bs.min(8);
    let summary =
        if args.all { block.summary_all(&source.dir, batch_size) } else { block.summary(&source.dir, batch_size) };
    println!("{summary}");
    if let Some(step) = &summary.failed_step {
        bail!("the data block failed at step `{step}` ({} problem(s) listed above)", summary.problems.len().max(1));
    }
    Ok(())
}
