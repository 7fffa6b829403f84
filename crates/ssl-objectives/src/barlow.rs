//! Barlow Twins (Zbontar et al. 2021, seed 002).
//!
//! Each embedding dimension is standardised over the batch as `BatchNorm1d(affine=False)` does in
//! training mode (batch mean, biased variance, ε = 1e-5); `C = z̃₁ᵀ z̃₂ / N` (d × d);
//! `L = Σᵢ (1 − Cᵢᵢ)² + λ Σᵢ≠ⱼ Cᵢⱼ²`, λ = 0.0051 (official and solo-learn; lightly uses 5e-3).
//! Parts: `on_diagonal` = Σ(1 − Cᵢᵢ)², `off_diagonal` = Σᵢ≠ⱼ Cᵢⱼ² (before λ).

use tch::Tensor;

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_two_views, LossOutput, Objective};
use crate::util::{at_least_f32, off_diagonal_sq_sum, scalar};

/// The official λ.
pub const BARLOW_LAMBDA: f64 = 0.0051;

/// Barlow Twins with off-diagonal weight λ.
#[derive(Clone, Debug, PartialEq)]
pub struct BarlowTwins {
    lambda: f64,
}

impl Default for BarlowTwins {
    fn default() -> Self {
        BarlowTwins { lambda: BARLOW_LAMBDA }
    }
}

impl BarlowTwins {
    /// Barlow Twins with `λ >= 0`.
    pub fn new(lambda: f64) -> Result<Self, ObjectiveError> {
        Ok(BarlowTwins { lambda: check_positive("lambda", lambda, true)? })
    }
}

/// Batch standardisation of each column as BatchNorm1d(affine=False) in training mode.
pub fn batch_standardize(z: &Tensor) -> Tensor {
    z.batch_norm(None::<Tensor>, None::<Tensor>, None::<Tensor>, None::<Tensor>, true, 0.1, 1e-5, false)
}

impl Objective for BarlowTwins {
    fn name(&self) -> &'static str {
        "barlow"
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (b, _) = check_two_views(views, 2, "Barlow Twins")?;
        let v = at_least_f32(views);
        let (z1, z2) = (batch_standardize(&v.get(0)), batch_standardize(&v.get(1)));
        let c = z1.tr().matmul(&z2) / b as f64;
        let on = (-c.diagonal(0, 0, 1) + 1.0).square().sum(c.kind());
        let off = off_diagonal_sq_sum(&c);
        let loss = &on + &off * self.lambda;
        Ok(LossOutput { parts: vec![("on_diagonal", scalar(&on)), ("off_diagonal", scalar(&off))], loss })
    }
}
