//! `fastvision show-batch`: writes a PNG grid of an augmented training batch with its labels.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data_args::{display, DataArgs};

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
pub fn run(args: Args) -> Result<()> {
    let source = args.data.source()?;
    let bs = args.data.bs.min(args.nrows * args.ncols).max(1);
    // With `--data .` the grid lands in the data folder: it is never read back as an image.
    let block = args.data.datablock_excluding(&source, None, &args.data.device()?, &[&args.out])?;
    let dls = block.dataloaders(&source.dir, bs).context("building the data loaders")?;
    dls.show_batch(args.nrows, args.ncols, &args.out)?;
    println!("wrote {}", display(&args.out));
    Ok(())
}
