//! Checkpoints: the model's tensors (buffers included), the optimiser's state, the recorder and the data position
//! in ONE safetensors file whose header metadata holds the JSON, written atomically, so a crash leaves either the
//! old checkpoint or the new one. Also the in-memory snapshot lr_find restores.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle::Tensor;
use fastvision_core::Vocab;
use fastvision_models::VisionModel;
use fastvision_ops::CandleContext;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::learner::{FitProgress, Learner};
use crate::optim::{OptimizerMeta, OptimizerSnapshot};
use crate::recorder::Recorder;

/// The metadata key holding the JSON in a fastvision safetensors file.
pub const METADATA_KEY: &str = "fastvision";

/// What a checkpoint's JSON holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always `fastvision-checkpoint`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Architecture name (`resnet34`).
    pub arch: String,
    /// Number of classes.
    pub n_classes: usize,
    /// Class names.
    pub vocab: Vocab,
    /// Frozen groups at save time.
    pub frozen_groups: usize,
    /// Epochs of training data consumed.
    pub data_epoch: usize,
    /// Optimiser hypers and step counts.
    pub optimizer: OptimizerMeta,
    /// Training history.
    pub recorder: Recorder,
    /// The fit that was running when it was saved, for [`Learner::resume`].
    #[serde(default)]
    pub progress: Option<FitProgress>,
    /// The model's dropout position (seed, masks drawn), so a resumed fit draws the same masks (absent in older
    /// checkpoints: the masks restart).
    #[serde(default)]
    pub dropout: Option<(u64, u64)>,
}

/// An in-memory copy of the model's tensors and the optimiser's state.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    model: Vec<(String, Tensor)>,
    opt: OptimizerSnapshot,
    data_epoch: usize,
    frozen_groups: usize,
    recorder_len: (usize, usize, usize),
}

/// Deep copies of every model tensor (parameters and BatchNorm statistics).
pub(crate) fn copy_model_tensors(model: &VisionModel) -> Result<Vec<(String, Tensor)>> {
    model.named_tensors().into_iter().map(|(n, t)| Ok((n.clone(), t.copy().ctx(&format!("copying {n}"))?))).collect()
}

/// Writes `get(name)` into each model tensor in place (parameters stay the same `Var`s the optimiser holds).
pub(crate) fn set_model_tensors(
    model: &VisionModel,
    mut get: impl FnMut(&str) -> Option<Tensor>,
    source: &Path,
) -> Result<()> {
    for (name, dst) in model.named_tensors() {
        let bad = |why: String| Error::BadCheckpoint { path: source.to_path_buf(), why };
        let src = get(&name).ok_or_else(|| bad(format!("tensor {name} is missing")))?;
        if src.dims() != dst.dims() {
            return Err(bad(format!("tensor {name} has shape {:?}, the model needs {:?}", src.dims(), dst.dims())));
        }
        let src =
            src.to_device(dst.device()).and_then(|t| t.to_dtype(dst.dtype())).ctx(&format!("converting {name}"))?;
        let (dst, src) = (dst.flatten_all().ctx("flattening")?, src.flatten_all().ctx("flattening")?);
        dst.slice_set(&src, 0, 0).ctx(&format!("writing {name} into the model"))?;
    }
    Ok(())
}

/// Serialises tensors plus a JSON string under [`METADATA_KEY`] into safetensors bytes.
pub(crate) fn to_safetensors(tensors: &BTreeMap<String, Tensor>, json: String, path: &Path) -> Result<Vec<u8>> {
    let metadata = HashMap::from([(METADATA_KEY.to_owned(), json)]);
    safetensors::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(metadata))
        .map_err(|e| Error::BadCheckpoint { path: path.to_path_buf(), why: format!("serialising: {e}") })
}

/// Reads a fastvision safetensors file: its tensors (on `device`) and its JSON metadata.
pub(crate) fn read_safetensors(path: &Path, device: &candle::Device) -> Result<(HashMap<String, Tensor>, String)> {
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { action: "reading", path: path.to_path_buf(), source })?;
    let bad = |why: String| Error::BadCheckpoint { path: path.to_path_buf(), why };
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not safetensors: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY).cloned())
        .ok_or_else(|| bad(format!("no `{METADATA_KEY}` metadata: not written by fastvision")))?;
    let tensors =
        candle::safetensors::load_buffer(&bytes, device).ctx(&format!("loading tensors of {}", path.display()))?;
    Ok((tensors, json))
}

impl Learner {
    /// The file of checkpoint `name`: `{checkpoint_dir}/{name}.safetensors`.
    pub fn checkpoint_path(&self, name: &str) -> PathBuf {
        self.config.checkpoint_dir.join(format!("{name}.safetensors"))
    }

    pub(crate) fn snapshot(&self) -> Result<Snapshot> {
        let r = &self.recorder;
        Ok(Snapshot {
            model: copy_model_tensors(&self.model)?,
            opt: self.opt.snapshot()?,
            data_epoch: self.data_epoch,
            frozen_groups: self.model.frozen_groups(),
            recorder_len: (r.iterations.len(), r.epochs.len(), r.epoch_ends.len()),
        })
    }

    pub(crate) fn restore(&mut self, snapshot: &Snapshot) -> Result<()> {
        let by_name: HashMap<&str, &Tensor> = snapshot.model.iter().map(|(n, t)| (n.as_str(), t)).collect();
        set_model_tensors(&self.model, |n| by_name.get(n).map(|t| (*t).clone()), Path::new("<in-memory snapshot>"))?;
        self.opt.restore(&snapshot.opt)?;
        self.model
            .freeze_to(snapshot.frozen_groups)
            .map_err(|source| Error::Model { context: "restoring the frozen groups".into(), source })?;
        self.data_epoch = snapshot.data_epoch;
        let (i, e, ends) = snapshot.recorder_len;
        self.recorder.iterations.truncate(i);
        self.recorder.epochs.truncate(e);
        self.recorder.epoch_ends.truncate(ends);
        Ok(())
    }

    /// Saves model, optimiser, recorder and data position as checkpoint `name` (fastai's `learn.save`), atomically.
    /// Returns the file written.
    pub fn save(&self, name: &str) -> Result<PathBuf> {
        let path = self.checkpoint_path(name);
        let (opt_tensors, optimizer) = self.opt.export_state()?;
        let mut tensors: BTreeMap<String, Tensor> =
            self.model.named_tensors().into_iter().map(|(n, t)| (format!("model/{n}"), t)).collect();
        tensors.extend(opt_tensors);
        let meta = CheckpointMeta {
            format: "fastvision-checkpoint".into(),
            version: 1,
            arch: self.model.arch().to_string(),
            n_classes: self.model.n_classes(),
            vocab: self.dls.vocab().clone(),
            frozen_groups: self.model.frozen_groups(),
            data_epoch: self.data_epoch,
            optimizer,
            recorder: self.recorder.clone(),
            progress: self.progress.clone(),
            dropout: Some(self.model.dropout_position()),
        };
        let json = serde_json::to_string(&meta)
            .map_err(|source| Error::Json { what: "checkpoint metadata".into(), source })?;
        let bytes = to_safetensors(&tensors, json, &path)?;
        fastvision_core::fs::atomic_write_bytes(&path, &bytes)
            .map_err(|source| Error::Core { context: format!("writing checkpoint {}", path.display()), source })?;
        Ok(path)
    }

    /// Loads checkpoint `name` written by [`Learner::save`] (fastai's `learn.load(with_opt=True)`): model tensors,
    /// optimiser state, recorder, data position and freezing. The learner must have the same architecture and
    /// classes; nothing is changed when the file does not fit.
    pub fn load(&mut self, name: &str) -> Result<()> {
        let path = self.checkpoint_path(name);
        self.load_from(&path)
    }

    /// [`Learner::load`] from an explicit file.
    pub fn load_from(&mut self, path: &Path) -> Result<()> {
        let (tensors, json) = read_safetensors(path, self.model.device())?;
        let bad = |why: String| Error::BadCheckpoint { path: path.to_path_buf(), why };
        let meta: CheckpointMeta = serde_json::from_str(&json).map_err(|e| bad(format!("metadata: {e}")))?;
        if meta.format != "fastvision-checkpoint"
            || meta.arch != self.model.arch().to_string()
            || meta.n_classes != self.model.n_classes()
        {
            return Err(bad(format!(
                "holds a {} {} with {} classes; this learner is {} with {} classes",
                meta.format,
                meta.arch,
                meta.n_classes,
                self.model.arch(),
                self.model.n_classes()
            )));
        }
        let backup = self.snapshot()?;
        let result = self.apply_checkpoint(&tensors, &meta, path);
        if result.is_err() {
            // All or nothing: a checkpoint that fails halfway leaves the learner as it was.
            self.restore(&backup)?;
        }
        result
    }

    fn apply_checkpoint(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        meta: &CheckpointMeta,
        path: &Path,
    ) -> Result<()> {
        set_model_tensors(&self.model, |n| tensors.get(&format!("model/{n}")).cloned(), path)?;
        self.model
            .freeze_to(meta.frozen_groups)
            .map_err(|source| Error::Model { context: "restoring the frozen groups".into(), source })?;
        let opt: BTreeMap<String, Tensor> =
            tensors.iter().filter(|(k, _)| k.starts_with("opt/")).map(|(k, v)| (k.clone(), v.clone())).collect();
        self.opt.import_state(&opt, &meta.optimizer)?;
        self.recorder = meta.recorder.clone();
        self.data_epoch = meta.data_epoch;
        self.progress = meta.progress.clone();
        if let Some(position) = meta.dropout {
            self.model.set_dropout_position(position);
        }
        Ok(())
    }
}
