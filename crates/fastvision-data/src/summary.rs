//! `DataBlock::summary`: walks one item and one batch through every step and, when something fails, says which
//! step, on which file, why, and what to do.

use std::fmt::{self, Write as _};
use std::path::Path;

use candle::Tensor;
use rayon::prelude::*;

use crate::category::preview;
use crate::datablock::{check_datasets, DataBlock, Datasets, ItemError};
use crate::decode::decode_rgb;
use crate::files::Skipped;
use crate::loader::DataLoader;
use crate::{Error, Result};

/// Skipped entries listed one per line; the rest are counted.
const SKIPPED_LINES: usize = 10;

/// The report of [`DataBlock::summary`]: the text, every problem found, and the step that stopped it (if any).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The report, one step per paragraph.
    pub text: String,
    /// Every item-level problem found (all unlabelled files, a file that failed to decode, …).
    pub problems: Vec<ItemError>,
    /// The step that failed and stopped the walk, if any.
    pub failed_step: Option<String>,
    /// What the listing left out on purpose (special files, excluded and output folders), with the reason; not
    /// a problem.
    pub skipped: Vec<Skipped>,
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
    /// fastai's `DataBlock.summary`, done better: lists the items (and what the listing skipped), labels and
    /// splits them, builds one sample step by step (decode, item transform, label, category), collates a batch of
    /// `batch_size` and applies the batch transform, printing types and shapes. It decodes with the loaders'
    /// settings ([`DataBlock::train_loader_config`]). It never fails: problems are in the returned [`Summary`].
    ///
    /// It decodes one batch only; [`DataBlock::summary_all`] decodes every file.
    pub fn summary(&self, path: &Path, batch_size: usize) -> Summary {
        self.run_summary(path, batch_size, false)
    }

    /// [`DataBlock::summary`], then decodes and presizes every item of both splits as the loaders would, listing
    /// every file that fails (`fastvision summary --all`).
    pub fn summary_all(&self, path: &Path, batch_size: usize) -> Summary {
        self.run_summary(path, batch_size, true)
    }

    fn run_summary(&self, path: &Path, batch_size: usize, all: bool) -> Summary {
        let mut w = Writer { summary: Summary::default() };
        match self.summary_steps(path, batch_size, all, &mut w) {
            Ok(()) => w.summary,
            Err(summary) => summary,
        }
    }

    fn summary_steps(&self, path: &Path, batch_size: usize, all: bool, w: &mut Writer) -> Result<(), Summary> {
        w.line(format!("Collecting items from {} with {}", path.display(), self.get_items_name()));
        let listing = self.list_items(path).map_err(|e| w.fail("get_items", e, "check the path and the extensions"))?;
        let files = listing.files;
        w.line(format!("Found {} items", files.len()));
        write_skipped(w, listing.skipped);

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

        // Every file first, so that all the bad ones are listed even if the sample below is one of them.
        if all {
            self.decode_all(&datasets, batch_size, w)?;
        }
        self.one_batch_steps(&datasets, batch_size, w)?;
        w.line("\nEvery step succeeded.");
        Ok(())
    }

    /// One sample step by step, then one batch collated and transformed.
    fn one_batch_steps(&self, datasets: &Datasets, batch_size: usize, w: &mut Writer) -> Result<(), Summary> {
        let config = self.train_loader_config(batch_size.max(1));
        let first = datasets.train[0].clone();
        w.line(format!("\nBuilding one sample from {}", first.path.display()));
        let image = decode_rgb(&first.path, config.decode_limits)
            .map_err(|e| w.fail("decode", e, "remove or replace the file"))?;
        w.line(format!("  decode: RGB u8 image, {}×{} (width×height)", image.width(), image.height()));
        let (h, wd) = self.item_tfm().output_size();
        w.line(format!("  item transform {:?}: u8 tensor 3×{h}×{wd}", self.item_tfm()));
        let label = datasets.vocab.name(first.label as usize).unwrap_or("?");
        w.line(format!("  label: {label:?} -> category id {} of {}", first.label, datasets.vocab.len()));

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
        Ok(())
    }

    /// Every item of both splits decoded and presized in parallel, as the loaders do (same config, epoch 0).
    fn decode_all(&self, datasets: &Datasets, batch_size: usize, w: &mut Writer) -> Result<(), Summary> {
        let n_items = datasets.train.len() + datasets.valid.len();
        w.line(format!("\nDecoding all {n_items} items with the loaders' settings"));
        let mut failures = Vec::new();
        for (items, train) in [(&datasets.train, true), (&datasets.valid, false)] {
            let config = self.loader_config(batch_size.max(1), train);
            let loader = DataLoader::new(items.clone(), config, self.batch_tfm().clone())
                .map_err(|e| w.fail("dataloaders", e, ""))?;
            let failed = (0..loader.n_items()).into_par_iter().filter_map(|id| {
                let error = loader.load_item(id, 0).err()?;
                Some(ItemError { step: "decode", path: loader.item_path(id).into(), message: short_message(&error) })
            });
            failures.extend(failed.collect::<Vec<_>>());
        }
        for failure in &failures {
            w.line(format!("  ! {}: {}", failure.path.display(), failure.message));
        }
        if failures.is_empty() {
            w.line(format!("  all {n_items} items decode and presize"));
            return Ok(());
        }
        let n_failed = failures.len();
        w.summary.problems.extend(failures);
        let hint = "remove or replace these files (or train with `OnBadItem::Skip`, which leaves them out)";
        Err(w.fail("decode (all items)", format!("{n_failed} of {n_items} items could not be decoded"), hint))
    }
}

/// The skipped entries, grouped line by line, the first [`SKIPPED_LINES`] named.
fn write_skipped(w: &mut Writer, skipped: Vec<Skipped>) {
    if skipped.is_empty() {
        return;
    }
    w.line(format!("Skipped {} entries (not read):", skipped.len()));
    for entry in skipped.iter().take(SKIPPED_LINES) {
        w.line(format!("  - {}: {}", entry.path.display(), entry.reason));
    }
    if skipped.len() > SKIPPED_LINES {
        w.line(format!("  … and {} more", skipped.len() - SKIPPED_LINES));
    }
    w.summary.skipped = skipped;
}

/// An item's error without the advice to run the summary that is printing it.
fn short_message(error: &Error) -> String {
    match error {
        Error::Decode { reason, .. } => format!("cannot decode: {reason}"),
        other => other.to_string(),
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
