//! `fastvision train`: the whole chapter in one command — DataBlock and summary, show_batch, lr_find, fine_tune
//! (freeze, unfreeze, discriminative learning rates), export, and an interpretation of the validation set.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use fastvision::models::{Backbone, HeadConfig};
use fastvision::train::{
    vision_learner_with, DatasetSplit, FineTuneConfig, LearnerConfig, LrFindConfig, Metric, Pretrained,
};

use crate::data_args::{display, DataArgs, Source};
use crate::interpret::{write_interpretation, DisplayImages};
use crate::progress::{with_download_bar, TerminalReporter};

/// Flags of `train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Architecture: resnet18, resnet34, resnet50, resnet101, resnet152 (torchvision), or cifar-resnet20/32/44/56/110
    /// (for 32 px images; --pretrained takes the real CIFAR-10 weights).
    #[arg(long, default_value = "resnet18")]
    arch: String,
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
    #[arg(long, value_name = "LR")]
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
    /// Where the outputs go (plots, exported model, interpretation).
    #[arg(long, value_name = "DIR", default_value = "target/fastvision-run")]
    out: PathBuf,
}

/// Runs the workflow end to end.
pub fn run(args: Args) -> Result<()> {
    let arch: Backbone = args.arch.parse()?;
    let source = args.data.source()?;
    let pretrained = choose_pretrained(&args, arch, &source)?;
    let block = args.data.datablock(&source, None, &args.data.device()?)?;
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
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let out = |name: &str| args.out.join(name);
    dls.show_batch(3, 3, &out("show_batch.png"))?;

    let head = HeadConfig { ps: args.ps, ..HeadConfig::default() };
    let compute_dtype = match args.precision.as_str() {
        "bf16" => Some(candle::DType::BF16),
        "f16" => Some(candle::DType::F16),
        _ => None,
    };
    let config = LearnerConfig {
        seed: args.data.seed,
        checkpoint_dir: out("models"),
        head,
        compute_dtype,
        ..LearnerConfig::default()
    };
    let mut learn = vision_learner_with(dls, arch, pretrained.clone(), vec![Metric::ErrorRate], config)?
        .with_reporter(Box::new(TerminalReporter::default()));
    install_ctrl_c(learn.interrupt_handle());

    let base_lr = match args.lr {
        Some(lr) => lr,
        None => lr_find(&mut learn, args.lr_find_iters, &out("lr_find.png"))?,
    };
    if pretrained.is_pretrained() || args.fine_tune {
        let fine_tune = FineTuneConfig { base_lr, freeze_epochs: args.freeze_epochs, ..FineTuneConfig::default() };
        learn.fine_tune_with(args.epochs, &fine_tune).context("fine_tune")?;
    } else {
        // fine_tune's frozen epoch and 1/100 body learning rate are for a pretrained body; a random one learns
        // nothing frozen, so from scratch we do what fastai recommends there: one cycle over everything.
        println!(
            "no pretrained weights: training from scratch with fit_one_cycle (pass --fine-tune to force fine_tune)"
        );
        learn.fit_one_cycle(args.epochs, base_lr).context("fit_one_cycle")?;
    }

    let validation = learn.validate()?;
    let error_rate = validation.metrics.iter().find(|(n, _)| n == "error_rate").map_or(f64::NAN, |m| m.1);
    println!("\nfinal error_rate {error_rate:.4} (valid_loss {:.4})", validation.loss);
    learn.recorder.save_plot_loss(&out("loss.png"))?;
    learn.export(&out("model.safetensors"))?;

    let interp = learn.interpretation(DatasetSplit::Valid)?;
    let images = DisplayImages::new(learn.dls.valid().items().iter().map(|i| i.path.clone()).collect(), 192);
    write_interpretation(&interp, &images, &args.out)?;
    println!("\nwrote to {}: show_batch.png, lr_find.png, loss.png, model.safetensors, confusion_matrix.png, top_losses.png, most_confused.json", display(&args.out));
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
fn lr_find(learn: &mut fastvision::train::Learner, num_it: usize, plot: &Path) -> Result<f64> {
    let result = learn.lr_find(&LrFindConfig { num_it, ..LrFindConfig::default() })?;
    result.save_plot(plot)?;
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

/// Ctrl-C stops training after the current batch, with a checkpoint, instead of killing the process.
fn install_ctrl_c(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after this batch and writing a checkpoint (Ctrl-C again to quit now)");
    });
    if let Err(e) = installed {
        eprintln!("note: Ctrl-C handler not installed ({e})");
    }
}
