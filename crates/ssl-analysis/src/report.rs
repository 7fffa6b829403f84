//! The spectral part of `report.json`, computed in one call. Keys (shared by the runner's run
//! folders and `cargo xtask analyze`):
//!
//! | key | meaning |
//! |---|---|
//! | `n`, `dim` | rows (samples) and columns (features) of X |
//! | `covariance_eigenvalues` | eigenvalues of the mean-centred covariance (ddof 1), descending |
//! | `normalized_covariance_eigenvalues` | the same after L2-normalising each row (DirectCLR) |
//! | `participation_ratio` | (Σλ)² / Σλ² of `covariance_eigenvalues` |
//! | `alpha`, `alpha_fit_ranks`, `alpha_r2` | power-law exponent of `covariance_eigenvalues` by Stringer's weighted fit, the 1-based rank window actually used, and the fit's weighted R² |
//! | `rankme` | RankMe of X as is |
//!
//! `cargo xtask analyze` adds:
//!
//! | key | meaning |
//! |---|---|
//! | `collapsed_dims`, `collapse_threshold` | number of covariance eigenvalues ≤ threshold × the largest, and that threshold |
//! | `effective_rank` | exp of the entropy of the normalised singular values (Roy & Vetterli), no 1e-7 term |
//! | `source` | the embeddings file |
//! | `knn_accuracy`, `knn` | weighted cosine kNN accuracy of the embeddings against the `--train-*` bank, and its settings (k, T, bank and query sizes) |
//! | `linear_probe_accuracy`, `linear_probe` | ridge classifier accuracy (bank → embeddings, or a held-out fifth of the embeddings when there is no bank) and its settings |
//! | `manifold` | with `--manifold-ids`: `count`, mean `radius` R_M, `dimension` D_M, `radius_sqrt_dimension`, `centroid_norm`, `centroid_similarity`, `centroid_abs_similarity` ([`crate::geometry`]) |
//! | `capacity` | with `--manifold-ids` (else the classes of `--labels`): `manifolds` P, `points`, `ambient_dim`, `critical_dim` N_c, `alpha` = P/N_c (or `alpha_below` = P/d when even d dimensions separate fewer than half), `curve` [[N, fraction]…], `config`, `manifolds_from` ([`crate::capacity`]) |

use ndarray::ArrayView2;

use crate::error::AnalysisError;
use crate::spectrum::{
    check_embeddings, covariance_gram_and_normalized, eigvalsh_desc, participation_ratio, power_law_fit,
    rankme_from_singular_values, singular_values, PowerLawFit,
};

/// Options of the spectral report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectrumOptions {
    /// The α fit window, 1-based ranks `(first, last)`; default (11, 100).
    pub alpha_window: (usize, usize),
}

impl Default for SpectrumOptions {
    fn default() -> Self {
        SpectrumOptions { alpha_window: (11, 100) }
    }
}

/// The spectral diagnosis of an embedding matrix.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SpectrumReport {
    /// Rows.
    pub n: usize,
    /// Columns.
    pub dim: usize,
    /// Covariance eigenvalues, descending.
    pub covariance_eigenvalues: Vec<f64>,
    /// DirectCLR's L2-normalised covariance eigenvalues, descending.
    pub normalized_covariance_eigenvalues: Vec<f64>,
    /// Participation ratio.
    pub participation_ratio: f64,
    /// Power-law exponent (NaN when the window holds fewer than 2 positive eigenvalues).
    pub alpha: f64,
    /// 1-based rank window of the α fit.
    pub alpha_fit_ranks: [usize; 2],
    /// Weighted R² of the α fit.
    pub alpha_r2: f64,
    /// RankMe.
    pub rankme: f64,
    /// The fit itself, for plotting.
    #[serde(skip)]
    pub fit: Option<PowerLawFit>,
    /// Singular values of X as is, descending (for RankMe and the effective rank).
    #[serde(skip)]
    pub singular_values: Vec<f64>,
}

impl SpectrumReport {
    /// Computes every spectral key of `x`.
    pub fn compute(x: ArrayView2<f32>, opts: SpectrumOptions) -> Result<Self, AnalysisError> {
        check_embeddings(x, "embeddings")?;
        // One centring pass and one symmetric product give both the covariance and XᵀX (for RankMe);
        // the normalised covariance reuses the same work buffer.
        let (cov, gram, ncov) = covariance_gram_and_normalized(x);
        let eig = eigvalsh_desc(&cov)?;
        let sigma: Vec<f64> = if x.nrows() >= x.ncols() {
            eigvalsh_desc(&gram)?.into_iter().map(|v| v.max(0.0).sqrt()).collect()
        } else {
            singular_values(x)?
        };
        let norm = eigvalsh_desc(&ncov)?;
        let fit = power_law_fit(&eig, opts.alpha_window).ok();
        Ok(SpectrumReport {
            n: x.nrows(),
            dim: x.ncols(),
            participation_ratio: participation_ratio(&eig),
            alpha: fit.map_or(f64::NAN, |f| f.alpha),
            alpha_fit_ranks: fit.map_or([opts.alpha_window.0, opts.alpha_window.1], |f| [f.first, f.last]),
            alpha_r2: fit.map_or(f64::NAN, |f| f.r2),
            rankme: rankme_from_singular_values(&sigma),
            covariance_eigenvalues: eig,
            normalized_covariance_eigenvalues: norm,
            fit,
            singular_values: sigma,
        })
    }
}
