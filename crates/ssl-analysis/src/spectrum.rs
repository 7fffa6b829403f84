//! Spectral diagnostics of an embedding matrix X (n × d).
//!
//! Definitions (pinned in `docs/methods.md`):
//! * covariance eigenvalues λ: of the mean-centred covariance with ddof 1, descending;
//! * normalised covariance eigenvalues (DirectCLR `spectrum.py`, seed 000): rows L2-normalised
//!   first, then the same;
//! * participation ratio `(Σλ)² / Σλ²`;
//! * power-law α: λ_k ∝ k^−α fitted by Stringer et al. (2019)'s weighted least squares of
//!   log λ_k on −log k with weights 1/k over a rank window (default ranks 11–100, 1-based);
//!   R² is the weighted coefficient of determination of that fit;
//! * RankMe (Garrido et al. 2023): singular values σ of X as is (not centred), p_k = σ_k/Σσ + 1e-7,
//!   `exp(−Σ p_k log p_k)`.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use ndarray_linalg::{EigValsh, UPLO};

use crate::error::AnalysisError;

/// Checks that X has at least 2 rows, 1 column, and only finite values.
pub fn check_embeddings(x: ArrayView2<f32>, what: &str) -> Result<(), AnalysisError> {
    check_matrix(x, what, 2)
}

/// Checks that X has at least `min_rows` rows, 1 column, and only finite values.
pub fn check_matrix(x: ArrayView2<f32>, what: &str, min_rows: usize) -> Result<(), AnalysisError> {
    let (n, d) = x.dim();
    if n < min_rows || d < 1 {
        return Err(AnalysisError::Shape(format!("{what}: need at least {min_rows} rows and 1 column, got {n} × {d}")));
    }
    if let Some((i, _)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(AnalysisError::NonFinite { what: what.to_string(), row: i / d, col: i % d });
    }
    Ok(())
}

/// Eigenvalues of a symmetric matrix, descending.
pub fn eigvalsh_desc(m: &Array2<f64>) -> Result<Vec<f64>, AnalysisError> {
    let ev = m.eigvalsh(UPLO::Lower).map_err(|e| AnalysisError::Linalg(e.to_string()))?;
    let mut v = ev.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    Ok(v)
}

/// Mean-centred covariance (ddof 1), d × d, in f64.
pub fn covariance(x: ArrayView2<f32>) -> Array2<f64> {
    covariance_and_gram(x).0
}

/// The covariance (ddof 1) and the uncentred Gram matrix XᵀX from one centring pass and one
/// matrix product: XᵀX = X_cᵀX_c + n·μμᵀ (adding the rank-one term back is numerically benign).
pub fn covariance_and_gram(x: ArrayView2<f32>) -> (Array2<f64>, Array2<f64>) {
    let n = x.nrows() as f64;
    let mut xc = x.mapv(f64::from);
    let mean = xc.mean_axis(Axis(0)).expect("n >= 1");
    xc -= &mean;
    let scatter = xc.t().dot(&xc);
    drop(xc);
    let mu = mean.view().insert_axis(Axis(1));
    let gram = &scatter + &(mu.dot(&mu.t()) * n);
    (scatter / (n - 1.0), gram)
}

/// Pearson correlation matrix of the columns of X (d × d); a constant column gets NaN entries.
pub fn correlation_matrix(x: ArrayView2<f32>) -> Array2<f64> {
    let cov = covariance(x);
    let sd: Vec<f64> = cov.diag().iter().map(|v| v.sqrt()).collect();
    Array2::from_shape_fn(cov.dim(), |(i, j)| {
        let s = sd[i] * sd[j];
        if s > 0.0 { cov[[i, j]] / s } else { f64::NAN }
    })
}

/// Covariance eigenvalues of X, descending (ddof 1).
pub fn covariance_eigenvalues(x: ArrayView2<f32>) -> Result<Vec<f64>, AnalysisError> {
    eigvalsh_desc(&covariance(x))
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
pub fn l2_normalize_rows(x: ArrayView2<f32>) -> Array2<f32> {
    let mut out = x.to_owned();
    for mut row in out.rows_mut() {
        let norm = row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| (f64::from(v) / norm) as f32);
        }
    }
    out
}

/// DirectCLR's spectrum: covariance eigenvalues of the L2-normalised rows, descending.
pub fn normalized_covariance_eigenvalues(x: ArrayView2<f32>) -> Result<Vec<f64>, AnalysisError> {
    covariance_eigenvalues(l2_normalize_rows(x).view())
}

/// Participation ratio `(Σλ)² / Σλ²` (0 for an all-zero spectrum).
pub fn participation_ratio(eigenvalues: &[f64]) -> f64 {
    let s: f64 = eigenvalues.iter().sum();
    let s2: f64 = eigenvalues.iter().map(|v| v * v).sum();
    if s2 > 0.0 {
        s * s / s2
    } else {
        0.0
    }
}

/// A power-law fit λ_k ≈ A·k^−α over ranks `first..=last` (1-based).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PowerLawFit {
    /// The exponent α.
    pub alpha: f64,
    /// log A.
    pub log_scale: f64,
    /// Weighted R² of the log–log fit.
    pub r2: f64,
    /// First rank used (1-based).
    pub first: usize,
    /// Last rank used (1-based).
    pub last: usize,
}

/// Fits λ_k ∝ k^−α by Stringer et al.'s weighted least squares (weights 1/k) over ranks
/// `window.0..=window.1` (1-based), clipped to the strictly positive eigenvalues present.
pub fn power_law_fit(eigenvalues: &[f64], window: (usize, usize)) -> Result<PowerLawFit, AnalysisError> {
    let (first, last) = window;
    if first < 1 || last < first {
        return Err(AnalysisError::Param { name: "alpha window", problem: format!("({first}, {last}): need 1 <= first <= last") });
    }
    let positive = eigenvalues.iter().take_while(|&&v| v > 0.0).count();
    let last = last.min(positive);
    if last < first + 1 {
        return Err(AnalysisError::Param {
            name: "alpha window",
            problem: format!("ranks {first}..={} hold fewer than 2 positive eigenvalues ({positive} positive of {})", window.1, eigenvalues.len()),
        });
    }
    // Weighted normal equations for y = a·x + c with x = −ln k, w = 1/k.
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in first..=last {
        let (x, y, w) = (-(k as f64).ln(), eigenvalues[k - 1].ln(), 1.0 / k as f64);
        sw += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    let det = sw * sxx - sx * sx;
    let alpha = (sw * sxy - sx * sy) / det;
    let log_scale = (sy - alpha * sx) / sw;
    let ybar = sy / sw;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for k in first..=last {
        let (x, y, w) = (-(k as f64).ln(), eigenvalues[k - 1].ln(), 1.0 / k as f64);
        ss_res += w * (y - (alpha * x + log_scale)).powi(2);
        ss_tot += w * (y - ybar).powi(2);
    }
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 1.0 };
    Ok(PowerLawFit { alpha, log_scale, r2, first, last })
}

/// Singular values of X (as is, not centred), descending, via the eigenvalues of the smaller Gram matrix.
pub fn singular_values(x: ArrayView2<f32>) -> Result<Vec<f64>, AnalysisError> {
    let xf = x.mapv(f64::from);
    let gram = if x.nrows() >= x.ncols() { xf.t().dot(&xf) } else { xf.dot(&xf.t()) };
    Ok(eigvalsh_desc(&gram)?.into_iter().map(|v| v.max(0.0).sqrt()).collect())
}

/// RankMe from singular values: `exp(−Σ p log p)`, `p = σ/Σσ + 1e-7`.
pub fn rankme_from_singular_values(sigma: &[f64]) -> f64 {
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = sigma.iter().map(|s| s / total + 1e-7).map(|p| -p * p.ln()).sum();
    entropy.exp()
}

/// RankMe of X.
pub fn rankme(x: ArrayView2<f32>) -> Result<f64, AnalysisError> {
    Ok(rankme_from_singular_values(&singular_values(x)?))
}

/// Number of eigenvalues at or below `threshold` × the largest (descending input): the
/// dimensional-collapse count of DirectCLR (seed 000), with the threshold reported beside it.
pub fn collapsed_dims(eigenvalues: &[f64], threshold: f64) -> usize {
    let top = eigenvalues.first().copied().unwrap_or(0.0).max(0.0);
    eigenvalues.iter().filter(|&&v| v <= threshold * top).count()
}

/// Effective rank (Roy & Vetterli 2007): `exp(−Σ p_k ln p_k)` with `p_k = σ_k / Σσ` over the
/// non-zero singular values (RankMe is the same with `p_k + 1e-7`).
pub fn effective_rank_from_singular_values(sigma: &[f64]) -> f64 {
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = sigma.iter().filter(|&&s| s > 0.0).map(|s| s / total).map(|p| -p * p.ln()).sum();
    entropy.exp()
}

/// Eigenvalues as an ndarray vector (for callers that prefer arrays).
pub fn to_array(v: &[f64]) -> Array1<f64> {
    Array1::from_vec(v.to_vec())
}
