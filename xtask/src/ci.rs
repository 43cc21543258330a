//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use anyhow::Result;

use crate::cargo;

/// Formatting, clippy with warnings denied, then the whole test suite.
pub fn run() -> Result<()> {
    step("formatting", &["fmt", "--all", "--check"])?;
    step("clippy", &["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])?;
    step("tests", &["test", "--workspace"])
}

fn step(name: &str, args: &[&str]) -> Result<()> {
    eprintln!("== xtask ci: {name}: cargo {}", args.join(" "));
    let mut cmd = cargo();
    cmd.args(args);
    crate::run(cmd)
}
