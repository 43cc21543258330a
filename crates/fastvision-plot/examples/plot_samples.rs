//! Writes sample PNGs to look at by eye: `cargo run -p fastvision-plot --example plot_samples -- OUT_DIR`
//! (needs `FASTVISION_SHARED` for the pet photos).

use std::error::Error;
use std::path::{Path, PathBuf};

use fastvision_plot::{image_grid, save_png, with_title, Heatmap, LinePlot, Marker, Series};

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/plot-samples".into()));
    let shared = std::env::var("FASTVISION_SHARED").map_err(|_| "set FASTVISION_SHARED to the shared/ folder")?;
    let images = Path::new(&shared).join("data/oxford-pets-370/images");
    let files = fastvision_core::fs::list_sorted(&images)?;
    save_png(&lr_find_like(), &out.join("lr_find.png"))?;
    let mut cells = Vec::new();
    for path in files.iter().step_by(41).take(9) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let label = name.rsplit_once('_').map(|(breed, _)| breed.to_owned()).unwrap_or(name);
        cells.push((image::open(path)?.to_rgb8(), format!("{label}/american_pit_bull_terrier / 2.31 / 0.87")));
    }
    let grid = with_title(&image_grid(&cells, 3, 224), "Prediction/Actual/Loss/Probability");
    save_png(&grid, &out.join("grid_9_pets.png"))?;
    save_png(&heatmap_37(&files), &out.join("heatmap_37_raw.png"))?;
    Ok(())
}

fn lr_find_like() -> image::RgbImage {
    let lrs: Vec<f64> = (0..100).map(|i| 1e-7 * 10f64.powf(i as f64 * 8.0 / 99.0)).collect();
    let losses: Vec<f64> = lrs
        .iter()
        .map(|lr| {
            let t = lr.log10();
            3.6 - 1.2 / (1.0 + (-(t + 4.0) * 2.0).exp()) + if t > -1.5 { (t + 1.5).powi(2) * 2.0 } else { 0.0 }
        })
        .collect();
    LinePlot {
        title: "lr_find".into(),
        x_label: "Learning Rate".into(),
        y_label: "Loss".into(),
        log_x: true,
        series: vec![Series::new("smoothed loss", lrs, losses)],
        markers: vec![
            Marker::new("minimum 1.2e-2", 1.2e-2, 2.45),
            Marker::new("steep 1.0e-4", 1e-4, 3.0),
            Marker::new("valley 8.3e-4", 8.3e-4, 2.6),
            Marker::new("slide 2.1e-3", 2.1e-3, 2.5),
        ],
    }
    .render(720, 480)
}

fn heatmap_37(files: &[PathBuf]) -> image::RgbImage {
    let mut breeds: Vec<String> =
        files.iter().filter_map(|p| p.file_stem()?.to_str()?.rsplit_once('_').map(|(b, _)| b.to_owned())).collect();
    breeds.dedup();
    let n = breeds.len();
    let values: Vec<f64> = (0..n * n).map(|i| if i / n == i % n { 8.0 } else { ((i * 7) % 5 / 4) as f64 }).collect();
    Heatmap {
        title: "Confusion matrix".into(),
        cell_text: values.iter().map(|v| format!("{v}")).collect(),
        row_labels: breeds.clone(),
        col_labels: breeds,
        values,
        x_label: "Predicted".into(),
        y_label: "Actual".into(),
        color_bar: true,
        ..Default::default()
    }
    .render()
}
