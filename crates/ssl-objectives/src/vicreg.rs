//! VICReg (Bardes, Ponce & LeCun 2022), official form:
//! invariance = mean squared error between the two views' embeddings;
//! variance = ½·mean_j relu(1 − std_j(z₁)) + ½·mean_j relu(1 − std_j(z₂)) with
//! std = √(Var_unbiased + 1e-4); covariance = Σ_{i≠j} Cov(z₁)ᵢⱼ² / d + Σ_{i≠j} Cov(z₂)ᵢⱼ² / d with
//! Cov = centred zᵀz / (N − 1). `L = λ·inv + μ·var + ν·cov`; defaults (solo-learn CIFAR and
//! official) λ = 25, μ = 25, ν = 1. Parts: `invariance`, `variance`, `covariance` (unweighted).

use tch::Tensor;

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_two_views, LossOutput, Objective};
use crate::util::{at_least_f32, off_diagonal_sq_sum, scalar};

/// VICReg with its three weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Vicreg {
    /// Invariance weight λ.
    pub invariance: f64,
    /// Variance weight μ.
    pub variance: f64,
    /// Covariance weight ν.
    pub covariance: f64,
}

impl Default for Vicreg {
    fn default() -> Self {
        Vicreg { invariance: 25.0, variance: 25.0, covariance: 1.0 }
    }
}

fn std_term(z: &Tensor) -> Tensor {
    let std = (z.var_dim([0i64].as_slice(), true, false) + 1e-4).sqrt();
    std.g_mul_scalar(-1.0).g_add_scalar(1.0).relu().mean(z.kind())
}

fn cov_term(z: &Tensor) -> Tensor {
    let (n, d) = (z.size()[0], z.size()[1]);
    let zc = z - z.mean_dim([0i64].as_slice(), true, z.kind());
    let cov = zc.tr().matmul(&zc) / (n - 1) as f64;
    off_diagonal_sq_sum(&cov) / d as f64
}

impl Objective for Vicreg {
    fn name(&self) -> &'static str {
        "vicreg"
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        check_two_views(views, 2, "VICReg")?;
        check_positive("invariance", self.invariance, true)?;
        check_positive("variance", self.variance, true)?;
        check_positive("covariance", self.covariance, true)?;
        let v = at_least_f32(views);
        let (z1, z2) = (v.get(0), v.get(1));
        let inv = z1.mse_loss(&z2, tch::Reduction::Mean);
        let var = std_term(&z1) * 0.5 + std_term(&z2) * 0.5;
        let cov = cov_term(&z1) + cov_term(&z2);
        let loss = &inv * self.invariance + &var * self.variance + &cov * self.covariance;
        Ok(LossOutput { parts: vec![("invariance", scalar(&inv)), ("variance", scalar(&var)), ("covariance", scalar(&cov))], loss })
    }
}
