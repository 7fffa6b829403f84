//! `cargo xtask study collapse --part projector`: DirectCLR's projector ablation on real data
//! (Jing et al., ICLR 2022, §5–6, Fig. 7–9; seed 000), on Fashion-MNIST with the same data,
//! views, optimiser and budget for every variant — only the head and the loss differ:
//!
//! | variant | head | loss |
//! |---|---|---|
//! | `mlp` | rep → 512 → BN → ReLU → 128 | InfoNCE (NT-Xent) on the projection |
//! | `linear` | one linear layer rep → 128 | InfoNCE on the projection |
//! | `none` | none | InfoNCE on the representation |
//! | `directclr` | none | InfoNCE on the first d₀ = 32 of the 128 representation dimensions |
//!
//! Each variant is a full run of the runner (`DIR/runs/<variant>`, base recipe
//! `simclr-noproj-fmnist`) with `[track]` on: its projector weights' singular values and the
//! backbone's embedding spectrum every 1/20 of the run. Then, on the test set: the backbone
//! spectrum raw and L2-normalised (DirectCLR plots the latter), PR, α, collapsed dimensions, kNN
//! and a ridge linear probe; and for a projector, its first layer's singular values and how its
//! input singular vectors line up with the representation's covariance eigenvectors
//! ([`ssl_analysis::alignment::eigenvector_alignment`]; the paper: the projector is a diagonal,
//! low-rank map in the representation's eigenbasis).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::alignment::{eigenvector_alignment, off_diagonal_mass};
use ssl_analysis::plot::{heatmap_plot, spectrum_plot, SpectrumSeries};
use ssl_analysis::spectrum::collapsed_dims;
use ssl_models::DeviceChoice;
use tch::Device;

use super::{figure, StudyOutput};
use crate::config::{Config, Source};
use crate::network::Network;
use crate::run::{load_network, read_json, read_metrics, MetricLine, RunReport};
use crate::track::{singular_values, weight_names};
use crate::trainer::{train, RunOptions};

/// The recipe every variant starts from.
pub const BASE_RECIPE: &str = "simclr-noproj-fmnist";

/// The variants and their overrides of [`BASE_RECIPE`].
pub const VARIANTS: [(&str, &[&str]); 4] = [
    ("mlp", &["model.projector=[512, 128]", "model.projector_batch_norm=true"]),
    ("linear", &["model.projector=[128]", "model.projector_batch_norm=false"]),
    ("none", &["model.projector=[]", "model.projector_batch_norm=false"]),
    ("directclr", &["model.projector=[]", "model.projector_batch_norm=false", "objective.kind=\"directclr\"", "objective.d0=32"]),
];

/// The budget shared by every variant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectorBudget {
    /// Training epochs.
    pub epochs: usize,
    /// Training images (the first N of Fashion-MNIST's 60 000; 0 = all).
    pub train_limit: usize,
}

impl Default for ProjectorBudget {
    fn default() -> Self {
        ProjectorBudget { epochs: 2, train_limit: 20_000 }
    }
}

/// One variant's measurements.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantRow {
    /// `mlp`, `linear`, `none` or `directclr`.
    pub variant: String,
    /// The head's widths (empty: none).
    pub projector: Vec<i64>,
    /// The objective.
    pub objective: String,
    /// Weighted kNN accuracy of the backbone (test queries, training bank).
    pub knn_accuracy: f64,
    /// Ridge linear probe accuracy of the backbone (training → test embeddings).
    pub linear_probe_accuracy: f64,
    /// Participation ratio of the backbone's test embeddings.
    pub participation_ratio: f64,
    /// Power-law α (ranks 11–100).
    pub alpha: f64,
    /// RankMe.
    pub rankme: f64,
    /// Eigenvalues at or below the collapse threshold × the largest.
    pub collapsed_dims: usize,
    /// Covariance eigenvalues of the backbone's test embeddings, descending.
    pub spectrum: Vec<f64>,
    /// The same after L2-normalising each embedding (DirectCLR's spectrum).
    pub normalized_spectrum: Vec<f64>,
    /// Singular values of the projector's first weight (`None` without a projector).
    pub projector_singular_values: Option<Vec<f64>>,
    /// Σᵢ Aᵢᵢ² / Σ A²ᵢⱼ of `|Vᵀ E|` (projector input directions vs representation eigenvectors).
    pub projector_alignment_diagonal_mass: Option<f64>,
    /// The same mass restricted to the top 16 directions of both.
    pub projector_alignment_top16_diagonal_mass: Option<f64>,
    /// The backbone's embedding spectrum during training (`[track]`, 512 test images): per
    /// tracked step, the collapsed count and the smallest / largest eigenvalue.
    pub during_training: Vec<TrackedSpectrum>,
    /// Wall time of the variant's run.
    pub wall_seconds: f64,
}

/// The tracked embedding spectrum at one step, summarised.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrackedSpectrum {
    /// Steps done.
    pub step: usize,
    /// Eigenvalues at or below the collapse threshold × the largest.
    pub collapsed_dims: usize,
    /// Smallest / largest eigenvalue.
    pub smallest_to_largest: f64,
}

/// `summary.json` of the projector part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectorSummary {
    /// The recipe every variant starts from.
    pub base_recipe: String,
    /// The shared budget.
    pub budget: ProjectorBudget,
    /// The collapse threshold of `collapsed_dims`.
    pub collapse_threshold: f64,
    /// One row per variant.
    pub variants: Vec<VariantRow>,
    /// Wall time of the part.
    pub wall_seconds: f64,
}

/// The checked config of a variant under `budget`, with tracking of its projector weights.
pub fn variant_config(overrides: &[&str], budget: &ProjectorBudget) -> Result<Config> {
    let mut sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    sets.push(format!("training.epochs={}", budget.epochs));
    sets.push(format!("data.train_limit={}", budget.train_limit));
    let cfg = Config::load(&Source::Recipe(BASE_RECIPE.into()), &sets)?;
    let net = Network::new(&cfg.model, cfg.seed, Device::Cpu);
    let heads: Vec<String> = weight_names(&net).into_iter().filter(|n| n.starts_with("projector.")).collect();
    let images = if budget.train_limit == 0 { 60_000 } else { budget.train_limit };
    let steps = budget.epochs * images / cfg.training.batch_size;
    let mut raw = cfg.to_run_config();
    raw.track = crate::track::TrackConfig { every_steps: (steps / 20).max(1), weights: heads, embedding: true, images: 512 };
    raw.check()
}

/// Checks every variant's config (before any training).
pub fn check(budget: &ProjectorBudget) -> Result<()> {
    for (name, overrides) in VARIANTS {
        variant_config(overrides, budget).with_context(|| format!("projector variant `{name}`"))?;
    }
    Ok(())
}

/// Trains the four variants and writes `summary.json`, `summary.md` and the figures.
pub fn run(out: &StudyOutput, budget: ProjectorBudget, device: DeviceChoice, threads: Option<usize>) -> Result<ProjectorSummary> {
    let started = Instant::now();
    let mut variants = Vec::new();
    let mut alignments = Vec::new();
    for (name, overrides) in VARIANTS {
        let cfg = variant_config(overrides, &budget)?;
        out.progress(&format!("projector ablation: training `{name}` ({} epochs on {} images)", budget.epochs, budget.train_limit));
        let opts = RunOptions {
            device,
            threads,
            runs_root: out.dir().join("runs"),
            name: Some(name.into()),
            command: format!("ssl-train study collapse --part projector (variant {name})"),
            ..Default::default()
        };
        let summary = train(&cfg, &opts)?;
        let dir = summary.dir;
        let report: RunReport = read_json(&dir.join("report.json"))?;
        let t = &report.trained;
        let (mut sv, mut mass, mut top) = (None, None, None);
        if !cfg.model.projector.is_empty() {
            let (_, net) = load_network(&dir, DeviceChoice::Cpu)?;
            let w = net.vs.variables().get("projector.0.weight").map(|w| w.shallow_clone()).context("the projector's first weight `projector.0.weight`")?;
            sv = Some(singular_values(&w));
            let wm = super::toy::to_matrix(&w.flatten(1, -1));
            let x = ssl_analysis::npy::read_matrix(dir.join("embeddings.npy"))?;
            let cov = ssl_analysis::spectrum::covariance(x.view());
            let a = eigenvector_alignment(wm.view(), &cov)?;
            mass = Some(1.0 - off_diagonal_mass(&a));
            let k = 16.min(a.nrows());
            top = Some(1.0 - off_diagonal_mass(&a.slice(ndarray::s![..k, ..k]).to_owned()));
            alignments.push((name, a));
        }
        let during_training = read_metrics(&dir.join("metrics.jsonl"))?
            .into_iter()
            .filter_map(|l| match l {
                MetricLine::Track(t) => t.embedding.map(|e| TrackedSpectrum {
                    step: t.step,
                    collapsed_dims: collapsed_dims(&e, ssl_analysis::report::COLLAPSE_THRESHOLD),
                    smallest_to_largest: e.last().copied().unwrap_or(0.0) / e.first().copied().unwrap_or(1.0),
                }),
                _ => None,
            })
            .collect();
        variants.push(VariantRow {
            variant: name.into(),
            projector: cfg.model.projector.clone(),
            objective: cfg.objective.name().into(),
            knn_accuracy: t.knn_accuracy.unwrap_or(f64::NAN),
            linear_probe_accuracy: t.linear_probe_accuracy.unwrap_or(f64::NAN),
            participation_ratio: t.spectrum.participation_ratio,
            alpha: t.spectrum.alpha,
            rankme: t.spectrum.rankme,
            collapsed_dims: t.collapsed_dims,
            spectrum: t.spectrum.covariance_eigenvalues.clone(),
            normalized_spectrum: t.spectrum.normalized_covariance_eigenvalues.clone(),
            projector_singular_values: sv,
            projector_alignment_diagonal_mass: mass,
            projector_alignment_top16_diagonal_mass: top,
            during_training,
            wall_seconds: summary.wall_seconds,
        });
    }
    let summary = ProjectorSummary {
        base_recipe: BASE_RECIPE.into(),
        budget,
        collapse_threshold: ssl_analysis::report::COLLAPSE_THRESHOLD,
        variants,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_figures(out.dir(), &summary, &alignments)?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}

fn write_figures(dir: &Path, s: &ProjectorSummary, alignments: &[(&str, ndarray::Array2<f64>)]) -> Result<()> {
    let labels: Vec<(String, String)> = s.variants.iter().map(|v| (format!("{} (raw)", v.variant), format!("{} (L2-normalised)", v.variant))).collect();
    let mut series = Vec::new();
    for (v, (raw, norm)) in s.variants.iter().zip(&labels) {
        series.push(SpectrumSeries { label: raw, eigenvalues: &v.spectrum, fit: None });
        series.push(SpectrumSeries { label: norm, eigenvalues: &v.normalized_spectrum, fit: None });
    }
    figure(dir, "projector-backbone-spectra", |p| spectrum_plot(p, "Backbone embedding spectrum by head (Fashion-MNIST test set)", &series))?;
    let squares: Vec<(String, Vec<f64>)> = s
        .variants
        .iter()
        .filter_map(|v| v.projector_singular_values.as_ref().map(|sv| (format!("{}: σ² of projector.0", v.variant), sv.iter().map(|x| x * x).collect())))
        .collect();
    if !squares.is_empty() {
        let series: Vec<SpectrumSeries> = squares.iter().map(|(l, v)| SpectrumSeries { label: l, eigenvalues: v, fit: None }).collect();
        figure(dir, "projector-singular-values", |p| spectrum_plot(p, "Projector's first weight: squared singular values", &series))?;
    }
    for (name, a) in alignments {
        figure(dir, &format!("projector-alignment-{name}"), |p| {
            heatmap_plot(p, &format!("{name}: |VᵀE|, projector input directions vs representation eigenvectors"), a.view(), Some((0.0, 1.0)))
        })?;
    }
    Ok(())
}

fn markdown(s: &ProjectorSummary) -> String {
    let mut md = format!(
        "# Dimensional collapse: the projector ablation (DirectCLR §5–6)\n\nBase recipe `{}`; every variant {} epochs on the first {} Fashion-MNIST training images; test set 10,000. Collapsed = eigenvalue ≤ {:e} × the largest. Wall time {:.1} min.\n\n",
        s.base_recipe,
        s.budget.epochs,
        s.budget.train_limit,
        s.collapse_threshold,
        s.wall_seconds / 60.0
    );
    md.push_str("| variant | kNN | linear (ridge) | PR | α | RankMe | collapsed | smallest / largest eigenvalue | normalised: smallest / largest | projector alignment diag. mass (all / top 16) | minutes |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for v in &s.variants {
        let ratio = |e: &[f64]| e.last().copied().unwrap_or(0.0) / e.first().copied().unwrap_or(1.0);
        let align = match (v.projector_alignment_diagonal_mass, v.projector_alignment_top16_diagonal_mass) {
            (Some(a), Some(b)) => format!("{a:.3} / {b:.3}"),
            _ => "—".into(),
        };
        md.push_str(&format!(
            "| {} | {:.4} | {:.4} | {:.2} | {:.3} | {:.1} | {}/{} | {:.2e} | {:.2e} | {} | {:.1} |\n",
            v.variant,
            v.knn_accuracy,
            v.linear_probe_accuracy,
            v.participation_ratio,
            v.alpha,
            v.rankme,
            v.collapsed_dims,
            v.spectrum.len(),
            ratio(&v.spectrum),
            ratio(&v.normalized_spectrum),
            align,
            v.wall_seconds / 60.0
        ));
    }
    md.push_str("\nDuring training (`[track]`: 512 test images, covariance of the backbone's embeddings): collapsed dimensions and smallest / largest eigenvalue at each tracked step.\n\n| variant | step: collapsed, smallest / largest |\n|---|---|\n");
    for v in &s.variants {
        let cells: Vec<String> = v.during_training.iter().map(|t| format!("{}: {}, {:.1e}", t.step, t.collapsed_dims, t.smallest_to_largest)).collect();
        md.push_str(&format!("| {} | {} |\n", v.variant, cells.join("; ")));
    }
    md.push_str("\nFigures: projector-backbone-spectra, projector-singular-values, projector-alignment-{mlp,linear} (.svg and .png); each run's track-*.svg/png under runs/<variant>/.\n");
    md
}
