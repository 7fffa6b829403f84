//! Manifold geometry (Chung et al.; MMCR, Yerxa et al. 2023, seed 003).
//!
//! A manifold is the set of points sharing an id: one image's k views, or one class. Each is
//! centred on its centroid c and divided by ‖c‖; with μ_i the eigenvalues of the resulting
//! covariance (population form, 1/m) and λ_i = √μ_i the ellipsoid's axis lengths, the seed pins
//! `R_M = √(Σ λ_i²)` and `D_M = (Σ λ_i)² / Σ λ_i²`; capacity falls as R_M·√D_M grows. Centroid
//! similarity: mean cosine between the centroids of distinct manifolds (and of its absolute value).

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};

use crate::error::AnalysisError;
use crate::spectrum::{check_embeddings, eigvalsh_desc};

/// Geometry of one manifold.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifold {
    /// Its id.
    pub id: u32,
    /// Number of points.
    pub size: usize,
    /// R_M.
    pub radius: f64,
    /// D_M.
    pub dimension: f64,
    /// ‖c‖.
    pub centroid_norm: f64,
}

/// Summary over all manifolds (the `manifold` key of report.json).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifoldGeometry {
    /// Number of manifolds.
    pub count: usize,
    /// Mean R_M.
    pub radius: f64,
    /// Mean D_M.
    pub dimension: f64,
    /// Mean R_M·√D_M.
    pub radius_sqrt_dimension: f64,
    /// Mean ‖c‖.
    pub centroid_norm: f64,
    /// Mean cosine similarity between distinct centroids.
    pub centroid_similarity: f64,
    /// Mean |cosine| between distinct centroids.
    pub centroid_abs_similarity: f64,
    /// Per manifold (not written to report.json, which keeps the summary).
    #[serde(default, skip_serializing)]
    pub manifolds: Vec<Manifold>,
    /// Cosine similarity of every pair of distinct centroids (for its histogram; not written to
    /// report.json).
    #[serde(default, skip_serializing)]
    pub centroid_cosines: Vec<f64>,
}

/// The rows of `x` (checked: finite, ≥ 2 rows) grouped by `ids` (one per row), ascending id;
/// every group must have at least `min_points` rows. Errors name what is wrong.
pub fn groups_of(x: ArrayView2<f32>, ids: &[u32], min_points: usize) -> Result<BTreeMap<u32, Vec<usize>>, AnalysisError> {
    check_embeddings(x, "embeddings")?;
    if ids.len() != x.nrows() {
        return Err(AnalysisError::Shape(format!("{} manifold ids for {} embeddings", ids.len(), x.nrows())));
    }
    let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &id) in ids.iter().enumerate() {
        groups.entry(id).or_default().push(i);
    }
    if let Some((id, rows)) = groups.iter().find(|(_, r)| r.len() < min_points) {
        return Err(AnalysisError::Shape(format!("manifold {id} has {} point; each needs at least {min_points}", rows.len())));
    }
    Ok(groups)
}

/// Geometry of the manifolds of `x` (n × d) given one id per row; every manifold needs ≥ 2 points.
pub fn manifold_geometry(x: ArrayView2<f32>, ids: &[u32]) -> Result<ManifoldGeometry, AnalysisError> {
    let groups = groups_of(x, ids, 2)?;
    let xf = x.mapv(f64::from);
    let mut manifolds = Vec::with_capacity(groups.len());
    let mut centroids = Array2::<f64>::zeros((groups.len(), x.ncols()));
    for (g, (&id, rows)) in groups.iter().enumerate() {
        let pts = xf.select(Axis(0), rows);
        let c = pts.mean_axis(Axis(0)).expect("non-empty");
        let norm = c.dot(&c).sqrt();
        centroids.row_mut(g).assign(&c);
        let scale = if norm > 0.0 { norm } else { 1.0 };
        let centred = (&pts - &c) / scale;
        let m = rows.len() as f64;
        // Eigenvalues of the covariance through the smaller Gram matrix (same non-zero spectrum).
        let gram = if centred.nrows() <= centred.ncols() { centred.dot(&centred.t()) } else { centred.t().dot(&centred) } / m;
        let mu = eigvalsh_desc(&gram)?;
        let lam: Vec<f64> = mu.iter().map(|v| v.max(0.0).sqrt()).collect();
        let s1: f64 = lam.iter().sum();
        let s2: f64 = lam.iter().map(|l| l * l).sum();
        manifolds.push(Manifold { id, size: rows.len(), radius: s2.sqrt(), dimension: if s2 > 0.0 { s1 * s1 / s2 } else { 0.0 }, centroid_norm: norm });
    }
    let p = manifolds.len();
    let cosines = pairwise_cosines(&centroids);
    let pairs = cosines.len();
    let cos_sum: f64 = cosines.iter().sum();
    let abs_sum: f64 = cosines.iter().map(|c| c.abs()).sum();
    let mean = |f: &dyn Fn(&Manifold) -> f64| manifolds.iter().map(f).sum::<f64>() / p as f64;
    Ok(ManifoldGeometry {
        count: p,
        radius: mean(&|m| m.radius),
        dimension: mean(&|m| m.dimension),
        radius_sqrt_dimension: mean(&|m| m.radius * m.dimension.sqrt()),
        centroid_norm: mean(&|m| m.centroid_norm),
        centroid_similarity: if pairs > 0 { cos_sum / pairs as f64 } else { f64::NAN },
        centroid_abs_similarity: if pairs > 0 { abs_sum / pairs as f64 } else { f64::NAN },
        manifolds,
        centroid_cosines: cosines,
    })
}

/// Cosine similarity of every pair of distinct rows of `centroids` (pairs with a zero row are
/// skipped), in the order (0,1), (0,2), …, (1,2), ….
pub fn pairwise_cosines(centroids: &Array2<f64>) -> Vec<f64> {
    let p = centroids.nrows();
    let norms: Vec<f64> = centroids.rows().into_iter().map(|r| r.dot(&r).sqrt()).collect();
    let gram = centroids.dot(&centroids.t());
    let mut out = Vec::with_capacity(p * p.saturating_sub(1) / 2);
    for i in 0..p {
        for j in i + 1..p {
            let den = norms[i] * norms[j];
            if den > 0.0 {
                out.push(gram[[i, j]] / den);
            }
        }
    }
    out
}

/// Cosine similarities between the centroids of the groups of `x` by `ids` (any group size ≥ 1:
/// classes as well as augmentation manifolds), for their histogram.
pub fn centroid_cosines(x: ArrayView2<f32>, ids: &[u32]) -> Result<Vec<f64>, AnalysisError> {
    let groups = groups_of(x, ids, 1)?;
    let mut centroids = Array2::<f64>::zeros((groups.len(), x.ncols()));
    for (g, rows) in groups.values().enumerate() {
        for &r in rows {
            centroids.row_mut(g).zip_mut_with(&x.row(r), |c, &v| *c += f64::from(v));
        }
        centroids.row_mut(g).mapv_inplace(|c| c / rows.len() as f64);
    }
    Ok(pairwise_cosines(&centroids))
}
