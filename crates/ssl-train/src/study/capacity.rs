//! `cargo xtask study capacity`: manifold capacity as MMCR measures it (Yerxa et al., NeurIPS
//! 2023, Figs. 2, 3 and 5; seed 003). MMCR, SimCLR and Barlow Twins are trained on the same
//! Fashion-MNIST images for the same number of epochs (each with its recipe's views per image,
//! batch and learning rate: `mmcr-fmnist`, `simclr-fmnist`, `barlow-fmnist`, all with the same
//! view pipeline), then, layer by layer (`input`, `stem`, `layer1` … `layer3`, `pool`,
//! `projector`; feature maps average-pooled over H × W, so `layer4` would repeat `pool`):
//!
//! * **augmentation manifolds** — 16 views (each run's training pipeline, epoch 0 of the
//!   trainer) of the first 100 test images: mean-field-theory capacity α_M, radius R_M and
//!   dimension D_M ([`ssl_analysis::mft`], κ = 0, n_t = 200) and the centroids' cosine similarities;
//! * **class manifolds** — the first 50 of each class among the first 2,000 test images, one
//!   evaluation view each:
//!   the same numbers;
//! * the layer's participation ratio and power-law α on 2,000 test images, and its kNN and ridge
//!   linear-probe accuracy (bank: the first 5,000 training images).
//!
//! Every run lives in `DIR/runs/<method>`; the summary rows are
//! `{method, layer, manifolds: "augmentation" | "class", capacity, radius, dimension,
//! participation_ratio, alpha}`.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use ndarray::Axis;
use serde::{Deserialize, Serialize};
use ssl_analysis::geometry::centroid_cosines;
use ssl_analysis::knn::{knn_accuracy, KnnConfig};
use ssl_analysis::mft::{mft_analysis, MftConfig};
use ssl_analysis::plot::{category_plot, histogram_plot, spectrum_plot, SpectrumSeries};
use ssl_analysis::probe::linear_probe_accuracy;
use ssl_analysis::report::SpectrumReport;
use ssl_data::{Dataset, Split, ViewTransform};
use ssl_io::progress::Progress;
use ssl_models::DeviceChoice;

use super::{figure, StudyOutput};
use crate::cmd::export::{layer_views, view_transform, Layer, ViewPipeline, ViewsExport};
use crate::config::{Config, Source};
use crate::dataset::load_split;
use crate::run::load_network;
use crate::trainer::{train, RunOptions};

/// The methods and their recipes.
pub const METHODS: [(&str, &str); 3] = [("mmcr", "mmcr-fmnist"), ("simclr", "simclr-fmnist"), ("barlow", "barlow-fmnist")];

/// The layers measured. `layer4` is left out: average-pooled over H × W it *is* `pool`.
pub const LAYERS: [Layer; 7] = [Layer::Input, Layer::Stem, Layer::Layer1, Layer::Layer2, Layer::Layer3, Layer::Pool, Layer::Projector];

/// Views per image of the augmentation manifolds.
pub const VIEWS: usize = 16;
/// Images (augmentation manifolds).
pub const IMAGES: usize = 100;
/// Test images per class (class manifolds).
pub const PER_CLASS: usize = 50;
/// Test images for PR, α and the probes' queries.
pub const QUERIES: usize = 2000;
/// Training images of the probes' bank.
pub const BANK: usize = 5000;

/// The budget shared by every method.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CapacityBudget {
    /// Training epochs.
    pub epochs: usize,
    /// Training images (the first N of Fashion-MNIST's 60,000; 0 = all).
    pub train_limit: usize,
}

impl Default for CapacityBudget {
    fn default() -> Self {
        CapacityBudget { epochs: 2, train_limit: 20_000 }
    }
}

/// One (method, layer, manifold kind) measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `mmcr`, `simclr` or `barlow`.
    pub method: String,
    /// The layer.
    pub layer: Layer,
    /// `augmentation` or `class`.
    pub manifolds: String,
    /// MFT capacity 1/mean(1/α_M).
    pub capacity: f64,
    /// Mean R_M.
    pub radius: f64,
    /// Mean D_M.
    pub dimension: f64,
    /// Mean |cosine| between the manifolds' centres (before the MFT's low-rank removal).
    pub center_correlation: f64,
    /// Mean cosine similarity between the manifolds' centroids.
    pub centroid_similarity: f64,
    /// Mean |cosine| between the manifolds' centroids.
    pub centroid_abs_similarity: f64,
    /// Participation ratio of the layer (2,000 test images).
    pub participation_ratio: f64,
    /// Power-law α of the layer (ranks 11–100; NaN/null with fewer dimensions).
    pub alpha: f64,
}

/// Probe accuracies of one (method, layer).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeRow {
    /// The method.
    pub method: String,
    /// The layer.
    pub layer: Layer,
    /// Columns of the layer's embedding.
    pub dim: usize,
    /// Weighted cosine kNN (k = 200, T = 0.1).
    pub knn_accuracy: f64,
    /// Ridge linear probe (λ = 1, standardised features).
    pub linear_probe_accuracy: f64,
}

/// One method's run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodRun {
    /// The method.
    pub method: String,
    /// Its recipe.
    pub recipe: String,
    /// Views per image in training.
    pub train_views: usize,
    /// Images per batch in training.
    pub batch_size: usize,
    /// Wall time of training.
    pub train_seconds: f64,
    /// Wall time of the layer analysis.
    pub analysis_seconds: f64,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CapacitySummary {
    /// The shared budget.
    pub budget: CapacityBudget,
    /// The MFT settings.
    pub mft: MftConfig,
    /// Views per image and images of the augmentation manifolds.
    pub augmentation: (usize, usize),
    /// Test images per class of the class manifolds.
    pub class_images_per_class: usize,
    /// The runs.
    pub runs: Vec<MethodRun>,
    /// `{method, layer, manifolds, capacity, radius, dimension, participation_ratio, alpha, …}`.
    pub rows: Vec<Row>,
    /// Probes per method and layer.
    pub probes: Vec<ProbeRow>,
    /// Covariance eigenvalues of each method's representation (`pool`, 2,000 test images).
    pub spectra: Vec<(String, Vec<f64>)>,
    /// Wall time of the study.
    pub wall_seconds: f64,
}

/// The checked config of a method under `budget`.
pub fn method_config(recipe: &str, budget: &CapacityBudget) -> Result<Config> {
    let sets = [format!("training.epochs={}", budget.epochs), format!("data.train_limit={}", budget.train_limit)];
    Config::load(&Source::Recipe(recipe.into()), &sets)
}

/// Checks every method's config (before any training).
pub fn check(budget: &CapacityBudget) -> Result<()> {
    for (name, recipe) in METHODS {
        method_config(recipe, budget).with_context(|| format!("capacity study method `{name}`"))?;
    }
    Ok(())
}

/// The first `per_class` images of each class among the first `within` images of `ds`.
fn class_sample(ds: &dyn Dataset, per_class: usize, within: usize) -> Vec<usize> {
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    (0..ds.len().min(within))
        .filter(|&i| {
            let c = counts.entry(ds.label(i).unwrap_or(0)).or_default();
            *c += 1;
            *c <= per_class
        })
        .collect()
}

/// Trains the three methods and analyses every layer; writes `summary.json`, `summary.md` and
/// the figures.
pub fn run(out: &StudyOutput, budget: CapacityBudget, device: DeviceChoice, threads: Option<usize>) -> Result<CapacitySummary> {
    let started = Instant::now();
    let mft_cfg = MftConfig::default();
    let (mut runs, mut rows, mut probes, mut spectra) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // (method, manifold kind, centroid cosines) at the projector, for the histograms.
    let mut histograms: Vec<(&str, &str, Vec<f64>)> = Vec::new();
    for (method, recipe) in METHODS {
        let cfg = method_config(recipe, &budget)?;
        out.progress(&format!("capacity: training `{method}` ({recipe}, {} epochs on {} images)", budget.epochs, budget.train_limit));
        let opts = RunOptions {
            device,
            threads,
            runs_root: out.dir().join("runs"),
            name: Some(method.into()),
            command: format!("ssl-train study capacity (method {method})"),
            ..Default::default()
        };
        let trained = train(&cfg, &opts)?;
        let analysis_started = Instant::now();
        out.progress(&format!("capacity: analysing `{method}` layer by layer"));
        let (cfg, net) = load_network(&trained.dir, device)?;
        let test = load_split(&cfg, Split::Test, 0)?;
        let train_set = load_split(&cfg, Split::Train, BANK)?;
        let eval: std::sync::Arc<dyn ViewTransform> = std::sync::Arc::new(cfg.views.eval_view().clone());
        let layers = LAYERS.to_vec();
        let batch = cfg.eval.batch_size;
        let one_view = |n: usize| ViewsExport { views: 1, images: n, pipeline: ViewPipeline::Train, epoch: 0 };
        // Augmentation manifolds: the run's own training views of the first test images.
        let train_views = view_transform(&cfg, &test, ViewPipeline::Train)?;
        let aug = layer_views(
            &net,
            cfg.seed,
            &test,
            train_views.as_ref(),
            &layers,
            ViewsExport { views: VIEWS, images: IMAGES, pipeline: ViewPipeline::Train, epoch: 0 },
            batch,
            &Progress::hidden(),
        )?;
        let queries = layer_views(&net, 0, &test, eval.as_ref(), &layers, one_view(QUERIES.min(test.len())), batch, &Progress::hidden())?;
        let bank = layer_views(&net, 0, &train_set, eval.as_ref(), &layers, one_view(train_set.len()), batch, &Progress::hidden())?;
        // Class manifolds: the first PER_CLASS of each class among the query images.
        let classes = class_sample(&test, PER_CLASS, QUERIES);
        let class_labels: Vec<u32> = classes.iter().map(|&i| queries.labels[i]).collect();
        for (i, &layer) in layers.iter().enumerate() {
            let q = &queries.layers[i].1;
            let spectrum = SpectrumReport::compute(q.view(), Default::default())?;
            if layer == Layer::Pool {
                spectra.push((method.to_string(), spectrum.covariance_eigenvalues.clone()));
            }
            let class_x = q.select(Axis(0), &classes);
            for (kind, x, ids) in [("augmentation", &aug.layers[i].1, &aug.manifold_ids), ("class", &class_x, &class_labels)] {
                let m = mft_analysis(x.view(), ids, mft_cfg).with_context(|| format!("MFT of {method} {} {kind} manifolds", layer.name()))?;
                let cos = centroid_cosines(x.view(), ids)?;
                let mean = cos.iter().sum::<f64>() / cos.len() as f64;
                let abs = cos.iter().map(|c| c.abs()).sum::<f64>() / cos.len() as f64;
                out.progress(&format!(
                    "capacity: {method} {:9} {kind:12} capacity {:.4} radius {:.4} dimension {:.2} centroid cos {:.3}",
                    layer.name(),
                    m.capacity,
                    m.radius,
                    m.dimension,
                    mean
                ));
                if layer == Layer::Projector {
                    histograms.push((method, kind, cos.clone()));
                }
                rows.push(Row {
                    method: method.into(),
                    layer,
                    manifolds: kind.into(),
                    capacity: m.capacity,
                    radius: m.radius,
                    dimension: m.dimension,
                    center_correlation: m.center_correlation,
                    centroid_similarity: mean,
                    centroid_abs_similarity: abs,
                    participation_ratio: spectrum.participation_ratio,
                    alpha: spectrum.alpha,
                });
            }
            let b = &bank.layers[i].1;
            let knn = knn_accuracy(b.view(), &bank.labels, q.view(), &queries.labels, KnnConfig { k: 200, temperature: 0.1 })?;
            let linear = linear_probe_accuracy(b.view(), &bank.labels, q.view(), &queries.labels, 1.0)?;
            probes.push(ProbeRow { method: method.into(), layer, dim: q.ncols(), knn_accuracy: knn, linear_probe_accuracy: linear });
        }
        runs.push(MethodRun {
            method: method.into(),
            recipe: recipe.into(),
            train_views: cfg.views.count,
            batch_size: cfg.training.batch_size,
            train_seconds: trained.wall_seconds,
            analysis_seconds: analysis_started.elapsed().as_secs_f64(),
        });
    }
    let summary = CapacitySummary {
        budget,
        mft: mft_cfg,
        augmentation: (VIEWS, IMAGES),
        class_images_per_class: PER_CLASS,
        runs,
        rows,
        probes,
        spectra,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_figures(out.dir(), &summary, &histograms)?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}

/// `(method, layer) → value` of the rows of one manifold kind, in layer order per method.
fn by_layer(s: &CapacitySummary, kind: &str, value: impl Fn(&Row) -> f64) -> Vec<(&'static str, Vec<f64>)> {
    METHODS
        .iter()
        .map(|(m, _)| {
            let v = LAYERS.iter().map(|&l| s.rows.iter().find(|r| r.method == *m && r.layer == l && r.manifolds == kind).map_or(f64::NAN, &value)).collect();
            (*m, v)
        })
        .collect()
}

fn write_figures(dir: &Path, s: &CapacitySummary, histograms: &[(&str, &str, Vec<f64>)]) -> Result<()> {
    let layers: Vec<String> = LAYERS.iter().map(|l| l.name().to_string()).collect();
    for kind in ["augmentation", "class"] {
        for (what, f) in [("capacity", (|r: &Row| r.capacity) as fn(&Row) -> f64), ("radius", |r: &Row| r.radius), ("dimension", |r: &Row| r.dimension)] {
            let series = by_layer(s, kind, f);
            let title = format!("MFT {what} of {kind} manifolds by layer");
            let y = match what {
                "capacity" => "capacity α_M",
                "radius" => "radius R_M",
                _ => "dimension D_M",
            };
            figure(dir, &format!("{what}-{kind}"), |p| category_plot(p, &title, y, &layers, &series))?;
        }
    }
    for kind in ["augmentation", "class"] {
        let series: Vec<(&str, &[f64])> = histograms.iter().filter(|(_, k, _)| *k == kind).map(|(m, _, c)| (*m, c.as_slice())).collect();
        figure(dir, &format!("centroid-similarity-{kind}"), |p| {
            histogram_plot(p, &format!("cosine similarity of {kind}-manifold centroids (projector output)"), "cosine similarity", &series, (-1.0, 1.0), 40)
        })?;
    }
    let series: Vec<SpectrumSeries> = s.spectra.iter().map(|(m, e)| SpectrumSeries { label: m, eigenvalues: e, fit: None }).collect();
    figure(dir, "representation-spectra", |p| spectrum_plot(p, "Representation (pool) spectrum, 2,000 test images", &series))?;
    Ok(())
}

fn markdown(s: &CapacitySummary) -> String {
    let mut md = format!(
        "# Manifold capacity by layer (MMCR Figs. 2, 3, 5)\n\nEvery method {} epochs on the first {} Fashion-MNIST training images. Augmentation manifolds: {} views of the first {} test images (each run's training views, epoch 0). Class manifolds: the first {} test images of each class. MFT κ = {}, n_t = {}, {} restarts, seed {}. Wall time {:.1} min.\n\n",
        s.budget.epochs,
        s.budget.train_limit,
        s.augmentation.0,
        s.augmentation.1,
        s.class_images_per_class,
        s.mft.kappa,
        s.mft.n_t,
        s.mft.n_reps,
        s.mft.seed,
        s.wall_seconds / 60.0
    );
    md.push_str("| method | recipe | views in training | batch | training min | analysis min |\n|---|---|---|---|---|---|\n");
    for r in &s.runs {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} |\n",
            r.method,
            r.recipe,
            r.train_views,
            r.batch_size,
            r.train_seconds / 60.0,
            r.analysis_seconds / 60.0
        ));
    }
    for kind in ["augmentation", "class"] {
        md.push_str(&format!("\n## {kind} manifolds\n\n| method | layer | capacity | radius | dimension | centre corr. | centroid cos (mean / |mean|) | PR | α |\n|---|---|---|---|---|---|---|---|---|\n"));
        for r in s.rows.iter().filter(|r| r.manifolds == kind) {
            md.push_str(&format!(
                "| {} | {} | {:.4} | {:.4} | {:.2} | {:.3} | {:.3} / {:.3} | {:.2} | {:.3} |\n",
                r.method,
                r.layer.name(),
                r.capacity,
                r.radius,
                r.dimension,
                r.center_correlation,
                r.centroid_similarity,
                r.centroid_abs_similarity,
                r.participation_ratio,
                r.alpha
            ));
        }
    }
    md.push_str(
        "\n## Probes (bank: 5,000 training images; queries: 2,000 test images)\n\n| method | layer | dim | kNN | linear (ridge) |\n|---|---|---|---|---|\n",
    );
    for p in &s.probes {
        md.push_str(&format!("| {} | {} | {} | {:.4} | {:.4} |\n", p.method, p.layer.name(), p.dim, p.knn_accuracy, p.linear_probe_accuracy));
    }
    md.push_str(
        "\nFigures: capacity-, radius-, dimension-{augmentation,class}; centroid-similarity-{augmentation,class}; representation-spectra (.svg and .png).\n",
    );
    md
}
