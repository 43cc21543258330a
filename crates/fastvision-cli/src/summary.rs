//! `fastvision summary`: prints `DataBlock::summary` and fails with a non-zero exit code when a step fails.

use anyhow::{bail, Result};

use crate::data_args::DataArgs;

/// Flags of `summary`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
}

/// Prints the summary; an error when any step failed.
pub fn run(args: Args) -> Result<()> {
    let source = args.data.source()?;
    let block = args.data.datablock(&source, None, &args.data.device()?)?;
    let summary = block.summary(&source.dir, args.data.bs.min(8));
    println!("{summary}");
    if let Some(step) = &summary.failed_step {
        bail!("the data block failed at step `{step}` ({} problem(s) listed above)", summary.problems.len().max(1));
    }
    Ok(())
}
