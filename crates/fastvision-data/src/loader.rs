//! `DataLoader`: seeded shuffling, parallel decode + presize with rayon, collation to candle tensors, the batch
//! transform, and a background thread that prefetches so the consumer does not wait.
//!
//! Memory is bounded before it is allocated: a batch by [`MAX_BATCH_BYTES`] (checked when the loader is made),
//! each image by its header against [`DecodeLimits::max_alloc_bytes`], and the decodes in flight together by
//! [`DecodeLimits::max_in_flight_bytes`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use candle::{Device, Tensor};
use crossbeam_channel::{bounded, Receiver};
use fastvision_augment::{BatchAugment, Resampling};
use fastvision_core::limits::{human_bytes, MAX_BATCH_BYTES};
use fastvision_core::rng::{pass_stream, Rng};
use fastvision_core::ImageBatch;
use fastvision_ops::CandleContext;
use rayon::prelude::*;

use crate::budget::DecodeBudget;
use crate::decode::{decode_admitted, within_limit, DecodeLimits};
use crate::resize::{to_chw, ItemTransform};
use crate::{Error, Result};

/// One labelled item of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The image file.
    pub path: PathBuf,
    /// Its class id.
    pub label: u32,
}

/// What a loader does with an item that fails to decode mid-epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadItem {
    /// Stop the epoch with an error naming the file (fastai's behaviour).
    #[default]
    Stop,
    /// Leave it out of its batch, count it, and go on; [`Epoch::skipped`] lists what was left out.
    Skip,
}

/// Everything a loader needs besides its items. A `DataBlock` makes its loaders' configs with
/// `DataBlock::train_loader_config` and `valid_loader_config`, so its summary and its loaders decode with the same
/// settings.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Items per batch.
    pub batch_size: usize,
    /// Training behaviour: shuffled order, random item transforms, random batch augmentation, `drop_last`.
    pub train: bool,
    /// The run's seed; every random choice derives from it.
    pub seed: u64,
    /// The per-item transform (presizing).
    pub item_tfm: ItemTransform,
    /// Decode limits.
    pub decode_limits: DecodeLimits,
    /// Policy for undecodable items.
    pub on_bad_item: OnBadItem,
    /// Batches prepared ahead in the background.
    pub prefetch: usize,
    /// Where batches are put.
    pub device: Device,
}

impl LoaderConfig {
    /// A validation-style config: `batch_size` items per batch presized by `item_tfm`, in order, seed 42,
    /// default [`DecodeLimits`], stop on a bad item, two batches prefetched, on the CPU.
    pub fn new(batch_size: usize, item_tfm: ItemTransform) -> Self {
        Self {
            batch_size,
            train: false,
            seed: 42,
            item_tfm,
            decode_limits: DecodeLimits::default(),
            on_bad_item: OnBadItem::Stop,
            prefetch: 2,
            device: Device::Cpu,
        }
    }

    /// Checks the config with the batch transform it feeds: a batch size of at least 1, a valid item transform,
    /// and a batch (presized u8 images plus the transformed ones) within [`MAX_BATCH_BYTES`] (2 GiB).
    pub fn validate(&self, batch_tfm: &BatchAugment) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Parameter { name: "batch_size", value: "0".into(), expected: "at least 1".into() });
        }
        self.item_tfm.validate()?;
        let (h, w) = self.item_tfm.output_size();
        let (out_h, out_w) = batch_tfm.output_size(h, w);
        let config = batch_tfm.config();
        let dtype = config.output_dtype.dtype();
        let elem = dtype.size_in_bytes() as u128;
        let (presized, transformed) = (h as u128 * w as u128, out_h as u128 * out_w as u128);
        let mut per_image = 3 * presized + 3 * transformed * elem;
        let mut what = format!("3×{h}×{w} u8 presized + 3×{out_h}×{out_w} {dtype:?} transformed");
        if config.resampling == Resampling::Fastai {
            per_image += 3 * presized * 4;
            what.push_str(&format!(" + 3×{h}×{w} F32 for fastai's passes"));
        }
        let bytes = per_image.saturating_mul(self.batch_size as u128);
        if bytes <= MAX_BATCH_BYTES as u128 {
            return Ok(());
        }
        let human = |b: u128| human_bytes(u64::try_from(b).unwrap_or(u64::MAX));
        Err(Error::BatchTooLarge {
            batch_size: self.batch_size,
            per_image: format!("{what} = {} each", human(per_image)),
            bytes: human(bytes),
            limit: human_bytes(MAX_BATCH_BYTES),
        })
    }
}

/// Iterates over one split in batches.
///
/// # Memory
/// The item stage decodes and presizes a batch's items in parallel (one per rayon thread, `RAYON_NUM_THREADS`).
/// Before an image is decoded, its header gives its peak: the decoded pixels, the conversion to 8-bit RGB, and
/// the item transform's crop or pad canvas and output. An image whose peak is over
/// [`DecodeLimits::max_alloc_bytes`] (default 1 GiB) is an [`Error::TooLarge`] naming it, or with
/// [`OnBadItem::Skip`] is left out and counted; nothing of its size is allocated. The others wait for their
/// share of [`DecodeLimits::max_in_flight_bytes`] (default 2 GiB), so the full-size decodes held at once total
/// at most `max(max_in_flight_bytes, max_alloc_bytes)` whatever the thread count (plus the compressed bytes
/// being read, at most one file per thread). A batch is at most [`MAX_BATCH_BYTES`], and an epoch holds at most
/// `prefetch` finished batches besides the one being built and the one in use.
#[derive(Debug, Clone)]
pub struct DataLoader {
    items: Arc<[Item]>,
    config: Arc<LoaderConfig>,
    batch_tfm: Arc<BatchAugment>,
    budget: Arc<DecodeBudget>,
}

/// Decoded and presized u8 images (N×3×H×W) with their targets, before the batch transform.
#[derive(Debug, Clone)]
pub struct PresizedBatch {
    /// The collated batch (u8 images).
    pub batch: ImageBatch,
    /// Items left out because they failed to decode (only with [`OnBadItem::Skip`]).
    pub skipped: Vec<(PathBuf, String)>,
}

impl DataLoader {
    /// A loader over `items`; `Err` when the config is invalid or a batch would be too large
    /// ([`LoaderConfig::validate`]).
    pub fn new(items: Vec<Item>, config: LoaderConfig, batch_tfm: BatchAugment) -> Result<Self> {
        config.validate(&batch_tfm)?;
        let budget = Arc::new(DecodeBudget::new(config.decode_limits.max_in_flight_bytes));
        Ok(Self { items: items.into(), config: Arc::new(config), batch_tfm: Arc::new(batch_tfm), budget })
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Batch size.
    pub fn batch_size(&self) -> usize {
        self.config.batch_size
    }

    /// Number of batches per epoch (training drops the last incomplete batch, as fastai does).
    pub fn n_batches(&self) -> usize {
        let (n, bs) = (self.items.len(), self.config.batch_size);
        if self.config.train {
            n / bs
        } else {
            n.div_ceil(bs)
        }
    }

    /// The items, in split order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The file of item `item_id`.
    pub fn item_path(&self, item_id: usize) -> &Path {
        &self.items[item_id].path
    }

    /// The class id of item `item_id`.
    pub fn item_label(&self, item_id: usize) -> u32 {
        self.items[item_id].label
    }

    /// The loader's configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// The batch transform.
    pub fn batch_tfm(&self) -> &BatchAugment {
        &self.batch_tfm
    }

    /// The same loader with another batch transform.
    pub fn with_batch_tfm(&self, batch_tfm: BatchAugment) -> Self {
        Self { batch_tfm: Arc::new(batch_tfm), ..self.clone() }
    }

    /// Whether this is the training loader.
    pub fn is_train(&self) -> bool {
        self.config.train
    }

    /// The item order of `epoch`: a seeded shuffle for training, the split order for validation.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        if self.config.train {
            Rng::derive(self.config.seed, pass_stream(epoch)).permutation(self.items.len())
        } else {
            (0..self.items.len()).collect()
        }
    }

    /// The batches of `epoch`, prepared in a background thread (decode + presize in parallel, then collation and
    /// the batch transform). Dropping the iterator stops the thread.
    ///
    /// On a GPU the background thread only decodes: the u8 batch is copied to the device (once per batch) and
    /// transformed there by the thread that iterates, so every CUDA call of training happens on one thread, in
    /// order on candle's one stream. On the CPU the transform runs in the background thread too, overlapping the
    /// training step.
    pub fn epoch(&self, epoch: usize) -> Epoch {
        let (tx, rx) = bounded(self.config.prefetch.max(1));
        let skipped = Arc::new(Mutex::new(Vec::new()));
        let loader = self.clone();
        let skipped_in_thread = Arc::clone(&skipped);
        let on_cpu = self.config.device.is_cpu();
        let handle = std::thread::spawn(move || {
            let order = loader.order(epoch);
            for (batch_idx, ids) in order.chunks(loader.config.batch_size).take(loader.n_batches()).enumerate() {
                let result = loader.decode_batch(ids, epoch, batch_idx).and_then(|host| {
                    skipped_in_thread.lock().map(|mut s| s.extend(host.skipped.iter().cloned())).ok();
                    if on_cpu {
                        let batch = loader.collate(host)?.batch;
                        loader.transform(batch, epoch, batch_idx).map(Staged::Ready)
                    } else {
                        Ok(Staged::Host(host, batch_idx))
                    }
                });
                let stop = result.is_err();
                // A closed channel means the consumer dropped the epoch: stop quietly.
                if tx.send(result).is_err() || stop {
                    break;
                }
            }
        });
        Epoch { rx, handle: Some(handle), skipped, loader: self.clone(), epoch }
    }

    /// The first batch of epoch 0, after the batch transform (fastai's `one_batch`).
    pub fn one_batch(&self) -> Result<ImageBatch> {
        self.epoch(0).next().ok_or_else(|| Error::Parameter {
            name: "batch_size",
            value: self.config.batch_size.to_string(),
            expected: format!("at most the number of items ({}) so that one full batch exists", self.items.len()),
        })?
    }

    /// Decodes, presizes and collates the items `ids` (u8, before the batch transform).
    pub fn load_batch(&self, ids: &[usize], epoch: usize, batch_idx: usize) -> Result<PresizedBatch> {
        self.decode_batch(ids, epoch, batch_idx).and_then(|host| self.collate(host))
    }

    /// Decodes and presizes the items `ids` in parallel into one host buffer.
    fn decode_batch(&self, ids: &[usize], epoch: usize, batch_idx: usize) -> Result<HostBatch> {
        let loaded: Vec<(usize, Result<Vec<u8>>)> = ids.par_iter().map(|&id| (id, self.load_item(id, epoch))).collect();
        let (h, w) = self.config.item_tfm.output_size();
        // Within MAX_BATCH_BYTES (checked in `new`); reserved once, so the batch is never copied while it grows.
        let mut pixels = Vec::with_capacity(loaded.len() * 3 * h * w);
        let (mut targets, mut item_ids, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for (id, result) in loaded {
            match result {
                Ok(chw) => {
                    pixels.extend_from_slice(&chw);
                    targets.push(self.items[id].label);
                    item_ids.push(id);
                }
                Err(e) if self.config.on_bad_item == OnBadItem::Skip => {
                    skipped.push((self.items[id].path.clone(), e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        if item_ids.is_empty() {
            return Err(Error::Decode {
                path: self.items[ids[0]].path.clone(),
                reason: format!("every item of batch {batch_idx} failed to decode"),
            });
        }
        Ok(HostBatch { pixels, targets, item_ids, skipped })
    }

    /// Copies a decoded batch to the loader's device, once: u8 images N×3×H×W and u32 targets.
    fn collate(&self, host: HostBatch) -> Result<PresizedBatch> {
        let (h, w) = self.config.item_tfm.output_size();
        let n = host.item_ids.len();
        let device = &self.config.device;
        let images = Tensor::from_vec(host.pixels, (n, 3, h, w), device).ctx("collating images")?;
        let targets = Tensor::from_vec(host.targets, n, device).ctx("collating targets")?;
        Ok(PresizedBatch { batch: ImageBatch { images, targets, item_ids: host.item_ids }, skipped: host.skipped })
    }

    /// Decodes and presizes one item to CHW u8; the crop position derives from (seed, epoch, item).
    ///
    /// The image's header is checked first (see [`DataLoader`]'s memory section), and the decode waits for its
    /// share of the loader's in-flight budget, held until the presized copy is made.
    pub fn load_item(&self, item_id: usize, epoch: usize) -> Result<Vec<u8>> {
        let item = self.items.get(item_id).ok_or_else(|| Error::Parameter {
            name: "item_id",
            value: item_id.to_string(),
            expected: format!("below the number of items ({})", self.items.len()),
        })?;
        let limits = self.config.decode_limits;
        let (image, _permit) = decode_admitted(&item.path, limits, |header| {
            let (working, what) = self.config.item_tfm.working_bytes(header.width, header.height);
            let bytes = header.bytes.saturating_add(working);
            within_limit(bytes, &format!("{} + {what}", header.what), limits)?;
            Ok(self.budget.acquire(bytes))
        })?;
        let mut rng = Rng::derive(self.config.seed ^ pass_stream(epoch), item_id as u64);
        let rng = if self.config.train { Some(&mut rng) } else { None };
        let resized = self.config.item_tfm.apply(&image, rng).map_err(|e| match e {
            Error::Parameter { expected, .. } => Error::Decode { path: item.path.clone(), reason: expected },
            other => other,
        })?;
        Ok(to_chw(&resized))
    }

    /// Applies the batch transform (augmentation on training batches, then normalisation).
    pub fn transform(&self, batch: ImageBatch, epoch: usize, batch_idx: usize) -> Result<ImageBatch> {
        let images = if self.config.train {
            let seed = Rng::derive(self.config.seed ^ pass_stream(epoch), 1 << 40 | batch_idx as u64).next_u64();
            self.batch_tfm.apply_train(&batch.images, seed)
        } else {
            self.batch_tfm.apply_valid(&batch.images)
        };
        let images = images.map_err(Error::Augment)?;
        Ok(ImageBatch { images, ..batch })
    }
}

/// A decoded batch still in host memory.
#[derive(Debug)]
struct HostBatch {
    pixels: Vec<u8>,
    targets: Vec<u32>,
    item_ids: Vec<usize>,
    skipped: Vec<(PathBuf, String)>,
}

/// What the background thread hands over: a finished batch (CPU), or a decoded one the iterating thread copies
/// to the device and transforms (GPU).
#[derive(Debug)]
enum Staged {
    Ready(ImageBatch),
    Host(HostBatch, usize),
}

/// The batches of one epoch; see [`DataLoader::epoch`].
#[derive(Debug)]
pub struct Epoch {
    rx: Receiver<Result<Staged>>,
    handle: Option<JoinHandle<()>>,
    skipped: Arc<Mutex<Vec<(PathBuf, String)>>>,
    loader: DataLoader,
    epoch: usize,
}

impl Epoch {
    /// Items left out so far because they failed to decode (only with [`OnBadItem::Skip`]), with the reason.
    pub fn skipped(&self) -> Vec<(PathBuf, String)> {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Iterator for Epoch {
    type Item = Result<ImageBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.rx.recv() {
            Ok(Ok(Staged::Ready(batch))) => Some(Ok(batch)),
            Ok(Ok(Staged::Host(host, batch_idx))) => {
                Some(self.loader.collate(host).and_then(|p| self.loader.transform(p.batch, self.epoch, batch_idx)))
            }
            Ok(Err(e)) => Some(Err(e)),
            Err(_) => {
                // The producer is done; a panic in it must surface as an error, not as a short epoch.
                let handle = self.handle.take()?;
                match handle.join() {
                    Ok(()) => None,
                    Err(panic) => Some(Err(Error::Loader(panic_message(&panic)))),
                }
            }
        }
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        // Unblock the producer (it sees a closed channel) and wait for it, so no thread outlives the epoch.
        let (_, dummy) = bounded(0);
        self.rx = dummy;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
