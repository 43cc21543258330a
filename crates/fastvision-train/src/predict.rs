//! Classifying new images with an exported model: fastai's `learn.predict`, a batched version for files and
//! folders that lists unreadable images instead of stopping, and `learn.tta` (test-time augmentation).
//!
//! Each image is decoded once; its presized versions (the validation one, and one random training-style version
//! per TTA pass) are made right away, so at most one full-size decode per rayon thread is alive at a time.

use std::path::{Path, PathBuf};

use candle::Tensor;
use fastvision_core::rng::{pass_stream, Rng};
use fastvision_core::{Preds, Vocab};
use fastvision_data::{decode_rgb, get_image_files, to_chw, DecodeLimits, Item};
use fastvision_losses::Loss;
use fastvision_ops::CandleContext;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::export::InferenceLearner;

/// One prediction: fastai's `learn.predict` returns `(label, index, probabilities)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The predicted class name.
    pub label: String,
    /// Its index in the vocab.
    pub index: usize,
    /// The probability of every class, in vocab order.
    pub probs: Vec<f32>,
}

/// A class and its probability, as listed by [`InferenceLearner::top_k`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassProb {
    /// The class name.
    pub label: String,
    /// Its index in the vocab.
    pub index: usize,
    /// Its probability.
    pub prob: f32,
}

/// fastai's `learn.tta(n=4, beta=0.25)`: the mean of `n` predictions with the training transforms (random
/// crop position or random resized crop, then the training batch augmentation), blended with the plain
/// prediction as `lerp(augmented, plain, beta)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tta {
    /// Augmented passes.
    pub n: usize,
    /// Weight of the plain (validation-transform) prediction in the blend.
    pub beta: f32,
    /// Seeds the random transforms; the same seed, images and batch size give the same numbers.
    pub seed: u64,
}

impl Default for Tta {
    /// fastai's defaults: `n = 4`, `beta = 0.25`.
    fn default() -> Self {
        Self { n: 4, beta: 0.25, seed: 0 }
    }
}

/// How [`InferenceLearner::predict_files`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictConfig {
    /// Images per forward pass.
    pub batch_size: usize,
    /// Test-time augmentation; `None` predicts with the validation transforms only (fastai's `predict`).
    pub tta: Option<Tta>,
}

impl Default for PredictConfig {
    fn default() -> Self {
        Self { batch_size: 64, tta: None }
    }
}

/// Predictions for many files: the ones that could be read, in input order, and the ones that could not.
#[derive(Debug)]
pub struct Predictions {
    /// Each readable image with its prediction.
    pub predictions: Vec<(PathBuf, Prediction)>,
    /// Each unreadable image with the reason (it did not stop the others).
    pub failures: Vec<(PathBuf, Error)>,
}

impl InferenceLearner {
    /// fastai's `learn.predict(image)`: the validation transforms, the model in eval mode, softmax.
    pub fn predict(&self, image: &Path) -> Result<Prediction> {
        let mut all = self.predict_batch(&[image.to_path_buf()])?;
        all.pop().ok_or(Error::EmptySplit { split: "prediction" })
    }

    /// fastai's `get_preds` on labelled files, for an interpretation: each item predicted as
    /// [`InferenceLearner::predict`] does, with its cross-entropy loss against its class. The items' labels index
    /// `vocab` and are mapped to the model's classes by name ([`Error::UnknownClass`] for a class the model does
    /// not know); item ids are the positions in `items`.
    pub fn get_preds(&self, items: &[Item], vocab: &Vocab) -> Result<Preds> {
        let n_classes = self.meta.vocab.len();
        let (mut probs, mut targets, mut losses) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            let class = vocab.name(item.label as usize).unwrap_or_default();
            let target = self.meta.vocab.index_of(class).ok_or_else(|| Error::UnknownClass {
                path: item.path.clone(),
                class: class.to_owned(),
                n_classes,
            })?;
            let prediction = self.predict(&item.path)?;
            losses.push(-prediction.probs[target].max(1e-12).ln());
            probs.extend(prediction.probs);
            targets.push(target as u32);
        }
        Preds::new(n_classes, probs, targets, losses, (0..items.len()).collect())
            .map_err(|source| Error::Core { context: "assembling predictions".into(), source })
    }

    /// fastai's `ClassificationInterpretation` of labelled items for this exported model: one pass of
    /// [`InferenceLearner::get_preds`], interpreted over the model's classes (what `fastvision interpret` writes).
    pub fn interpretation(
        &self,
        items: &[Item],
        vocab: &Vocab,
    ) -> Result<fastvision_interpret::ClassificationInterpretation> {
        let preds = self.get_preds(items, vocab)?;
        fastvision_interpret::ClassificationInterpretation::from_preds(preds, self.meta.vocab.clone())
            .map_err(|source| Error::Interpret { context: "interpreting the predictions".into(), source })
    }

    /// Predicts `images` as one batch; the first unreadable image is an error naming it.
    pub fn predict_batch(&self, images: &[PathBuf]) -> Result<Vec<Prediction>> {
        let variants = images.par_iter().map(|path| self.prepare(path, 0, None)).collect::<Result<Vec<_>>>()?;
        self.predict_prepared(&variants, None, 0)
    }

    /// Predicts every file of `images` in batches of `config.batch_size`, optionally with test-time
    /// augmentation. An image that cannot be read is listed in [`Predictions::failures`] and the others go on;
    /// an error is returned only when the model itself fails. `progress(done, total)` is called after each batch.
    pub fn predict_files(
        &self,
        images: &[PathBuf],
        config: &PredictConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Predictions> {
        let batch_size = config.batch_size.max(1);
        let mut out = Predictions { predictions: Vec::with_capacity(images.len()), failures: Vec::new() };
        for (b, chunk) in images.chunks(batch_size).enumerate() {
            let first = b * batch_size;
            let prepared: Vec<Result<Vec<Vec<u8>>>> =
                chunk.par_iter().enumerate().map(|(i, path)| self.prepare(path, first + i, config.tta)).collect();
            let mut good = Vec::with_capacity(chunk.len());
            let mut variants = Vec::with_capacity(chunk.len());
            for (path, result) in chunk.iter().zip(prepared) {
                match result {
                    Ok(v) => {
                        good.push(path.clone());
                        variants.push(v);
                    }
                    Err(error) => out.failures.push((path.clone(), error)),
                }
            }
            if !variants.is_empty() {
                let preds = self.predict_prepared(&variants, config.tta, b)?;
                out.predictions.extend(good.into_iter().zip(preds));
            }
            progress((first + chunk.len()).min(images.len()), images.len());
        }
        Ok(out)
    }

    /// [`InferenceLearner::predict_files`] on every image file under `dir` (sorted paths, sub-folders included).
    pub fn predict_folder(
        &self,
        dir: &Path,
        config: &PredictConfig,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Predictions> {
        let files = get_image_files(dir)
            .map_err(|source| Error::Data { context: format!("listing {}", dir.display()), source })?;
        self.predict_files(&files, config, progress)
    }

    /// The `k` most probable classes of `prediction`, most probable first (ties: lower index first).
    pub fn top_k(&self, prediction: &Prediction, k: usize) -> Vec<ClassProb> {
        let mut order: Vec<usize> = (0..prediction.probs.len()).collect();
        order.sort_by(|&a, &b| prediction.probs[b].total_cmp(&prediction.probs[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(k)
            .map(|index| ClassProb {
                label: self.meta.vocab.name(index).unwrap_or_default().to_owned(),
                index,
                prob: prediction.probs[index],
            })
            .collect()
    }

    /// Decodes `path` once and returns its presized CHW u8 versions: the validation one first, then one
    /// training-style version per TTA pass (random positions from `(seed, pass, image)`).
    fn prepare(&self, path: &Path, image: usize, tta: Option<Tta>) -> Result<Vec<Vec<u8>>> {
        let data_err = |source| Error::Data { context: format!("preparing {}", path.display()), source };
        let decoded = decode_rgb(path, DecodeLimits::default()).map_err(data_err)?;
        let (passes, seed) = tta.map_or((0, 0), |t| (t.n, t.seed));
        let mut versions = Vec::with_capacity(passes + 1);
        versions.push(to_chw(&self.item_tfm.apply(&decoded, None).map_err(data_err)?));
        for pass in 0..passes {
            let mut rng = Rng::derive(seed ^ pass_stream(pass), image as u64);
            versions.push(to_chw(&self.item_tfm.apply(&decoded, Some(&mut rng)).map_err(data_err)?));
        }
        Ok(versions)
    }

    /// Runs the model on prepared images (each with its validation and TTA versions) and combines the passes.
    fn predict_prepared(&self, variants: &[Vec<Vec<u8>>], tta: Option<Tta>, batch: usize) -> Result<Vec<Prediction>> {
        let plain = self.probabilities(variants, 0, None)?;
        let Some(tta) = tta.filter(|t| t.n > 0) else {
            return Ok(plain.into_iter().map(|row| self.decode(row)).collect());
        };
        let mut augmented = vec![vec![0f32; plain[0].len()]; plain.len()];
        for pass in 0..tta.n {
            let seed = Rng::derive(tta.seed ^ pass_stream(pass), 1 << 40 | batch as u64).next_u64();
            for (sum, row) in augmented.iter_mut().zip(self.probabilities(variants, pass + 1, Some(seed))?) {
                sum.iter_mut().zip(row).for_each(|(s, p)| *s += p);
            }
        }
        let n = tta.n as f32;
        let blended = augmented
            .into_iter()
            .zip(plain)
            .map(|(sum, plain)| {
                // torch.lerp(aug, plain, beta) = aug + beta·(plain − aug)
                sum.into_iter().zip(plain).map(|(s, p)| s / n + tta.beta * (p - s / n)).collect::<Vec<f32>>()
            })
            .collect::<Vec<_>>();
        Ok(blended.into_iter().map(|row| self.decode(row)).collect())
    }

    /// Softmax probabilities of version `version` of every image; `train_seed` runs the training augmentation.
    fn probabilities(
        &self,
        variants: &[Vec<Vec<u8>>],
        version: usize,
        train_seed: Option<u64>,
    ) -> Result<Vec<Vec<f32>>> {
        let (h, w) = self.item_tfm.output_size();
        let pixels: Vec<u8> = variants.iter().flat_map(|v| v[version].iter().copied()).collect();
        let images =
            Tensor::from_vec(pixels, (variants.len(), 3, h, w), self.model.device()).ctx("collating images")?;
        let images = match train_seed {
            Some(seed) => self.batch_tfm.apply_train(&images, seed),
            None => self.batch_tfm.apply_valid(&images),
        };
        let images = images.map_err(|source| Error::Augment { context: "batch transform".into(), source })?;
        let logits = self
            .model
            .forward_t(&images, false)
            .map_err(|source| Error::Model { context: "prediction forward pass".into(), source })?;
        let probs = self
            .loss
            .activation(&logits)
            .map_err(|source| Error::Loss { context: "softmax of the predictions".into(), source })?;
        Ok(probs.to_dtype(candle::DType::F32).and_then(|p| p.to_vec2::<f32>()).ctx("reading probabilities")?)
    }

    fn decode(&self, probs: Vec<f32>) -> Prediction {
        let index = (0..probs.len()).fold(0, |best, i| if probs[i] > probs[best] { i } else { best });
        let label = self.meta.vocab.name(index).unwrap_or_default().to_owned();
        Prediction { label, index, probs }
    }
}
