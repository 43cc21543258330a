//! `DataBlock::summary`: walks one item and one batch through every step and, when something fails, says which
//! step, on which file, why, and what to do.

use std::fmt::{self, Write as _};
use std::path::Path;

use candle::Tensor;

use crate::category::preview;
use crate::datablock::{check_datasets, DataBlock, ItemError};
use crate::decode::decode_rgb;
use crate::loader::{DataLoader, LoaderConfig};
use crate::Result;

/// The report of [`DataBlock::summary`]: the text, every problem found, and the step that stopped it (if any).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The report, one step per paragraph.
    pub text: String,
    /// Every item-level problem found (all unlabelled files, a file that failed to decode, …).
    pub problems: Vec<ItemError>,
    /// The step that failed and stopped the walk, if any.
    pub failed_step: Option<String>,
}

impl Summary {
    /// True when every step succeeded.
    pub fn is_ok(&self) -> bool {
        self.failed_step.is_none() && self.problems.is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

struct Writer {
    summary: Summary,
}

impl Writer {
    fn line(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.summary.text, "{}", text.as_ref());
    }

    fn fail(&mut self, step: &str, error: impl fmt::Display, hint: &str) -> Summary {
        self.line(format!("FAILED at step `{step}`: {error}"));
        if !hint.is_empty() {
            self.line(format!("hint: {hint}"));
        }
        self.summary.failed_step = Some(step.to_owned());
        std::mem::take(&mut self.summary)
    }
}

impl DataBlock {
    /// fastai's `DataBlock.summary`, done better: lists the items, labels and splits them, builds one sample
    /// step by step (decode, item transform, label, category), collates a batch of `batch_size` and applies the
    /// batch transform, printing types and shapes. It never fails: problems are in the returned [`Summary`].
    pub fn summary(&self, path: &Path, batch_size: usize) -> Summary {
        let mut w = Writer { summary: Summary::default() };
        match self.summary_steps(path, batch_size, &mut w) {
            Ok(()) => w.summary,
            Err(summary) => summary,
        }
    }

    fn summary_steps(&self, path: &Path, batch_size: usize, w: &mut Writer) -> Result<(), Summary> {
        w.line(format!("Collecting items from {} with {}", path.display(), self.get_items_name()));
        let files = self.get_items(path).map_err(|e| w.fail("get_items", e, "check the path and the extensions"))?;
        w.line(format!("Found {} items", files.len()));

        w.line(format!("\nLabelling with {:?}", self.labeller()));
        let label_errors: Vec<ItemError> = files
            .iter()
            .filter_map(|file| self.labeller().label(file).err().map(|e| (file, e)))
            .map(|(file, e)| ItemError { step: "label", path: file.clone(), message: e.to_string() })
            .collect();
        for error in &label_errors {
            w.line(format!("  ! {}: {}", error.path.display(), error.message));
        }
        if !label_errors.is_empty() {
            let names: Vec<String> = label_errors
                .iter()
                .filter_map(|e| e.path.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            w.summary.problems.extend(label_errors);
            let hint = format!(
                "the labeller failed on {} of {} names: {}; fix the names or the pattern",
                names.len(),
                files.len(),
                preview(&names, 5)
            );
            return Err(w.fail("label", format!("{} files could not be labelled", names.len()), &hint));
        }
        let datasets = self.datasets(path).map_err(|e| w.fail("split", e, ""))?;
        w.line(format!("Splitting with {:?}", self.splitter()));
        w.line(format!("2 datasets of sizes {},{}", datasets.train.len(), datasets.valid.len()));
        w.line(format!("CategoryBlock: {} classes: {}", datasets.vocab.len(), preview(datasets.vocab.classes(), 8)));
        check_datasets(&datasets).map_err(|e| w.fail("category", e, "a classifier needs at least two classes"))?;

        let first = datasets.train[0].clone();
        w.line(format!("\nBuilding one sample from {}", first.path.display()));
        let image = decode_rgb(&first.path, Default::default())
            .map_err(|e| w.fail("decode", e, "remove or replace the file"))?;
        w.line(format!("  decode: RGB u8 image, {}×{} (width×height)", image.width(), image.height()));
        let (h, wd) = self.item_tfm().output_size();
        w.line(format!("  item transform {:?}: u8 tensor 3×{h}×{wd}", self.item_tfm()));
        let label = datasets.vocab.name(first.label as usize).unwrap_or("?");
        w.line(format!("  label: {label:?} -> category id {} of {}", first.label, datasets.vocab.len()));

        let config = LoaderConfig {
            batch_size: batch_size.max(1),
            train: true,
            seed: 0,
            item_tfm: *self.item_tfm(),
            decode_limits: Default::default(),
            on_bad_item: Default::default(),
            prefetch: 1,
            device: candle::Device::Cpu,
        };
        let loader = DataLoader::new(datasets.train.clone(), config, self.batch_tfm().clone())
            .map_err(|e| w.fail("dataloaders", e, ""))?;
        let ids: Vec<usize> = (0..batch_size.min(datasets.train.len())).collect();
        w.line(format!("\nCollating {} items in a batch", ids.len()));
        let presized = loader.load_batch(&ids, 0, 0).map_err(|e| w.fail("collate", e, "remove or replace the file"))?;
        w.line(format!("  images: {}", describe(&presized.batch.images)));
        w.line(format!("  targets: {}", describe(&presized.batch.targets)));
        let transformed = loader.transform(presized.batch, 0, 0).map_err(|e| w.fail("batch_tfms", e, ""))?;
        w.line(format!("\nApplying batch transform {:?}", self.batch_tfm()));
        w.line(format!("  images: {}", describe(&transformed.images)));
        w.line("\nEvery step succeeded.");
        Ok(())
    }
}

fn describe(tensor: &Tensor) -> String {
    let stats = tensor.to_dtype(candle::DType::F32).and_then(|t| {
        Ok((t.mean_all()?.to_scalar::<f32>()?, t.min_all()?.to_scalar::<f32>()?, t.max_all()?.to_scalar::<f32>()?))
    });
    let stats =
        stats.map(|(mean, min, max)| format!(", mean {mean:.3}, min {min:.3}, max {max:.3}")).unwrap_or_default();
    format!("{:?} {:?}{stats}", tensor.dtype(), tensor.dims())
}
