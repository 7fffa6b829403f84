//! `cargo xtask study collapse` (the toy part): DirectCLR's two mechanisms of dimensional collapse
//! and its depth sweep on linear networks (Jing et al., ICLR 2022, §3–4 and Fig. 2–6; seed 000),
//! set up as the official `toy_task/case_1.py` and `case_2.py` (see [`super::toy`]).
//!
//! * **Strong augmentation** (one layer, PyTorch's default init, lr 0.001, noise on the last 8 of
//!   16 dimensions): for each noise amplitude, the collapse Theorem 1 predicts — the negative
//!   eigenvalues of `X = Σ̂₀ − Σ̂₁`, averaged over 16 batches of 128, at the initial and at the
//!   final weights — next to the collapse observed in the trained embedding.
//! * **Implicit regularisation** (two layers, `case_2`'s fast-decaying initial singular values,
//!   lr 0.01, noise 0.001 on all dimensions): trajectories of the singular values of W₁, W₂ and the
//!   embedding covariance; the alignment matrix |V₂ᵀU₁| at the start and the end, with its
//!   diagonal mass Σᵢ Aᵢᵢ² / Σᵢⱼ Aᵢⱼ².
//! * **Depth sweep** (L = 1…4 layers, with and without ReLU; default init, lr 0.01, the weak
//!   augmentation of case 2): the final embedding spectra and their collapsed-dimension counts.
//!
//! Every run is seeded (`tch::manual_seed`); the embedding spectrum is, as in the reference code,
//! the eigenvalues of the covariance of the embeddings of 1000 fresh points `x ~ N(0, I)`.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use ssl_analysis::alignment::{alignment_matrix, off_diagonal_mass};
use ssl_analysis::plot::{heatmap_plot, spectrum_plot, trajectory_plot, SpectrumSeries};
use ssl_analysis::spectrum::{collapsed_dims, covariance_eigenvalues};
use tch::{Device, Kind, Tensor};

use super::toy::{negative_count, symmetric_eigenvalues, theory_matrix, to_matrix, to_matrix_f32, train, views, Init, LinearStack, TEMPERATURE};
use super::{figure, StudyOutput};

/// Dimension of the toy data and of every layer.
const DIM: i64 = 16;
/// Points of the toy dataset.
const POINTS: i64 = 10_000;
/// Relative eigenvalue below which a dimension counts as collapsed: ≤ 1e-6 × the largest. The
/// toy's collapsed directions decay exponentially and its healthy ones stay within about two
/// decades of the largest, so any threshold from 1e-8 to 1e-4 gives the same counts here.
pub const TOY_COLLAPSE_THRESHOLD: f64 = 1e-6;

/// How long each toy run trains (the reference: 10 000 steps).
#[derive(Clone, Copy, Debug)]
pub struct ToyBudget {
    /// SGD steps per run.
    pub steps: usize,
}

impl Default for ToyBudget {
    fn default() -> Self {
        ToyBudget { steps: 10_000 }
    }
}

/// One noise amplitude of the strong-augmentation sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StrongAugmentationRow {
    /// Standard deviation of the noise added to the last 8 dimensions.
    pub noise: f64,
    /// Negative eigenvalues of X at the initial weights (Theorem 1's prediction).
    pub predicted_collapsed: usize,
    /// Negative eigenvalues of X at the final weights.
    pub predicted_collapsed_end: usize,
    /// Embedding dimensions at or below the collapse threshold after training.
    pub observed_collapsed: usize,
    /// Eigenvalues of X at the initial weights, descending.
    pub theory_eigenvalues: Vec<f64>,
    /// The trained embedding's covariance eigenvalues, descending.
    pub spectrum: Vec<f64>,
}

/// The two-layer run of the implicit-regularisation mechanism.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImplicitRegularisation {
    /// Steps at which the trajectories were measured.
    pub steps: Vec<usize>,
    /// Singular values of W₁ at each measured step.
    pub w1_singular_values: Vec<Vec<f64>>,
    /// Singular values of W₂ at each measured step.
    pub w2_singular_values: Vec<Vec<f64>>,
    /// Embedding covariance eigenvalues at each measured step.
    pub embedding_spectra: Vec<Vec<f64>>,
    /// Collapsed embedding dimensions at the end.
    pub collapsed: usize,
}

/// Diagonal mass of |V₂ᵀU₁| (1 = aligned layers).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alignment {
    /// Σᵢ Aᵢᵢ² / Σᵢⱼ Aᵢⱼ² before training.
    pub diagonal_mass_start: f64,
    /// The same after training.
    pub diagonal_mass_end: f64,
}

/// One network of the depth sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepthRow {
    /// Number of linear layers.
    pub depth: usize,
    /// ReLU between the layers.
    pub relu: bool,
    /// Collapsed embedding dimensions after training.
    pub collapsed: usize,
    /// The trained embedding's covariance eigenvalues, descending.
    pub spectrum: Vec<f64>,
}

/// `summary.json` of the toy part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToySummary {
    /// The threshold of every collapsed count (relative to the largest eigenvalue).
    pub collapse_threshold: f64,
    /// SGD steps per run.
    pub steps: usize,
    /// Seed of every run.
    pub seed: i64,
    /// Case 1.
    pub strong_augmentation: Vec<StrongAugmentationRow>,
    /// Case 2.
    pub implicit_regularisation: ImplicitRegularisation,
    /// Case 2's alignment.
    pub alignment: Alignment,
    /// Fig. 6.
    pub depth_sweep: Vec<DepthRow>,
    /// Wall time of the whole part.
    pub wall_seconds: f64,
}

/// The noise amplitudes of the strong-augmentation sweep (the reference README uses 1.5).
pub const NOISES: [f64; 7] = [0.0, 0.5, 1.0, 1.25, 1.5, 2.0, 3.0];
const SEED: i64 = 0;

/// The embedding spectrum of the reference code: covariance eigenvalues of 1000 fresh points.
fn embedding_spectrum(net: &LinearStack) -> Result<Vec<f64>> {
    let _guard = tch::no_grad_guard();
    let x = Tensor::randn([1000, DIM], (Kind::Float, Device::Cpu));
    Ok(covariance_eigenvalues(to_matrix_f32(&net.forward(&x)).view())?)
}

/// Negative eigenvalues of X (averaged over 16 batches of 128 view pairs) under `net`, and X's
/// eigenvalues.
fn predicted(net: &LinearStack, data: &Tensor, noise: f64, noisy: &Tensor) -> Result<(usize, Vec<f64>)> {
    let _guard = tch::no_grad_guard();
    let mut sum = ndarray::Array2::<f64>::zeros((DIM as usize, DIM as usize));
    for b in 0..16 {
        let x = data.narrow(0, b * 128, 128);
        let (x1, x2) = views(&x, noise, noisy);
        let (m, _) = theory_matrix(&x1, &x2, &net.forward(&x1), &net.forward(&x2), TEMPERATURE);
        sum += &m;
    }
    let eig = symmetric_eigenvalues(&(sum / 16.0))?;
    Ok((negative_count(&eig), eig))
}

fn dataset() -> Tensor {
    Tensor::randn([POINTS, DIM], (Kind::Float, Device::Cpu))
}

/// Runs the three toy experiments and writes `summary.json`, `summary.md` and the figures.
pub fn run(out: &StudyOutput, budget: ToyBudget) -> Result<ToySummary> {
    let started = Instant::now();
    let steps = budget.steps;
    let every = (steps / 100).max(1);

    // Case 1: strong augmentation.
    let mut strong = Vec::new();
    for &noise in &NOISES {
        tch::manual_seed(SEED);
        let data = dataset();
        let noisy = Tensor::cat(&[Tensor::zeros([DIM / 2], (Kind::Float, Device::Cpu)), Tensor::ones([DIM / 2], (Kind::Float, Device::Cpu))], 0);
        let net = LinearStack::new(DIM, 1, false, Init::Default)?;
        let (predicted_collapsed, theory_eigenvalues) = predicted(&net, &data, noise, &noisy)?;
        train(&net, &data, noise, &noisy, steps, 0.001, 0, |_, _| {})?;
        let (predicted_collapsed_end, _) = predicted(&net, &data, noise, &noisy)?;
        let spectrum = embedding_spectrum(&net)?;
        let observed_collapsed = collapsed_dims(&spectrum, TOY_COLLAPSE_THRESHOLD);
        out.progress(&format!("strong augmentation, noise {noise}: predicted {predicted_collapsed} collapsed, observed {observed_collapsed}"));
        strong.push(StrongAugmentationRow { noise, predicted_collapsed, predicted_collapsed_end, observed_collapsed, theory_eigenvalues, spectrum });
    }

    // Case 2: implicit regularisation.
    tch::manual_seed(SEED);
    let data = dataset();
    let all = Tensor::ones([DIM], (Kind::Float, Device::Cpu));
    let net = LinearStack::new(DIM, 2, false, Init::Decaying)?;
    let align = |net: &LinearStack| alignment_matrix(to_matrix(&net.weights[0]).view(), to_matrix(&net.weights[1]).view());
    let a_start = align(&net)?;
    let mut ir = ImplicitRegularisation { steps: vec![], w1_singular_values: vec![], w2_singular_values: vec![], embedding_spectra: vec![], collapsed: 0 };
    let mut failure = None;
    train(&net, &data, 0.001, &all, steps, 0.01, every, |step, net| {
        ir.steps.push(step);
        ir.w1_singular_values.push(net.singular_values(0));
        ir.w2_singular_values.push(net.singular_values(1));
        match embedding_spectrum(net) {
            Ok(s) => ir.embedding_spectra.push(s),
            Err(e) => failure = Some(e),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let a_end = align(&net)?;
    ir.collapsed = ir.embedding_spectra.last().map_or(0, |s| collapsed_dims(s, TOY_COLLAPSE_THRESHOLD));
    let alignment = Alignment { diagonal_mass_start: 1.0 - off_diagonal_mass(&a_start), diagonal_mass_end: 1.0 - off_diagonal_mass(&a_end) };
    out.progress(&format!(
        "implicit regularisation: {} collapsed; alignment diagonal mass {:.3} -> {:.3}",
        ir.collapsed, alignment.diagonal_mass_start, alignment.diagonal_mass_end
    ));

    // Depth sweep.
    let mut depth_sweep = Vec::new();
    for relu in [false, true] {
        for depth in 1..=4 {
            tch::manual_seed(SEED);
            let data = dataset();
            let net = LinearStack::new(DIM, depth, relu, Init::Default)?;
            train(&net, &data, 0.001, &all, steps, 0.01, 0, |_, _| {})?;
            let spectrum = embedding_spectrum(&net)?;
            let collapsed = collapsed_dims(&spectrum, TOY_COLLAPSE_THRESHOLD);
            out.progress(&format!("depth {depth}{}: {collapsed} collapsed", if relu { " with ReLU" } else { "" }));
            depth_sweep.push(DepthRow { depth, relu, collapsed, spectrum });
        }
    }

    let summary = ToySummary {
        collapse_threshold: TOY_COLLAPSE_THRESHOLD,
        steps,
        seed: SEED,
        strong_augmentation: strong,
        implicit_regularisation: ir,
        alignment,
        depth_sweep,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_figures(out.dir(), &summary, &a_start, &a_end)?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}

fn write_figures(dir: &Path, s: &ToySummary, a_start: &ndarray::Array2<f64>, a_end: &ndarray::Array2<f64>) -> Result<()> {
    let labels: Vec<String> = s.strong_augmentation.iter().map(|r| format!("noise {}", r.noise)).collect();
    let series: Vec<SpectrumSeries> =
        s.strong_augmentation.iter().zip(&labels).map(|(r, l)| SpectrumSeries { label: l, eigenvalues: &r.spectrum, fit: None }).collect();
    figure(dir, "strong-augmentation-spectra", |p| spectrum_plot(p, "Case 1: embedding spectrum after training, by noise", &series))?;
    let ir = &s.implicit_regularisation;
    let steps: Vec<f64> = ir.steps.iter().map(|&x| x as f64).collect();
    figure(dir, "implicit-w1-singular-values", |p| {
        trajectory_plot(p, "Case 2: singular values of W1", "log10 singular value", &steps, &ir.w1_singular_values)
    })?;
    figure(dir, "implicit-w2-singular-values", |p| {
        trajectory_plot(p, "Case 2: singular values of W2", "log10 singular value", &steps, &ir.w2_singular_values)
    })?;
    figure(dir, "implicit-embedding-spectrum", |p| {
        trajectory_plot(p, "Case 2: embedding covariance eigenvalues", "log10 eigenvalue", &steps, &ir.embedding_spectra)
    })?;
    figure(dir, "alignment-start", |p| heatmap_plot(p, "|V2ᵀU1| at initialisation", a_start.view(), Some((0.0, 1.0))))?;
    figure(dir, "alignment-end", |p| heatmap_plot(p, "|V2ᵀU1| after training", a_end.view(), Some((0.0, 1.0))))?;
    for relu in [false, true] {
        let rows: Vec<&DepthRow> = s.depth_sweep.iter().filter(|r| r.relu == relu).collect();
        let labels: Vec<String> = rows.iter().map(|r| format!("L = {}", r.depth)).collect();
        let series: Vec<SpectrumSeries> = rows.iter().zip(&labels).map(|(r, l)| SpectrumSeries { label: l, eigenvalues: &r.spectrum, fit: None }).collect();
        let (name, title) = if relu {
            ("depth-sweep-relu", "Depth sweep with ReLU: embedding spectrum")
        } else {
            ("depth-sweep-linear", "Depth sweep, linear: embedding spectrum")
        };
        figure(dir, name, |p| spectrum_plot(p, title, &series))?;
    }
    Ok(())
}

fn markdown(s: &ToySummary) -> String {
    let mut md = format!(
        "# Dimensional collapse: toy models (DirectCLR §3–4)\n\n{} SGD steps per run, seed {}, collapsed = covariance eigenvalue ≤ {:e} × the largest. Wall time {:.0} s.\n\n",
        s.steps, s.seed, s.collapse_threshold, s.wall_seconds
    );
    md.push_str("## Strong augmentation (one linear layer, noise on 8 of 16 dimensions)\n\n| noise | predicted collapsed (X at init) | predicted (X at end) | observed collapsed | smallest / largest eigenvalue |\n|---|---|---|---|---|\n");
    for r in &s.strong_augmentation {
        let ratio = r.spectrum.last().copied().unwrap_or(0.0) / r.spectrum.first().copied().unwrap_or(1.0);
        md.push_str(&format!("| {} | {} | {} | {} | {:.2e} |\n", r.noise, r.predicted_collapsed, r.predicted_collapsed_end, r.observed_collapsed, ratio));
    }
    let ir = &s.implicit_regularisation;
    md.push_str(&format!(
        "\n## Implicit regularisation (two linear layers, weak augmentation)\n\ncollapsed embedding dimensions at the end: {}; alignment |V2ᵀU1| diagonal mass {:.3} at the start, {:.3} at the end.\n\n",
        ir.collapsed, s.alignment.diagonal_mass_start, s.alignment.diagonal_mass_end
    ));
    md.push_str("## Depth sweep\n\n| depth | ReLU | collapsed | smallest / largest eigenvalue |\n|---|---|---|---|\n");
    for r in &s.depth_sweep {
        let ratio = r.spectrum.last().copied().unwrap_or(0.0) / r.spectrum.first().copied().unwrap_or(1.0);
        md.push_str(&format!("| {} | {} | {} | {:.2e} |\n", r.depth, if r.relu { "yes" } else { "no" }, r.collapsed, ratio));
    }
    md.push_str("\nFigures: strong-augmentation-spectra, implicit-{w1,w2}-singular-values, implicit-embedding-spectrum, alignment-{start,end}, depth-sweep-{linear,relu} (.svg and .png).\n");
    md
}
