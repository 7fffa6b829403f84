//! The DirectCLR toy study's alignment matrix (Jing et al. 2022, seed 000): for consecutive
//! linear layers with weights W₁ (h × d_in) and W₂ (d_out × h), SVDs W₁ = U₁S₁V₁ᵀ and
//! W₂ = U₂S₂V₂ᵀ, the alignment matrix is `A = |V₂ᵀ U₁|` (h × h). Aligned layers give a
//! (permuted) identity. Off-diagonal mass = Σ_{i≠j} A²ᵢⱼ / Σ A²ᵢⱼ (0 = perfectly aligned).

use ndarray::{Array2, ArrayView2};
use ndarray_linalg::SVD;

use crate::error::AnalysisError;

/// `|V₂ᵀ U₁|` for `w1` (h × d_in) and `w2` (d_out × h).
pub fn alignment_matrix(w1: ArrayView2<f64>, w2: ArrayView2<f64>) -> Result<Array2<f64>, AnalysisError> {
    if w1.nrows() != w2.ncols() {
        return Err(AnalysisError::Shape(format!(
            "W1 is {} × {} and W2 is {} × {}: W2's columns must equal W1's rows",
            w1.nrows(),
            w1.ncols(),
            w2.nrows(),
            w2.ncols()
        )));
    }
    let err = |e: ndarray_linalg::error::LinalgError| AnalysisError::Linalg(e.to_string());
    let (u1, _, _) = w1.to_owned().svd(true, false).map_err(err)?;
    let (_, _, vt2) = w2.to_owned().svd(false, true).map_err(err)?;
    let (u1, vt2) = (u1.expect("asked for U"), vt2.expect("asked for Vᵀ"));
    Ok(vt2.dot(&u1).mapv(f64::abs))
}

/// Σ_{i≠j} A²ᵢⱼ / Σ A²ᵢⱼ.
pub fn off_diagonal_mass(a: &Array2<f64>) -> f64 {
    let total: f64 = a.iter().map(|v| v * v).sum();
    let diag: f64 = a.diag().iter().map(|v| v * v).sum();
    if total > 0.0 {
        (total - diag) / total
    } else {
        0.0
    }
}
