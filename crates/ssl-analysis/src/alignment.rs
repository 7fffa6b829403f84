//! The DirectCLR toy study's alignment matrix (Jing et al. 2022, seed 000): for consecutive
//! linear layers with weights W₁ (h × d_in) and W₂ (d_out × h), SVDs W₁ = U₁S₁V₁ᵀ and
//! W₂ = U₂S₂V₂ᵀ, the alignment matrix is `A = |V₂ᵀ U₁|` (h × h). Aligned layers give a
//! (permuted) identity. Off-diagonal mass = Σ_{i≠j} A²ᵢⱼ / Σ A²ᵢⱼ (0 = perfectly aligned).
//! [`eigenvector_alignment`] compares a weight's input directions with a covariance's axes.

use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{Eigh, SVD};

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

/// How a layer's input directions line up with a representation's principal axes — DirectCLR's
/// observation that the projector's weight aligns with the representation (Jing et al. 2022,
/// §5; seed 000): `|Vᵀ E|`, where the columns of V are the right singular vectors of `w`
/// (out × d, by descending singular value) and those of E the eigenvectors of `covariance`
/// (d × d, by descending eigenvalue). Aligned: a diagonal matrix (up to ties).
pub fn eigenvector_alignment(w: ArrayView2<f64>, covariance: &Array2<f64>) -> Result<Array2<f64>, AnalysisError> {
    let d = covariance.nrows();
    if covariance.ncols() != d || w.ncols() != d {
        return Err(AnalysisError::Shape(format!(
            "the weight is {} × {} and the covariance {} × {}: the weight's columns must equal the covariance's size",
            w.nrows(),
            w.ncols(),
            covariance.nrows(),
            covariance.ncols()
        )));
    }
    let err = |e: ndarray_linalg::error::LinalgError| AnalysisError::Linalg(e.to_string());
    let (_, _, vt) = w.to_owned().svd(false, true).map_err(err)?;
    let vt = vt.expect("asked for Vᵀ");
    let (values, vectors) = covariance.eigh(ndarray_linalg::UPLO::Lower).map_err(err)?;
    // eigh is ascending: reorder the eigenvectors by descending eigenvalue.
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let e = vectors.select(ndarray::Axis(1), &order);
    Ok(vt.dot(&e).mapv(f64::abs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use ndarray_linalg::QR;

    /// W = diag(s) Eᵀ on a covariance E diag(λ) Eᵀ: the alignment is the identity; with W's
    /// singular directions reversed, the anti-diagonal.
    #[test]
    fn a_weight_built_on_the_covariance_axes_is_aligned() {
        let m = Array2::from_shape_fn((4, 4), |(i, j)| ((i * 7 + j * 3) % 5) as f64 + if i == j { 3.0 } else { 0.0 });
        let (e, _) = m.qr().unwrap();
        let lambda = Array1::from(vec![4.0, 3.0, 2.0, 1.0]);
        let cov = e.dot(&Array2::from_diag(&lambda)).dot(&e.t());
        let w = Array2::from_diag(&Array1::from(vec![8.0, 4.0, 2.0, 1.0])).dot(&e.t());
        let a = eigenvector_alignment(w.view(), &cov).unwrap();
        for ((i, j), v) in a.indexed_iter() {
            assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9, "A[{i},{j}] = {v}");
        }
        let reversed = Array2::from_diag(&Array1::from(vec![1.0, 2.0, 4.0, 8.0])).dot(&e.t());
        let a = eigenvector_alignment(reversed.view(), &cov).unwrap();
        for ((i, j), v) in a.indexed_iter() {
            assert!((v - if i + j == 3 { 1.0 } else { 0.0 }).abs() < 1e-9, "A[{i},{j}] = {v}");
        }
        assert!(eigenvector_alignment(w.slice(ndarray::s![.., ..3]), &cov).is_err());
    }
}
