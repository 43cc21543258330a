//! End to end on a tiny generated folder with resnet18 at 32 px: freezing, fine_tune schedules, lr_find,
//! validation, get_preds, checkpoints, export/predict, divergence.

use candle::Tensor;
use fastvision_losses::{CrossEntropyLossFlat, Loss};
use std::path::PathBuf;

use fastvision_train::{
    load_learner, position, DatasetSplit, Error, FineTuneConfig, LrFindConfig, PredictConfig, Schedule, Tta,
};

use crate::fixture::{learner, param_values, resnet18_weights, temp_dir};

fn n_changed(
    before: &[(String, bool, usize, Vec<f32>)],
    after: &[(String, bool, usize, Vec<f32>)],
) -> Vec<(String, bool, usize)> {
    before.iter().zip(after).filter(|(b, a)| b.3 != a.3).map(|(b, _)| (b.0.clone(), b.1, b.2)).collect()
}

#[test]
fn frozen_phase_trains_only_head_and_batchnorm_then_unfreeze_trains_all() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.freeze()?;
    let before = param_values(&learn);
    learn.fit_one_cycle(1, 1e-3)?;
    let after = param_values(&learn);
    let changed = n_changed(&before, &after);
    let frozen_weights_changed: Vec<_> = changed.iter().filter(|(_, bn, g)| *g < 2 && !bn).collect();
    assert!(frozen_weights_changed.is_empty(), "frozen non-BN params changed: {frozen_weights_changed:?}");
    let bn_in_body = changed.iter().filter(|(_, bn, g)| *g < 2 && *bn).count();
    let body_bn_total = before.iter().filter(|p| p.2 < 2 && p.1).count();
    assert_eq!(bn_in_body, body_bn_total, "every body BatchNorm param trains while frozen (train_bn)");
    let head_total = before.iter().filter(|p| p.2 == 2).count();
    assert_eq!(changed.iter().filter(|c| c.2 == 2).count(), head_total, "every head param trains");

    learn.unfreeze()?;
    let before = param_values(&learn);
    learn.fit(1, 1e-4)?;
    let changed = n_changed(&before, &param_values(&learn));
    assert_eq!(changed.len(), before.len(), "after unfreeze every parameter trains");
    Ok(())
}

#[test]
fn fine_tune_applies_fastai_schedules_and_gives_finite_losses_and_preds() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.fine_tune(1, 2e-3)?;
    let iters = &learn.recorder.iterations;
    let n_batches = learn.dls().train().n_batches();
    assert_eq!(iters.len(), 2 * n_batches, "one frozen and one unfrozen epoch");
    let phases = FineTuneConfig::default().phases(1, 3)?;
    for (p, phase) in phases.iter().enumerate() {
        let schedule = Schedule::one_cycle(&phase.lr_max.group_lrs(3), &phase.one_cycle);
        for i in 0..n_batches {
            let rec = &iters[p * n_batches + i];
            let expected = schedule.at(position(i, n_batches));
            let lrs: Vec<f64> = expected.iter().map(|h| h.lr).collect();
            assert_eq!(rec.lrs, lrs, "phase {p} iteration {i}: learning rates");
            assert_eq!(rec.moms[0], expected[0].mom, "phase {p} iteration {i}: momentum");
            assert!(rec.loss.is_finite(), "loss at phase {p} iteration {i} is {}", rec.loss);
        }
    }
    assert_eq!(learn.recorder.epochs.len(), 2);
    let row = &learn.recorder.epochs[1];
    assert!(row.valid_loss.is_some_and(f64::is_finite), "valid loss {:?}", row.valid_loss);
    let err = row.metrics[0].1;
    assert!((0.0..=1.0).contains(&err), "error_rate {err}");

    let preds = learn.get_preds(DatasetSplit::Valid)?;
    assert_eq!(preds.len(), learn.dls().valid().n_items());
    assert_eq!(preds.n_classes, 2);
    for i in 0..preds.len() {
        let sum: f32 = preds.probs_of(i).iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities of item {i} sum to {sum}");
    }
    let validation = learn.validate()?;
    let mean_loss = preds.losses.iter().map(|&l| l as f64).sum::<f64>() / preds.len() as f64;
    assert!(
        (validation.loss - mean_loss).abs() < 1e-4,
        "validate {} vs mean per-item loss {mean_loss}",
        validation.loss
    );
    assert!((validation.metrics[0].1 - preds.error_rate()).abs() < 1e-9);
    let train_preds = learn.get_preds(DatasetSplit::Train)?;
    assert_eq!(train_preds.len(), learn.dls().train().n_items());
    let dir_plots = dir.path().join("plots");
    learn.recorder.save_plot_loss(&dir_plots.join("loss.png"))?;
    learn.recorder.save_plot_sched(&dir_plots.join("sched.png"))?;
    assert!(dir_plots.join("loss.png").is_file() && dir_plots.join("sched.png").is_file());
    Ok(())
}

#[test]
fn lr_find_restores_the_learner_and_plots() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    let before = param_values(&learn);
    let data_epoch = learn.data_epoch();
    let result = learn.lr_find(&LrFindConfig { num_it: 7, ..LrFindConfig::default() })?;
    assert_eq!(result.lrs.len(), 7, "stop: {:?}", result.stop);
    assert_eq!(result.lrs[0], 1e-7);
    assert!(result.suggestions.is_some(), "7 points leave 2 to suggest from");
    assert!(n_changed(&before, &param_values(&learn)).is_empty(), "lr_find left parameters changed");
    assert_eq!(learn.data_epoch(), data_epoch);
    assert!(learn.recorder.iterations.is_empty(), "lr_find is not recorded");
    let png = dir.path().join("lr_find.png");
    result.save_plot(&png)?;
    assert!(png.is_file());
    let leftovers = fastvision_core::fs::list_sorted(dir.path()).unwrap_or_default();
    assert!(!dir.path().join("models").exists(), "lr_find wrote files: {leftovers:?}");
    Ok(())
}

#[test]
fn checkpoint_round_trip_and_bad_file_leaves_learner_untouched() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.fit(1, 1e-3)?;
    let saved = param_values(&learn);
    let path = learn.save("stage1")?;
    assert!(path.is_file());
    learn.fit(1, 1e-3)?;
    assert!(!n_changed(&saved, &param_values(&learn)).is_empty());
    learn.load("stage1")?;
    assert!(n_changed(&saved, &param_values(&learn)).is_empty(), "load did not restore the parameters");
    assert_eq!(learn.recorder.epochs.len(), 1, "the recorder comes back too");

    let trained = param_values(&learn);
    let bad = dir.path().join("models/bad.safetensors");
    std::fs::write(&bad, b"not a checkpoint").map_err(|source| Error::Io {
        action: "writing",
        path: bad.clone(),
        source,
    })?;
    let err = learn.load("bad").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("bad.safetensors"), "error should name the file: {err:?}");
    assert!(n_changed(&trained, &param_values(&learn)).is_empty());
    Ok(())
}

#[test]
fn export_then_predict_matches_get_preds() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.fit(1, 1e-3)?;
    let path = dir.path().join("export/model.safetensors");
    learn.export(&path)?;
    assert!(path.with_extension("json").is_file());
    let inf = load_learner(&path, &candle::Device::Cpu)?;
    assert_eq!(inf.meta.item_tfm, Some(learn.dls().valid().config().item_tfm), "the item transform is recorded");
    assert_eq!(inf.meta.augment.as_ref(), Some(learn.dls().train().batch_tfm().config()), "so is the augmentation");
    let preds = learn.get_preds(DatasetSplit::Valid)?;
    // Every validation item, one at a time, in one batch, and through predict_files: get_preds' numbers.
    let files: Vec<PathBuf> =
        preds.item_ids.iter().map(|&id| learn.dls().valid().item_path(id).to_path_buf()).collect();
    let batch = inf.predict_batch(&files)?;
    let listed = inf.predict_files(&files, &PredictConfig { batch_size: 3, tta: None }, &mut |_, _| {})?;
    assert!(listed.failures.is_empty());
    for (row, file) in files.iter().enumerate() {
        let single = inf.predict(file)?;
        let expected = preds.probs_of(row);
        for p in [&single, &batch[row], &listed.predictions[row].1] {
            for (a, e) in p.probs.iter().zip(expected) {
                assert!((a - e).abs() < 1e-5, "{}: predict {:?} vs get_preds {expected:?}", file.display(), p.probs);
            }
            assert_eq!(p.label, learn.dls().vocab().name(p.index).unwrap_or_default());
        }
        let top = inf.top_k(&single, 5);
        assert_eq!(top.len(), 2, "top-k stops at the number of classes");
        assert_eq!((top[0].index, top[0].prob), (single.index, single.probs[single.index]));
        assert!(top[0].prob >= top[1].prob);
    }
    let mut calls = Vec::new();
    let folder =
        inf.predict_folder(&dir.path().join("images"), &PredictConfig { batch_size: 5, tta: None }, &mut |d, t| {
            calls.push((d, t))
        })?;
    assert_eq!(folder.predictions.len(), 16);
    assert_eq!(calls, vec![(5, 16), (10, 16), (15, 16), (16, 16)], "progress after each batch");
    Ok(())
}

#[test]
fn predict_lists_unreadable_images_and_goes_on() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let learn = learner(dir.path());
    let path = dir.path().join("export/model.safetensors");
    learn.export(&path)?;
    let inf = load_learner(&path, &candle::Device::Cpu)?;
    let images = dir.path().join("images");
    std::fs::write(images.join("broken.png"), b"not a png").expect("writing");
    std::fs::write(images.join("empty.jpg"), b"").expect("writing");
    let files = vec![
        images.join("red_0.png"),
        images.join("broken.png"),
        images.join("missing.png"),
        images.join("empty.jpg"),
        images.join("blue_1.png"),
    ];
    let out = inf.predict_files(&files, &PredictConfig { batch_size: 2, tta: None }, &mut |_, _| {})?;
    let good: Vec<&PathBuf> = out.predictions.iter().map(|(p, _)| p).collect();
    assert_eq!(good, vec![&files[0], &files[4]]);
    let bad: Vec<(&PathBuf, String)> = out.failures.iter().map(|(p, e)| (p, e.to_string())).collect();
    assert_eq!(bad.len(), 3, "{bad:?}");
    for (path, reason) in &bad {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        assert!(reason.contains(&name), "the reason names the file: {reason}");
    }
    assert!(bad[2].1.contains("empty"), "{}", bad[2].1);
    let single = inf.predict(&files[1]).unwrap_err().to_string();
    assert!(single.contains("broken.png"), "{single}");
    Ok(())
}

#[test]
fn tta_blends_augmented_passes_with_the_plain_prediction() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.fit(1, 1e-3)?;
    let path = dir.path().join("export/model.safetensors");
    learn.export(&path)?;
    let inf = load_learner(&path, &candle::Device::Cpu)?;
    let files: Vec<PathBuf> = (0..6).map(|i| dir.path().join(format!("images/red_{i}.png"))).collect();
    let run = |tta: Option<Tta>| -> fastvision_train::Result<Vec<Vec<f32>>> {
        let out = inf.predict_files(&files, &PredictConfig { batch_size: 4, tta }, &mut |_, _| {})?;
        Ok(out.predictions.into_iter().map(|(_, p)| p.probs).collect())
    };
    let plain = run(None)?;
    let tta = run(Some(Tta::default()))?;
    assert_eq!(tta, run(Some(Tta::default()))?, "the same seed gives the same numbers");
    assert_eq!(run(Some(Tta { beta: 1.0, ..Tta::default() }))?, plain, "beta = 1 is the plain prediction");
    assert_ne!(tta, plain, "the augmented passes change the probabilities");
    let aug_only = run(Some(Tta { beta: 0.0, ..Tta::default() }))?;
    for ((t, p), a) in tta.iter().zip(&plain).zip(&aug_only) {
        assert!((t.iter().sum::<f32>() - 1.0).abs() < 1e-5, "probabilities sum to 1: {t:?}");
        for ((t, p), a) in t.iter().zip(p).zip(a) {
            assert!((t - (a + 0.25 * (p - a))).abs() < 1e-6, "lerp(aug, plain, 0.25): {t} {p} {a}");
        }
    }
    assert_ne!(run(Some(Tta { seed: 1, ..Tta::default() }))?, tta, "another seed, other augmentations");
    Ok(())
}

#[test]
fn a_cifar_backbone_with_its_own_head_exports_and_loads_back() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let head = fastvision_models::HeadConfig { lin_ftrs: vec![32], ps: 0.1, concat_pool: false, first_bn: true };
    let config = fastvision_train::LearnerConfig {
        checkpoint_dir: dir.path().join("models"),
        head: head.clone(),
        ..Default::default()
    };
    let dls = crate::fixture::dataloaders(&dir.path().join("images"));
    let arch = fastvision_models::CifarArch::ResNet20;
    let mut learn =
        fastvision_train::vision_learner_with(dls, arch, None, vec![fastvision_train::Metric::ErrorRate], config)?;
    learn.fit(1, 1e-3)?;
    let path = dir.path().join("export/model.safetensors");
    learn.export(&path)?;
    let inf = load_learner(&path, &candle::Device::Cpu)?;
    assert_eq!((inf.meta.arch.as_str(), inf.model.head_config()), ("cifar-resnet20", &head));
    let preds = learn.get_preds(DatasetSplit::Valid)?;
    let p = inf.predict(learn.dls().valid().item_path(preds.item_ids[0]))?;
    for (a, e) in p.probs.iter().zip(preds.probs_of(0)) {
        assert!((a - e).abs() < 1e-4, "predict {:?} vs get_preds {:?}", p.probs, preds.probs_of(0));
    }
    // The exported model's get_preds on the validation items is the learner's, losses included.
    let valid = learn.dls().valid().items().to_vec();
    let exported = inf.get_preds(&valid, learn.dls().vocab())?;
    assert_eq!(exported.len(), valid.len());
    for item in 0..valid.len() {
        let learner_item = preds.item_ids.iter().position(|&id| id == item).expect("every valid item");
        assert_eq!(exported.targets[item], preds.targets[learner_item], "target of item {item}");
        assert!((exported.losses[item] - preds.losses[learner_item]).abs() < 1e-4, "loss of item {item}");
    }
    let interp = inf.interpretation(&valid, learn.dls().vocab())?;
    assert_eq!(
        (interp.len(), interp.confusion_matrix().counts().iter().sum::<u64>()),
        (valid.len(), valid.len() as u64)
    );
    // Items labelled with a class the model does not know are an error naming the file.
    let strangers = fastvision_core::Vocab::from_labels(["zebra"]);
    let first = fastvision_data::Item { path: valid[0].path.clone(), label: 0 };
    let message = inf.get_preds(&[first], &strangers).unwrap_err().to_string();
    assert!(message.contains("\"zebra\" is not one the model knows") && message.contains(".png"), "{message}");
    // A checkpoint of this learner does not load into a resnet18 learner.
    learn.save("c20")?;
    let mut other = learner(dir.path());
    let message = other.load("c20").unwrap_err().to_string();
    assert!(message.contains("cifar-resnet20") && message.contains("resnet18"), "{message}");
    Ok(())
}

/// A loss that returns NaN from its second call on.
struct NanAfterFirst(std::sync::atomic::AtomicUsize, CrossEntropyLossFlat);

impl Loss for NanAfterFirst {
    fn forward(&self, logits: &Tensor, targets: &Tensor) -> fastvision_losses::Result<Tensor> {
        let loss = self.1.forward(logits, targets)?;
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Ok(loss);
        }
        loss.affine(f64::NAN, 0.0)
            .map_err(|source| fastvision_losses::Error::Candle { context: "test NaN".into(), source })
    }
    fn per_item(&self, logits: &Tensor, targets: &Tensor) -> fastvision_losses::Result<Tensor> {
        self.1.per_item(logits, targets)
    }
    fn activation(&self, logits: &Tensor) -> fastvision_losses::Result<Tensor> {
        self.1.activation(logits)
    }
    fn decodes(&self, activations: &Tensor) -> fastvision_losses::Result<Tensor> {
        self.1.decodes(activations)
    }
}

#[test]
fn nan_loss_stops_with_a_clear_error_and_untouched_weights() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    learn.set_loss(Box::new(NanAfterFirst(Default::default(), CrossEntropyLossFlat::default())));
    let result = learn.fit(1, 1e-3);
    let after_first = param_values(&learn);
    match result {
        Err(Error::Diverged { iteration, epoch, lrs, .. }) => {
            assert_eq!((iteration, epoch), (1, 0));
            assert_eq!(lrs, vec![1e-3; 3]);
        }
        other => panic!("expected Error::Diverged, got {other:?}"),
    }
    let msg = learn.fit(1, 1e-3).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("NaN") && msg.contains("lr_find"), "message should say what happened and what to do: {msg}");
    assert!(n_changed(&after_first, &param_values(&learn)).is_empty(), "a NaN step must not touch the weights");
    Ok(())
}

#[test]
fn pretrained_learner_normalizes_and_starts_frozen() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let dls = crate::fixture::dataloaders(&dir.path().join("images"));
    let learn = fastvision_train::vision_learner(
        dls,
        fastvision_models::Arch::ResNet18,
        Some(resnet18_weights().as_path()),
        vec![],
    )?;
    assert_eq!(learn.model().frozen_groups(), 2);
    let normalize = learn.dls().train().batch_tfm().normalize().copied();
    assert_eq!(normalize, Some(fastvision_augment::Normalize::imagenet()));
    assert_eq!(learn.dls().valid().batch_tfm().normalize().copied(), normalize);
    Ok(())
}

/// Sets the learner's interrupt flag after training iteration `at` (what a Ctrl-C handler does).
struct InterruptAt(usize, std::sync::Arc<std::sync::atomic::AtomicBool>);

impl fastvision_train::Callback for InterruptAt {
    fn name(&self) -> &str {
        "InterruptAt"
    }
    fn after_batch(&mut self, state: &fastvision_train::FitState) -> fastvision_train::Result<fastvision_train::Flow> {
        if state.iteration == self.0 {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(fastvision_train::Flow::Continue)
    }
}

#[test]
fn interrupted_fit_saves_a_checkpoint_and_resume_finishes_the_schedule() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    let flag = learn.interrupt_handle();
    learn.callbacks.push(Box::new(InterruptAt(3, flag)));
    match learn.fit_one_cycle(2, 1e-3) {
        Err(Error::Interrupted { epoch: 1, iteration: 3, .. }) => {}
        other => panic!("expected an interruption after iteration 3, got {other:?}"),
    }
    assert!(learn.checkpoint_path("interrupted").is_file());
    learn.callbacks.clear();
    learn.resume("interrupted")?;
    let n_batches = learn.dls().train().n_batches();
    let total = 2 * n_batches;
    let lrs: Vec<f64> = learn.recorder.iterations.iter().map(|r| r.lrs[0]).collect();
    let schedule = Schedule::one_cycle(&[1e-3; 3], &Default::default());
    let expected: Vec<f64> = (0..total).map(|i| schedule.at(position(i, total))[0].lr).collect();
    assert_eq!(lrs, expected, "the resumed fit continues the same schedule, no iteration lost or repeated");
    assert_eq!(learn.recorder.epochs.len(), 2);
    assert!(learn.progress().is_none(), "the fit is finished");
    assert_eq!(learn.data_epoch(), 2);
    Ok(())
}

#[test]
fn same_seed_gives_identical_runs() -> fastvision_train::Result<()> {
    let losses = |dir: &tempfile::TempDir| -> fastvision_train::Result<Vec<f32>> {
        let mut learn = learner(dir.path());
        learn.fit(1, 1e-3)?;
        Ok(learn.recorder.iterations.iter().map(|r| r.loss).collect())
    };
    let (a, b) = (temp_dir(), temp_dir());
    let (first, second) = (losses(&a)?, losses(&b)?);
    assert_eq!(first, second, "same seed, same data: the losses must be bit-identical");
    Ok(())
}

/// Rewrites the description of the export at `path` with `edit` applied to its JSON.
fn edit_export(path: &std::path::Path, to: &std::path::Path, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).expect("reading the export");
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).expect("metadata");
    let mut meta = metadata.metadata().clone().expect("an export has metadata");
    let mut json: serde_json::Value = serde_json::from_str(&meta[fastvision_train::METADATA_KEY]).expect("json");
    edit(&mut json);
    meta.insert(fastvision_train::METADATA_KEY.into(), json.to_string());
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("tensors");
    let tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = file.tensors();
    std::fs::write(to, safetensors::serialize(tensors, Some(meta)).expect("serialising")).expect("writing");
}

#[test]
fn an_edited_export_header_is_refused_naming_the_field() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let learn = learner(dir.path());
    let path = dir.path().join("model.safetensors");
    learn.export(&path)?;
    let edited = dir.path().join("edited.safetensors");
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("version 2", Box::new(|j| j["version"] = 2.into())),
        ("comes before", Box::new(|j| j["vocab"]["classes"] = serde_json::json!(["red", "blue"]))),
        ("presize height = 100000", Box::new(|j| j["presize"] = serde_json::json!([100000, 40]))),
        ("resize_method \"bogus\"", Box::new(|j| j["resize_method"] = "bogus".into())),
        ("head.lin_ftrs", Box::new(|j| j["head"]["lin_ftrs"] = serde_json::json!([1_000_000_000u64]))),
        ("size = 0", Box::new(|j| j["size"] = 0.into())),
    ];
    for (needle, edit) in cases {
        edit_export(&path, &edited, edit);
        let message = load_learner(&edited, &candle::Device::Cpu).unwrap_err().to_string();
        assert!(message.contains(needle) && message.contains("edited.safetensors"), "{needle}: {message}");
    }
    edit_export(&path, &edited, |_| {});
    assert!(load_learner(&edited, &candle::Device::Cpu).is_ok(), "the unedited description loads");
    Ok(())
}

/// Issue 14 §3: replacing the model through `set_model` trains the new model's variables, never the old ones.
#[test]
fn set_model_trains_the_new_model_and_leaves_the_old_one() -> fastvision_train::Result<()> {
    let dir = temp_dir();
    let mut learn = learner(dir.path());
    // The old model's variables (a `Var` shares its storage): a step through a stale optimiser would move them.
    let old_vars: Vec<candle::Var> = learn.model().params().into_iter().map(|p| p.var).collect();
    let values = |vars: &[candle::Var]| -> Vec<Vec<f32>> {
        vars.iter().map(|v| v.as_tensor().flatten_all().and_then(|t| t.to_vec1()).expect("a parameter")).collect()
    };
    let old_before = values(&old_vars);
    let n_classes = learn.dls().n_classes();
    let new_model =
        fastvision_models::VisionModel::new(fastvision_models::CifarArch::ResNet20, n_classes, &candle::Device::Cpu, 7)
            .map_err(|source| Error::Model { context: "a new model".into(), source })?;
    learn.set_model(new_model)?;
    assert_eq!(learn.model().arch().to_string(), "cifar-resnet20");
    let new_before = param_values(&learn);
    learn.fit(1, 1e-3)?;
    assert!(!n_changed(&new_before, &param_values(&learn)).is_empty(), "the new model trains");
    assert!(values(&old_vars) == old_before, "the old model's variables were stepped");
    Ok(())
}
