//! Writes an interpretation of made-up predictions on the 370 shared pet photos, to look at by eye:
//! `cargo run -p fastvision-interpret --example interpret_samples -- OUT_DIR` (needs `FASTVISION_SHARED`).

use std::error::Error;
use std::path::{Path, PathBuf};

use fastvision_core::rng::Rng;
use fastvision_core::{Preds, Vocab};
use fastvision_interpret::{ClassificationInterpretation, ConfusionCells};

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/plot-samples".into()));
    let shared = std::env::var("FASTVISION_SHARED").map_err(|_| "set FASTVISION_SHARED to the shared/ folder")?;
    let files = fastvision_core::fs::list_sorted(&Path::new(&shared).join("data/oxford-pets-370/images"))?;
    let labels: Vec<String> = files.iter().map(|p| breed_of(p)).collect();
    let vocab = Vocab::from_labels(&labels);
    let preds = made_up_preds(&vocab, &labels, 42)?;
    let interp = ClassificationInterpretation::from_preds(preds, vocab)?;
    interp.plot_confusion_matrix(ConfusionCells::Normalized, &out.join("confusion_matrix_37_normalized.png"))?;
    let image_of = |item_id: usize| fastvision_plot::image::open(&files[item_id]).map(|img| img.to_rgb8());
    interp.write_outputs_with_images(&out.join("interpret"), 9, image_of)?;
    Ok(())
}

fn breed_of(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    stem.rsplit_once('_').map(|(breed, _)| breed.to_owned()).unwrap_or(stem)
}

/// 80 % right; otherwise mistaken for the next class in the vocabulary (or a random one), with noisy softmax rows.
fn made_up_preds(vocab: &Vocab, labels: &[String], seed: u64) -> Result<Preds, Box<dyn Error>> {
    let mut rng = Rng::new(seed);
    let n_classes = vocab.len();
    let (mut probs, mut targets, mut losses) = (Vec::new(), Vec::new(), Vec::new());
    for label in labels {
        let target = vocab.index_of(label).ok_or("label missing from vocab")?;
        let predicted = match rng.below(10) {
            0..=7 => target,
            8 => (target + 1) % n_classes,
            _ => rng.below(n_classes),
        };
        let logits: Vec<f64> =
            (0..n_classes).map(|c| rng.uniform(-1.0, 1.0) + if c == predicted { 4.0 } else { 0.0 }).collect();
        let total: f64 = logits.iter().map(|l| l.exp()).sum();
        let row: Vec<f32> = logits.iter().map(|l| (l.exp() / total) as f32).collect();
        losses.push(-(row[target] as f64).ln() as f32);
        probs.extend(row);
        targets.push(target as u32);
    }
    let item_ids = (0..labels.len()).collect();
    Ok(Preds::new(n_classes, probs, targets, losses, item_ids)?)
}
