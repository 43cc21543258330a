//! The `--out` folder of `train` holds exactly one run. A run writes into a staging folder beside it
//! (`.NAME.partial`, with its checkpoints), locked for the run's lifetime, and only a finished run is swapped in;
//! a rerun replaces a previous finished run whole, never mixing two. A stopped or killed run leaves its staging
//! folder and checkpoints for `--resume`; a fresh run refuses to throw them away without `--overwrite`.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use fastvision::core::fs::{is_output_dir, mark_output_dir, OUTPUT_MARKER};

/// What to do with what a previous run left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A new run; refuses when a stopped run's checkpoints would be lost.
    Fresh,
    /// A new run that discards a stopped run's checkpoints.
    Overwrite,
    /// Continue the stopped run from its checkpoints.
    Resume,
}

/// A run in progress: its staging folder, held under a lock.
#[derive(Debug)]
pub struct RunDir {
    out: PathBuf,
    staging: PathBuf,
    // Held open for the run: the lock lasts as long as the file handle, and dies with the process.
    _lock: File,
}

impl RunDir {
    /// Locks `out` for this process and prepares its staging folder.
    pub fn begin(out: &Path, start: Start) -> Result<Self> {
        let name = out.file_name().with_context(|| format!("--out {}: give a folder name", out.display()))?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        check_replaceable(out)?;
        let lock = lock(&parent.join(format!(".{}.lock", name.to_string_lossy())), out)?;
        let staging = parent.join(format!(".{}.partial", name.to_string_lossy()));
        let checkpoints = [staging.join("models/interrupted.safetensors"), staging.join("models/last.safetensors")];
        let stopped = checkpoints.iter().any(|c| c.is_file());
        match start {
            Start::Resume if !stopped => bail!(
                "--resume: nothing to resume for {} (no checkpoint in {}); run without --resume to start",
                out.display(),
                staging.join("models").display()
            ),
            Start::Resume => {}
            Start::Fresh if stopped => bail!(
                "the last run into {} was stopped before it finished; its checkpoint is in {}. Pass --resume to \
                 continue it, or --overwrite to start over and discard it",
                out.display(),
                staging.join("models").display()
            ),
            // A staging folder without checkpoints is what a run killed early leaves: nothing to keep.
            Start::Fresh | Start::Overwrite => remove_dir_if_present(&staging)?,
        }
        std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
        // The marker says "a run's outputs": listings skip the folder, and a later run may replace it.
        mark_output_dir(&staging)?;
        Ok(Self { out: out.to_path_buf(), staging, _lock: lock })
    }

    /// Where the run writes `name` until it finishes.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// The staging folder.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The folder the finished run will be in.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Swaps the finished run in place of `out` (a previous run there is removed) and returns `out`.
    pub fn finish(self) -> Result<PathBuf> {
        check_replaceable(&self.out)?;
        let old = self.staging.with_extension(format!("old-{}", std::process::id()));
        if self.out.exists() {
            std::fs::rename(&self.out, &old)
                .with_context(|| format!("moving the previous run {} aside", self.out.display()))?;
        }
        std::fs::rename(&self.staging, &self.out)
            .with_context(|| format!("moving {} to {}", self.staging.display(), self.out.display()))?;
        remove_dir_if_present(&old)?;
        Ok(self.out)
    }
}

/// `out` may be replaced only when it is absent, empty, or a fastvision run (marked, or an older run's folder
/// with its exported model's description).
fn check_replaceable(out: &Path) -> Result<()> {
    let older_run = || std::fs::read_to_string(out.join("model.json")).is_ok_and(|t| t.contains("fastvision-export"));
    if !out.exists() || is_output_dir(out) || older_run() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("--out {} is a file, not a folder: choose a folder for the run's outputs", out.display());
    }
    let empty = fastvision::core::fs::list_sorted(out).map(|e| e.is_empty()).unwrap_or(false);
    if !empty {
        bail!(
            "--out {} holds files that are not a fastvision run (no {OUTPUT_MARKER}); a run replaces its --out folder \
             whole, so choose a new or empty folder",
            out.display()
        );
    }
    Ok(())
}

/// An exclusive lock on `path` (created if needed); a second run into the same folder refuses.
fn lock(path: &Path, out: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("creating the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another fastvision run is writing to {} (it holds {}); wait for it to finish or choose another --out",
            out.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}
