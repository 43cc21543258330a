//! `cargo xtask kernels`: compile-checks the CUDA side on a machine without a GPU, so CI catches a broken kernel
//! or a broken `cuda` feature without a GPU. Nothing here runs on a GPU (`cargo xtask gpu-bundle` is for that).
//!
//! 1. The CUDA 13.0 toolkit from PyPI, in a venv under `target/cuda-toolkit/venv` (reused when nvcc is there).
//! 2. Every `crates/fastvision-kernels/src/*.cu` to PTX for sm_80 and sm_90 with nvcc (`--fmad=false`, as the
//!    crate's build.rs), assembled by ptxas with its register report; the parameters of every `.entry` checked
//!    against `crates/fastvision-kernels/src/signatures.rs` ([`crate::ptx_signatures`]).
//! 3. `cargo clippy` (a `cargo check` plus lints) of the `cuda` code of fastvision-augment and fastvision-losses,
//!    with candle-kernels replaced for that one command by a copy whose build.rs writes empty PTX strings:
//!    the real one compiles candle's kernels with nvcc for ~30 minutes, and a check needs only their names.
//!
//! See `crates/fastvision-kernels/README.md` and `../shared/cuda/README.md` for how this was worked out.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, project_root};

/// The pip requirement: the meta-package pins a matching set. 13.0 rather than newer because a driver JITs only
/// PTX versions it knows (13.0 writes PTX 9.0) and cudarc 0.19 knows toolkits up to 13.4.
const TOOLKIT: &str = "cuda-toolkit[nvcc,nvvm,crt,cudart,cccl]==13.0.2";
/// The architectures every kernel must compile for (Turing, A100, H100): CUDA 13 targets sm_75 and newer.
const ARCHS: [&str; 3] = ["75", "80", "90"];
/// The crates whose `cuda` feature is checked.
const CUDA_CRATES: [&str; 4] = ["fastvision-augment", "fastvision-losses", "fastvision-ops", "fastvision-models"];

/// Runs the three steps; an error names the step that failed.
pub fn run() -> Result<()> {
    let root = project_root();
    let work = root.join("target/cuda-toolkit");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let start = Instant::now();
    eprintln!("== xtask kernels 1/3: CUDA toolkit ({TOOLKIT}) in {}", work.join("venv").display());
    let cuda_home = toolkit(&work).context("xtask kernels, step 1/3 (CUDA toolkit from PyPI) failed")?;
    eprintln!(
        "== xtask kernels 2/3: nvcc --ptx + ptxas for sm_{}, PTX entries against signatures.rs ({} s so far)",
        ARCHS.join(", sm_"),
        start.elapsed().as_secs()
    );
    ptx(&root, &work, &cuda_home).context("xtask kernels, step 2/3 (nvcc/ptxas and signatures of every .cu) failed")?;
    eprintln!(
        "== xtask kernels 3/3: cargo clippy --features cuda of {} ({} s so far)",
        CUDA_CRATES.join(", "),
        start.elapsed().as_secs()
    );
    check(&root, &work, &cuda_home)
        .context("xtask kernels, step 3/3 (cargo clippy of the `cuda` code, candle-kernels stubbed) failed")?;
    eprintln!("== xtask kernels: OK in {} s (compile-checked; nothing ran on a GPU)", start.elapsed().as_secs());
    Ok(())
}

/// Returns `CUDA_HOME` (`.../site-packages/nvidia/cu13`), installing the toolkit first when nvcc is missing.
pub(crate) fn toolkit(work: &Path) -> Result<PathBuf> {
    let venv = work.join("venv");
    if let Some(home) = find_cuda_home(&venv) {
        eprintln!("reusing {}", home.display());
        return Ok(home);
    }
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let mut make_venv = Command::new(&python);
    make_venv.arg("-m").arg("venv").arg(&venv);
    crate::run(make_venv).context("creating the venv (needs python3 with the venv module)")?;
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check", TOOLKIT]);
    crate::run(pip).context("pip install of the CUDA toolkit (needs PyPI, ~105 MB)")?;
    find_cuda_home(&venv).with_context(|| format!("pip installed {TOOLKIT} but no nvidia/cu13/bin/nvcc appeared"))
}

/// `venv/lib/python3*/site-packages/nvidia/cu13` when it holds `bin/nvcc`.
fn find_cuda_home(venv: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(venv.join("lib")).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages/nvidia/cu13"))
        .find(|home| home.join("bin/nvcc").is_file())
}

/// The environment the CUDA tools and build scripts need: nvcc finds everything else relative to itself.
pub(crate) fn with_cuda_env(cmd: &mut Command, cuda_home: &Path) -> Result<()> {
    let mut paths = vec![cuda_home.join("bin")];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let path: OsString = std::env::join_paths(paths).context("joining PATH")?;
    cmd.env("CUDA_HOME", cuda_home).env("PATH", path);
    // No GPU to ask; fastvision-kernels' build.rs (and cudaforge, were it to run) read this.
    if std::env::var_os("CUDA_COMPUTE_CAP").is_none() {
        cmd.env("CUDA_COMPUTE_CAP", ARCHS[0]);
    }
    Ok(())
}

/// Every kernel to PTX for every architecture, then through ptxas; prints the per-entry register report.
fn ptx(root: &Path, work: &Path, cuda_home: &Path) -> Result<()> {
    let src = root.join("crates/fastvision-kernels/src");
    let mut kernels: Vec<PathBuf> = std::fs::read_dir(&src)
        .with_context(|| format!("reading {}", src.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .collect();
    kernels.sort();
    if kernels.is_empty() {
        bail!("no .cu files in {}", src.display());
    }
    let out = work.join("ptx");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut version = Command::new(cuda_home.join("bin/nvcc"));
    version.arg("--version");
    with_cuda_env(&mut version, cuda_home)?;
    let text = version.output().context("running nvcc --version")?;
    eprintln!("{}", String::from_utf8_lossy(&text.stdout).lines().last().unwrap_or("nvcc: no version"));
    for kernel in &kernels {
        let name = kernel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = kernel.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for arch in ARCHS {
            let ptx_file = out.join(format!("{stem}_sm{arch}.ptx"));
            let mut nvcc = Command::new(cuda_home.join("bin/nvcc"));
            nvcc.args(["--ptx", &format!("-arch=sm_{arch}"), "-O3", "-std=c++17", "--fmad=false"])
                .arg(kernel)
                .arg("-o")
                .arg(&ptx_file);
            with_cuda_env(&mut nvcc, cuda_home)?;
            crate::run(nvcc).with_context(|| format!("nvcc of {name} for sm_{arch}"))?;
            crate::ptx_signatures::check(&name, &ptx_file)?;
            let mut ptxas = Command::new(cuda_home.join("bin/ptxas"));
            ptxas
                .args([&format!("-arch=sm_{arch}"), "-v"])
                .arg(&ptx_file)
                .arg("-o")
                .arg(out.join(format!("{stem}_sm{arch}.cubin")));
            with_cuda_env(&mut ptxas, cuda_home)?;
            let output = ptxas.output().with_context(|| format!("running ptxas on {}", ptx_file.display()))?;
            let report =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            if !output.status.success() {
                bail!("ptxas of {name} for sm_{arch} failed ({}):\n{report}", output.status);
            }
            for line in report
                .lines()
                .filter(|l| l.contains("Compiling entry") || l.contains("registers") || l.contains("spill"))
            {
                eprintln!("{name} sm_{arch}: {}", line.trim_start_matches("ptxas info    : "));
            }
        }
    }
    Ok(())
}

/// `cargo clippy --features cuda --all-targets` with candle-kernels stubbed, in its own target dir so the normal
/// build cache stays as it is. `--config patch...` rewrites Cargo.lock, so the original is put back afterwards,
/// whatever the result.
fn check(root: &Path, work: &Path, cuda_home: &Path) -> Result<()> {
    let stub = stub_candle_kernels(root, work)?;
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read(&lock_path).with_context(|| format!("reading {}", lock_path.display()))?;
    let mut cmd = cargo();
    cmd.arg("clippy");
    for krate in CUDA_CRATES {
        cmd.args(["-p", krate]);
    }
    cmd.args(["--features", "cuda", "--all-targets", "--quiet"]);
    cmd.arg("--config").arg(format!("patch.crates-io.candle-kernels.path={:?}", stub.display().to_string()));
    cmd.args(["--", "-D", "warnings"]);
    cmd.env("CARGO_TARGET_DIR", work.join("target"));
    with_cuda_env(&mut cmd, cuda_home)?;
    let result = crate::run(cmd);
    std::fs::write(&lock_path, &lock).with_context(|| format!("restoring {}", lock_path.display()))?;
    result
}

/// A copy of the locked candle-kernels whose build.rs writes every `pub const NAME: &str` of its `ptx.rs` as "".
/// Enough for `cargo check`; a binary built from it would fail at the first kernel launch, so it is never linked.
fn stub_candle_kernels(root: &Path, work: &Path) -> Result<PathBuf> {
    let source = crate::gpu_bundle::candle_kernels_source(root, work)?;
    let stub = work.join("candle-kernels-stub");
    if stub.exists() {
        std::fs::remove_dir_all(&stub).with_context(|| format!("removing {}", stub.display()))?;
    }
    copy_dir(&source, &stub)?;
    let ptx_rs = source.join("src/ptx.rs");
    let text = std::fs::read_to_string(&ptx_rs).with_context(|| format!("reading {}", ptx_rs.display()))?;
    let consts: String = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const ")?.split(':').next())
        .map(|name| format!("pub const {}: &str = \"\";\n", name.trim()))
        .collect();
    if consts.is_empty() {
        bail!("{} lists no `pub const NAME: &str`: candle-kernels changed, update the stub in xtask", ptx_rs.display());
    }
    let build_rs = format!(
        "//! Stub written by `cargo xtask kernels`: empty PTX strings, no nvcc. For `cargo check` only.\n\
         fn main() -> Result<(), Box<dyn std::error::Error>> {{\n    \
             let out = std::path::PathBuf::from(std::env::var(\"OUT_DIR\")?);\n    \
             std::fs::write(out.join(\"ptx.rs\"), {consts:?})?;\n    \
             Ok(())\n\
         }}\n"
    );
    std::fs::write(stub.join("build.rs"), build_rs).context("writing the stub build.rs")?;
    Ok(stub)
}

/// The version of `name` in Cargo.lock.
pub(crate) fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            if let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = ")) {
                return Ok(version.trim_matches('"').to_string());
            }
        }
    }
    bail!("Cargo.lock has no {name}: is the `cuda` feature still wired to candle?")
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// `$CARGO_HOME/registry/src/*/name-version`, when cargo has unpacked it.
pub(crate) fn registry_source(name: &str, version: &str) -> Option<PathBuf> {
    let registries = std::fs::read_dir(cargo_home().join("registry/src")).ok()?;
    registries
        .flatten()
        .map(|r| r.path().join(format!("{name}-{version}")))
        .find(|dir| dir.join("Cargo.toml").is_file())
}

/// Unpacks `$CARGO_HOME/registry/cache/*/name-version.crate` (a .tar.gz) under `work`.
pub(crate) fn unpack_crate(work: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let file = format!("{name}-{version}.crate");
    let cache = cargo_home().join("registry/cache");
    let archive = std::fs::read_dir(&cache)
        .with_context(|| format!("reading {}", cache.display()))?
        .flatten()
        .map(|r| r.path().join(&file))
        .find(|p| p.is_file())
        .with_context(|| format!("{file} is neither unpacked nor in {} after cargo fetch", cache.display()))?;
    let mut tar = Command::new("tar");
    tar.arg("xzf").arg(&archive).arg("-C").arg(work);
    crate::run(tar)?;
    Ok(work.join(format!("{name}-{version}")))
}

pub(crate) fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
