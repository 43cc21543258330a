//! `fastvision convert`: a weight file in any format fastvision reads (a PyTorch `.pth`/`.pt`/`.th`/`.bin`, zip or
//! legacy, or safetensors) written as safetensors, for users who keep their weights that way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use fastvision::weights::{ReadOptions, StateDict};

/// Flags of `convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The weights to read: a torch.save checkpoint (zip or legacy) or safetensors, recognised by content.
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// The safetensors file to write (replaced atomically).
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// The checkpoint key holding the state dict (e.g. state_dict, model, ema), when several entries hold tensors.
    #[arg(long, value_name = "KEY")]
    weights_key: Option<String>,
}

/// Reads, writes, and prints what was read and written.
pub fn run(args: Args) -> Result<()> {
    if args.output.exists() && same_file(&args.input, &args.output) {
        bail!("OUT {} is IN; write the safetensors to another path", args.output.display());
    }
    let state = StateDict::read(&args.input, &ReadOptions { key: args.weights_key })?;
    println!("read {}: {}", args.input.display(), describe(&state));
    state.save_safetensors(&args.output)?;
    let values: usize = state.tensors().iter().map(|(_, t)| t.elem_count()).sum();
    println!("wrote {}: {} tensors, {}, {values} values", args.output.display(), state.len(), dtypes(&state));
    Ok(())
}

/// The format and what was unwrapped, e.g. `PyTorch legacy checkpoint (torch < 1.6), key "state_dict", module.
/// prefix removed`.
pub fn describe(state: &StateDict) -> String {
    let mut text = state.format().to_string();
    if let Some(key) = state.key() {
        text.push_str(&format!(", key {key:?}"));
    }
    if state.removed_module_prefix() {
        text.push_str(", DataParallel's module. prefix removed");
    }
    text
}

/// `f32`, or `f32 ×155, i64 ×2` when the types are mixed.
fn dtypes(state: &StateDict) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, tensor) in state.tensors() {
        *counts.entry(tensor.dtype().as_str()).or_default() += 1;
    }
    match counts.len() {
        1 => counts.into_keys().collect(),
        _ => counts.iter().map(|(dtype, n)| format!("{dtype} ×{n}")).collect::<Vec<_>>().join(", "),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
