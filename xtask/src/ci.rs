//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use anyhow::Result;

use crate::cargo;

/// Set to `1` to skip the CUDA compile check on a machine without python3 or PyPI. CI must never set it.
const SKIP_CUDA: &str = "FASTVISION_SKIP_CUDA_CHECK";

/// Formatting, clippy with warnings denied, the docs with warnings denied (broken intra-doc links, missing docs),
/// the whole test suite, then the CUDA compile check (after the tests, so a failing test is reported first).
pub fn run() -> Result<()> {
    step("formatting", &["fmt", "--all", "--check"])?;
    step("clippy", &["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])?;
    docs()?;
    step("tests", &["test", "--workspace"])?;
    if std::env::var_os(SKIP_CUDA).is_some_and(|v| v == "1") {
        eprintln!("== xtask ci: CUDA compile check SKIPPED ({SKIP_CUDA}=1); CI runs it");
        return Ok(());
    }
    eprintln!("== xtask ci: CUDA compile check: cargo xtask kernels");
    crate::kernels::run()
}

/// `cargo doc --no-deps --workspace` with rustdoc's warnings denied, so the `[workspace.lints.rustdoc]` lints run;
/// private items too, so that a link in a module's notes for maintainers is checked as well.
fn docs() -> Result<()> {
    let args = ["doc", "--no-deps", "--workspace", "--document-private-items", "--quiet"];
    eprintln!("== xtask ci: docs: RUSTDOCFLAGS=\"-D warnings\" cargo {}", args.join(" "));
    let mut cmd = cargo();
    cmd.args(args).env("RUSTDOCFLAGS", "-D warnings");
    crate::run(cmd)
}

fn step(name: &str, args: &[&str]) -> Result<()> {
    eprintln!("== xtask ci: {name}: cargo {}", args.join(" "));
    let mut cmd = cargo();
    cmd.args(args);
    crate::run(cmd)
}
