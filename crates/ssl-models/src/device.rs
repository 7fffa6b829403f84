//! Device selection: `cpu`, `cuda`, or `auto` (CUDA when libtorch sees a GPU).

use std::str::FromStr;

use tch::Device;

use crate::error::{ModelError, Result};

/// What the user asked for with `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else CPU.
    Auto,
    /// Always the CPU.
    Cpu,
    /// CUDA device 0 (an error when none is available).
    Cuda,
}

impl FromStr for DeviceChoice {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda),
            other => Err(ModelError::UnknownDevice { name: other.to_string() }),
        }
    }
}

/// Resolves a choice to a device; asking for CUDA without a GPU is an error.
pub fn pick_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(ModelError::CudaUnavailable),
    }
}
