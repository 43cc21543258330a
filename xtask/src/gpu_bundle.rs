//! `cargo xtask gpu-bundle`: everything a GPU machine without Rust or network needs to check fastvision's CUDA
//! path, built here without a GPU: a stripped release `fastvision` binary with the `cuda` feature (its
//! `gpu-check` command holds the checks), `gpu-check.sh`, the PyTorch twin of the timed epoch, and the photos.
//!
//! How it builds without a GPU in minutes rather than half an hour:
//! - candle-kernels is replaced, for this build only, by a copy whose build.rs compiles candle's 11 PTX modules
//!   with the PyPI toolkit's nvcc (in parallel) and stubs the MoE/GGUF static library (`libmoe.a`, ~30 minutes of
//!   nvcc for kernels fastvision never calls; a call would abort with a message);
//! - the CUDA libraries the binary links against (`libcuda`, cuBLAS, cuRAND, NVRTC, cuDNN) are stub `.so` files
//!   with the real sonames, generated from cudarc's symbol lists; the GPU machine's real libraries (driver, and
//!   PyTorch's `nvidia/*/lib`) are found at run time by `gpu-check.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::kernels::{copy_dir, locked_version, registry_source, toolkit, unpack_crate, with_cuda_env};
use crate::{cargo, project_root};

/// The stub libraries: (link name, soname, cudarc's `src/<module>/sys/mod.rs` that lists its functions).
const STUB_LIBS: [(&str, &str, &str); 6] = [
    ("cuda", "libcuda.so.1", "driver"),
    ("nvrtc", "libnvrtc.so.13", "nvrtc"),
    ("curand", "libcurand.so.10", "curand"),
    ("cublas", "libcublas.so.13", "cublas"),
    ("cublasLt", "libcublasLt.so.13", "cublaslt"),
    ("cudnn", "libcudnn.so.9", "cudnn"),
];

/// The bundle must travel to the GPU machine with the working tree (64 MiB in all).
const BUNDLE_LIMIT: u64 = 56 << 20;

/// Options of `cargo xtask gpu-bundle`.
pub struct Options {
    /// Where the bundle goes (default `target/gpu-bundle/bundle`).
    pub out: Option<PathBuf>,
    /// Compute capability of candle's PTX (the driver JIT-compiles it for newer GPUs).
    pub arch: String,
    /// Photos for the timed epoch (default `$FASTVISION_SHARED/data/oxford-pets-370/images`).
    pub data: Option<PathBuf>,
}

/// Builds the bundle and prints its size; fails when it would not travel.
pub fn run(options: Options) -> Result<()> {
    let root = project_root();
    let work = root.join("target/gpu-bundle");
    let cuda_work = root.join("target/cuda-toolkit");
    std::fs::create_dir_all(&cuda_work).with_context(|| format!("creating {}", cuda_work.display()))?;
    let out = options.out.unwrap_or_else(|| work.join("bundle"));
    replaceable(&out)?;
    let data = photos(options.data)?;
    let start = Instant::now();
    eprintln!("== xtask gpu-bundle 1/4: CUDA toolkit");
    let cuda_home = toolkit(&cuda_work).context("gpu-bundle step 1/4 (CUDA toolkit from PyPI) failed")?;
    eprintln!("== xtask gpu-bundle 2/4: candle-kernels (PTX for sm_{}) and link stubs", options.arch);
    let kernels = ptx_candle_kernels(&root, &work).context("gpu-bundle step 2/4 (candle-kernels copy) failed")?;
    let stubs = link_stubs(&work).context("gpu-bundle step 2/4 (stub libraries) failed")?;
    eprintln!(
        "== xtask gpu-bundle 3/4: cargo build --release --features cuda ({} s so far)",
        start.elapsed().as_secs()
    );
    let binary = build(&root, &work, &cuda_home, &kernels, &stubs, &options.arch)
        .context("gpu-bundle step 3/4 (release build with `cuda`) failed")?;
    eprintln!("== xtask gpu-bundle 4/4: assembling ({} s so far)", start.elapsed().as_secs());
    assemble(&root, &binary, &out, &data).context("gpu-bundle step 4/4 (assembling) failed")?;
    let size = dir_size(&out)?;
    eprintln!(
        "== xtask gpu-bundle: {} — {:.1} MiB in {} s",
        out.display(),
        size as f64 / (1 << 20) as f64,
        start.elapsed().as_secs()
    );
    if size > BUNDLE_LIMIT {
        bail!("the bundle is {size} bytes, over the {BUNDLE_LIMIT} that can travel with the working tree");
    }
    Ok(())
}

/// A copy of the locked candle-kernels whose build.rs compiles the PTX modules with nvcc and stubs `libmoe.a`.
fn ptx_candle_kernels(root: &Path, work: &Path) -> Result<PathBuf> {
    let source = candle_kernels_source(root, work)?;
    let copy = work.join("candle-kernels-ptx");
    // Made once: rewriting it would change its files' times and rebuild candle (minutes) on every bundle.
    let build_rs_path = copy.join("build.rs");
    let made = copy.join(".made-by-xtask");
    if !made.is_file() {
        if copy.exists() {
            std::fs::remove_dir_all(&copy).with_context(|| format!("removing {}", copy.display()))?;
        }
        copy_dir(&source, &copy)?;
    }
    let ptx_rs = std::fs::read_to_string(source.join("src/ptx.rs")).context("reading candle-kernels' ptx.rs")?;
    let modules: Vec<String> = ptx_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const ")?.split(':').next())
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let ffi = std::fs::read_to_string(source.join("src/ffi.rs")).context("reading candle-kernels' ffi.rs")?;
    let moe_functions = words_after(&ffi, "pub fn ");
    if modules.is_empty() || moe_functions.is_empty() {
        bail!("candle-kernels' ptx.rs or ffi.rs changed shape: update xtask gpu-bundle");
    }
    let build_rs = format!(
        "//! Written by `cargo xtask gpu-bundle`: candle's PTX modules through nvcc, the MoE library stubbed.\n\
         use std::process::Command;\n\
         const MODULES: &[&str] = &{modules:?};\n\
         const MOE_FUNCTIONS: &[&str] = &{moe_functions:?};\n\
         fn main() -> Result<(), Box<dyn std::error::Error>> {{\n\
         \x20   let out = std::path::PathBuf::from(std::env::var(\"OUT_DIR\")?);\n\
         \x20   let arch = std::env::var(\"CUDA_COMPUTE_CAP\")?;\n\
         \x20   let nvcc = std::env::var(\"NVCC\").unwrap_or_else(|_| \"nvcc\".into());\n\
         \x20   let mut children = Vec::new();\n\
         \x20   for m in MODULES {{\n\
         \x20       let child = Command::new(&nvcc)\n\
         \x20           .args([\"--ptx\", &format!(\"-arch=sm_{{arch}}\"), \"--expt-relaxed-constexpr\", \"-std=c++17\", \"-O3\"])\n\
         \x20           .arg(format!(\"src/{{m}}.cu\")).arg(\"-o\").arg(out.join(format!(\"{{m}}.ptx\"))).spawn()?;\n\
         \x20       children.push((m, child));\n\
         \x20   }}\n\
         \x20   let mut consts = String::new();\n\
         \x20   for (m, mut child) in children {{\n\
         \x20       if !child.wait()?.success() {{ return Err(format!(\"nvcc failed on src/{{m}}.cu\").into()); }}\n\
         \x20       consts += &format!(\"pub const {{}}: &str = include_str!(concat!(env!(\\\"OUT_DIR\\\"), \\\"/{{m}}.ptx\\\"));\\n\", m.to_uppercase());\n\
         \x20   }}\n\
         \x20   std::fs::write(out.join(\"ptx.rs\"), consts)?;\n\
         \x20   let mut c = String::from(\"#include <stdio.h>\\n#include <stdlib.h>\\n\");\n\
         \x20   for f in MOE_FUNCTIONS {{\n\
         \x20       c += &format!(\"void {{f}}(void) {{{{ fprintf(stderr, \\\"candle's {{f}} is not in fastvision's GPU bundle\\\\n\\\"); abort(); }}}}\\n\");\n\
         \x20   }}\n\
         \x20   std::fs::write(out.join(\"moe_stub.c\"), c)?;\n\
         \x20   let cc = std::env::var(\"CC\").unwrap_or_else(|_| \"cc\".into());\n\
         \x20   let ok = Command::new(&cc).args([\"-c\", \"-fPIC\", \"-O1\"]).arg(out.join(\"moe_stub.c\")).arg(\"-o\").arg(out.join(\"moe_stub.o\")).status()?.success()\n\
         \x20       && Command::new(\"ar\").arg(\"rcs\").arg(out.join(\"libmoe.a\")).arg(out.join(\"moe_stub.o\")).status()?.success();\n\
         \x20   if !ok {{ return Err(\"compiling the libmoe stub failed\".into()); }}\n\
         \x20   println!(\"cargo:rustc-link-search={{}}\", out.display());\n\
         \x20   println!(\"cargo:rustc-link-lib=static=moe\");\n\
         \x20   println!(\"cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP\");\n\
         \x20   Ok(())\n\
         }}\n"
    );
    write_if_changed(&build_rs_path, &build_rs)?;
    // The copy's manifest names cudaforge as a build dependency; it is no longer used, and dropping it spares
    // building it.
    let manifest = copy.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).context("reading candle-kernels' Cargo.toml")?;
    write_if_changed(&manifest, &text.replace("[build-dependencies.cudaforge]", "[dev-dependencies.cudaforge]"))?;
    std::fs::write(&made, source.display().to_string()).context("marking the candle-kernels copy")?;
    Ok(copy)
}

/// Writes `text` unless the file already holds it, so cargo sees no change.
fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The unpacked registry source of the locked candle-kernels (fetched first on a fresh machine).
pub(crate) fn candle_kernels_source(root: &Path, work: &Path) -> Result<PathBuf> {
    let version = locked_version(root, "candle-kernels")?;
    if let Some(dir) = registry_source("candle-kernels", &version) {
        return Ok(dir);
    }
    let mut fetch = cargo();
    fetch.args(["fetch", "--quiet"]);
    crate::run(fetch)?;
    match registry_source("candle-kernels", &version) {
        Some(dir) => Ok(dir),
        None => unpack_crate(work, "candle-kernels", &version),
    }
}

/// Every identifier following `prefix` in `text`, sorted and unique.
fn words_after(text: &str, prefix: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .match_indices(prefix)
        .map(|(at, _)| {
            text[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        })
        .filter(|w: &String| !w.is_empty())
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Stub shared libraries with the real sonames and every function cudarc may call, so the binary links here.
fn link_stubs(work: &Path) -> Result<PathBuf> {
    let cudarc = registry_source("cudarc", &locked_version(&project_root(), "cudarc")?)
        .context("cudarc is not unpacked in the cargo registry: run `cargo fetch`")?;
    let dir = work.join("link-stubs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, soname, module) in STUB_LIBS {
        let sys = cudarc.join(format!("src/{module}/sys/mod.rs"));
        let text = std::fs::read_to_string(&sys).with_context(|| format!("reading {}", sys.display()))?;
        let functions = words_after(&text, "pub unsafe fn ");
        if functions.is_empty() {
            bail!("{} lists no functions: cudarc changed, update xtask gpu-bundle", sys.display());
        }
        let c: String = functions.iter().map(|f| format!("int {f}(void) {{ return 999; }}\n")).collect();
        let c_file = dir.join(format!("{name}.c"));
        std::fs::write(&c_file, c).with_context(|| format!("writing {}", c_file.display()))?;
        let mut cc = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
        cc.args(["-shared", "-fPIC", "-O0", &format!("-Wl,-soname,{soname}"), "-o"])
            .arg(dir.join(format!("lib{name}.so")))
            .arg(&c_file);
        crate::run(cc).with_context(|| format!("compiling the stub {soname}"))?;
    }
    Ok(dir)
}

/// `cargo build --release -p fastvision-cli --features cuda`, stripped, in its own target dir.
fn build(root: &Path, work: &Path, cuda_home: &Path, kernels: &Path, stubs: &Path, arch: &str) -> Result<PathBuf> {
    let target = work.join("target");
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read(&lock_path).with_context(|| format!("reading {}", lock_path.display()))?;
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "fastvision-cli", "--features", "cuda"]);
    cmd.arg("--config").arg(format!("patch.crates-io.candle-kernels.path={:?}", kernels.display().to_string()));
    cmd.args(["--config", "profile.release.debug=false", "--config", "profile.release.strip=true"]);
    cmd.env("CARGO_TARGET_DIR", &target);
    let mut rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    rustflags.push_str(&format!(" -L native={}", stubs.display()));
    cmd.env("RUSTFLAGS", rustflags.trim());
    with_cuda_env(&mut cmd, cuda_home)?;
    cmd.env("CUDA_COMPUTE_CAP", arch);
    let result = crate::run(cmd);
    std::fs::write(&lock_path, &lock).with_context(|| format!("restoring {}", lock_path.display()))?;
    result?;
    Ok(target.join("release/fastvision"))
}

/// The bundle folder: the binary (xz-compressed), the scripts, and the photos.
fn assemble(root: &Path, binary: &Path, out: &Path, data: &Path) -> Result<()> {
    let marker = replaceable(out)?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("removing the old {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(&marker, "written by cargo xtask gpu-bundle; replaced by the next one\n")
        .with_context(|| format!("writing {}", marker.display()))?;
    // xz: candle's PTX text is most of the binary and compresses ~10x; gpu-check.sh unpacks it with Python's lzma.
    let mut xz = Command::new("xz");
    xz.args(["-6", "-T2", "-c"]).arg(binary).stdout(
        std::fs::File::create(out.join("fastvision.xz")).with_context(|| format!("creating {}", out.display()))?,
    );
    crate::run(xz).context("compressing the binary with xz (apt-get install xz-utils)")?;
    let scripts = root.join("xtask/gpu");
    for name in ["gpu-check.sh", "torch_epoch.py"] {
        std::fs::copy(scripts.join(name), out.join(name)).with_context(|| format!("copying xtask/gpu/{name}"))?;
    }
    copy_dir(data, &out.join("data")).with_context(|| format!("copying the photos from {}", data.display()))?;
    Ok(())
}

/// The photos of the timed epoch: `--data`, else the pets in `$FASTVISION_SHARED`; checked before building.
fn photos(data: Option<PathBuf>) -> Result<PathBuf> {
    let data = match data {
        Some(dir) => dir,
        None => std::env::var_os("FASTVISION_SHARED")
            .map(|s| PathBuf::from(s).join("data/oxford-pets-370/images"))
            .context("set FASTVISION_SHARED (the photos of the timed epoch) or pass --data DIR")?,
    };
    if !data.is_dir() {
        bail!("{} is not a folder of photos: pass --data DIR (fastbook's `name_N.jpg` pets)", data.display());
    }
    Ok(data)
}

/// Only a folder this command made (or an empty one) is replaced: `--out` could name anything. Returns the
/// marker file that says a folder is a bundle.
fn replaceable(out: &Path) -> Result<PathBuf> {
    let marker = out.join(".fastvision-gpu-bundle");
    let empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(true);
    if out.exists() && !marker.is_file() && !empty {
        bail!(
            "{} exists and is not a bundle this command wrote (no .fastvision-gpu-bundle in it): choose an empty or \
             new folder for --out",
            out.display()
        );
    }
    Ok(marker)
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
