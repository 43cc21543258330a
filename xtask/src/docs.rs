//! `cargo xtask docs`: regenerates the walkthrough's outputs (printed text and PNGs) from a real run of the
//! release binary, so the documentation shows what the code does rather than what someone drew.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, project_root};

/// Builds the release binary, then runs `summary` and `train` on the built-in data set into docs/walkthrough/.
pub fn run() -> Result<()> {
    let root = project_root();
    let out = root.join("docs/walkthrough");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut build = cargo();
    build.args(["build", "--quiet", "--release", "--package", "fastvision-cli"]);
    crate::run(build)?;
    let binary = root.join("target/release/fastvision");
    capture(&binary, &["summary"], &out.join("summary.txt"))?;
    capture(&binary, &["show-batch", "--out", "docs/walkthrough/show_batch.png"], &out.join("show_batch.txt"))?;
    capture(&binary, &["train", "--out", "docs/walkthrough/run"], &out.join("train.txt"))?;
    // The exported weights are tens of megabytes: the walkthrough shows the outputs, not the model.
    for heavy in ["run/model.safetensors", "run/model.json", "run/models"] {
        let path = out.join(heavy);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Runs `binary args` in the project root and writes what it printed (stdout, then stderr) to `file`.
fn capture(binary: &Path, args: &[&str], file: &Path) -> Result<()> {
    eprintln!("== fastvision {}", args.join(" "));
    let output = Command::new(binary)
        .args(args)
        .current_dir(project_root())
        .env("NO_COLOR", "1")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let mut text = format!("$ cargo xtask {}\n", args.join(" "));
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    std::fs::write(file, &text).with_context(|| format!("writing {}", file.display()))?;
    if !output.status.success() {
        bail!("fastvision {} failed:\n{text}", args.join(" "));
    }
    Ok(())
}
