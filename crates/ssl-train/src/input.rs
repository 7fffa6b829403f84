//! The step from a drawn batch to the device: views (`f32`, NCHW) → a tensor on the training
//! device.
//!
//! On CUDA the batch is copied into page-locked (pinned) host memory and sent with a
//! non-blocking copy, so the CPU goes on queueing work while the transfer runs; the runner
//! uploads the next batch while the current step's kernels run (see `Trainer::train_on`). On the CPU
//! it is one copy into a tensor.

use tch::{Device, Kind, Tensor};

/// `data` (`shape`, row-major) as a float tensor on `device`; on CUDA through pinned memory and a
/// non-blocking copy (ordered on the current stream before any kernel that reads it).
pub fn upload(data: &[f32], shape: [i64; 4], device: Device) -> Tensor {
    let host = Tensor::from_slice(data).view(shape);
    match device {
        Device::Cuda(_) => host.pin_memory(device).to_device_(device, Kind::Float, true, false),
        _ => host.to_device(device),
    }
}
