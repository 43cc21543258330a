//! `fastvision interpret`: loads an exported model, predicts the validation images of a folder, and writes the
//! confusion matrix, top losses and most-confused pairs; also the last stage of `train`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use fastvision::data::{decode_rgb, DecodeLimits};
use fastvision::interpret::ClassificationInterpretation;
use fastvision::plot::RgbImage;
use fastvision::train::load_learner;

use crate::data_args::{display, DataArgs};

/// Flags of `interpret`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The exported model (`model.safetensors` written by `train`).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Interpret every image of the folder, not just the validation split.
    #[arg(long)]
    all: bool,
    /// Where the outputs go.
    #[arg(long, value_name = "DIR", default_value = "target/fastvision-interpret")]
    out: PathBuf,
}

/// Predicts, interprets and writes the outputs.
pub fn run(args: Args) -> Result<()> {
    let device = args.data.device()?;
    let learner = load_learner(&args.model, &device).with_context(|| format!("loading {}", args.model.display()))?;
    let source = args.data.source()?;
    let datasets = args.data.datablock_for_run(&source, None, &device, &args.out)?.datasets(&source.dir)?;
    if let Some(first) = datasets.errors.first() {
        anyhow::bail!("{} files could not be labelled, e.g. {}", datasets.errors.len(), first.message);
    }
    let items = if args.all { [datasets.train, datasets.valid].concat() } else { datasets.valid };
    let interp = learner.interpretation(&items, &datasets.vocab)?;
    let images = DisplayImages::new(items.into_iter().map(|i| i.path).collect(), 192);
    let written = write_interpretation(&interp, &images, &args.out)?;
    println!("wrote to {}: {}", display(&args.out), written.join(", "));
    Ok(())
}

/// Loads item images for the top-losses grid, scaled down to at most `max_side` pixels.
pub struct DisplayImages {
    paths: Vec<PathBuf>,
    max_side: u32,
}

impl DisplayImages {
    /// Images for items `0..paths.len()` (the item id is the index).
    pub fn new(paths: Vec<PathBuf>, max_side: u32) -> Self {
        Self { paths, max_side }
    }

    fn load(&self, item_id: usize) -> Result<RgbImage> {
        let path = self.paths.get(item_id).with_context(|| format!("no item {item_id}"))?;
        let image = decode_rgb(path, DecodeLimits::default())?;
        let scale = self.max_side as f32 / image.width().max(image.height()) as f32;
        if scale >= 1.0 {
            return Ok(image);
        }
        let (w, h) = ((image.width() as f32 * scale) as u32, (image.height() as f32 * scale) as u32);
        Ok(fastvision::plot::image::imageops::thumbnail(&image, w.max(1), h.max(1)))
    }
}

/// Writes confusion_matrix.png, top_losses.png, most_confused.json and the report into `out`, prints the
/// most-confused pairs and the per-class report, and returns the names of the files written.
pub fn write_interpretation(
    interp: &ClassificationInterpretation,
    images: &DisplayImages,
    out: &std::path::Path,
) -> Result<Vec<String>> {
    let k = interp.len().min(9);
    let written =
        interp.write_outputs_with_images(out, k, |item_id| images.load(item_id).map_err(|e| e.to_string()))?;
    println!("\nmost confused (actual, predicted, count):\n{}", interp.most_confused_table(1));
    println!("{}", interp.classification_report());
    Ok(written.iter().map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()).collect())
}
