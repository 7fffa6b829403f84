//! Learning-rate and momentum schedules (SimCLR / solo-learn conventions).
//!
//! * `lr = base_lr · B / 256` ([`scaled_lr`], Goyal et al. 2017, as SimCLR and solo-learn);
//! * linear warm-up from `peak/warmup` to `peak` over `warmup` steps, then cosine decay to 0
//!   ([`lr_at`]);
//! * BYOL's target momentum `τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2`, rising from `τ_base` to 1
//!   ([`ema_tau_at`]).

/// `base_lr · batch / 256`.
pub fn scaled_lr(base_lr: f64, batch_size: usize) -> f64 {
    base_lr * batch_size as f64 / 256.0
}

/// Learning rate at 0-based `step` of `total`: linear warm-up over `warmup` steps (step 0 gets
/// `peak/warmup`), then cosine decay from `peak` to 0 at `total`.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total - warmup).max(1) as f64;
    peak * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

/// BYOL's EMA momentum at `step` of `total`: from `base` (e.g. 0.996) to `last` (1.0) on a cosine.
/// With `base == last` it is constant (e.g. a fixed 0.99).
pub fn ema_tau_at(step: usize, total: usize, base: f64, last: f64) -> f64 {
    let progress = (step as f64 / total.max(1) as f64).min(1.0);
    last - (last - base) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
}

use crate::error::ModelError;

/// What the learning rate does after warm-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Cosine decay from the peak to 0 at the last step (SimCLR, BYOL, solo-learn).
    #[default]
    Cosine,
    /// The peak held to the end (MMCR's CIFAR protocol: Adam at a constant rate).
    Constant,
}

/// A run's learning-rate schedule: base rate scaled by `B/256`, linear warm-up, then [`Decay`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrSchedule {
    /// Base learning rate; the peak is `lr · batch_size / 256` ([`scaled_lr`]).
    pub lr: f64,
    /// Linear warm-up length in epochs (may be fractional).
    #[serde(default)]
    pub warmup_epochs: f64,
    /// After warm-up.
    #[serde(default)]
    pub decay: Decay,
}

impl LrSchedule {
    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ModelError::Config { field: "schedule.lr", value: self.lr.to_string(), expected: "a finite value > 0" });
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs.is_finite()) {
            return Err(ModelError::Config { field: "schedule.warmup_epochs", value: self.warmup_epochs.to_string(), expected: "a finite value >= 0" });
        }
        Ok(())
    }

    /// Warm-up length in steps for `steps_per_epoch`.
    pub fn warmup_steps(&self, steps_per_epoch: usize) -> usize {
        (self.warmup_epochs * steps_per_epoch as f64).round() as usize
    }

    /// The learning rate at 0-based `step` of `total`, for batches of `batch_size`.
    pub fn at(&self, step: usize, total: usize, warmup: usize, batch_size: usize) -> f64 {
        let peak = scaled_lr(self.lr, batch_size);
        match self.decay {
            Decay::Cosine => lr_at(step, total, warmup, peak),
            Decay::Constant if step < warmup => lr_at(step, total, warmup, peak),
            Decay::Constant => peak,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_decay_holds_the_peak_after_warm_up() {
        let s = LrSchedule { lr: 0.512, warmup_epochs: 1.0, decay: Decay::Constant };
        // Peak 0.512 · 128 / 256 = 0.256; warm-up over 4 steps: 0.064, 0.128, 0.192, 0.256.
        let lrs: Vec<f64> = (0..8).map(|k| s.at(k, 8, 4, 128)).collect();
        for (got, want) in lrs.iter().zip([0.064, 0.128, 0.192, 0.256, 0.256, 0.256, 0.256, 0.256]) {
            assert!((got - want).abs() < 1e-12, "{lrs:?}");
        }
        let c = LrSchedule { decay: Decay::Cosine, ..s };
        assert!((c.at(6, 8, 4, 128) - lr_at(6, 8, 4, 0.256)).abs() < 1e-15);
        assert!(LrSchedule { lr: f64::INFINITY, ..s }.validate().unwrap_err().to_string().contains("schedule.lr"));
        assert!(LrSchedule { warmup_epochs: -1.0, ..s }.validate().unwrap_err().to_string().contains("warmup_epochs"));
    }
}
