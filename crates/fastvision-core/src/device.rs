//! The one device switch: `auto`, `cpu`, `cuda` or `cuda:N`, as every command's `--device` takes it.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// What a CPU-only build says when CUDA is asked for.
const BUILD_HINT: &str = "rebuild with the `cuda` feature (`cargo xtask train --cuda ...`, or \
                          `cargo build --release -p fastvision-cli --features cuda`; docs/gpu.md), or pass --device cpu";

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA device 0 when this build has CUDA and a GPU answers, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device `N` (`cuda` is `cuda:0`); an error when the build has no CUDA or the GPU does not answer.
    Cuda(usize),
}

/// The device opened for a [`DeviceChoice`], with a line saying which and why (for the terminal).
#[derive(Debug, Clone)]
pub struct OpenedDevice {
    /// The candle device.
    pub device: candle::Device,
    /// For example `cuda:0 (auto: built with CUDA and a GPU answered)`.
    pub description: String,
}

impl DeviceChoice {
    /// Opens the device. `Auto` never fails: it falls back to the CPU and says why.
    pub fn open(self) -> Result<OpenedDevice> {
        match self {
            DeviceChoice::Cpu => Ok(OpenedDevice { device: candle::Device::Cpu, description: "cpu".into() }),
            DeviceChoice::Cuda(ordinal) => {
                if !candle::utils::cuda_is_available() {
                    return Err(Error::CudaNotCompiled { hint: BUILD_HINT });
                }
                let device = candle::Device::new_cuda(ordinal).map_err(|source| Error::Candle {
                    context: format!(
                        "opening CUDA device {ordinal} (is there an NVIDIA GPU with a driver for CUDA 13, and is \
                         libcuda.so.1 on the library path? nvidia-smi shows both)"
                    ),
                    source,
                })?;
                Ok(OpenedDevice { device, description: format!("cuda:{ordinal}") })
            }
            DeviceChoice::Auto => {
                if !candle::utils::cuda_is_available() {
                    let description = "cpu (auto: this build has no CUDA; --features cuda adds it)".into();
                    return Ok(OpenedDevice { device: candle::Device::Cpu, description });
                }
                match candle::Device::new_cuda(0) {
                    Ok(device) => Ok(OpenedDevice { device, description: "cuda:0 (auto: a GPU answered)".into() }),
                    Err(error) => Ok(OpenedDevice {
                        device: candle::Device::Cpu,
                        description: format!("cpu (auto: built with CUDA but no GPU answered: {error})"),
                    }),
                }
            }
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::InvalidValue {
            name: "device",
            value: text.to_string(),
            expected: "auto, cpu, cuda or cuda:N (N the GPU's ordinal, as nvidia-smi numbers them)",
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(DeviceChoice::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The devices a test should run on: the CPU, and CUDA device 0 when candle was built with CUDA. A CUDA build
/// that finds no GPU panics (a test run built for the GPU must not pass by skipping it); set
/// `FASTVISION_TEST_WITHOUT_GPU=1` to run such a build's tests on the CPU alone, on purpose.
pub fn test_devices() -> Vec<candle::Device> {
    let mut devices = vec![candle::Device::Cpu];
    if let Some(gpu) = test_gpu() {
        devices.push(gpu);
    }
    devices
}

/// CUDA device 0 for a test when candle was built with CUDA (panicking when none answers, see
/// [`test_devices`]); `None` in a CPU build.
pub fn test_gpu() -> Option<candle::Device> {
    if !candle::utils::cuda_is_available() {
        return None;
    }
    if std::env::var_os("FASTVISION_TEST_WITHOUT_GPU").is_some_and(|v| v == "1") {
        return None;
    }
    match candle::Device::new_cuda(0) {
        Ok(device) => Some(device),
        Err(error) => panic!(
            "this test binary was built with CUDA but no GPU answered ({error}); run it on a machine with an NVIDIA \
             GPU, or set FASTVISION_TEST_WITHOUT_GPU=1 to test the CPU alone"
        ),
    }
}
