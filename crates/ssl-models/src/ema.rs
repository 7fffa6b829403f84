//! Momentum (EMA) encoders (BYOL, Grill et al. 2020; MoCo): a target network whose weights follow
//! the online network's, `ξ ← τ·ξ + (1 − τ)·θ`, with τ from [`crate::schedule::ema_tau_at`].
//!
//! The target lives in its own [`VarStore`] built with the same structure (same variable names).
//! Only trainable parameters are averaged; BatchNorm running statistics of the target are its own
//! (its forward passes in training mode update them), as in solo-learn's `MomentumUpdater`.

use tch::nn::VarStore;

/// Copies every variable of `online` (parameters and buffers) into `target` — the initial state
/// of a momentum encoder. Errors name the first variable that is missing or has another shape.
pub fn copy_weights(target: &mut VarStore, online: &VarStore) -> Result<(), String> {
    let src = online.variables();
    let mut dst = target.variables();
    for (name, t) in src.iter() {
        let d = dst.get_mut(name).ok_or_else(|| format!("momentum encoder has no variable `{name}`"))?;
        if d.size() != t.size() {
            return Err(format!("variable `{name}`: online {:?}, momentum {:?}", t.size(), d.size()));
        }
        tch::no_grad(|| d.copy_(t));
    }
    Ok(())
}

/// `ξ ← τ·ξ + (1 − τ)·θ` for every trainable parameter θ of `online` and its namesake ξ in
/// `target`.
pub fn ema_update(target: &mut VarStore, online: &VarStore, tau: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&tau) {
        return Err(format!("EMA momentum τ = {tau}: expected 0 <= τ <= 1"));
    }
    let src = online.variables();
    let mut dst = target.variables();
    tch::no_grad(|| {
        for (name, t) in src.iter().filter(|(_, t)| t.requires_grad()) {
            let d = dst.get_mut(name).ok_or_else(|| format!("momentum encoder has no variable `{name}`"))?;
            if d.size() != t.size() {
                return Err(format!("variable `{name}`: online {:?}, momentum {:?}", t.size(), d.size()));
            }
            let _ = d.g_mul_scalar_(tau).g_add_(&(t * (1.0 - tau)));
        }
        Ok(())
    })
}

/// Freezes every variable of `vs` (a momentum encoder is never trained by gradients).
pub fn freeze(vs: &mut VarStore) {
    vs.freeze();
}
