//! `fastvision eval`: accuracy of a classifier's weights on a folder of class sub-folders (e.g. the CIFAR-10
//! ResNets in shared/weights on the extracted CIFAR-10 JPEGs).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fastvision::models::Backbone;
use fastvision::prelude::*;
use fastvision::train::{evaluate, ClassFolders, Classifier, EvalConfig};
use fastvision::weights::{ReadOptions, StateDict};

/// Flags of `eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Architecture: cifar-resnet20/32/44/56/110 or resnet18/34/50/101/152 (torchvision names).
    #[arg(long)]
    arch: Backbone,
    /// The weights: safetensors or a torch.save checkpoint (.pth/.pt/.th/.bin, zip or legacy), recognised by content.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// The checkpoint key holding the state dict (e.g. state_dict, model, ema), when several entries hold tensors.
    #[arg(long, value_name = "KEY")]
    weights_key: Option<String>,
    /// Folder with one sub-folder per class (sorted folder names are the class indices).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Image side the model sees; images of another size are squished to it.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    bs: usize,
    /// Device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: fastvision::core::DeviceChoice,
    /// Skip ImageNet normalisation (inputs then stay in [0, 1]).
    #[arg(long)]
    no_normalize: bool,
}

/// Predicts every image and prints `accuracy: 0.xxxx` as the last line.
pub fn run(args: Args) -> Result<()> {
    let data = ClassFolders::read(&args.data)?;
    let device = crate::data_args::open_device(args.device)?;
    let state = StateDict::read(&args.weights, &ReadOptions { key: args.weights_key.clone() })?;
    println!("weights {}: {}, {} tensors", args.weights.display(), crate::convert::describe(&state), state.len());
    check_fits(&args, &state, &data.vocab)?;
    let model = Classifier::from_state(args.arch, data.vocab.len(), &state, &device)
        .with_context(|| format!("loading {} as {}", state.path().display(), args.arch))?;
    let normalize = (!args.no_normalize).then(Normalize::imagenet);
    let config = EvalConfig { size: args.size, batch_size: args.bs, normalize, device };
    println!(
        "{} images in {} classes ({}), {}",
        data.items.len(),
        data.vocab.len(),
        data.vocab.classes().join(", "),
        args.arch
    );
    let start = Instant::now();
    let evaluation =
        evaluate(&model, &data, &config).with_context(|| format!("--bs {} --size {}", args.bs, args.size))?;
    if evaluation.n_items == 0 {
        bail!("no images were evaluated in {}", args.data.display());
    }
    eprintln!("{} images in {:.1} s", evaluation.n_items, start.elapsed().as_secs_f64());
    println!("accuracy: {:.4}", evaluation.accuracy());
    Ok(())
}

/// The two mistakes that otherwise end in a list of missing names or shapes: an exported model (fastai's body/head
/// names) given as a bare classifier, and a folder whose images are not in class sub-folders.
fn check_fits(args: &Args, state: &StateDict, vocab: &Vocab) -> Result<()> {
    let weights = args.weights.display();
    if state.tensors().iter().any(|(name, _)| name.starts_with("0.") || name.starts_with("1.")) {
        bail!(
            "{weights} holds a fastai-style model (body `0.*` + head `1.*`), such as a fastvision export: classify \
             with `fastvision predict --model {weights} IMAGES` or `fastvision interpret --model {weights} --data \
             DIR`; eval takes a bare classifier's weights (torchvision or CIFAR ResNet names)"
        );
    }
    let own_name = args.data.file_name().map(|n| n.to_string_lossy().into_owned());
    if vocab.len() == 1 && own_name.as_deref() == vocab.name(0) {
        bail!(
            "{} has no class sub-folders: eval reads one sub-folder per class ({0}/cat/1.jpg, {0}/dog/2.jpg …), the \
             sorted folder names being the model's class indices",
            args.data.display()
        );
    }
    let head = ["fc.weight", "linear.weight"].iter().find_map(|name| state.get(name));
    if let Some(rows) = head.and_then(|t| t.dims().first().copied()).filter(|&rows| rows != vocab.len()) {
        bail!(
            "{weights} classifies {rows} classes, but {} has {} class folders ({}); give the folder of the classes \
             the model was trained on",
            args.data.display(),
            vocab.len(),
            vocab.classes().join(", ")
        );
    }
    Ok(())
}
