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
//! | `mft` | with `--manifold-ids` (else the classes of `--labels`): mean-field-theory `capacity` 1/mean(1/α_M), mean `radius` R_M and `dimension` D_M, `center_correlation`, `low_rank_dims` K and `residual_correlation` after removing them, `per_manifold` [{id, size, capacity, radius, dimension}], `config` {kappa, n_t, n_reps, seed}, `manifolds_from` ([`crate::mft`]) |
//! | `factors` | with `--factors` (rows: object class, background class, x, y): `object_accuracy`, `background_accuracy` (ridge classifiers), `position_r2`, `position_error_px` (ridge regression), their `chance` levels, `train`/`test` rows, `lambda`, `split` ([`crate::factors`]) |
//! | `capacity` | with `--manifold-ids` (else the classes of `--labels`): `manifolds` P, `points`, `ambient_dim`, `critical_dim` N_c, `alpha` = P/N_c (or `alpha_below` = P/d when even d dimensions separate fewer than half), `curve` [[N, fraction]…], `config`, `manifolds_from` ([`crate::capacity`]) |

use ndarray::ArrayView2;

use crate::capacity::Capacity;
use crate::error::AnalysisError;
use crate::factors::FactorProbes;
use crate::geometry::ManifoldGeometry;
use crate::knn::{knn_accuracy, KnnConfig};
use crate::mft::Mft;
use crate::spectrum::{
    check_embeddings, covariance_gram_and_normalized, eigvalsh_desc, participation_ratio, power_law_fit, rankme_from_singular_values, singular_values,
    PowerLawFit,
};
use crate::spectrum::{collapsed_dims, effective_rank_from_singular_values};

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
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    #[serde(deserialize_with = "nullable_f64")]
    pub participation_ratio: f64,
    /// Power-law exponent (NaN when the window holds fewer than 2 positive eigenvalues).
    #[serde(deserialize_with = "nullable_f64")]
    pub alpha: f64,
    /// 1-based rank window of the α fit.
    pub alpha_fit_ranks: [usize; 2],
    /// Weighted R² of the α fit.
    #[serde(deserialize_with = "nullable_f64")]
    pub alpha_r2: f64,
    /// RankMe.
    #[serde(deserialize_with = "nullable_f64")]
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
        let sigma: Vec<f64> = if x.nrows() >= x.ncols() { eigvalsh_desc(&gram)?.into_iter().map(|v| v.max(0.0).sqrt()).collect() } else { singular_values(x)? };
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

/// Eigenvalues at or below this fraction of the largest count as collapsed dimensions (the
/// default of `cargo xtask analyze`, the runner's report and its monitor).
pub const COLLAPSE_THRESHOLD: f64 = 1e-5;

/// JSON has no NaN: `serde_json` writes it as `null`; this reads `null` back as NaN.
pub fn nullable_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The kNN probe's settings as reported beside its accuracy (the `knn` object of `report.json`
/// and `eval.json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KnnSummary {
    /// Neighbours.
    pub k: usize,
    /// Vote temperature.
    pub temperature: f64,
    /// Bank size.
    pub bank: usize,
    /// Number of queries.
    pub queries: usize,
    /// Always `cosine`.
    pub similarity: String,
    /// Always `exp(s/T)`.
    pub weights: String,
}

impl KnnSummary {
    /// The summary of a probe with `cfg` over `bank` items and `queries` queries.
    pub fn new(cfg: KnnConfig, bank: usize, queries: usize) -> Self {
        KnnSummary { k: cfg.k, temperature: cfg.temperature, bank, queries, similarity: "cosine".into(), weights: "exp(s/T)".into() }
    }
}

/// The linear probe's settings as reported beside its accuracy.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearProbeSummary {
    /// What model.
    pub model: String,
    /// Ridge penalty.
    pub lambda: f64,
    /// Training rows.
    pub train: usize,
    /// Test rows.
    pub test: usize,
    /// Where they came from.
    pub split: String,
}

/// Options of [`EmbeddingReport::compute`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportOptions {
    /// The spectrum's options.
    pub spectrum: SpectrumOptions,
    /// Relative threshold of collapsed dimensions.
    pub collapse_threshold: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { spectrum: SpectrumOptions::default(), collapse_threshold: COLLAPSE_THRESHOLD }
    }
}

/// `report.json` of an embedding matrix: the one report that `cargo xtask analyze`, the runner's
/// run folders and `compare` write and read. The spectral keys ([`SpectrumReport`]) sit at the
/// top level beside the keys of the module table; probes are present when they were run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbeddingReport {
    /// The spectral keys.
    #[serde(flatten)]
    pub spectrum: SpectrumReport,
    /// Covariance eigenvalues at or below `collapse_threshold` × the largest.
    pub collapsed_dims: usize,
    /// The relative threshold.
    pub collapse_threshold: f64,
    /// Effective rank (Roy & Vetterli).
    #[serde(deserialize_with = "nullable_f64")]
    pub effective_rank: f64,
    /// The embeddings file, when read from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Weighted cosine kNN accuracy against a bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn_accuracy: Option<f64>,
    /// Its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn: Option<KnnSummary>,
    /// Ridge-classifier accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_probe_accuracy: Option<f64>,
    /// Its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_probe: Option<LinearProbeSummary>,
    /// Manifold geometry (with manifold ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifold: Option<ManifoldGeometry>,
    /// Mean-field-theory capacity, and whether its manifolds were `manifold ids` or `classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mft: Option<ReportedMft>,
    /// Simulated capacity, and whether its manifolds were `manifold ids` or `classes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<ReportedCapacity>,
    /// Factor probes (with a factors table: object / background class, position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factors: Option<FactorProbes>,
}

/// The `capacity` key: the simulation's result and where its manifolds came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportedCapacity {
    /// The result.
    #[serde(flatten)]
    pub capacity: Capacity,
    /// `manifold ids` or `classes`.
    pub manifolds_from: String,
}

/// The `mft` key: the analysis and where its manifolds came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportedMft {
    /// The result.
    #[serde(flatten)]
    pub mft: Mft,
    /// `manifold ids` or `classes`.
    pub manifolds_from: String,
}

impl EmbeddingReport {
    /// The spectral keys, collapsed dimensions and effective rank of `x`; no probe yet.
    pub fn compute(x: ArrayView2<f32>, opts: ReportOptions) -> Result<Self, AnalysisError> {
        let spectrum = SpectrumReport::compute(x, opts.spectrum)?;
        Ok(EmbeddingReport {
            collapsed_dims: collapsed_dims(&spectrum.covariance_eigenvalues, opts.collapse_threshold),
            collapse_threshold: opts.collapse_threshold,
            effective_rank: effective_rank_from_singular_values(&spectrum.singular_values),
            spectrum,
            source: None,
            knn_accuracy: None,
            knn: None,
            linear_probe_accuracy: None,
            linear_probe: None,
            manifold: None,
            mft: None,
            capacity: None,
            factors: None,
        })
    }

    /// Adds the weighted cosine kNN probe of `x` (with `labels`) against `bank`.
    pub fn with_knn(mut self, bank: ArrayView2<f32>, bank_labels: &[u32], x: ArrayView2<f32>, labels: &[u32], cfg: KnnConfig) -> Result<Self, AnalysisError> {
        self.knn_accuracy = Some(knn_accuracy(bank, bank_labels, x, labels, cfg)?);
        self.knn = Some(KnnSummary::new(cfg, bank.nrows(), x.nrows()));
        Ok(self)
    }
}
