//! The report every `cargo xtask bench NAME` prints and writes: `{"bench", "unit", "results", "ratios"}`, where a
//! ratio above 1 means fastvision is better.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A benchmark's results: one value per implementation and the ratios that compare them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The benchmark's name (`items`, `augment`, `loss`, `train`).
    pub bench: String,
    /// The unit of `results` (for example `img/s` or `ms`), except keys whose suffix names theirs (see
    /// [`Report::unit_of`]): what a benchmark adds next to its main measure (an epoch's wall time, a peak memory).
    pub unit: String,
    /// Value per implementation and configuration.
    pub results: BTreeMap<String, f64>,
    /// `vs_X` ratios; above 1 means fastvision is better.
    pub ratios: BTreeMap<String, f64>,
    /// Free-form notes (machine, threads, what was skipped and why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report for `bench` measured in `unit`.
    pub fn new(bench: &str, unit: &str) -> Self {
        Self { bench: bench.into(), unit: unit.into(), ..Self::default() }
    }

    /// The report as a plain-text table.
    pub fn table(&self) -> String {
        let width = self.results.keys().chain(self.ratios.keys()).map(String::len).max().unwrap_or(10).max(10);
        let mut out = format!("bench {} ({})\n", self.bench, self.unit);
        for (name, value) in &self.results {
            let _ = writeln!(out, "  {name:<width$}  {value:>12.3} {}", self.unit_of(name));
        }
        for (name, value) in &self.ratios {
            let _ = writeln!(out, "  {name:<width$}  {value:>12.3}x");
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        out
    }

    /// The unit of one result by its key's suffix (`_img_per_s`, `_gb_per_s`, `_ms`, `_s`, `_mb`), else
    /// [`Report::unit`].
    pub fn unit_of(&self, name: &str) -> &str {
        const SUFFIXES: [(&str, &str); 5] =
            [("_img_per_s", "img/s"), ("_gb_per_s", "GB/s"), ("_ms", "ms"), ("_s", "s"), ("_mb", "MiB")];
        SUFFIXES.iter().find(|(suffix, _)| name.ends_with(suffix)).map_or(&self.unit, |(_, unit)| unit)
    }

    /// Writes the report as JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|source| Error::Json { what: "bench report", source })?;
        crate::fs::atomic_write_bytes(path, &json)
    }
}

/// `--device auto|cpu|cuda[:N]` of a benchmark, taken out of `args` (default `auto`): the device opened, with the
/// line saying which, for the report's notes.
pub fn take_device_arg(args: &mut Vec<String>) -> Result<crate::OpenedDevice> {
    let choice = match args.iter().position(|a| a == "--device") {
        Some(i) => {
            let value = args.get(i + 1).cloned().ok_or(Error::InvalidValue {
                name: "--device",
                value: String::new(),
                expected: "auto, cpu, cuda or cuda:N after --device",
            })?;
            args.drain(i..i + 2);
            value.parse()?
        }
        None => crate::DeviceChoice::Auto,
    };
    choice.open()
}

/// For a benchmark that measures CPU work only: an error naming what to run on a GPU instead, when `device` is
/// not the CPU.
pub fn require_cpu(bench: &str, device: &crate::OpenedDevice) -> Result<()> {
    if device.device.is_cpu() {
        return Ok(());
    }
    Err(Error::InvalidValue {
        name: "--device",
        value: device.description.clone(),
        expected: match bench {
            "items" => "cpu: decoding and presizing run on the CPU whatever the device (pass --device cpu)",
            _ => "cpu for this benchmark; the GPU's counterpart is `fastvision gpu-check` (docs/gpu.md)",
        },
    })
}

/// Mean seconds per call of `f(i)` on `device`: `warmup` calls, then `reps` calls timed between two
/// synchronisations (a GPU runs its work asynchronously; on the CPU they are no-ops).
pub fn seconds_per_call<E: From<candle::Error>>(
    device: &candle::Device,
    warmup: usize,
    reps: usize,
    mut f: impl FnMut(usize) -> std::result::Result<(), E>,
) -> std::result::Result<f64, E> {
    for i in 0..warmup {
        f(i)?;
    }
    device.synchronize()?;
    let start = std::time::Instant::now();
    for i in 0..reps {
        f(i)?;
    }
    device.synchronize()?;
    Ok(start.elapsed().as_secs_f64() / reps.max(1) as f64)
}

/// Mean seconds of a copy on `device` that reads and writes `bytes` in all: the memory floor of a pass that
/// moves those bytes, timed as [`seconds_per_call`].
pub fn copy_seconds(device: &candle::Device, bytes: usize, warmup: usize, reps: usize) -> candle::Result<f64> {
    let half = candle::Tensor::zeros((bytes / 8,), candle::DType::F32, device)?;
    seconds_per_call(device, warmup, reps, |_| half.copy().map(drop))
}
