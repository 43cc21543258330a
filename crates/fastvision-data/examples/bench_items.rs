//! `cargo xtask bench items`: the item stage (decode + `Resize(460)` + collation to u8) in images/s on the pets-370
//! photos, with 1 and 2 threads, next to fastai's DataLoader on the same files when `FASTAI_PYTHON` is set.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fastvision_core::bench::Report;
use fastvision_data::{DataBlock, ItemTransform, Labeller};

fn main() {
    if let Err(error) = run() {
        eprintln!("bench items: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let json = json_arg()?;
    let shared = std::env::var_os("FASTVISION_SHARED")
        .map(PathBuf::from)
        .ok_or("set FASTVISION_SHARED to the shared/ folder (it holds data/oxford-pets-370)")?;
    let folder = shared.join("data/oxford-pets-370/images");
    let mut report = Report::new("items", "img/s");
    for threads in [1, 2] {
        let rate = measure(&folder, threads)?;
        report.results.insert(format!("fastvision_{threads}_threads"), rate);
    }
    match fastai_item_rates(&shared, &folder) {
        Ok((nw0, nw2)) => {
            report.results.insert("fastai_num_workers_0".into(), nw0);
            report.results.insert("fastai_num_workers_2".into(), nw2);
            let best_fastai = nw0.max(nw2);
            report.ratios.insert("vs_fastai".into(), report.results["fastvision_2_threads"] / best_fastai);
            report.ratios.insert("vs_fastai_1_thread".into(), report.results["fastvision_1_threads"] / nw0);
        }
        Err(why) => report.notes.push(format!("fastai side skipped: {why}")),
    }
    report
        .notes
        .push(format!("{} JPEGs decoded and resized to 460×460 (crop), batches of 64, whole training split", 296));
    print!("{}", report.table());
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(())
}

/// Images per second through the training loader's decode + presize + collate stage, with `threads` rayon threads.
fn measure(folder: &Path, threads: usize) -> Result<f64, Box<dyn std::error::Error>> {
    let block = DataBlock::builder()
        .get_y(Labeller::regex_on_name(r"(.+)_\d+.jpg$")?)
        .item_tfms(ItemTransform::resize(460))
        .build()?;
    let dls = block.dataloaders(folder, 64)?;
    let loader = dls.train();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let order = loader.order(0);
    // Warm the file cache and the allocator once, as fastai's harness also runs over files already read once.
    pool.install(|| loader.load_batch(&order[..8], 0, 0))?;
    let start = Instant::now();
    let mut n_images = 0;
    pool.install(|| -> Result<(), fastvision_data::Error> {
        for (batch_idx, ids) in order.chunks(64).enumerate() {
            n_images += loader.load_batch(ids, 0, batch_idx)?.batch.len();
        }
        Ok(())
    })?;
    Ok(n_images as f64 / start.elapsed().as_secs_f64())
}

/// fastai's item stage (num_workers 0 and 2) from the shared harness, run by `$FASTAI_PYTHON`.
fn fastai_item_rates(shared: &Path, folder: &Path) -> Result<(f64, f64), String> {
    let python = std::env::var_os("FASTAI_PYTHON").ok_or("FASTAI_PYTHON is not set (see shared/fastai/README.md)")?;
    let out = std::env::temp_dir().join(format!("fastvision-bench-items-{}.json", std::process::id()));
    let status = Command::new(python)
        .arg(shared.join("fastai/bench_pipeline.py"))
        .arg(folder)
        .args(["--skip", "batch,train,lrfind", "--threads", "2", "--json"])
        .arg(&out)
        .status()
        .map_err(|e| format!("running FASTAI_PYTHON: {e}"))?;
    if !status.success() {
        return Err(format!("fastai harness failed ({status})"));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&out);
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let rate = |i: usize| json["item_stage"][i]["images_per_s"].as_f64().ok_or("no item_stage in the harness output");
    Ok((rate(0)?, rate(1)?))
}

fn json_arg() -> Result<Option<PathBuf>, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let device = fastvision_core::bench::take_device_arg(&mut args).map_err(|e| e.to_string())?;
    fastvision_core::bench::require_cpu("items", &device).map_err(|e| e.to_string())?;
    match args.as_slice() {
        [] => Ok(None),
        [flag, path] if flag == "--json" => Ok(Some(PathBuf::from(path))),
        other => Err(format!("unexpected arguments {other:?}; usage: bench_items [--json FILE] [--device cpu]")),
    }
}
