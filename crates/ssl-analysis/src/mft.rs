//! Mean-field-theory (MFT) manifold capacity, anchor radius and anchor dimension (Chung, Lee &
//! Sompolinsky, PRX 2018; Cohen et al., Nat. Commun. 2020; the measure the MMCR paper reports,
//! seed 003). The numbers follow the reference implementation
//! `manifold_analysis_corr` of schung039/neural_manifolds_replicaMFT step by step:
//!
//! 1. **Centre correlations.** The manifold centres (after removing the global mean) are
//!    correlated; `center_correlation` is the mean |cosine| between distinct centres. A rank-K
//!    subspace V that best decorrelates the residual centres is found by minimising
//!    `½ Σ_{m,n} (C_mn − c_m·c_n)² / (c0_m c0_n)` over the Stiefel manifold (C = XXᵀ of the centres,
//!    c = XV, c0 = diag C − ‖c‖²), for K = 1, 2, … with random restarts (the most *stable*
//!    restart is kept); K is the rank with the smallest residual correlation, and every manifold is
//!    projected onto V's orthogonal complement.
//! 2. **Anchor points.** Each manifold is centred on its (projected) centre and divided by the
//!    centre's norm, reduced to its own span, and given the centre as an extra coordinate:
//!    `S = [points; 1]`, (D+1) × m. For Gaussian vectors t ~ N(0, I_{D+1}) the anchor point s̃(t)
//!    comes from the quadratic programme `min ‖v − t‖² s.t. sᵀv ≤ −κ for every point s` (PRX
//!    2018 §III A): `s̃ = (t − v*)/Σα` with α the multipliers. This crate solves its dual, the
//!    non-negative least squares `min_{α ≥ 0} ‖Sα − (t + κ e_{D+1})‖²` (the last row of S is all
//!    ones), by the Lawson–Hanson active-set method: exact and finite, where the reference calls
//!    an interior-point solver per vector.
//! 3. **Capacity, radius, dimension** (PRX 2018 eqs. 16–17, 28, 29):
//!    `α_M⁻¹ = ⟨[t·s̃ + κ]₊² / ‖s̃‖²⟩_t`, `R_M = √⟨‖δs̃‖²⟩_t` (δs̃ the manifold part of s̃ minus its
//!    mean over t, divided by the centre coordinate), `D_M = D ⟨t̂·ŝ⟩_t²` over the manifold
//!    coordinates. Over manifolds: capacity `1/mean(1/α_M)`, radius and dimension the means.
//!
//! Everything is seeded (`seed`: the Gaussian vectors of manifold i come from stream i, the
//! restarts from their own streams) and runs in parallel over manifolds, vectors and restarts.
//!
//! Differences from the reference, all where it would fail: the rank K is capped one below the
//! centres' span (at the full span the residual is zero and the reference's cost is 0/0), and
//! with two manifolds no subspace is removed (K = 0).
//!
//! ```
//! use ndarray::Array2;
//! use ssl_analysis::mft::{mft_analysis, MftConfig};
//! // 12 manifolds of 6 points each in 30 dimensions: tiny clouds around random centres.
//! let x = Array2::from_shape_fn((72, 30), |(i, j)| ((i / 6 * 7 + j * 3) % 11) as f32 + 0.01 * ((i * j) % 5) as f32);
//! let ids: Vec<u32> = (0..72).map(|i| i as u32 / 6).collect();
//! let mft = mft_analysis(x.view(), &ids, MftConfig { n_t: 50, n_reps: 2, ..Default::default() }).unwrap();
//! assert_eq!(mft.manifolds, 12);
//! assert!(mft.capacity > 0.0 && mft.radius >= 0.0);
//! ```

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use ndarray_linalg::{SolveC, QR};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::AnalysisError;
use crate::spectrum::eigvalsh_desc;

/// Settings of the MFT analysis.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MftConfig {
    /// Margin κ ≥ 0 (0 in the MMCR paper).
    pub kappa: f64,
    /// Gaussian vectors per manifold (the reference's `n_t`; its README uses 200).
    pub n_t: usize,
    /// Random restarts per rank of the centre-correlation removal (the reference's `n_reps`, 10).
    pub n_reps: usize,
    /// Seed of the Gaussian vectors and the restarts.
    pub seed: u64,
}

impl Default for MftConfig {
    fn default() -> Self {
        MftConfig { kappa: 0.0, n_t: 200, n_reps: 10, seed: 0 }
    }
}

impl MftConfig {
    /// The first out-of-range setting, named.
    pub fn check(&self) -> Result<(), AnalysisError> {
        if !(self.kappa >= 0.0 && self.kappa.is_finite()) {
            return Err(AnalysisError::Param { name: "kappa", problem: format!("{}: expected a finite margin >= 0", self.kappa) });
        }
        if self.n_t == 0 {
            return Err(AnalysisError::Param { name: "n_t", problem: "0: expected at least 1 Gaussian vector per manifold".into() });
        }
        if self.n_reps == 0 {
            return Err(AnalysisError::Param { name: "n_reps", problem: "0: expected at least 1 restart".into() });
        }
        Ok(())
    }
}

/// Capacity, radius and dimension of one manifold.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifoldMft {
    /// The manifold's id.
    pub id: u32,
    /// Points.
    pub size: usize,
    /// α_M.
    pub capacity: f64,
    /// R_M.
    pub radius: f64,
    /// D_M.
    pub dimension: f64,
}

/// The MFT analysis of a set of manifolds (the `mft` key of report.json).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mft {
    /// Number of manifolds.
    pub manifolds: usize,
    /// `1 / mean(1/α_M)`.
    pub capacity: f64,
    /// Mean R_M.
    pub radius: f64,
    /// Mean D_M.
    pub dimension: f64,
    /// Mean |cosine| between distinct centres before the low-rank removal.
    pub center_correlation: f64,
    /// Rank K of the removed centre subspace.
    pub low_rank_dims: usize,
    /// Mean |cosine| between distinct residual centres after the removal (equal to
    /// `center_correlation` when K = 0).
    pub residual_correlation: f64,
    /// Per manifold, ascending id.
    pub per_manifold: Vec<ManifoldMft>,
    /// The settings used.
    pub config: MftConfig,
}

/// Capacity, radius and dimension from one manifold's anchor points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnchorStats {
    /// α_M.
    pub capacity: f64,
    /// R_M.
    pub radius: f64,
    /// D_M.
    pub dimension: f64,
}

/// MFT analysis of the manifolds of `x` (n × d, one id per row; every manifold ≥ 2 points, at
/// least 2 manifolds).
pub fn mft_analysis(x: ArrayView2<f32>, ids: &[u32], cfg: MftConfig) -> Result<Mft, AnalysisError> {
    let groups = crate::geometry::groups_of(x, ids, 2)?;
    // Column layout (N × P_i), as the reference.
    let manifolds: Vec<Array2<f64>> = groups.values().map(|rows| x.select(Axis(0), rows).t().mapv(f64::from)).collect();
    let mut mft = mft_of_manifolds(&manifolds, cfg, None)?;
    for (m, (&id, rows)) in mft.per_manifold.iter_mut().zip(&groups) {
        m.id = id;
        m.size = rows.len();
    }
    Ok(mft)
}

/// Random draws given instead of the seeded ones (to repeat another implementation's run).
#[derive(Clone, Copy, Debug)]
pub struct Draws<'a> {
    /// The Gaussian vectors of each manifold, (D_i+1) × n_t with D_i = min(N, P_i).
    pub t: &'a [Array2<f64>],
    /// The restart vectors (P entries each) of the centre-correlation removal, in the order
    /// rank 1 restart 1, rank 1 restart 2, …, rank 2 restart 1, … (as the reference draws them).
    pub restarts: &'a [Array1<f64>],
}

/// The analysis of manifolds given as N × P_i matrices (columns are points), with seeded draws
/// or the given `draws`. Ids in the result are the manifolds' positions.
pub fn mft_of_manifolds(manifolds: &[Array2<f64>], cfg: MftConfig, draws: Option<Draws>) -> Result<Mft, AnalysisError> {
    cfg.check()?;
    let _blas = crate::SingleThreadedBlas::new();
    let p = manifolds.len();
    if p < 2 {
        return Err(AnalysisError::Shape(format!("{p} manifold: the MFT analysis needs at least 2")));
    }
    let n = manifolds[0].nrows();
    if let Some((i, m)) = manifolds.iter().enumerate().find(|(_, m)| m.nrows() != n || m.ncols() < 2) {
        return Err(AnalysisError::Shape(format!("manifold {i} is {} × {}: expected {n} × (at least 2)", m.nrows(), m.ncols())));
    }
    let mut centres = Array2::<f64>::zeros((n, p));
    for (i, m) in manifolds.iter().enumerate() {
        centres.column_mut(i).assign(&m.mean_axis(Axis(1)).expect("non-empty"));
    }
    let low_rank = centre_low_rank(&centres, cfg.n_reps, cfg.seed, draws.map(|d| d.restarts))?;
    let stats = anchor_stats(manifolds, low_rank.subspace.as_ref(), cfg, draws.map(|d| d.t))?;
    let per_manifold: Vec<ManifoldMft> = stats
        .iter()
        .zip(manifolds)
        .enumerate()
        .map(|(i, (s, m))| ManifoldMft { id: i as u32, size: m.ncols(), capacity: s.capacity, radius: s.radius, dimension: s.dimension })
        .collect();
    let pf = p as f64;
    Ok(Mft {
        manifolds: p,
        capacity: pf / per_manifold.iter().map(|m| 1.0 / m.capacity).sum::<f64>(),
        radius: per_manifold.iter().map(|m| m.radius).sum::<f64>() / pf,
        dimension: per_manifold.iter().map(|m| m.dimension).sum::<f64>() / pf,
        center_correlation: low_rank.center_correlation,
        low_rank_dims: low_rank.rank,
        residual_correlation: low_rank.residual_correlation,
        per_manifold,
        config: cfg,
    })
}

/// Steps 2 and 3 for every manifold (N × P_i, columns are points): remove the global mean and
/// the centre `subspace` (N × K orthonormal), normalise by the centre's norm, and compute α_M,
/// R_M, D_M from seeded Gaussian vectors or the given ones ((D_i+1) × n_t, D_i = min(N, P_i)).
pub fn anchor_stats(
    manifolds: &[Array2<f64>],
    subspace: Option<&Array2<f64>>,
    cfg: MftConfig,
    t_vecs: Option<&[Array2<f64>]>,
) -> Result<Vec<AnchorStats>, AnalysisError> {
    cfg.check()?;
    if let Some((i, m)) = manifolds.iter().enumerate().find(|(_, m)| m.ncols() == 0 || m.nrows() != manifolds[0].nrows()) {
        return Err(AnalysisError::Shape(format!("manifold {i} is {} × {}: expected {} × (at least 1)", m.nrows(), m.ncols(), manifolds[0].nrows())));
    }
    let _blas = crate::SingleThreadedBlas::new();
    let n = manifolds.first().map_or(0, |m| m.nrows());
    let total: usize = manifolds.iter().map(|m| m.ncols()).sum();
    let origin = manifolds.iter().fold(Array1::<f64>::zeros(n), |acc, m| acc + m.sum_axis(Axis(1))) / total as f64;
    manifolds
        .par_iter()
        .enumerate()
        .map(|(i, m)| {
            let mut xr = m - &origin.view().insert_axis(Axis(1));
            if let Some(v) = subspace {
                xr = &xr - &v.dot(&v.t().dot(&xr));
            }
            let mean = xr.mean_axis(Axis(1)).expect("non-empty");
            let norm = mean.dot(&mean).sqrt();
            if !(norm > 0.0) {
                return Err(AnalysisError::Shape(format!("manifold {i}: its centre coincides with the common mean after the centre-correlation removal")));
            }
            let centred = (&xr - &mean.view().insert_axis(Axis(1))) / norm;
            let (d, pts) = centred.dim();
            let reduced = if d > pts {
                let (q, _) = centred.qr().map_err(|e| AnalysisError::Linalg(e.to_string()))?;
                q.t().dot(&centred)
            } else {
                centred
            };
            let (d, pts) = reduced.dim();
            let mut sd1 = Array2::<f64>::ones((d + 1, pts));
            sd1.slice_mut(s![..d, ..]).assign(&reduced);
            let t = match t_vecs {
                Some(t) => {
                    let t = t.get(i).ok_or_else(|| AnalysisError::Shape(format!("no Gaussian vectors given for manifold {i}")))?;
                    if t.nrows() != d + 1 || t.ncols() == 0 {
                        return Err(AnalysisError::Shape(format!(
                            "Gaussian vectors of manifold {i} are {} × {}: expected {} × (at least 1)",
                            t.nrows(),
                            t.ncols(),
                            d + 1
                        )));
                    }
                    t.clone()
                }
                None => gaussian((d + 1, cfg.n_t), cfg.seed, i as u64),
            };
            Ok(anchor_analysis(sd1.view(), t.view(), cfg.kappa))
        })
        .collect()
}

/// A seeded (rows × cols) standard-normal matrix from stream `stream` of `seed`.
fn gaussian(shape: (usize, usize), seed: u64, stream: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    Array2::from_shape_simple_fn(shape, || rng.sample::<f64, _>(StandardNormal))
}

/// α_M, R_M and D_M of one manifold from its (D+1) × m matrix `sd1` (points as columns, last row
/// all ones) and Gaussian vectors `t` ((D+1) × n_t, n_t ≥ 1: panics on none) — the reference's
/// `each_manifold_analysis_D1`.
pub fn anchor_analysis(sd1: ArrayView2<f64>, t: ArrayView2<f64>, kappa: f64) -> AnchorStats {
    let (d1, _) = sd1.dim();
    let d = d1 - 1;
    let n_t = t.ncols();
    let gram = sd1.t().dot(&sd1);
    let anchors: Vec<Array1<f64>> = (0..n_t).into_par_iter().map(|k| anchor_point(sd1, &gram, t.column(k), kappa)).collect();
    let mut s_all = Array2::<f64>::zeros((d1, n_t));
    for (k, a) in anchors.iter().enumerate() {
        s_all.column_mut(k).assign(a);
    }
    // Capacity (PRX 2018 eqs. 16, 17).
    let slam: f64 = (0..n_t)
        .map(|k| {
            let s = s_all.column(k);
            let ts = t.column(k).dot(&s) + kappa;
            let ss = s.dot(&s);
            if ss > 0.0 {
                let lam = ts.max(0.0) / ss;
                lam * lam * ss
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / n_t as f64;
    // Radius (eq. 28): spread of the anchors' manifold part about its mean, per centre coordinate.
    let mean = s_all.mean_axis(Axis(1)).expect("n_t >= 1");
    let radius2 = (0..n_t)
        .map(|k| {
            let s = s_all.column(k);
            (0..d).map(|j| ((s[j] - mean[j]) / s[d]).powi(2)).sum::<f64>()
        })
        .sum::<f64>()
        / n_t as f64;
    // Dimension (eq. 29).
    let ts_dot = (0..n_t)
        .map(|k| {
            let (tk, sk) = (t.column(k), s_all.column(k));
            let (tm, sm) = (tk.slice(s![..d]), sk.slice(s![..d]));
            tm.dot(&sm) / (tm.dot(&tm).sqrt() * (sm.dot(&sm) + 1e-12).sqrt())
        })
        .sum::<f64>()
        / n_t as f64;
    AnchorStats { capacity: 1.0 / slam, radius: radius2.sqrt(), dimension: d as f64 * ts_dot * ts_dot }
}

/// The anchor point s̃(t) of the manifold `sd1` ((D+1) × m, `gram` = sd1ᵀ sd1).
pub fn anchor_point(sd1: ArrayView2<f64>, gram: &Array2<f64>, t: ArrayView1<f64>, kappa: f64) -> Array1<f64> {
    let d = sd1.nrows() - 1;
    // The point of largest projection on t's manifold part (the centre coordinate is 1 for all).
    let proj = sd1.slice(s![..d, ..]).t().dot(&t.slice(s![..d]));
    let best = proj.iter().enumerate().fold(0, |b, (i, &v)| if v > proj[b] { i } else { b });
    let s_max = sd1.column(best).to_owned();
    if t.dot(&s_max) + kappa < 0.0 {
        return s_max; // t itself satisfies every constraint: v = t
    }
    let mut b = t.to_owned();
    b[d] += kappa;
    let alpha = nnls(sd1, gram, b.view());
    let support = sd1.dot(&alpha); // t − v*
    if support.dot(&support).sqrt() < 1e-8 {
        return s_max; // interior: v* = t (within the reference's eps)
    }
    support / alpha.sum()
}

/// Lawson–Hanson non-negative least squares, `min_{α ≥ 0} ‖Aα − b‖²` with `gram` = AᵀA.
pub fn nnls(a: ArrayView2<f64>, gram: &Array2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let m = a.ncols();
    let atb = a.t().dot(&b);
    let tol = 1e-11 * (1.0 + atb.iter().fold(0f64, |acc, v| acc.max(v.abs())));
    let mut x = Array1::<f64>::zeros(m);
    let mut passive = vec![false; m];
    let mut excluded = vec![false; m];
    for _ in 0..3 * m + 10 {
        // w = Aᵀ(b − Ax) = Aᵀb − G x over the few non-zero coefficients.
        let mut w = atb.clone();
        for (i, &xi) in x.iter().enumerate() {
            if xi != 0.0 {
                w.scaled_add(-xi, &gram.column(i));
            }
        }
        let Some(j) = (0..m).filter(|&i| !passive[i] && !excluded[i]).max_by(|&i, &k| w[i].total_cmp(&w[k])) else { break };
        if w[j] <= tol {
            break;
        }
        passive[j] = true;
        for _ in 0..3 * m + 10 {
            let idx: Vec<usize> = (0..m).filter(|&i| passive[i]).collect();
            let sub = gram.select(Axis(0), &idx).select(Axis(1), &idx);
            let rhs = idx.iter().map(|&i| atb[i]).collect::<Array1<f64>>();
            let Ok(z) = sub.solvec(&rhs) else {
                // The new column depends on the passive ones: leave it out.
                passive[j] = false;
                excluded[j] = true;
                break;
            };
            if z.iter().all(|&v| v > 0.0) {
                x.fill(0.0);
                for (&i, &v) in idx.iter().zip(&z) {
                    x[i] = v;
                }
                break;
            }
            // Step from x towards z until the first passive coefficient reaches zero.
            let step = idx.iter().zip(&z).filter(|(_, &zv)| zv <= 0.0).map(|(&i, &zv)| x[i] / (x[i] - zv)).fold(f64::INFINITY, f64::min);
            for (&i, &zv) in idx.iter().zip(&z) {
                x[i] += step * (zv - x[i]);
                if x[i] <= 1e-15 {
                    x[i] = 0.0;
                    passive[i] = false;
                }
            }
        }
    }
    x
}

/// The centre-correlation removal's outcome.
struct LowRank {
    /// N × K orthonormal basis of the removed subspace (`None` when K = 0).
    subspace: Option<Array2<f64>>,
    rank: usize,
    center_correlation: f64,
    residual_correlation: f64,
}

/// Mean |cosine| between distinct rows of `x` (P × n): the reference's `(Σ|C0| − P)/(P(P − 1))`.
fn mean_abs_correlation(x: &Array2<f64>) -> f64 {
    let cos = crate::geometry::pairwise_cosines(x);
    cos.iter().map(|c| c.abs()).sum::<f64>() / cos.len() as f64
}

/// The reference's `fun_FA` and the choice of K: the rank-K centre subspace that leaves the
/// least correlated residual centres.
fn centre_low_rank(centres: &Array2<f64>, n_reps: usize, seed: u64, restarts: Option<&[Array1<f64>]>) -> Result<LowRank, AnalysisError> {
    let (n, p) = centres.dim();
    let linalg = |e: ndarray_linalg::error::LinalgError| AnalysisError::Linalg(e.to_string());
    // maxK from the centres' spectrum: the last component below 95 % cumulative variance, + 11.
    let centre_mean = centres.mean_axis(Axis(1)).expect("p >= 2");
    let xb = (centres - &centre_mean.view().insert_axis(Axis(1))).reversed_axes(); // P × N
    let small = if n <= p { xb.t().dot(&xb) } else { xb.dot(&xb.t()) };
    let sq = eigvalsh_desc(&small)?;
    let sq_total: f64 = sq.iter().map(|v| v.max(0.0)).sum();
    let mut cum = 0.0;
    let mut last_below = 0;
    for (i, v) in sq.iter().take(n.min(p)).enumerate() {
        cum += v.max(0.0) / sq_total;
        if cum < 0.95 {
            last_below = i;
        }
    }
    let max_k = last_below + 11;
    // Orthonormal basis of the centres' span (P − 1 dimensions at most).
    let (q, _) = xb.t().qr().map_err(linalg)?; // N × min(N, P)
    let nb = (p - 1).min(q.ncols());
    let proj = q.slice(s![.., ..nb]).to_owned();
    let x = xb.dot(&proj); // P × nb
    let row_norms: Vec<f64> = x.rows().into_iter().map(|r| r.dot(&r).sqrt()).collect();
    if let Some(i) = row_norms.iter().position(|&v| !(v > 0.0)) {
        return Err(AnalysisError::Shape(format!("manifold {i}: its centre equals the mean of the centres; the centre correlations are undefined")));
    }
    let center_correlation = mean_abs_correlation(&x);
    let max_k = max_k.min(nb.saturating_sub(1));
    if max_k == 0 {
        return Ok(LowRank { subspace: None, rank: 0, center_correlation, residual_correlation: center_correlation });
    }
    let c = x.dot(&x.t()).as_standard_layout().into_owned();
    let mut res_coeff: Vec<f64> = Vec::new();
    let mut solutions: Vec<Array2<f64>> = Vec::new();
    let mut v1: Option<Array2<f64>> = None;
    for k in 1..=max_k {
        let restarts: Vec<Result<(f64, Array2<f64>), AnalysisError>> = (0..n_reps)
            .into_par_iter()
            .map(|rep| {
                let s = match restarts {
                    None => gaussian((1, p), seed ^ 0x6d66_745f_6661, ((k as u64) << 32) | rep as u64),
                    Some(r) => {
                        let v = r.get((k - 1) * n_reps + rep).filter(|v| v.len() == p);
                        let v = v.ok_or_else(|| AnalysisError::Shape(format!("restart {rep} of rank {k}: no {p}-vector given")))?;
                        v.view().insert_axis(Axis(0)).to_owned()
                    }
                };
                let sx = s.dot(&x); // 1 × nb
                let v0 = match &v1 {
                    None => sx,
                    Some(prev) => ndarray::concatenate(Axis(0), &[sx.view(), prev.t()]).expect("same width"),
                };
                let (v0, _) = v0.t().qr().map_err(linalg)?; // nb × k
                let v = stiefel_minimise(&x, &c, v0)?;
                let resid = &x - &x.dot(&v).dot(&v.t());
                let stability = resid.rows().into_iter().zip(&row_norms).map(|(r, &nr)| r.dot(&r).sqrt() / nr).fold(f64::INFINITY, f64::min);
                Ok((stability, v))
            })
            .collect();
        let mut best: Option<(f64, Array2<f64>)> = None;
        for r in restarts {
            let (stability, v) = r?;
            // Strictly better only, so the first of equals wins (as the reference's loop).
            if best.as_ref().is_none_or(|(b, _)| stability > *b) {
                best = Some((stability, v));
            }
        }
        let (_, v) = best.expect("n_reps >= 1");
        let resid = &x - &x.dot(&v).dot(&v.t());
        res_coeff.push(mean_abs_correlation(&resid));
        solutions.push(v.clone());
        v1 = Some(v);
        let r = &res_coeff;
        if k > 4 && r[k - 1] > r[k - 2] && r[k - 2] > r[k - 3] && r[k - 3] > r[k - 4] {
            break;
        }
    }
    let best_k = res_coeff.iter().enumerate().fold(0, |b, (i, &v)| if v < res_coeff[b] { i } else { b });
    Ok(LowRank { subspace: Some(proj.dot(&solutions[best_k])), rank: best_k + 1, center_correlation, residual_correlation: res_coeff[best_k] })
}

/// c = XV, ccᵀ (P × P, standard layout) and c0 = diag C − diag ccᵀ.
fn projections(x: &Array2<f64>, c_full: &Array2<f64>, v: &Array2<f64>) -> (Array2<f64>, Array2<f64>, Vec<f64>) {
    let c = x.dot(v);
    let cct = c.dot(&c.t()).as_standard_layout().into_owned();
    let c0 = (0..x.nrows()).map(|i| c_full[[i, i]] - cct[[i, i]]).collect();
    (c, cct, c0)
}

/// The decorrelation cost `½ Σ (C − ccᵀ)² / (c0 c0ᵀ)` alone (for the line search).
fn corr_cost_only(x: &Array2<f64>, c_full: &Array2<f64>, v: &Array2<f64>) -> f64 {
    let (_, cct, c0) = projections(x, c_full, v);
    let inv: Vec<f64> = c0.iter().map(|v| 1.0 / v).collect();
    let mut cost = 0.0;
    for ((crow, prow), &inv_i) in c_full.rows().into_iter().zip(cct.rows()).zip(&inv) {
        let (crow, prow) = (crow.as_slice().expect("standard layout"), prow.as_slice().expect("standard layout"));
        let row: f64 = crow.iter().zip(prow).zip(&inv).map(|((&cij, &pij), &inv_j)| (cij - pij) * (cij - pij) * inv_j).sum();
        cost += row * inv_i;
    }
    cost / 2.0
}

/// The decorrelation cost `½ Σ (C − ccᵀ)² / (c0 c0ᵀ)` and its Euclidean gradient in V:
/// with A = C − ccᵀ, PF1 = A/(c0c0ᵀ) and PF2 = PF1², `∂/∂V = −2 Xᵀ PF1 c + 2 Xᵀ diag(PF2 c0) c`.
fn corr_cost(x: &Array2<f64>, c_full: &Array2<f64>, v: &Array2<f64>) -> (f64, Array2<f64>) {
    let (c, mut pf1, c0) = projections(x, c_full, v);
    let inv: Vec<f64> = c0.iter().map(|v| 1.0 / v).collect();
    let mut cost = 0.0;
    let mut pf2_c0 = Array1::<f64>::zeros(x.nrows());
    for (i, (crow, mut prow)) in c_full.rows().into_iter().zip(pf1.rows_mut()).enumerate() {
        let (crow, prow) = (crow.as_slice().expect("standard layout"), prow.as_slice_mut().expect("standard layout"));
        let (mut row_cost, mut row_pf2) = (0.0, 0.0);
        for (j, (&cij, p)) in crow.iter().zip(prow.iter_mut()).enumerate() {
            let a = cij - *p;
            let r = a * inv[i] * inv[j];
            *p = r;
            row_cost += a * r;
            row_pf2 += r * r * c0[j];
        }
        cost += row_cost;
        pf2_c0[i] = row_pf2;
    }
    let scaled = &c * &pf2_c0.view().insert_axis(Axis(1));
    let grad = (x.t().dot(&(scaled - pf1.dot(&c)))) * 2.0;
    (cost / 2.0, grad)
}

/// Riemannian conjugate gradients on the Stiefel manifold {V : VᵀV = I} with pymanopt's
/// defaults (Hestenes–Stiefel β, adaptive Armijo line search, QR retraction, projection as
/// transport; stops at gradient norm 1e-6, step 1e-10 or 1000 iterations).
fn stiefel_minimise(x: &Array2<f64>, c_full: &Array2<f64>, v0: Array2<f64>) -> Result<Array2<f64>, AnalysisError> {
    let proj = |v: &Array2<f64>, u: &Array2<f64>| -> Array2<f64> {
        let vtu = v.t().dot(u);
        let sym = (&vtu + &vtu.t()) / 2.0;
        u - &v.dot(&sym)
    };
    let retract = |v: &Array2<f64>, d: &Array2<f64>| -> Result<Array2<f64>, AnalysisError> {
        let (q, r) = (v + d).qr().map_err(|e| AnalysisError::Linalg(e.to_string()))?;
        // Signs so that R has a non-negative diagonal (a unique, smooth retraction).
        let mut q = q;
        for j in 0..q.ncols() {
            if r[[j, j]] < 0.0 {
                q.column_mut(j).mapv_inplace(|v| -v);
            }
        }
        Ok(q)
    };
    let inner = |a: &Array2<f64>, b: &Array2<f64>| (a * b).sum();
    let mut v = v0;
    let (mut cost, egrad) = corr_cost(x, c_full, &v);
    let mut grad = proj(&v, &egrad);
    let mut desc = grad.mapv(|g| -g);
    let mut old_alpha: Option<f64> = None;
    for _ in 0..1000 {
        let gnorm = inner(&grad, &grad).sqrt();
        if gnorm < 1e-6 {
            break;
        }
        let mut df0 = inner(&grad, &desc);
        if df0 >= 0.0 {
            desc = grad.mapv(|g| -g);
            df0 = -gnorm * gnorm;
        }
        // pymanopt's LineSearchAdaptive: contraction ½, sufficient decrease ½, ≤ 10 contractions.
        let norm_d = inner(&desc, &desc).sqrt();
        let mut alpha = old_alpha.unwrap_or(1.0 / norm_d);
        let mut new_v = retract(&v, &(&desc * alpha))?;
        let mut new_cost = corr_cost_only(x, c_full, &new_v);
        let mut evals = 1;
        while new_cost > cost + 0.5 * alpha * df0 && evals <= 10 {
            alpha *= 0.5;
            new_v = retract(&v, &(&desc * alpha))?;
            new_cost = corr_cost_only(x, c_full, &new_v);
            evals += 1;
        }
        if new_cost > cost {
            alpha = 0.0;
            new_v = v.clone();
        }
        old_alpha = Some(if evals == 2 { alpha } else { 2.0 * alpha });
        let step = alpha * norm_d;
        let (_, eg_new) = corr_cost(x, c_full, &new_v);
        let new_grad = proj(&new_v, &eg_new);
        let old_grad = proj(&new_v, &grad);
        let desc_t = proj(&new_v, &desc);
        let diff = &new_grad - &old_grad;
        let denom = inner(&diff, &desc_t);
        let beta = if denom != 0.0 { (inner(&new_grad, &diff) / denom).max(0.0) } else { 0.0 };
        desc = &desc_t * beta - &new_grad;
        v = new_v;
        cost = new_cost.min(cost);
        grad = new_grad;
        if step < 1e-10 {
            break;
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corr_cost_gradient_matches_finite_differences() {
        let x = gaussian((7, 5), 3, 0);
        let c_full = x.dot(&x.t());
        let (v, _) = gaussian((5, 2), 3, 1).qr().unwrap();
        let (f, g) = corr_cost(&x, &c_full, &v);
        assert!((corr_cost_only(&x, &c_full, &v) - f).abs() < 1e-12 * f.abs());
        let h = 1e-6;
        for i in 0..5 {
            for k in 0..2 {
                let mut vp = v.clone();
                vp[[i, k]] += h;
                let mut vm = v.clone();
                vm[[i, k]] -= h;
                let fd = (corr_cost(&x, &c_full, &vp).0 - corr_cost(&x, &c_full, &vm).0) / (2.0 * h);
                assert!((fd - g[[i, k]]).abs() < 1e-5 * (1.0 + fd.abs()), "({i},{k}): {fd} vs {}", g[[i, k]]);
            }
        }
    }

    #[test]
    fn nnls_satisfies_the_kkt_conditions() {
        for seed in 0..20 {
            let a = gaussian((6, 9), seed, 0); // wide: rank-deficient Gram
            let b = gaussian((6, 1), seed, 1).column(0).to_owned();
            let gram = a.t().dot(&a);
            let x = nnls(a.view(), &gram, b.view());
            let w = a.t().dot(&(&b - &a.dot(&x)));
            for i in 0..9 {
                assert!(x[i] >= 0.0);
                // Complementarity: w_i ≤ 0, and w_i = 0 where x_i > 0.
                assert!(w[i] < 1e-8, "seed {seed}: w[{i}] = {}", w[i]);
                if x[i] > 0.0 {
                    assert!(w[i].abs() < 1e-8, "seed {seed}: w[{i}] = {} at x = {}", w[i], x[i]);
                }
            }
        }
    }

    #[test]
    fn stiefel_minimiser_lowers_the_cost_and_stays_orthonormal() {
        let x = gaussian((12, 8), 5, 0);
        let c_full = x.dot(&x.t());
        let (v0, _) = gaussian((8, 3), 5, 1).qr().unwrap();
        let before = corr_cost(&x, &c_full, &v0).0;
        let v = stiefel_minimise(&x, &c_full, v0).unwrap();
        let after = corr_cost(&x, &c_full, &v).0;
        assert!(after < before, "{after} vs {before}");
        let vtv = v.t().dot(&v);
        for i in 0..3 {
            for j in 0..3 {
                assert!((vtv[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
    }
}
