//! Momentum (EMA) encoders (BYOL, Grill et al. 2020; MoCo): a target network whose weights follow
//! the online network's, `ξ ← τ·ξ + (1 − τ)·θ`, with τ from [`crate::schedule::ema_tau_at`].
//!
//! The target lives in its own [`VarStore`] built with the same structure (same variable names);
//! it may hold a subset of the online variables (BYOL's target has no predictor). Only variables
//! that are trainable in the online network are averaged; BatchNorm running statistics of the target are its own
//! (its forward passes in training mode update them), as in solo-learn's `MomentumUpdater`.

use tch::nn::VarStore;

use crate::error::{ModelError, Result};

/// Copies every variable of `target` (parameters and buffers) from its namesake in `online` — the
/// initial state of a momentum encoder. Errors name the first variable that is missing or has
/// another shape.
pub fn copy_weights(target: &mut VarStore, online: &VarStore) -> Result<()> {
    let src = online.variables();
    let mut dst = target.variables();
    for (name, d) in dst.iter_mut() {
        let t = src.get(name).ok_or_else(|| ModelError::EmaMissingVariable { name: name.clone() })?;
        if d.size() != t.size() {
            return Err(ModelError::EmaShapeMismatch { name: name.clone(), online: t.size(), momentum: d.size() });
        }
        tch::no_grad(|| d.copy_(t));
    }
    Ok(())
}

/// `ξ ← τ·ξ + (1 − τ)·θ` for every variable ξ of `target` whose namesake θ in `online` is
/// trainable (buffers such as BN running statistics are left alone).
pub fn ema_update(target: &mut VarStore, online: &VarStore, tau: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&tau) {
        return Err(ModelError::Config { field: "EMA momentum τ", value: tau.to_string(), expected: "0 <= τ <= 1" });
    }
    let src = online.variables();
    let mut dst = target.variables();
    tch::no_grad(|| {
        for (name, d) in dst.iter_mut() {
            let t = src.get(name).ok_or_else(|| ModelError::EmaMissingVariable { name: name.clone() })?;
            if !t.requires_grad() {
                continue;
            }
            if d.size() != t.size() {
                return Err(ModelError::EmaShapeMismatch { name: name.clone(), online: t.size(), momentum: d.size() });
            }
            let _ = d.g_mul_scalar_(tau).g_add_(&(t * (1.0 - tau)));
        }
        Ok(())
    })
}
