//! `cargo xtask compare runs/a runs/b …`: one table of finished runs and their spectra overlaid.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use ssl_analysis::plot::SpectrumSeries;

use crate::config::read_saved;
use crate::monitor::{collapsed_dims, COLLAPSE_THRESHOLD};

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

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// Reads a finished run folder.
pub fn read_run(dir: &Path) -> Result<RunRow> {
    if !dir.is_dir() {
        bail!("{} is not a run folder", dir.display());
    }
    let cfg = read_saved(&dir.join("config.toml"))?;
    let report = read_json(&dir.join("report.json")).context("the run has no report (did it finish?)")?;
    let num = |k: &str| -> Result<f64> {
        report[k].as_f64().or(if report[k].is_null() { Some(f64::NAN) } else { None }).with_context(|| format!("{}: `{k}` is not a number", dir.join("report.json").display()))
    };
    let eigenvalues: Vec<f64> = report["covariance_eigenvalues"]
        .as_array()
        .with_context(|| format!("{}: no covariance_eigenvalues", dir.join("report.json").display()))?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).with_context(|| format!("cannot read {}", dir.join("metrics.jsonl").display()))?;
    let lines: Vec<Value> = metrics.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let online = lines.iter().rev().find_map(|l| l["online_probe_acc"].as_f64());
    let offline = read_json(&dir.join("eval.json")).ok().and_then(|e| e["linear"]["accuracy"].as_f64());
    let (linear, linear_source) = match (offline, online) {
        (Some(v), _) => (v, "eval"),
        (None, Some(v)) => (v, "online"),
        _ => (f64::NAN, "-"),
    };
    let rates: Vec<f64> = lines
        .iter()
        .filter(|l| l["kind"] == "epoch")
        .filter_map(|l| l["images_per_s"].as_f64())
        .collect();
    Ok(RunRow {
        name: dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        method: cfg.objective.kind.clone(),
        epochs: cfg.optimizer.epochs,
        knn: num("knn_accuracy")?,
        knn_init: num("knn_accuracy_init").unwrap_or(f64::NAN),
        linear,
        linear_source,
        participation_ratio: num("participation_ratio")?,
        alpha: num("alpha")?,
        rankme: num("rankme")?,
        collapsed: (collapsed_dims(&eigenvalues, COLLAPSE_THRESHOLD), eigenvalues.len()),
        images_per_s: if rates.is_empty() { f64::NAN } else { rates.iter().sum::<f64>() / rates.len() as f64 },
        eigenvalues,
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
    let rows: Vec<RunRow> = dirs.iter().map(|d| read_run(d)).collect::<Result<_>>()?;
    let series: Vec<SpectrumSeries<'_>> =
        rows.iter().map(|r| SpectrumSeries { label: &r.name, eigenvalues: &r.eigenvalues, fit: None }).collect();
    ssl_analysis::plot::spectrum_plot(plot, "test-set backbone covariance spectra", &series)?;
    Ok(table(&rows))
}

/// The table as Markdown (for notes and docs).
pub fn markdown(rows: &[RunRow]) -> String {
    let mut s = String::from("| run | method | epochs | kNN | kNN at init | linear | PR | α | RankMe | collapsed | images/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        s += &format!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} ({}) | {:.2} | {:.3} | {:.1} | {}/{} | {:.0} |\n",
            r.name, r.method, r.epochs, r.knn, r.knn_init, r.linear, r.linear_source, r.participation_ratio, r.alpha, r.rankme, r.collapsed.0, r.collapsed.1, r.images_per_s
        );
    }
    s
}
