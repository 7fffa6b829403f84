//! The whole analysis of one embedding matrix in one call: the spectral keys, and each probe and
//! capacity measure its inputs allow — the `report.json` that `cargo xtask analyze` writes and
//! that the Python bindings (`ssl_analysis.report`) return, built by this one function.
//!
//! Every input carries the name errors use for it: the file for the command line, the argument
//! for Python, so a bad input is named the way the user gave it.
//!
//! ```
//! use ndarray::Array2;
//! use ssl_analysis::analyze::{analyze, AnalyzeInput, AnalyzeOptions};
//!
//! let x = Array2::from_shape_fn((60, 8), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + (i % 3) as f32 * 0.5);
//! let y: Vec<u32> = (0..60).map(|i| (i % 3) as u32).collect();
//! let input = AnalyzeInput { labels: Some(("labels", &y)), ..AnalyzeInput::new("embeddings", x.view()) };
//! let opts = AnalyzeOptions { capacity_trials: 0, ..Default::default() };
//! let report = analyze(&input, &opts, &mut |_| {})?;
//! assert_eq!(report.spectrum.dim, 8);
//! assert!(report.linear_probe_accuracy.is_some() && report.mft.is_some());
//! # Ok::<(), ssl_analysis::AnalysisError>(())
//! ```

use ndarray::{ArrayView2, Axis};

use crate::capacity::{simulated_capacity, subsample_rows, CapacityConfig};
use crate::error::AnalysisError;
use crate::factors::{factor_probes, FactorTable};
use crate::geometry::manifold_geometry;
use crate::knn::KnnConfig;
use crate::mft::{mft_analysis, MftConfig};
use crate::probe::{holdout_split, linear_probe_accuracy, RIDGE_PROBE};
use crate::report::{EmbeddingReport, LinearProbeSummary, ReportOptions, ReportedCapacity, ReportedMft, SpectrumOptions, COLLAPSE_THRESHOLD};

/// A matrix and the name its errors use.
pub type NamedMatrix<'a> = (&'a str, ArrayView2<'a, f32>);
/// Labels (or manifold ids) and the name their errors use.
pub type NamedLabels<'a> = (&'a str, &'a [u32]);

/// What is analysed; each array with the name its errors use.
#[derive(Clone, Copy, Debug)]
pub struct AnalyzeInput<'a> {
    /// The embeddings, n × d.
    pub embeddings: NamedMatrix<'a>,
    /// One class label per embedding: the held-out ridge probe (without `train`), the query labels
    /// of the kNN probe (with it), and the manifolds of the capacity measures without `manifold_ids`.
    pub labels: Option<NamedLabels<'a>>,
    /// A labelled bank (training embeddings and their labels): the kNN and ridge probes are
    /// trained on it and tested on the embeddings.
    pub train: Option<(NamedMatrix<'a>, NamedLabels<'a>)>,
    /// One manifold id per embedding (e.g. the image of each augmented view).
    pub manifold_ids: Option<NamedLabels<'a>>,
    /// The factors of each embedding (columns object class, background class, x, y).
    pub factors: Option<NamedMatrix<'a>>,
}

impl<'a> AnalyzeInput<'a> {
    /// The embeddings alone.
    pub fn new(name: &'a str, embeddings: ArrayView2<'a, f32>) -> Self {
        AnalyzeInput { embeddings: (name, embeddings), labels: None, train: None, manifold_ids: None, factors: None }
    }
}

/// Settings of the analysis; the defaults are those of `cargo xtask analyze`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalyzeOptions {
    /// 1-based rank window of the α fit.
    pub alpha_window: (usize, usize),
    /// Eigenvalues at or below this fraction of the largest count as collapsed.
    pub collapse_threshold: f64,
    /// Ridge penalty of the linear probe.
    pub probe_lambda: f64,
    /// The kNN probe.
    pub knn: KnnConfig,
    /// Random dichotomies per tested dimension of the simulated capacity (0 skips it).
    pub capacity_trials: usize,
    /// At most this many manifolds enter the simulation (the smallest ids).
    pub capacity_manifolds: usize,
    /// At most this many points per manifold enter the simulation (evenly strided).
    pub capacity_points: usize,
    /// The MFT capacity (`None` skips it).
    pub mft: Option<MftConfig>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            alpha_window: (11, 100),
            collapse_threshold: COLLAPSE_THRESHOLD,
            probe_lambda: 1.0,
            knn: KnnConfig::default(),
            capacity_trials: 40,
            capacity_manifolds: 64,
            capacity_points: 32,
            mft: Some(MftConfig::default()),
        }
    }
}

fn bad(name: &'static str, problem: String) -> AnalysisError {
    AnalysisError::Param { name, problem }
}

impl AnalyzeOptions {
    /// The first out-of-range setting, named by its field (`alpha_window`, `mft_kappa`, …).
    pub fn check(&self) -> Result<(), AnalysisError> {
        let (first, last) = self.alpha_window;
        if first < 1 || last < first + 1 {
            return Err(bad("alpha_window", format!("({first}, {last}): expected FIRST,LAST with 1 <= FIRST < LAST (1-based ranks)")));
        }
        if !(self.collapse_threshold >= 0.0 && self.collapse_threshold < 1.0) {
            return Err(bad("collapse_threshold", format!("{}: expected 0 <= t < 1", self.collapse_threshold)));
        }
        if !(self.probe_lambda > 0.0 && self.probe_lambda.is_finite()) {
            return Err(bad("probe_lambda", format!("{}: expected a finite ridge penalty > 0", self.probe_lambda)));
        }
        if self.knn.k == 0 {
            return Err(bad("knn_k", "0: expected at least 1 neighbour".into()));
        }
        if !(self.knn.temperature > 0.0 && self.knn.temperature.is_finite()) {
            return Err(bad("knn_temperature", format!("{}: expected a finite T > 0", self.knn.temperature)));
        }
        if self.capacity_trials > 0 && self.capacity_manifolds < 2 {
            return Err(bad(
                "capacity_manifolds",
                format!("{}: the capacity simulation needs at least 2 manifolds (or capacity trials 0)", self.capacity_manifolds),
            ));
        }
        if self.capacity_trials > 0 && self.capacity_points < 1 {
            return Err(bad("capacity_points", "0: expected at least 1 point per manifold (or capacity trials 0)".into()));
        }
        if let Some(mft) = &self.mft {
            mft.check().map_err(|e| match e {
                AnalysisError::Param { name, problem } => bad(
                    match name {
                        "kappa" => "mft_kappa",
                        "n_reps" => "mft_reps",
                        _ => "mft_n_t",
                    },
                    problem,
                ),
                other => other,
            })?;
        }
        Ok(())
    }
}

/// Prefixes a shape or non-finite error with the input's name.
fn named(e: AnalysisError, name: &str) -> AnalysisError {
    match e {
        AnalysisError::NonFinite { what: _, row, col } => AnalysisError::NonFinite { what: name.to_string(), row, col },
        AnalysisError::Shape(s) => AnalysisError::Shape(format!("{name}: {s}")),
        other => other,
    }
}

/// Every key of `report.json` that `input` allows (the table in [`crate::report`]); `source` is
/// left for the caller. `stage` is told the name of each step before it starts (for progress).
pub fn analyze(input: &AnalyzeInput, opts: &AnalyzeOptions, stage: &mut dyn FnMut(&str)) -> Result<EmbeddingReport, AnalysisError> {
    opts.check()?;
    let (x_name, x) = input.embeddings;
    let rows = x.nrows();
    let check_len = |(name, v): (&str, &[u32]), kind: &str, what: &str, n: usize| {
        if v.len() == n {
            Ok(())
        } else {
            Err(AnalysisError::Shape(format!("{name}: {} {kind} for {n} {what}", v.len())))
        }
    };
    if let Some(l) = input.labels {
        check_len(l, "labels", "embeddings", rows)?;
    }
    if let Some(m) = input.manifold_ids {
        check_len(m, "manifold ids", "embeddings", rows)?;
    }
    if let Some(((bank_name, bank), labels)) = input.train {
        if input.labels.is_none() {
            return Err(bad("labels", "the kNN probe needs labels for the query embeddings".into()));
        }
        check_len(labels, "labels", "bank embeddings", bank.nrows())?;
        if bank.ncols() != x.ncols() {
            return Err(AnalysisError::Shape(format!("{bank_name}: {} columns, the embeddings ({x_name}) have {}", bank.ncols(), x.ncols())));
        }
    }

    let factors = match input.factors {
        Some((name, f)) => {
            if f.nrows() != rows {
                return Err(AnalysisError::Shape(format!("{name}: {} factor rows for {rows} embeddings", f.nrows())));
            }
            Some(FactorTable::from_matrix(f).map_err(|e| named(e, name))?)
        }
        None => None,
    };

    stage("spectrum");
    let report_opts = ReportOptions { spectrum: SpectrumOptions { alpha_window: opts.alpha_window }, collapse_threshold: opts.collapse_threshold };
    let mut report = EmbeddingReport::compute(x, report_opts).map_err(|e| named(e, x_name))?;

    if let (Some((_, y)), None) = (input.labels, input.train) {
        // No separate training set: a ridge probe on a held-out fifth of the given embeddings.
        stage("linear probe");
        let (tr, te) = holdout_split(rows);
        let pick = |idx: &[usize]| x.select(Axis(0), idx);
        let lab = |idx: &[usize]| idx.iter().map(|&i| y[i]).collect::<Vec<_>>();
        report.linear_probe_accuracy = Some(linear_probe_accuracy(pick(&tr).view(), &lab(&tr), pick(&te).view(), &lab(&te), opts.probe_lambda)?);
        report.linear_probe = Some(LinearProbeSummary {
            model: RIDGE_PROBE.into(),
            lambda: opts.probe_lambda,
            train: tr.len(),
            test: te.len(),
            split: "every fifth row held out".into(),
        });
    }
    if let Some((name, ids)) = input.manifold_ids {
        stage("manifold geometry");
        report.manifold = Some(manifold_geometry(x, ids).map_err(|e| named(e, name))?);
    }
    let groups = input.manifold_ids.map(|(n, l)| (n, l, "manifold ids")).or(input.labels.map(|(n, l)| (n, l, "classes")));
    if let (Some((name, ids, kind)), true) = (groups, opts.capacity_trials > 0) {
        stage("simulated capacity");
        let picked = subsample_rows(ids, opts.capacity_manifolds, opts.capacity_points);
        let sub = x.select(Axis(0), &picked);
        let sub_ids: Vec<u32> = picked.iter().map(|&r| ids[r]).collect();
        let cfg = CapacityConfig { trials: opts.capacity_trials, ..Default::default() };
        let capacity = simulated_capacity(sub.view(), &sub_ids, cfg).map_err(|e| named(e, name))?;
        report.capacity = Some(ReportedCapacity { capacity, manifolds_from: kind.into() });
    }
    if let (Some((name, ids, kind)), Some(cfg)) = (groups, opts.mft) {
        stage("MFT capacity");
        let mft = mft_analysis(x, ids, cfg).map_err(|e| named(e, name))?;
        report.mft = Some(ReportedMft { mft, manifolds_from: kind.into() });
    }
    if let (Some(((bank_name, bank), (_, bank_labels))), Some((_, query_labels))) = (input.train, input.labels) {
        stage("kNN probe");
        report = report.with_knn(bank, bank_labels, x, query_labels, opts.knn).map_err(|e| named(e, bank_name))?;
        stage("linear probe");
        report.linear_probe_accuracy = Some(linear_probe_accuracy(bank, bank_labels, x, query_labels, opts.probe_lambda)?);
        report.linear_probe = Some(LinearProbeSummary {
            model: RIDGE_PROBE.into(),
            lambda: opts.probe_lambda,
            train: bank.nrows(),
            test: rows,
            split: "train embeddings / embeddings".into(),
        });
    }
    if let (Some(table), Some((name, _))) = (&factors, input.factors) {
        stage("factor probes");
        report.factors = Some(factor_probes(x, table, opts.probe_lambda).map_err(|e| named(e, name))?);
    }
    Ok(report)
}

/// The stages [`analyze`] will run for `input` (so a progress bar knows its length).
pub fn stages(input: &AnalyzeInput, opts: &AnalyzeOptions) -> usize {
    let groups = input.manifold_ids.is_some() || input.labels.is_some();
    1 + usize::from(input.labels.is_some() && input.train.is_none())
        + usize::from(input.manifold_ids.is_some())
        + usize::from(groups && opts.capacity_trials > 0)
        + usize::from(groups && opts.mft.is_some())
        + 2 * usize::from(input.train.is_some() && input.labels.is_some())
        + usize::from(input.factors.is_some())
}
