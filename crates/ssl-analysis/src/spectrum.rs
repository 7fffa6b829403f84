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

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use ndarray_linalg::{EigValsh, UPLO};
use rayon::prelude::*;

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
///
/// Calls LAPACK's two-stage solver `dsyev_2stage` (eigenvalues only): its band reduction runs
/// in BLAS-3, about 3× faster than the one-stage `dsyev` behind `ndarray-linalg`'s `eigvalsh`
/// on a 2048 × 2048 covariance, with the same accuracy (both end in `dsterf`).
pub fn eigvalsh_desc(m: &Array2<f64>) -> Result<Vec<f64>, AnalysisError> {
    let (n, n2) = m.dim();
    if n != n2 {
        return Err(AnalysisError::Shape(format!("eigenvalues need a square matrix, got {n} × {n2}")));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    // A symmetric matrix reads the same in row- and column-major order.
    let mut a: Vec<f64> = m.as_standard_layout().iter().copied().collect();
    let mut w = vec![0f64; n];
    let (jobz, uplo) = (b'N' as std::os::raw::c_char, b'L' as std::os::raw::c_char);
    let nn = n as i32;
    let mut info = 0i32;
    let mut query = 0f64;
    // SAFETY: every pointer is to a live buffer of the size LAPACK's documentation requires:
    // a (n × n, lda = n), w (n), work (lwork, first the size query).
    unsafe {
        lapack_sys::dsyev_2stage_(&jobz, &uplo, &nn, a.as_mut_ptr(), &nn, w.as_mut_ptr(), &mut query, &-1, &mut info);
    }
    if info != 0 {
        return Err(AnalysisError::Linalg(format!("dsyev_2stage workspace query failed (info {info})")));
    }
    let lwork = (query as usize).max(1);
    let mut work = vec![0f64; lwork];
    unsafe {
        lapack_sys::dsyev_2stage_(&jobz, &uplo, &nn, a.as_mut_ptr(), &nn, w.as_mut_ptr(), work.as_mut_ptr(), &(lwork as i32), &mut info);
    }
    if info != 0 {
        return Err(AnalysisError::Linalg(format!("dsyev_2stage failed (info {info}) on a {n} × {n} matrix")));
    }
    w.sort_by(|a, b| b.total_cmp(a));
    Ok(w)
}

/// Eigenvalues of a symmetric matrix, descending, by the one-stage solver (`ndarray-linalg`'s
/// `eigvalsh`, LAPACK `dsyev`): the reference [`eigvalsh_desc`] is tested against.
pub fn eigvalsh_desc_one_stage(m: &Array2<f64>) -> Result<Vec<f64>, AnalysisError> {
    let ev = m.eigvalsh(UPLO::Lower).map_err(|e| AnalysisError::Linalg(e.to_string()))?;
    let mut v = ev.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    Ok(v)
}

/// Mean-centred covariance (ddof 1), d × d, in f64.
pub fn covariance(x: ArrayView2<f32>) -> Array2<f64> {
    covariance_and_gram(x).0
}

/// `AᵀA` of a row-major f64 matrix by BLAS `dsyrk` (half the flops of a general product; the
/// upper triangle is computed and mirrored).
pub fn gram(a: &Array2<f64>) -> Array2<f64> {
    let (n, d) = a.dim();
    let a = a.as_standard_layout();
    let mut c = Array2::<f64>::zeros((d, d));
    if n > 0 && d > 0 {
        // SAFETY: `a` is a contiguous row-major n × d buffer (lda = d) and `c` a contiguous
        // d × d buffer (ldc = d); dsyrk reads only `a` and writes only the upper triangle of `c`.
        unsafe {
            cblas_sys::cblas_dsyrk(
                cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
                cblas_sys::CBLAS_UPLO::CblasUpper,
                cblas_sys::CBLAS_TRANSPOSE::CblasTrans,
                d as i32,
                n as i32,
                1.0,
                a.as_ptr(),
                d as i32,
                0.0,
                c.as_mut_ptr(),
                d as i32,
            );
        }
        for i in 0..d {
            for j in 0..i {
                c[[i, j]] = c[[j, i]];
            }
        }
    }
    c
}

/// The covariance (ddof 1) and the uncentred Gram matrix XᵀX from one centring pass and one
/// symmetric product: XᵀX = X_cᵀX_c + n·μμᵀ (adding the rank-one term back is numerically benign).
pub fn covariance_and_gram(x: ArrayView2<f32>) -> (Array2<f64>, Array2<f64>) {
    let mut buf = Array2::<f64>::zeros(x.dim());
    scatter_with_row_scale(x, &mut buf, |_| 1.0)
}

/// [`covariance_and_gram`] and [`normalized_covariance`] sharing one n × d f64 work buffer.
pub fn covariance_gram_and_normalized(x: ArrayView2<f32>) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let mut buf = Array2::<f64>::zeros(x.dim());
    let (cov, gram) = scatter_with_row_scale(x, &mut buf, |_| 1.0);
    let (ncov, _) = scatter_with_row_scale(x, &mut buf, inverse_norm);
    (cov, gram, ncov)
}

fn inverse_norm(row: ArrayView1<f32>) -> f64 {
    let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
    if norm > 0.0 {
        1.0 / norm
    } else {
        1.0
    }
}

/// Covariance (ddof 1) and XᵀX of the rows of `x` each multiplied by `scale(row)`, in f64: the
/// scaled, centred copy is built in one parallel pass, the product is one `dsyrk`.
fn scatter_with_row_scale(x: ArrayView2<f32>, xc: &mut Array2<f64>, scale: impl Fn(ArrayView1<f32>) -> f64 + Sync) -> (Array2<f64>, Array2<f64>) {
    let (n, d) = x.dim();
    xc.axis_iter_mut(Axis(0)).into_par_iter().zip(x.axis_iter(Axis(0)).into_par_iter()).for_each(|(mut out, row)| {
        let s = scale(row);
        out.iter_mut().zip(row.iter()).for_each(|(o, &v)| *o = f64::from(v) * s);
    });
    // Column means in f64 (rows summed in parallel chunks, then combined).
    let mean = xc.axis_chunks_iter(Axis(0), 4096).into_par_iter().map(|c| c.sum_axis(Axis(0))).reduce(|| Array1::<f64>::zeros(d), |a, b| a + b) / n as f64;
    xc.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut row| row -= &mean);
    let scatter = gram(xc);
    let mu = mean.view().insert_axis(Axis(1));
    let g = &scatter + &(mu.dot(&mu.t()) * n as f64);
    (scatter / (n as f64 - 1.0), g)
}

/// Covariance (ddof 1) of the rows of X after scaling each to unit L2 norm (zero rows stay zero),
/// without an intermediate normalised copy.
pub fn normalized_covariance(x: ArrayView2<f32>) -> Array2<f64> {
    let mut buf = Array2::<f64>::zeros(x.dim());
    scatter_with_row_scale(x, &mut buf, inverse_norm).0
}

/// Pearson correlation matrix of the columns of X (d × d); a constant column gets NaN entries.
pub fn correlation_matrix(x: ArrayView2<f32>) -> Array2<f64> {
    let cov = covariance(x);
    let sd: Vec<f64> = cov.diag().iter().map(|v| v.sqrt()).collect();
    Array2::from_shape_fn(cov.dim(), |(i, j)| {
        let s = sd[i] * sd[j];
        if s > 0.0 {
            cov[[i, j]] / s
        } else {
            f64::NAN
        }
    })
}

/// Covariance eigenvalues of X, descending (ddof 1).
pub fn covariance_eigenvalues(x: ArrayView2<f32>) -> Result<Vec<f64>, AnalysisError> {
    eigvalsh_desc(&covariance(x))
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
pub fn l2_normalize_rows(x: ArrayView2<f32>) -> Array2<f32> {
    let mut out = x.to_owned();
    out.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut row| {
        let norm = row.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| (f64::from(v) / norm) as f32);
        }
    });
    out
}

/// DirectCLR's spectrum: covariance eigenvalues of the L2-normalised rows, descending.
pub fn normalized_covariance_eigenvalues(x: ArrayView2<f32>) -> Result<Vec<f64>, AnalysisError> {
    eigvalsh_desc(&normalized_covariance(x))
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
    let gram = if x.nrows() >= x.ncols() { gram(&xf) } else { gram(&xf.t().as_standard_layout().into_owned()) };
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
