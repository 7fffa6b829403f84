//! `cargo xtask compare runs/a runs/b …`: one table of finished runs and their spectra overlaid.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ssl_analysis::plot::SpectrumSeries;
use ssl_io::progress::Progress;

use crate::config::read_saved;
use crate::run::{atomic_error, read_json, read_metrics, EvalReport, MetricLine, Provenance, RunReport, RunState};

/// What `compare` reads from one run folder.
#[derive(Clone, Debug)]
pub struct RunRow {
    /// The folder's name.
    pub name: String,
    /// Objective (method).
    pub method: String,
    /// Epochs trained.
    pub epochs: usize,
    /// Final kNN accuracy (60k bank in the default recipe).
    pub knn: f64,
    /// kNN accuracy of the same encoder at initialisation.
    pub knn_init: f64,
    /// Linear accuracy: the offline linear probe of `eval.json` when present, else the online
    /// probe's last logged accuracy (training views).
    pub linear: f64,
    /// Where `linear` comes from: `eval` or `online`.
    pub linear_source: &'static str,
    /// Participation ratio of the test embeddings.
    pub participation_ratio: f64,
    /// Power-law α.
    pub alpha: f64,
    /// RankMe.
    pub rankme: f64,
    /// Dimensions at or below the collapse threshold, and the representation dimension.
    pub collapsed: (usize, usize),
    /// Mean training images/s over the epochs.
    pub images_per_s: f64,
    /// Covariance eigenvalues, descending.
    pub eigenvalues: Vec<f64>,
}

/// Reads a finished run folder.
pub fn read_run(dir: &Path) -> Result<RunRow> {
    if !dir.join("config.toml").is_file() {
        bail!("{} is not a run folder (no config.toml)", dir.display());
    }
    let cfg = read_saved(&dir.join("config.toml"))?;
    if !dir.join("report.json").exists() {
        let state = read_json::<Provenance>(&dir.join("run.json")).map(|p| p.state).unwrap_or_default();
        let why = match state {
            RunState::Training => "is still training, or was interrupted during training",
            RunState::Evaluating => "finished training but its final evaluation did not complete",
            RunState::Done => "is marked done but its report.json is missing",
        };
        bail!("{} {why}; finish it with `cargo xtask train --resume {}`", dir.display(), dir.display());
    }
    let report: RunReport = read_json(&dir.join("report.json"))?;
    let lines = read_metrics(&dir.join("metrics.jsonl"))?;
    let online = lines.iter().rev().find_map(|l| match l {
        MetricLine::Step(s) => s.online_probe_acc,
        _ => None,
    });
    let eval_path = dir.join("eval.json");
    let offline = if eval_path.exists() { read_json::<EvalReport>(&eval_path)?.linear.map(|l| l.accuracy) } else { None };
    let (linear, linear_source) = match (offline, online) {
        (Some(v), _) => (v, "eval"),
        (None, Some(v)) => (v, "online"),
        _ => (f64::NAN, "-"),
    };
    let rates: Vec<f64> = lines
        .iter()
        .filter_map(|l| match l {
            MetricLine::Epoch(e) => Some(e.images_per_s),
            _ => None,
        })
        .collect();
    let t = &report.trained;
    let s = &t.spectrum;
    Ok(RunRow {
        name: dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        method: cfg.objective.name().to_string(),
        epochs: cfg.training.epochs,
        knn: t.knn_accuracy.unwrap_or(f64::NAN),
        knn_init: report.knn_accuracy_init,
        linear,
        linear_source,
        participation_ratio: s.participation_ratio,
        alpha: s.alpha,
        rankme: s.rankme,
        collapsed: (t.collapsed_dims, s.dim),
        images_per_s: if rates.is_empty() { f64::NAN } else { rates.iter().sum::<f64>() / rates.len() as f64 },
        eigenvalues: s.covariance_eigenvalues.clone(),
    })
}

/// The comparison table.
pub fn table(rows: &[RunRow]) -> String {
    let mut s = format!(
        "{:<24} {:<9} {:>6} {:>7} {:>8} {:>14} {:>7} {:>7} {:>7} {:>10} {:>9}\n",
        "run", "method", "epochs", "kNN", "kNN init", "linear", "PR", "alpha", "RankMe", "collapsed", "images/s"
    );
    for r in rows {
        s += &format!(
            "{:<24} {:<9} {:>6} {:>7.4} {:>8.4} {:>14} {:>7.2} {:>7.3} {:>7.1} {:>10} {:>9.0}\n",
            r.name,
            r.method,
            r.epochs,
            r.knn,
            r.knn_init,
            format!("{:.4} ({})", r.linear, r.linear_source),
            r.participation_ratio,
            r.alpha,
            r.rankme,
            format!("{}/{}", r.collapsed.0, r.collapsed.1),
            r.images_per_s
        );
    }
    s
}

/// Reads the runs, prints the table, writes the overlaid spectra to `plot`.
pub fn compare(dirs: &[PathBuf], plot: &Path) -> Result<String> {
    if dirs.is_empty() {
        bail!("give at least one run folder, e.g. `cargo xtask compare runs/a runs/b`");
    }
    if plot.exists() {
        bail!("{} already exists; choose another --plot (nothing was written)", plot.display());
    }
    let progress = Progress::new("compare", dirs.len() as u64);
    progress.stage("reading runs", dirs.len() as u64);
    let rows: Vec<RunRow> = dirs
        .iter()
        .map(|d| {
            let row = read_run(d);
            progress.inc(1);
            row
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let series: Vec<SpectrumSeries<'_>> = rows.iter().map(|r| SpectrumSeries { label: &r.name, eigenvalues: &r.eigenvalues, fit: None }).collect();
    if let Some(parent) = plot.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Never over a file that appeared meanwhile, and whole or not at all.
    ssl_io::write_new_atomic(plot, |tmp| Ok(ssl_analysis::plot::spectrum_plot(tmp, "test-set backbone covariance spectra", &series)?))
        .map_err(atomic_error)
        .context("--plot")?;
    Ok(table(&rows))
}

/// The table as Markdown (for notes and docs).
pub fn markdown(rows: &[RunRow]) -> String {
    let mut s = String::from(
        "| run | method | epochs | kNN | kNN at init | linear | PR | α | RankMe | collapsed | images/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} ({}) | {:.2} | {:.3} | {:.1} | {}/{} | {:.0} |\n",
            r.name,
            r.method,
            r.epochs,
            r.knn,
            r.knn_init,
            r.linear,
            r.linear_source,
            r.participation_ratio,
            r.alpha,
            r.rankme,
            r.collapsed.0,
            r.collapsed.1,
            r.images_per_s
        );
    }
    s
}
