//! `fastvision show-batch`: writes a PNG grid of an augmented training batch with its labels.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data_args::DataArgs;

/// Flags of `show-batch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Where to write the PNG.
    #[arg(long, value_name = "FILE.png", default_value = "show_batch.png")]
    out: PathBuf,
    /// Rows of the grid.
    #[arg(long, default_value_t = 3)]
    nrows: usize,
    /// Columns of the grid.
    #[arg(long, default_value_t = 3)]
    ncols: usize,
}

/// Builds the loaders and writes the grid.
pub fn run(mut args: Args) -> Result<()> {
    args.data.bs = args.data.bs.min(args.nrows * args.ncols).max(1);
    let dls =
        args.data.datablock(None)?.dataloaders(&args.data.data, args.data.bs).context("building the data loaders")?;
    dls.show_batch(args.nrows, args.ncols, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
