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
