//! Mixed precision: autocast on CUDA with dynamic loss scaling (PyTorch's `GradScaler` rule).
//!
//! The loss is multiplied by `scale` before `backward`; the gradients are divided by it before
//! the step; a step whose gradients hold an inf or NaN is skipped and the scale halved; after
//! `growth_interval` clean steps the scale doubles. On CPU training stays fp32 and the scaler is
//! disabled (scale 1, never skips).

use tch::Tensor;

use crate::optim::Optimizer;

/// Dynamic loss scaler.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradScaler {
    /// Current scale.
    pub scale: f64,
    /// Multiplier after `growth_interval` clean steps.
    pub growth_factor: f64,
    /// Multiplier after a step with non-finite gradients.
    pub backoff_factor: f64,
    /// Clean steps between growths.
    pub growth_interval: usize,
    /// Clean steps since the last growth or backoff.
    pub clean_steps: usize,
    /// Disabled: scale 1, every step taken.
    pub enabled: bool,
}

impl GradScaler {
    /// PyTorch's defaults (scale 2¹⁶, ×2 every 2000 clean steps, ×½ on overflow), or disabled.
    pub fn new(enabled: bool) -> Self {
        GradScaler { scale: if enabled { 65536.0 } else { 1.0 }, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 2000, clean_steps: 0, enabled }
    }

    /// The loss to call `backward` on.
    pub fn scale_loss(&self, loss: &Tensor) -> Tensor {
        if self.enabled {
            loss * self.scale
        } else {
            loss.shallow_clone()
        }
    }

    /// Unscales the gradients and steps `opt` with `lr` unless they overflowed; updates the
    /// scale. Returns whether the step was taken.
    pub fn step(&mut self, opt: &mut Optimizer, lr: f64) -> bool {
        if !self.enabled {
            opt.step(lr);
            return true;
        }
        let finite = opt.scale_grads(1.0 / self.scale);
        if finite {
            opt.step(lr);
            self.clean_steps += 1;
            if self.clean_steps >= self.growth_interval {
                self.scale *= self.growth_factor;
                self.clean_steps = 0;
            }
        } else {
            self.scale *= self.backoff_factor;
            self.clean_steps = 0;
        }
        finite
    }
}
