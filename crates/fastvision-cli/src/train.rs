//! `fastvision train`: the whole chapter in one command — DataBlock and summary, show_batch, lr_find, fine_tune
//! (freeze, unfreeze, discriminative learning rates), export, and an interpretation of the validation set.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastvision::models::{Backbone, HeadConfig};
use fastvision::train::{
    vision_learner_with, DatasetSplit, FineTuneConfig, LearnerConfig, LrFindConfig, Metric, Pretrained,
    ProgressReporter,
};

use crate::data_args::{display, DataArgs, Source};
use crate::interpret::{write_interpretation, DisplayImages};
use crate::progress::with_download_bar;
use crate::run_dir::{RunDir, Start};
use crate::signals::StopSignals;

/// Flags of `train`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Architecture: resnet18, resnet34, resnet50, resnet101, resnet152 (torchvision), or cifar-resnet20/32/44/56/110
    /// (for 32 px images; --pretrained takes the real CIFAR-10 weights).
    #[arg(long, default_value = "resnet18")]
    arch: Backbone,
    /// Start from pretrained weights. Alone: torchvision's ImageNet weights for --arch (fastai's `pretrained=True`),
    /// from the torch hub cache ($TORCH_HOME/hub/checkpoints, ~/.cache/torch/hub/checkpoints) or downloaded into it
    /// ($FASTVISION_WEIGHTS_URL for a mirror). With FILE: that file — safetensors or a PyTorch checkpoint
    /// (.pth/.pt/.th/.bin, zip or legacy), read by content. [default for --data/--dataset with a torchvision
    /// architecture; the built-in data set trains from scratch]
    #[arg(long, value_name = "FILE", num_args = 0..=1, conflicts_with = "no_pretrained")]
    pretrained: Option<Option<PathBuf>>,
    /// Train the body from random weights (fastai's `pretrained=False`), e.g. offline without cached weights.
    #[arg(long)]
    no_pretrained: bool,
    /// The entry of a wrapped checkpoint that holds the weights (`state_dict`, `model`...); by default the one
    /// that holds tensors.
    #[arg(long, value_name = "KEY")]
    weights_key: Option<String>,
    /// Epochs: after unfreezing with fine_tune, or of fit_one_cycle when training from scratch.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Epochs with the body frozen first.
    #[arg(long, default_value_t = 1)]
    freeze_epochs: usize,
    /// Run fine_tune (frozen epochs, then unfrozen with discriminative learning rates) even without pretrained
    /// weights; with --pretrained it is always used.
    #[arg(long)]
    fine_tune: bool,
    /// Base learning rate of fine_tune (or lr_max of fit_one_cycle); default: lr_find's `valley` suggestion.
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Dropout before the head's last layer (fastai's `vision_learner(ps=...)`; the earlier head dropout is half).
    #[arg(long, default_value_t = 0.5, value_name = "P")]
    ps: f64,
    /// Iterations of lr_find.
    #[arg(long, default_value_t = 100)]
    lr_find_iters: usize,
    /// Precision: f32, or mixed precision as fastai's `to_fp16()` — convolutions and linear layers in bf16 or f16
    /// (f16 with dynamic loss scaling), BatchNorm, loss and weights in f32. For a GPU: on the CPU f32 is fastest.
    #[arg(long, default_value = "f32", value_parser = ["f32", "bf16", "f16"])]
    precision: String,
    /// Where the outputs go (plots, exported model, interpretation, metrics.json). The run writes into a staging
    /// folder beside it (`.DIR.partial`, with its checkpoints) and replaces DIR with it when it finishes.
    #[arg(long, value_name = "DIR", default_value = "target/fastvision-run")]
    out: PathBuf,
    /// Continue the run into --out that was stopped (Ctrl-C, SIGTERM, SIGHUP, kill, a crash) from its last
    /// checkpoint, with the same flags: the result is the one the uninterrupted run would have given.
    #[arg(long)]
    resume: bool,
    /// Start over even though the last run into --out was stopped before it finished (its checkpoints are
    /// discarded).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
}

/// Runs the workflow end to end. The outputs go to a staging folder swapped in as `--out` when the run finishes
/// (`run_dir`); the model is exported before the plots and the interpretation, so a failing plot loses nothing.
pub fn run(args: Args) -> Result<()> {
    let arch = args.arch;
    if let Some(lr) = args.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0 && *lr <= 10.0)) {
        bail!("--lr {lr}: a learning rate is a number above 0 (fastai's are around 1e-4 to 1e-2); leave it out to use lr_find's suggestion");
    }
    if args.data.bs < 2 {
        bail!(
            "--bs {}: BatchNorm needs at least 2 images per training batch; raise --bs (fastai's default is 64)",
            args.data.bs
        );
    }
    let start = match (args.resume, args.overwrite) {
        (true, _) => Start::Resume,
        (false, true) => Start::Overwrite,
        (false, false) => Start::Fresh,
    };
    let run = RunDir::begin(&args.out, start)?;
    check_or_record_flags(&args, &run)?;
    let source = args.data.source()?;
    // The flags are checked (building the block) before anything slow: fetching weights, reading the images.
    let block = args.data.datablock_for_run(&source, None, &args.data.device()?, &args.out)?;
    let pretrained = choose_pretrained(&args, arch, &source)?;
    let summary = block.summary(&source.dir, 4);
    if !summary.is_ok() {
        println!("{summary}");
        bail!("the data block is not usable (see the summary above)");
    }
    let dls = block.dataloaders(&source.dir, args.data.bs).context("building the data loaders")?;
    let (presize, size) = args.data.sizes(&source);
    println!(
        "data: {} — {} classes, {} training / {} validation images, presize {presize} px, batches of {} at {size} px",
        display(&source.dir),
        dls.n_classes(),
        dls.train().n_items(),
        dls.valid().n_items(),
        args.data.bs
    );
    let mut outputs = Outputs::default();
    outputs.attempt("show_batch.png", dls.show_batch(3, 3, &run.path("show_batch.png")));

    let head = HeadConfig { ps: args.ps, ..HeadConfig::default() };
    let compute_dtype = match args.precision.as_str() {
        "bf16" => Some(candle::DType::BF16),
        "f16" => Some(candle::DType::F16),
        _ => None,
    };
    let config = LearnerConfig {
        seed: args.data.seed,
        checkpoint_dir: run.path("models"),
        head,
        compute_dtype,
        epoch_checkpoint: Some(EPOCH_CHECKPOINT.into()),
        ..LearnerConfig::default()
    };
    let mut learn = vision_learner_with(dls, arch, pretrained.clone(), vec![Metric::ErrorRate], config)?
        .with_reporter(Box::new(ProgressReporter::with_table(std::io::stdout())));
    let signals = StopSignals::install(learn.interrupt_handle())?;
    signals.arm(true);
    let mut metrics = MetricsFile::load_or_new(&run.path("metrics.json"));

    let trained = if args.resume {
        let checkpoint = latest_checkpoint(&run)?;
        println!("resuming from {}", display(&checkpoint));
        if run.path("lr_find.png").is_file() {
            outputs.written.push("lr_find.png".into());
        }
        learn.resume_from(&checkpoint).context("resuming")
    } else {
        let base_lr = match args.lr {
            Some(lr) => lr,
            None => lr_find(&mut learn, args.lr_find_iters, &run, &mut outputs, &mut metrics, &signals)?,
        };
        metrics.lr = Some(base_lr);
        if pretrained.is_pretrained() || args.fine_tune {
            let fine_tune = FineTuneConfig { base_lr, freeze_epochs: args.freeze_epochs, ..FineTuneConfig::default() };
            learn.fine_tune_with(args.epochs, &fine_tune).context("fine_tune")
        } else {
            // fine_tune's frozen epoch and 1/100 body learning rate are for a pretrained body; a random one learns
            // nothing frozen, so from scratch we do what fastai recommends there: one cycle over everything.
            println!(
                "no pretrained weights: training from scratch with fit_one_cycle (pass --fine-tune to force fine_tune)"
            );
            learn.fit_one_cycle(args.epochs, base_lr).context("fit_one_cycle")
        }
    };
    metrics.epochs = learn.recorder.epochs.clone();
    if let Err(error) = trained {
        metrics.status = "stopped".into();
        metrics.write(&run.path("metrics.json"));
        return Err(stopped(error, &signals, &run));
    }

    let validation = learn.validate()?;
    let error_rate = validation.metric(Metric::ErrorRate).unwrap_or(f64::NAN);
    println!("\nfinal error_rate {error_rate:.4} (valid_loss {:.4})", validation.loss);
    // The model first: nothing after it can lose it.
    learn.export(&run.path("model.safetensors")).context("exporting the model")?;
    outputs.written.push("model.safetensors".into());
    signals.arm(false);
    metrics.status = "finished".into();
    metrics.final_metrics = Some(validation);
    outputs.attempt("metrics.json", metrics.try_write(&run.path("metrics.json")));
    outputs.attempt("loss.png", learn.recorder.save_plot_loss(&run.path("loss.png")));
    let interp = learn.interpretation(DatasetSplit::Valid)?;
    let images = DisplayImages::new(learn.dls().valid().items().iter().map(|i| i.path.clone()).collect(), 192);
    match write_interpretation(&interp, &images, run.staging()) {
        Ok(names) => outputs.written.extend(names),
        Err(error) => outputs.failed.push(("interpretation".into(), format!("{error:#}"))),
    }
    drop(learn);
    let out = run.finish()?;
    println!("\nwrote to {}: {}", display(&out), outputs.written.join(", "));
    if !outputs.failed.is_empty() {
        let failed: Vec<String> = outputs.failed.iter().map(|(n, e)| format!("{n} ({e})")).collect();
        bail!(
            "the model is saved in {}, but some outputs could not be written: {}",
            display(&out.join("model.safetensors")),
            failed.join("; ")
        );
    }
    Ok(())
}

/// The checkpoint written at the end of every epoch (a `kill -9` loses at most one epoch).
const EPOCH_CHECKPOINT: &str = "last";

/// Files written so far, and the ones that failed (reported at the end; they never stop the run).
#[derive(Debug, Default)]
struct Outputs {
    written: Vec<String>,
    failed: Vec<(String, String)>,
}

impl Outputs {
    fn attempt<E: std::fmt::Display>(&mut self, name: &str, result: std::result::Result<(), E>) {
        match result {
            Ok(()) => self.written.push(name.into()),
            Err(error) => {
                eprintln!("warning: could not write {name}: {error}");
                self.failed.push((name.into(), error.to_string()));
            }
        }
    }
}

/// `metrics.json`, for scripts: every epoch's row, lr_find's suggestions, the learning rate used, the final
/// validation, and whether the run finished or was stopped.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct MetricsFile {
    status: String,
    lr_find: Option<LrFindSummary>,
    lr: Option<f64>,
    epochs: Vec<fastvision::train::EpochRow>,
    #[serde(rename = "final")]
    final_metrics: Option<fastvision::train::Validation>,
}

/// lr_find's outcome as written in metrics.json.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LrFindSummary {
    iterations: usize,
    stop: String,
    suggestions: Option<fastvision::train::Suggestions>,
}

impl MetricsFile {
    /// A resumed run continues the stopped run's file (its lr_find and learning rate).
    fn load_or_new(path: &Path) -> Self {
        std::fs::read_to_string(path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
    }

    fn try_write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        fastvision::core::fs::atomic_write_bytes(path, text.as_bytes())?;
        Ok(())
    }

    /// Best effort, on the way out of a stopped run.
    fn write(&self, path: &Path) {
        if let Err(error) = self.try_write(path) {
            eprintln!("warning: could not write {}: {error:#}", path.display());
        }
    }
}

/// The error of a stopped fit, with how to continue; a stop by a signal exits with 128 + the signal.
fn stopped(error: anyhow::Error, signals: &StopSignals, run: &RunDir) -> anyhow::Error {
    let interrupted =
        error.chain().any(|e| matches!(e.downcast_ref(), Some(fastvision::train::Error::Interrupted { .. })));
    if !interrupted {
        let checkpoint = run.path(&format!("models/{EPOCH_CHECKPOINT}.safetensors"));
        if !checkpoint.is_file() {
            return error;
        }
        return error.context(format!(
            "training failed; the last finished epoch is saved in {} (--resume continues from it once the cause is \
             fixed)",
            display(&checkpoint)
        ));
    }
    let mut command: Vec<String> = std::env::args().skip(1).filter(|a| a != "--overwrite").collect();
    if !command.iter().any(|a| a == "--resume") {
        command.push("--resume".into());
    }
    let message = format!(
        "{}\nto continue exactly where it stopped: fastvision {}",
        crate::chain(error.as_ref()),
        command.join(" ")
    );
    anyhow::Error::new(crate::Exit { code: signals.exit_code(), message })
}

/// The newer of the stopped run's interrupt checkpoint and its last epoch checkpoint.
fn latest_checkpoint(run: &RunDir) -> Result<PathBuf> {
    let candidates = [run.path("models/interrupted.safetensors"), run.path("models/last.safetensors")];
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    candidates
        .iter()
        .filter(|p| p.is_file())
        .max_by_key(|p| modified(p))
        .cloned()
        .with_context(|| format!("no checkpoint to resume in {}", display(&run.path("models"))))
}

/// A fresh run records its flags; `--resume` must be given the same ones (other flags would train another model).
fn check_or_record_flags(args: &Args, run: &RunDir) -> Result<()> {
    let path = run.path("run.json");
    let flags = format!("{:?}", Args { resume: false, overwrite: false, ..args.clone() });
    // `--arch` was recorded as its name (`arch: "resnet18"`) before it was parsed into a `Backbone`: keep that
    // form, so a run stopped by an older binary resumes.
    let flags = flags.replace(&format!("arch: {:?}", args.arch), &format!("arch: {:?}", args.arch.to_string()));
    if !args.resume {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "flags": flags }))?;
        return Ok(fastvision::core::fs::atomic_write_bytes(&path, text.as_bytes())?);
    }
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("reading the stopped run's flags {}", path.display()))?,
    )
    .with_context(|| format!("reading {}", path.display()))?;
    let started = recorded["flags"].as_str().unwrap_or_default();
    if started != flags {
        // The flags' Debug forms, field by field: name what changed, not the whole set.
        let fields = |s: &str| -> Vec<String> {
            s.split([',', '{', '}']).map(|f| f.trim().to_owned()).filter(|f| f.contains(": ")).collect()
        };
        let (before, now) = (fields(started), fields(&flags));
        let changed: Vec<String> = before
            .iter()
            .zip(&now)
            .filter(|(b, n)| b != n)
            .map(|(b, n)| format!("{b} → {}", n.split_once(": ").map_or(n.as_str(), |(_, v)| v)))
            .collect();
        bail!(
            "--resume continues the stopped run in {} with the flags it was started with, and these changed: {}. \
             Give the same flags plus --resume, or start over with --overwrite",
            display(run.out()),
            if changed.is_empty() { "(the set of flags)".to_owned() } else { changed.join(", ") }
        );
    }
    Ok(())
}

/// fastai's choice for the user: pretrained ImageNet weights for a torchvision architecture on the user's
/// photos, from scratch on the built-in data set (offline) and for the CIFAR ResNets; the flags override it.
/// ImageNet weights missing from the cache are downloaded here, with a progress bar.
fn choose_pretrained(args: &Args, arch: Backbone, source: &Source) -> Result<Pretrained> {
    let chosen = match (&args.pretrained, args.no_pretrained) {
        (_, true) => Pretrained::No,
        (Some(Some(path)), _) => Pretrained::File { path: path.clone(), key: args.weights_key.clone() },
        (Some(None), _) => Pretrained::imagenet(),
        (None, false) if source.builtin || !matches!(arch, Backbone::ResNet(_)) => Pretrained::No,
        (None, false) => Pretrained::imagenet(),
    };
    if args.weights_key.is_some() && !matches!(chosen, Pretrained::File { .. }) {
        bail!("--weights-key chooses an entry of a checkpoint file: give the file with --pretrained FILE");
    }
    match &chosen {
        Pretrained::No => println!("weights: random initialisation (pass --pretrained to start from ImageNet)"),
        Pretrained::File { path, .. } if !path.is_file() => {
            bail!("--pretrained {}: no such file (give a .safetensors or PyTorch checkpoint file)", path.display())
        }
        Pretrained::File { path, .. } => println!("weights: {}", display(path)),
        Pretrained::ImageNet(_) => {
            let (path, _) =
                with_download_bar(|report| chosen.resolve(arch, report))?.context("ImageNet weights were asked for")?;
            println!(
                "weights: torchvision's ImageNet weights for {arch} ({}; --no-pretrained trains from scratch)",
                display(&path)
            );
        }
    }
    Ok(chosen)
}

/// Runs lr_find, prints fastai's four suggestions, saves the plot, and returns `valley` (fastai's default).
fn lr_find(
    learn: &mut fastvision::train::Learner,
    num_it: usize,
    run: &RunDir,
    outputs: &mut Outputs,
    metrics: &mut MetricsFile,
    signals: &StopSignals,
) -> Result<f64> {
    let result = match learn.lr_find(&LrFindConfig { num_it, ..LrFindConfig::default() }) {
        Ok(result) => result,
        Err(error @ fastvision::train::Error::Interrupted { .. }) => {
            // Nothing was trained: the run starts over next time.
            return Err(anyhow::Error::new(crate::Exit { code: signals.exit_code(), message: error.to_string() }));
        }
        Err(error) => return Err(error.into()),
    };
    outputs.attempt("lr_find.png", result.save_plot(&run.path("lr_find.png")));
    metrics.lr_find = Some(LrFindSummary {
        iterations: result.lrs.len(),
        stop: format!("{:?}", result.stop),
        suggestions: result.suggestions,
    });
    let Some(suggestions) = result.suggestions else {
        let fallback = FineTuneConfig::default().base_lr;
        println!(
            "lr_find stopped after {} iterations ({:?}), too few to suggest a learning rate; using fastai's default \
             base_lr {fallback:.0e} (pass --lr to choose)",
            result.lrs.len(),
            result.stop
        );
        return Ok(fallback);
    };
    let named: Vec<String> = suggestions.named().iter().map(|(n, s)| format!("{n} {:.2e}", s.lr)).collect();
    println!("lr_find ({} iterations, {:?}): {}", result.lrs.len(), result.stop, named.join(", "));
    println!("using valley = {:.2e} as the learning rate", suggestions.valley.lr);
    Ok(suggestions.valley.lr)
}
