//! The end-of-run evaluation: weighted cosine kNN of the trained encoder, the same encoder at
//! initialisation and raw pixels, all computed the same way; the spectral report; the plot.

use anyhow::Result;
use ssl_analysis::knn::KnnConfig;
use ssl_analysis::plot::{spectrum_png, SpectrumSeries};
use ssl_analysis::probe::linear_probe_accuracy;
use ssl_analysis::report::{EmbeddingReport, LinearProbeSummary, ReportOptions, SpectrumReport};
use ssl_data::{Dataset, InMemoryDataset};
use ssl_models::MemoryFormat;
use tch::Device;

use crate::baselines::baselines;
use crate::config::Config;
use crate::network::{embed_shown, Network};
use ssl_io::progress::Progress;

/// Ridge penalty of the final evaluation's linear probe (the default of `cargo xtask analyze`).
pub const RIDGE_LAMBDA: f64 = 1.0;
use crate::run::{RunDir, RunReport};

/// The numbers of the final evaluation.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// kNN accuracy of the trained backbone.
    pub knn_trained: f64,
    /// kNN accuracy of the backbone at initialisation.
    pub knn_init: f64,
    /// kNN accuracy of raw pixels.
    pub knn_pixels: f64,
    /// The cache file the two baselines (at initialisation, raw pixels) were read from, when
    /// they were not computed in this run (`crate::baselines`).
    pub baselines_cached: Option<std::path::PathBuf>,
    /// Representation dimension.
    pub dim: usize,
    /// Pixel dimension.
    pub pixel_dim: usize,
    /// kNN parameters.
    pub knn: KnnConfig,
    /// Bank and query sizes.
    pub bank: usize,
    /// Number of queries.
    pub queries: usize,
    /// Spectral report of the trained test embeddings.
    pub spectrum: SpectrumReport,
}

impl Evaluation {
    /// The side-by-side kNN table printed at the end of a run.
    pub fn table(&self, epochs: usize) -> String {
        let mut s = format!(
            "kNN accuracy on the test set (weighted cosine, k = {}, T = {}, bank = {} train images, queries = {} test images)\n",
            self.knn.k, self.knn.temperature, self.bank, self.queries
        );
        s += &format!("  {:<28} {:>6} {:>9}\n", "features", "dim", "accuracy");
        s += &format!("  {:<28} {:>6} {:>9.4}\n", format!("trained encoder ({epochs} epochs)"), self.dim, self.knn_trained);
        s += &format!("  {:<28} {:>6} {:>9.4}\n", "same encoder at init", self.dim, self.knn_init);
        s += &format!("  {:<28} {:>6} {:>9.4}\n", "raw pixels", self.pixel_dim, self.knn_pixels);
        if let Some(path) = &self.baselines_cached {
            s += &format!("  (at init and raw pixels: computed by an earlier run, cached in {})\n", path.display());
        }
        s
    }
}

/// Ridge penalty of the factor probes (standardised features).
pub const FACTOR_PROBE_LAMBDA: f64 = 1.0;

/// Factor probes (`ssl_analysis::factors`, λ = [`FACTOR_PROBE_LAMBDA`]) of `net`'s backbone on the toy dataset's test split
/// of `cfg`, the embedding counted on `progress` as the stage it names.
pub fn toy_factor_probes(cfg: &Config, net: &Network, progress: (&Progress, &str)) -> Result<ssl_analysis::factors::FactorProbes> {
    let toy = crate::dataset::load_toy(cfg, ssl_data::Split::Test, cfg.data.test_limit)?;
    let images = crate::dataset::toy_images(cfg, &toy)?;
    let n = images.len();
    let x = embed_shown(&net.backbone, &images, cfg.views.eval_view(), cfg.eval.batch_size, net.vs.device(), progress)?;
    let table = ssl_analysis::factors::FactorTable::from_matrix(crate::dataset::toy_factor_matrix(&toy, n, |r| r).view())?;
    progress.0.stage("factors: ridge probes", 0);
    Ok(ssl_analysis::factors::factor_probes(x.view(), &table, FACTOR_PROBE_LAMBDA)?)
}

/// Embeds, runs the three kNN probes and the spectral report, writes the run's outputs.
pub fn evaluate(
    cfg: &Config,
    net: &Network,
    init: &Network,
    train: &InMemoryDataset,
    test: &InMemoryDataset,
    device: Device,
    format: MemoryFormat,
    run: &RunDir,
    progress: &Progress,
) -> Result<Evaluation> {
    let view = cfg.views.eval_view();
    let knn = cfg.eval.knn();
    let train_labels = train.labels().unwrap_or_default();
    let test_labels = test.labels().unwrap_or_default();
    let bs = cfg.eval.batch_size;

    let tr = embed_shown(&net.backbone, train, view, bs, device, (progress, "final evaluation: embedding the training images"))?;
    let te = embed_shown(&net.backbone, test, view, bs, device, (progress, "final evaluation: embedding the test images"))?;
    progress.stage("final evaluation: spectrum, kNN and ridge probe", 0);
    let mut trained = EmbeddingReport::compute(te.view(), ReportOptions::default())?.with_knn(tr.view(), train_labels, te.view(), test_labels, knn)?;
    if !train_labels.is_empty() && !test_labels.is_empty() {
        // The closed-form linear probe of `cargo xtask analyze`: ridge on standardised features,
        // fitted on the training embeddings (kNN bank), tested on the test embeddings.
        trained.linear_probe_accuracy = Some(linear_probe_accuracy(tr.view(), train_labels, te.view(), test_labels, RIDGE_LAMBDA)?);
        trained.linear_probe = Some(LinearProbeSummary {
            model: ssl_analysis::probe::RIDGE_PROBE.into(),
            lambda: RIDGE_LAMBDA,
            train: tr.nrows(),
            test: te.nrows(),
            split: "training-set embeddings (the kNN bank) -> test-set embeddings".into(),
        });
    }
    drop(tr);
    let cache = crate::baselines::cache_file(run.path().parent().unwrap_or(run.path()), cfg, train, test, format)?;
    let (base, cached) = baselines(cfg, init, (train, test), device, (&cache.0, &cache.1), progress)?;

    // The .npy writers replace atomically themselves.
    ssl_analysis::npy::write_matrix(run.file("embeddings.npy"), &te)?;
    ssl_analysis::npy::write_labels(run.file("labels.npy"), test_labels)?;

    let report = RunReport { trained, knn_accuracy_init: base.knn_init, knn_accuracy_raw_pixels: base.knn_pixels, init: base.init.clone() };
    run.write_json("report.json", &report)?;
    let spectrum = &report.trained.spectrum;
    run.write_atomic("spectrum.png", |p| {
        Ok(spectrum_png(
            p,
            &format!("{}: test-set backbone covariance spectrum", cfg.name),
            &[
                SpectrumSeries { label: "trained", eigenvalues: &spectrum.covariance_eigenvalues, fit: spectrum.fit },
                SpectrumSeries { label: "at initialisation", eigenvalues: &base.init_eigenvalues, fit: None },
            ],
        )?)
    })?;
    Ok(Evaluation {
        knn_trained: report.trained.knn_accuracy.unwrap_or(f64::NAN),
        knn_init: base.knn_init,
        knn_pixels: base.knn_pixels,
        baselines_cached: cached.then_some(cache.0),
        dim: te.ncols(),
        pixel_dim: base.pixel_dim,
        knn,
        bank: train.len(),
        queries: test.len(),
        spectrum: report.trained.spectrum.clone(),
    })
}
