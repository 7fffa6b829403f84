//! The precision of a training step, chosen for speed: `float32`, or `bfloat16` autocast (Kalamkar
//! et al. 2019, "A Study of BFLOAT16 for Deep Learning Training": bf16 keeps float32's exponent
//! range, so no loss scaling is needed). Under autocast, convolutions and matrix products run in
//! bfloat16 while reductions, losses and batch-norm statistics stay in float32 (libtorch's
//! autocast lists); the weights, gradients and optimiser state stay float32.
//!
//! tch switches autocast on CUDA only, to float16 (`tch::autocast`); [`Precision::autocast`]
//! switches it on the CPU or CUDA, to bfloat16, through a small C++ shim (`cpp/autocast.cpp`).
//! float16 with dynamic loss scaling on CUDA is [`crate::amp`].
//!
//! ```no_run
//! use ssl_models::precision::Precision;
//! use tch::{Device, Kind, Tensor};
//!
//! Precision::Bfloat16.check(Device::Cpu)?;
//! let a = Tensor::randn([64, 64], (Kind::Float, Device::Cpu));
//! let y = Precision::Bfloat16.autocast(Device::Cpu, || a.mm(&a))?;
//! assert_eq!(y.kind(), Kind::BFloat16);
//! # Ok::<(), ssl_models::ModelError>(())
//! ```

use std::os::raw::{c_char, c_int};

use tch::Device;

use crate::error::{ModelError, Result};

unsafe extern "C" {
    fn ssl_autocast_enter(device: c_int, dtype: c_int, was_enabled: *mut c_int, was_dtype: *mut c_int) -> c_int;
    fn ssl_autocast_exit(device: c_int, was_enabled: c_int, was_dtype: c_int) -> c_int;
    fn ssl_autocast_last_error() -> *const c_char;
}

/// The arithmetic precision of the forward pass and loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in float32.
    #[default]
    Float32,
    /// bfloat16 autocast (float32 weights, gradients and optimiser state).
    Bfloat16,
}

impl Precision {
    /// The name used in configs and provenance.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Float32 => "float32",
            Precision::Bfloat16 => "bfloat16",
        }
    }

    /// Whether `device` can run this precision; an error naming what it lacks otherwise. On the
    /// CPU, bfloat16 needs what oneDNN's bf16 kernels need (PyTorch's
    /// `torch.backends.mkldnn.is_bf16_supported()`: AVX-512 BW, VL and DQ on x86-64; the bf16
    /// extension on aarch64); without them libtorch would fall back to slow reference loops.
    pub fn check(self, device: Device) -> Result<()> {
        if self == Precision::Float32 || device.is_cuda() {
            return Ok(());
        }
        match cpu_bf16_missing() {
            None => Ok(()),
            Some(why) => Err(ModelError::Unsupported {
                setting: format!("training.precision = \"{}\"", self.name()),
                device: format!("the CPU ({})", cpu_name()),
                why: format!("{why}; use \"float32\""),
            }),
        }
    }

    /// Runs `f` under this precision's autocast on `device` (float32: plain). Autocast is
    /// switched back to what it was, also when `f` panics.
    pub fn autocast<T>(self, device: Device, f: impl FnOnce() -> T) -> Result<T> {
        if self == Precision::Float32 {
            return Ok(f());
        }
        let dev = c_int::from(device.is_cuda());
        let (mut was_enabled, mut was_dtype) = (0, 0);
        // SAFETY: the shim only reads its scalar arguments and writes the two out-parameters.
        if unsafe { ssl_autocast_enter(dev, 0, &mut was_enabled, &mut was_dtype) } != 0 {
            return Err(ModelError::Autocast { message: last_error() });
        }
        struct Restore(c_int, c_int, c_int);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: as above; a failure to restore leaves autocast as libtorch had it.
                let _ = unsafe { ssl_autocast_exit(self.0, self.1, self.2) };
            }
        }
        let _restore = Restore(dev, was_enabled, was_dtype);
        Ok(f())
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn last_error() -> String {
    // SAFETY: the shim returns a pointer to its thread-local, NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(ssl_autocast_last_error()) }.to_string_lossy().into_owned()
}

/// What this CPU lacks for bfloat16 autocast, `None` when it has it.
fn cpu_bf16_missing() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        x86_bf16_missing(|feature| match feature {
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::arch::is_x86_feature_detected!("avx512dq"),
            _ => false,
        })
    }
    #[cfg(target_arch = "aarch64")]
    {
        (!std::arch::is_aarch64_feature_detected!("bf16")).then(|| "it lacks the Arm bf16 extension".to_string())
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Some("bfloat16 kernels exist for x86-64 with AVX-512 and aarch64 with bf16 only".to_string())
    }
}

/// What an x86-64 CPU with the features `has` reports lacks for oneDNN's bfloat16 kernels.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn x86_bf16_missing(has: impl Fn(&str) -> bool) -> Option<String> {
    let missing: Vec<&str> = ["avx512bw", "avx512vl", "avx512dq"].into_iter().filter(|f| !has(f)).collect();
    (!missing.is_empty()).then(|| format!("it lacks {} (oneDNN's bfloat16 kernels need AVX-512 BW, VL and DQ)", missing.join(", ")))
}

/// The CPU's model name (`/proc/cpuinfo`), or its architecture.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_without_avx512_is_named_with_what_it_lacks() {
        assert_eq!(x86_bf16_missing(|_| true), None);
        let avx2_only = x86_bf16_missing(|_| false).unwrap();
        assert!(avx2_only.contains("avx512bw, avx512vl, avx512dq"), "{avx2_only}");
        let no_dq = x86_bf16_missing(|f| f != "avx512dq").unwrap();
        assert!(no_dq.starts_with("it lacks avx512dq "), "{no_dq}");
        let e = ModelError::Unsupported { setting: "training.precision = \"bfloat16\"".into(), device: "the CPU (Old Xeon)".into(), why: avx2_only };
        let text = e.to_string();
        assert!(text.starts_with("training.precision = \"bfloat16\": the CPU (Old Xeon) cannot run it: it lacks avx512bw"), "{text}");
    }

    #[test]
    fn float32_needs_nothing_and_cuda_takes_bfloat16() {
        assert!(Precision::Float32.check(Device::Cpu).is_ok());
        assert!(Precision::Bfloat16.check(Device::Cuda(0)).is_ok());
    }
}
