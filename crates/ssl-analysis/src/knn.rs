//! The weighted cosine kNN probe (Wu et al. 2018, as in lightly's and solo-learn's `knn_predict`):
//! L2-normalise bank and queries; for each query take the k most cosine-similar bank items;
//! each votes for its label with weight exp(s / T); predict the label with the largest sum.
//! lightly uses k = 200, T = 0.1; solo-learn k = 20, T = 0.07. Always report which.

use ndarray::{s, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::AnalysisError;
use crate::spectrum::{check_matrix, l2_normalize_rows};

/// Parameters of the kNN probe.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KnnConfig {
    /// Neighbours per query.
    pub k: usize,
    /// Temperature of the vote weights exp(s / T).
    pub temperature: f64,
}

impl Default for KnnConfig {
    fn default() -> Self {
        KnnConfig { k: 200, temperature: 0.1 }
    }
}

/// Predicted labels of `queries` given a labelled `bank`.
pub fn knn_predict(bank: ArrayView2<f32>, bank_labels: &[u32], queries: ArrayView2<f32>, cfg: KnnConfig) -> Result<Vec<u32>, AnalysisError> {
    check_matrix(bank, "kNN bank", 1)?;
    check_matrix(queries, "kNN queries", 1)?;
    if bank.nrows() != bank_labels.len() {
        return Err(AnalysisError::Shape(format!("kNN bank has {} rows but {} labels", bank.nrows(), bank_labels.len())));
    }
    if bank.ncols() != queries.ncols() {
        return Err(AnalysisError::Shape(format!("kNN bank has {} columns, queries {}", bank.ncols(), queries.ncols())));
    }
    if cfg.k == 0 || !(cfg.temperature > 0.0) {
        return Err(AnalysisError::Param { name: "knn", problem: format!("k = {}, T = {}: need k >= 1, T > 0", cfg.k, cfg.temperature) });
    }
    let k = cfg.k.min(bank.nrows());
    let classes = bank_labels.iter().max().map_or(0, |&m| m as usize + 1);
    let bank = l2_normalize_rows(bank);
    let queries = l2_normalize_rows(queries);
    let chunk = 256;
    let mut preds = vec![0u32; queries.nrows()];
    for (c, out) in preds.chunks_mut(chunk).enumerate() {
        let q = queries.slice(s![c * chunk..c * chunk + out.len(), ..]);
        let sim = q.dot(&bank.t());
        out.par_iter_mut().zip(sim.axis_iter(Axis(0)).into_par_iter()).for_each(|(pred, row)| {
            let mut pairs: Vec<(f32, u32)> = row.iter().copied().zip(0u32..).collect();
            if k < pairs.len() {
                pairs.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            }
            let mut votes = vec![0f64; classes];
            for &(s, i) in &pairs[..k] {
                votes[bank_labels[i as usize] as usize] += (f64::from(s) / cfg.temperature).exp();
            }
            *pred = votes.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32);
        });
    }
    Ok(preds)
}

/// Fraction of `queries` whose kNN prediction equals `query_labels`.
pub fn knn_accuracy(bank: ArrayView2<f32>, bank_labels: &[u32], queries: ArrayView2<f32>, query_labels: &[u32], cfg: KnnConfig) -> Result<f64, AnalysisError> {
    if queries.nrows() != query_labels.len() {
        return Err(AnalysisError::Shape(format!("kNN queries have {} rows but {} labels", queries.nrows(), query_labels.len())));
    }
    let preds = knn_predict(bank, bank_labels, queries, cfg)?;
    let hits = preds.iter().zip(query_labels).filter(|(p, l)| p == l).count();
    Ok(hits as f64 / query_labels.len().max(1) as f64)
}
