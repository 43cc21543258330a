//! fastai's `untar_data`: a named data set is downloaded once into the archive cache, checked, extracted once into
//! the data cache, and its folder returned; every later call returns the folder straight away.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::download::{self, part_path, Progress, Timeouts};
use crate::error::io_err;
use crate::extract::{self, remove_quietly};
use crate::registry::Dataset;
use crate::{Error, Result};

/// The environment variable naming fastvision's cache home (fastai's `FASTAI_HOME`).
pub const HOME_ENV: &str = "FASTVISION_HOME";

/// Where [`untar_data`] keeps archives and data sets, and its network limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntarConfig {
    /// Downloaded archives (fastai's `~/.fastai/archive`).
    pub archive_dir: PathBuf,
    /// Extracted data sets, one folder each (fastai's `~/.fastai/data`).
    pub data_dir: PathBuf,
    /// Longest wait for a connection (30 s).
    pub connect_timeout: Duration,
    /// Longest wait for any single read of the response (60 s); a stalled transfer fails and can be resumed.
    pub read_timeout: Duration,
    /// Download and extract again even if the data set is already there (fastai's `force_download`).
    pub force_download: bool,
}

impl UntarConfig {
    /// Archives in `home/archive`, data sets in `home/data`, default timeouts.
    pub fn in_home(home: &Path) -> Self {
        Self {
            archive_dir: home.join("archive"),
            data_dir: home.join("data"),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            force_download: false,
        }
    }

    /// [`UntarConfig::in_home`] of [`fastvision_home`]: data sets land in `~/.fastvision/data` unless
    /// `FASTVISION_HOME` says otherwise.
    pub fn from_env() -> Result<Self> {
        Ok(Self::in_home(&fastvision_home()?))
    }
}

/// `$FASTVISION_HOME` if set and not empty, else `~/.fastvision`.
pub fn fastvision_home() -> Result<PathBuf> {
    let from_env = |name| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    if let Some(home) = from_env(HOME_ENV) {
        return Ok(home);
    }
    from_env("HOME")
        .or_else(|| from_env("USERPROFILE"))
        .map(|home| home.join(".fastvision"))
        .ok_or(Error::NoCacheFolder)
}

/// Downloads, checks and extracts `dataset` (fastai's `untar_data`) and returns its folder,
/// `config.data_dir/<archive name without extension>`. An existing folder is returned at once. `progress` hears
/// about each step (the caller draws the progress bar; this crate never prints).
///
/// An interrupted transfer is an [`Error::Interrupted`] and the next call resumes it; a wrong size or checksum or
/// an unreadable archive is an error that deletes the bad file; in no case is a partly extracted folder left.
pub fn untar_data(dataset: &Dataset, config: &UntarConfig, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
    let folder_name = dataset.folder_name()?;
    let folder = config.data_dir.join(&folder_name);
    let archive = config.archive_dir.join(dataset.archive_name()?);
    if config.force_download {
        remove_dataset(&folder, &archive)?;
    } else if folder.is_dir() {
        return Ok(folder);
    }
    if !archive.is_file() {
        std::fs::create_dir_all(&config.archive_dir).map_err(io_err("creating", &config.archive_dir))?;
        let timeouts = Timeouts { connect: config.connect_timeout, read: config.read_timeout };
        download::download(&dataset.url, &archive, dataset.size_bytes, timeouts, progress)?;
    }
    extract::verify(&archive, dataset, progress)?;
    extract::extract(&archive, &config.data_dir, &folder_name, progress)
}

/// Removes a data set's folder, archive and partial download, for `force_download`.
fn remove_dataset(folder: &Path, archive: &Path) -> Result<()> {
    if folder.exists() {
        std::fs::remove_dir_all(folder).map_err(io_err("removing", folder))?;
    }
    remove_quietly(archive);
    remove_quietly(&part_path(archive));
    Ok(())
}
