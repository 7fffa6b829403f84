//! `cargo xtask analyze`: diagnose embeddings exported from any framework (`.npy`, f32 or f64).
//!
//! ```text
//! cargo xtask analyze --embeddings X.npy [--labels y.npy]
//!     [--train-embeddings Xtr.npy --train-labels ytr.npy] [--alpha-window 11,100]
//!     [--manifold-ids m.npy] [--factors f.npy] [--probe-lambda 1.0]
//!     [--collapse-threshold 1e-5] [--knn-k 200 --knn-temperature 0.1]
//!     [--capacity-trials 40 --capacity-manifolds 64 --capacity-points 32]
//!     [--mft-n-t 200 --mft-kappa 0 --mft-reps 10 --mft-seed 0] [--format png|svg] --out DIR
//! ```
//! Writes `DIR/report.json` (keys documented in `ssl_analysis::report` and `docs/methods.md`),
//! `DIR/spectrum.{png,svg}` and `DIR/correlation.{png,svg}` (heat map of the feature correlation
//! matrix, first 64 dimensions), with `--manifold-ids` or `--labels` also
//! `DIR/centroid-similarity.{png,svg}` (histograms of the cosine similarity between manifold
//! centroids and between class centroids), each written whole or not at all (`ssl_io::atomic`). An existing
//! `DIR/report.json` is never overwritten.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ssl_analysis::analyze::{analyze, stages, AnalyzeInput, AnalyzeOptions};
use ssl_analysis::geometry::centroid_cosines;
use ssl_analysis::knn::KnnConfig;
use ssl_analysis::mft::MftConfig;
use ssl_analysis::plot::{heatmap_plot, histogram_plot, spectrum_plot, SpectrumSeries};
use ssl_analysis::{npy, AnalysisError};
use ssl_io::progress::Progress;
use ssl_io::{write_new_atomic, write_new_bytes_atomic, AtomicError};

#[derive(Parser)]
#[command(name = "ssl-analyze", about = "Spectrum, participation ratio, power-law alpha, RankMe, collapse and kNN of embeddings")]
struct Args {
    /// Embeddings to diagnose (n x d .npy, f32 or f64).
    #[arg(long)]
    embeddings: PathBuf,
    /// Labels of the embeddings (1-D integer .npy); with --train-* enables the kNN probe.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// kNN bank embeddings.
    #[arg(long, requires = "train_labels")]
    train_embeddings: Option<PathBuf>,
    /// kNN bank labels.
    #[arg(long, requires = "train_embeddings")]
    train_labels: Option<PathBuf>,
    /// One manifold id per embedding (1-D integer .npy; e.g. the image index of each view).
    #[arg(long)]
    manifold_ids: Option<PathBuf>,
    /// Factors of each embedding (n x 4 .npy: object class, background class, x, y; as
    /// `cargo xtask export` writes for the toy dataset): per-factor linear probes.
    #[arg(long)]
    factors: Option<PathBuf>,
    /// Ridge penalty of the linear probe (on standardised features).
    #[arg(long, default_value_t = 1.0)]
    probe_lambda: f64,
    /// 1-based rank window of the alpha fit, FIRST,LAST.
    #[arg(long, default_value = "11,100")]
    alpha_window: String,
    /// Eigenvalues at or below this fraction of the largest count as collapsed.
    #[arg(long, default_value_t = 1e-5)]
    collapse_threshold: f64,
    /// kNN neighbours.
    #[arg(long, default_value_t = 200)]
    knn_k: usize,
    /// kNN vote temperature.
    #[arg(long, default_value_t = 0.1)]
    knn_temperature: f64,
    /// Random dichotomies per tested dimension in the capacity simulation (0 skips it). Manifolds
    /// are the --manifold-ids groups, or the classes of --labels.
    #[arg(long, default_value_t = 40)]
    capacity_trials: usize,
    /// At most this many manifolds enter the capacity simulation (the smallest ids).
    #[arg(long, default_value_t = 64)]
    capacity_manifolds: usize,
    /// At most this many points per manifold enter the capacity simulation (evenly strided).
    #[arg(long, default_value_t = 32)]
    capacity_points: usize,
    /// Gaussian vectors per manifold in the mean-field-theory (MFT) capacity analysis (0 skips
    /// it). Manifolds are the --manifold-ids groups, or the classes of --labels.
    #[arg(long, default_value_t = 200)]
    mft_n_t: usize,
    /// Margin kappa of the MFT analysis.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    mft_kappa: f64,
    /// Random restarts per rank of the MFT centre-correlation removal.
    #[arg(long, default_value_t = 10)]
    mft_reps: usize,
    /// Seed of the MFT analysis's Gaussian vectors and restarts.
    #[arg(long, default_value_t = 0)]
    mft_seed: u64,
    /// Plot file format.
    #[arg(long, value_parser = ["png", "svg"], default_value = "png")]
    format: String,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    ssl_io::cli::one_line_panics();
    ssl_analysis::use_fast_openblas_kernels();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a file in `--out` is one this command writes.
fn is_own_output(name: &str) -> bool {
    matches!(
        name,
        "report.json" | "spectrum.png" | "spectrum.svg" | "correlation.png" | "correlation.svg" | "centroid-similarity.png" | "centroid-similarity.svg"
    )
}

fn bad(name: &'static str, problem: String) -> AnalysisError {
    AnalysisError::Param { name, problem }
}

/// An atomic write's error, naming the destination (not the temporary file a plot was drawn into).
fn atomic_error(e: AtomicError<AnalysisError>) -> AnalysisError {
    match e {
        AtomicError::Write { path, source: AnalysisError::Plot { problem, .. } } => AnalysisError::Plot { path, problem },
        AtomicError::Write { source, .. } => source,
        AtomicError::Io { path, action, source } => AnalysisError::File { path, problem: format!("cannot {action}: {source}") },
        AtomicError::Exists { path } => AnalysisError::File { path, problem: "already exists; choose another --out".into() },
    }
}

/// The command-line flag of an [`AnalyzeOptions`] field named in an error.
fn flag(field: &'static str) -> &'static str {
    match field {
        "alpha_window" => "--alpha-window",
        "collapse_threshold" => "--collapse-threshold",
        "probe_lambda" => "--probe-lambda",
        "knn_k" => "--knn-k",
        "knn_temperature" => "--knn-temperature",
        "capacity_manifolds" => "--capacity-manifolds",
        "capacity_points" => "--capacity-points",
        "mft_kappa" => "--mft-kappa",
        "mft_reps" => "--mft-reps",
        "mft_n_t" => "--mft-n-t",
        "labels" => "--labels",
        other => other,
    }
}

fn run(a: Args) -> Result<(), AnalysisError> {
    let window = a
        .alpha_window
        .split_once(',')
        .and_then(|(f, l)| Some((f.trim().parse::<usize>().ok()?, l.trim().parse::<usize>().ok()?)))
        .ok_or_else(|| bad("--alpha-window", format!("`{}`: expected FIRST,LAST (1-based ranks)", a.alpha_window)))?;
    let opts = AnalyzeOptions {
        alpha_window: window,
        collapse_threshold: a.collapse_threshold,
        probe_lambda: a.probe_lambda,
        knn: KnnConfig { k: a.knn_k, temperature: a.knn_temperature },
        capacity_trials: a.capacity_trials,
        capacity_manifolds: a.capacity_manifolds,
        capacity_points: a.capacity_points,
        mft: (a.mft_n_t > 0).then_some(MftConfig { kappa: a.mft_kappa, n_t: a.mft_n_t, n_reps: a.mft_reps, seed: a.mft_seed }),
    };
    let as_flag = |e: AnalysisError| match e {
        AnalysisError::Param { name, problem } => bad(flag(name), problem),
        other => other,
    };
    opts.check().map_err(as_flag)?;
    if a.labels.is_none() && a.train_embeddings.is_some() {
        return Err(bad("--labels", "the kNN probe needs --labels for the query embeddings".into()));
    }
    // Nothing of the user's is overwritten: the folder is new, empty or holds only this
    // command's outputs, and every file this command writes must be new.
    let report_path = a.out.join("report.json");
    let histogram_path = a.out.join(format!("centroid-similarity.{}", a.format));
    let mut outputs = vec![report_path.clone(), a.out.join(format!("spectrum.{}", a.format)), a.out.join(format!("correlation.{}", a.format))];
    if a.manifold_ids.is_some() || a.labels.is_some() {
        outputs.push(histogram_path.clone());
    }
    ssl_io::check_output_folder(&a.out, &outputs, is_own_output)?;
    let progress = Progress::new("analyze", 0);
    progress.set_message("reading inputs");
    let x = npy::read_matrix(&a.embeddings)?;
    let labels = a.labels.as_ref().map(npy::read_labels).transpose()?;
    let manifold_ids = a.manifold_ids.as_ref().map(npy::read_labels).transpose()?;
    let bank = match (&a.train_embeddings, &a.train_labels) {
        (Some(tx), Some(ty)) => Some((npy::read_matrix(tx)?, npy::read_labels(ty)?)),
        _ => None,
    };
    let factors = a.factors.as_ref().map(npy::read_matrix).transpose()?;
    let names = [
        &a.embeddings,
        a.labels.as_ref().unwrap_or(&a.embeddings),
        a.manifold_ids.as_ref().unwrap_or(&a.embeddings),
        a.factors.as_ref().unwrap_or(&a.embeddings),
    ]
    .map(|p| p.display().to_string());
    let bank_names = [a.train_embeddings.as_ref(), a.train_labels.as_ref()].map(|p| p.map_or_else(String::new, |p| p.display().to_string()));
    let input = AnalyzeInput {
        embeddings: (&names[0], x.view()),
        labels: labels.as_deref().map(|l| (names[1].as_str(), l)),
        train: bank.as_ref().map(|(bx, by)| ((bank_names[0].as_str(), bx.view()), (bank_names[1].as_str(), by.as_slice()))),
        manifold_ids: manifold_ids.as_deref().map(|m| (names[2].as_str(), m)),
        factors: factors.as_ref().map(|f| (names[3].as_str(), f.view())),
    };
    progress.set_length(stages(&input, &opts) as u64 + 1);
    let mut report = analyze(&input, &opts, &mut |s| progress.step(s)).map_err(as_flag)?;
    report.source = Some(a.embeddings.display().to_string());
    progress.step("plots");
    let spectrum = &report.spectrum;

    std::fs::create_dir_all(&a.out).map_err(|e| AnalysisError::File { path: a.out.clone(), problem: format!("cannot create: {e}") })?;
    let title = format!("{}: covariance spectrum", a.embeddings.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()));
    // Every file appears whole or not at all (written beside it, then renamed into place).
    let spectrum_path = a.out.join(format!("spectrum.{}", a.format));
    let series = [SpectrumSeries { label: "covariance eigenvalues", eigenvalues: &spectrum.covariance_eigenvalues, fit: spectrum.fit }];
    write_new_atomic(&spectrum_path, |tmp| spectrum_plot(tmp, &title, &series)).map_err(atomic_error)?;
    let shown = x.ncols().min(64);
    let corr = ssl_analysis::spectrum::correlation_matrix(x.slice(ndarray::s![.., ..shown]));
    let corr_path = a.out.join(format!("correlation.{}", a.format));
    let corr_title = format!("feature correlation (first {shown} dims)");
    write_new_atomic(&corr_path, |tmp| heatmap_plot(tmp, &corr_title, corr.view(), Some((-1.0, 1.0)))).map_err(atomic_error)?;
    // Centroid cosine similarities (MMCR Fig. 5): augmentation manifolds and classes side by side.
    let mut cosines: Vec<(&str, Vec<f64>)> = Vec::new();
    if let Some(g) = &report.manifold {
        cosines.push(("manifold centroids (--manifold-ids)", g.centroid_cosines.clone()));
    }
    if let Some(y) = &labels {
        cosines.push(("class centroids (--labels)", centroid_cosines(x.view(), y)?));
    }
    if !cosines.is_empty() {
        let series: Vec<(&str, &[f64])> = cosines.iter().map(|(l, v)| (*l, v.as_slice())).collect();
        write_new_atomic(&histogram_path, |tmp| histogram_plot(tmp, "cosine similarity between centroids", "cosine similarity", &series, (-1.0, 1.0), 40))
            .map_err(atomic_error)?;
    }
    progress.finish();
    let text = serde_json::to_string_pretty(&report).map_err(|e| bad("report", e.to_string()))?;
    // Never replaces a report.json, even one that appeared while this one was computed.
    write_new_bytes_atomic(&report_path, text).map_err(|e| atomic_error(e.map_write(|n| match n {})))?;
    println!(
        "n = {}, dim = {}: participation ratio {:.3}, alpha {:.3} (ranks {}-{}, R² {:.3}), RankMe {:.2}, effective rank {:.2}, collapsed dims {} (threshold {})",
        spectrum.n,
        spectrum.dim,
        spectrum.participation_ratio,
        spectrum.alpha,
        spectrum.alpha_fit_ranks[0],
        spectrum.alpha_fit_ranks[1],
        spectrum.alpha_r2,
        spectrum.rankme,
        report.effective_rank,
        report.collapsed_dims,
        a.collapse_threshold
    );
    if let Some(acc) = report.knn_accuracy {
        println!("kNN accuracy {acc:.4} (k = {}, T = {})", a.knn_k, a.knn_temperature);
    }
    if let Some(c) = report.capacity.as_ref().map(|r| &r.capacity) {
        if let Some(alpha) = c.alpha {
            println!("simulated capacity alpha {alpha:.3} ({} manifolds)", c.manifolds);
        }
    }
    if let Some(f) = &report.factors {
        println!(
            "factor probes ({} train / {} test rows): object {:.4} (chance {:.4}), background {:.4} (chance {:.4}), position R² {:.3}, error {:.2} px (chance {:.2})",
            f.train, f.test, f.object_accuracy, f.chance.object_accuracy, f.background_accuracy, f.chance.background_accuracy, f.position_r2, f.position_error_px, f.chance.position_error_px
        );
    }
    if let Some(m) = report.mft.as_ref().map(|r| &r.mft) {
        println!(
            "MFT capacity {:.4}, radius {:.4}, dimension {:.3} ({} manifolds; centre correlation {:.3}, {:.3} after removing {} dims)",
            m.capacity, m.radius, m.dimension, m.manifolds, m.center_correlation, m.residual_correlation, m.low_rank_dims
        );
    }
    println!("wrote {}, {} and {}", report_path.display(), spectrum_path.display(), corr_path.display());
    Ok(())
}
