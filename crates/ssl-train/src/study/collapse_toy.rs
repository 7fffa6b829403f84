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
use ssl_analysis::spectrum::collapsed_dims;
use tch::{Device, Kind, Tensor};

use super::toy::{negative_count, symmetric_eigenvalues, tensor_vec, theory_matrix, train, views, Init, LinearStack, TEMPERATURE};
use super::{figure, StudyOutput};

/// Dimension of the toy data and of every layer.
const DIM: i64 = 16;
/// Points of the toy dataset.
const POINTS: i64 = 10_000;
/// Relative eigenvalue at or below which a dimension counts as collapsed: the toolkit's one
/// threshold ([`ssl_analysis::report::COLLAPSE_THRESHOLD`], 1e-5 × the largest).
pub const TOY_COLLAPSE_THRESHOLD: f64 = ssl_analysis::report::COLLAPSE_THRESHOLD;
/// A looser count for the strong-augmentation sweep: eigenvalues below 1/10 of the largest —
/// directions SGD has pushed down by an order of magnitude without making them vanish.
pub const SUPPRESSION_THRESHOLD: f64 = 0.1;

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
    /// Embedding dimensions below [`SUPPRESSION_THRESHOLD`] × the largest after training.
    pub observed_suppressed: usize,
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
    /// Collapsed embedding dimensions at initialisation (the decaying init starts low-rank).
    pub collapsed_start: usize,
    /// Collapsed embedding dimensions at the end.
    pub collapsed: usize,
}

/// Diagonal mass of |V₂ᵀU₁| (1 = aligned layers), and its block-diagonal mass for the split of
/// W₁'s final singular values at their largest gap (the paper: with a random initialisation the
/// alignment is block-diagonal, not the identity).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alignment {
    /// Σᵢ Aᵢᵢ² / Σᵢⱼ Aᵢⱼ² before training.
    pub diagonal_mass_start: f64,
    /// The same after training.
    pub diagonal_mass_end: f64,
    /// Sizes of the two diagonal blocks (W₁'s singular values above and below their largest gap
    /// in log scale after training).
    pub blocks: [usize; 2],
    /// Mass of |V₂ᵀU₁| inside the two diagonal blocks before training.
    pub block_diagonal_mass_start: f64,
    /// The same after training.
    pub block_diagonal_mass_end: f64,
}

/// The index after the largest log-gap between consecutive (descending, positive) values.
fn largest_gap(values: &[f64]) -> usize {
    let gap = |k: usize| (values[k - 1].max(1e-300) / values[k].max(1e-300)).ln();
    // The first of equal gaps.
    (1..values.len())
        .fold(None, |best: Option<usize>, k| match best {
            Some(b) if gap(b) >= gap(k) => Some(b),
            _ => Some(k),
        })
        .unwrap_or(values.len())
}

/// Σ over the two diagonal blocks (split at `k`) of A²ᵢⱼ / Σ A²ᵢⱼ.
fn block_diagonal_mass(a: &ndarray::Array2<f64>, k: usize) -> f64 {
    let total: f64 = a.iter().map(|v| v * v).sum();
    let inside: f64 = a.indexed_iter().filter(|((i, j), _)| (*i < k) == (*j < k)).map(|(_, v)| v * v).sum();
    if total > 0.0 {
        inside / total
    } else {
        0.0
    }
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

/// The embedding spectrum of the reference code, per run: covariance eigenvalues of the
/// embeddings of 1000 fresh points (the same points for every run).
fn embedding_spectra(net: &LinearStack) -> Result<Vec<Vec<f64>>> {
    let _guard = tch::no_grad_guard();
    let x = Tensor::randn([1, 1000, DIM], (Kind::Float, Device::Cpu)).expand([net.runs(), -1, -1], false);
    // np.cov's eigenvalues, in double precision, by libtorch (a 16 × 16 problem per run: kept
    // off the threaded BLAS, whose idle threads would spin between the training steps).
    let z = net.forward(&x).to_kind(Kind::Double);
    let centred = &z - z.mean_dim(1, true, Kind::Double);
    let cov = centred.transpose(1, 2).matmul(&centred) / 999.0;
    let eig = Tensor::linalg_eigvalsh(&cov, "L").flip([1]).clamp_min(0.0);
    Ok((0..net.runs()).map(|r| tensor_vec(&eig.get(r))).collect())
}

/// Per run: the negative eigenvalues of X (averaged over 16 batches of 128 view pairs) under the
/// run's current weights, and X's eigenvalues.
fn predicted(net: &LinearStack, data: &Tensor, noise: &Tensor, noisy: &Tensor) -> Result<Vec<(usize, Vec<f64>)>> {
    let _guard = tch::no_grad_guard();
    let runs = net.runs();
    let mut sums = vec![ndarray::Array2::<f64>::zeros((DIM as usize, DIM as usize)); runs as usize];
    for b in 0..16 {
        let x = data.narrow(0, b * 128, 128).unsqueeze(0).expand([runs, -1, -1], false);
        let (x1, x2) = views(&x, noise, noisy);
        let (z1, z2) = (net.forward(&x1), net.forward(&x2));
        for (r, sum) in sums.iter_mut().enumerate() {
            let r = r as i64;
            let (m, _) = theory_matrix(&x1.get(r), &x2.get(r), &z1.get(r), &z2.get(r), TEMPERATURE);
            *sum += &m;
        }
    }
    sums.into_iter()
        .map(|m| {
            let eig = symmetric_eigenvalues(&(m / 16.0))?;
            Ok((negative_count(&eig), eig))
        })
        .collect()
}

fn dataset() -> Tensor {
    Tensor::randn([POINTS, DIM], (Kind::Float, Device::Cpu))
}

fn cpu(v: &[f32]) -> Tensor {
    Tensor::from_slice(v)
}

/// Runs the three toy experiments and writes `summary.json`, `summary.md` and the figures.
pub fn run(out: &StudyOutput, budget: ToyBudget) -> Result<ToySummary> {
    let started = Instant::now();
    // Tensors of 16 × 128: one thread is faster than a pool that wakes for every small op.
    tch::set_num_threads(1);
    let steps = budget.steps;
    let every = (steps / 100).max(1);
    let half = DIM / 2;
    let last_half = Tensor::cat(&[Tensor::zeros([half], (Kind::Float, Device::Cpu)), Tensor::ones([DIM - half], (Kind::Float, Device::Cpu))], 0);
    let all = Tensor::ones([DIM], (Kind::Float, Device::Cpu));

    // Case 1: strong augmentation, one run per noise amplitude (trained together).
    tch::manual_seed(SEED);
    let data = dataset();
    let noises: Vec<f32> = NOISES.iter().map(|&n| n as f32).collect();
    let noise = cpu(&noises).view([NOISES.len() as i64, 1, 1]);
    let net = LinearStack::new(DIM, 1, &[false; NOISES.len()], Init::Default)?;
    let at_init = predicted(&net, &data, &noise, &last_half)?;
    train(&net, &data, &noise, &last_half, steps, 0.001, 0, |_, _| {})?;
    let at_end = predicted(&net, &data, &noise, &last_half)?;
    let spectra = embedding_spectra(&net)?;
    let mut strong = Vec::new();
    for (((&noise, (predicted_collapsed, theory_eigenvalues)), (predicted_collapsed_end, _)), spectrum) in NOISES.iter().zip(at_init).zip(at_end).zip(spectra) {
        let observed_collapsed = collapsed_dims(&spectrum, TOY_COLLAPSE_THRESHOLD);
        let observed_suppressed = collapsed_dims(&spectrum, SUPPRESSION_THRESHOLD);
        out.progress(&format!(
            "strong augmentation, noise {noise}: predicted {predicted_collapsed} collapsed, observed {observed_collapsed} ({observed_suppressed} suppressed)"
        ));
        strong.push(StrongAugmentationRow {
            noise,
            predicted_collapsed,
            predicted_collapsed_end,
            observed_collapsed,
            observed_suppressed,
            theory_eigenvalues,
            spectrum,
        });
    }

    // Case 2: implicit regularisation.
    tch::manual_seed(SEED);
    let data = dataset();
    let net = LinearStack::new(DIM, 2, &[false], Init::Decaying)?;
    let align = |net: &LinearStack| alignment_matrix(net.weight(0, 0).view(), net.weight(0, 1).view());
    let a_start = align(&net)?;
    let mut ir = ImplicitRegularisation {
        steps: vec![],
        w1_singular_values: vec![],
        w2_singular_values: vec![],
        embedding_spectra: vec![],
        collapsed_start: 0,
        collapsed: 0,
    };
    let mut failure = None;
    train(&net, &data, &cpu(&[0.001]).view([1, 1, 1]), &all, steps, 0.01, every, |step, net| {
        ir.steps.push(step);
        ir.w1_singular_values.push(net.singular_values(0, 0));
        ir.w2_singular_values.push(net.singular_values(0, 1));
        match embedding_spectra(net) {
            Ok(mut s) => ir.embedding_spectra.push(s.remove(0)),
            Err(e) => failure = Some(e),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let a_end = align(&net)?;
    ir.collapsed_start = ir.embedding_spectra.first().map_or(0, |s| collapsed_dims(s, TOY_COLLAPSE_THRESHOLD));
    ir.collapsed = ir.embedding_spectra.last().map_or(0, |s| collapsed_dims(s, TOY_COLLAPSE_THRESHOLD));
    let split = largest_gap(ir.w1_singular_values.last().map_or(&[][..], Vec::as_slice));
    let alignment = Alignment {
        diagonal_mass_start: 1.0 - off_diagonal_mass(&a_start),
        diagonal_mass_end: 1.0 - off_diagonal_mass(&a_end),
        blocks: [split, DIM as usize - split],
        block_diagonal_mass_start: block_diagonal_mass(&a_start, split),
        block_diagonal_mass_end: block_diagonal_mass(&a_end, split),
    };
    out.progress(&format!(
        "implicit regularisation: {} collapsed at the start, {} at the end; alignment diagonal mass {:.3} -> {:.3}, block-diagonal ({} + {}) {:.3} -> {:.3}",
        ir.collapsed_start,
        ir.collapsed,
        alignment.diagonal_mass_start,
        alignment.diagonal_mass_end,
        alignment.blocks[0],
        alignment.blocks[1],
        alignment.block_diagonal_mass_start,
        alignment.block_diagonal_mass_end
    ));

    // Depth sweep: per depth, the linear and the ReLU network trained together.
    let mut depth_sweep = Vec::new();
    for depth in 1..=4 {
        tch::manual_seed(SEED);
        let data = dataset();
        let net = LinearStack::new(DIM, depth, &[false, true], Init::Default)?;
        train(&net, &data, &cpu(&[0.001, 0.001]).view([2, 1, 1]), &all, steps, 0.01, 0, |_, _| {})?;
        for (relu, spectrum) in [false, true].into_iter().zip(embedding_spectra(&net)?) {
            let collapsed = collapsed_dims(&spectrum, TOY_COLLAPSE_THRESHOLD);
            out.progress(&format!("depth {depth}{}: {collapsed} collapsed", if relu { " with ReLU" } else { "" }));
            depth_sweep.push(DepthRow { depth, relu, collapsed, spectrum });
        }
    }
    depth_sweep.sort_by_key(|r| (r.relu, r.depth));

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
        "# Dimensional collapse: toy models (DirectCLR §3–4)\n\n{} SGD steps per run, seed {}, collapsed = embedding covariance eigenvalue ≤ {:e} × the largest. Wall time {:.0} s.\n\n",
        s.steps, s.seed, s.collapse_threshold, s.wall_seconds
    );
    md.push_str(&format!("## Strong augmentation (one linear layer, noise on 8 of 16 dimensions)\n\n| noise | predicted collapsed (X at init) | predicted (X at end) | observed collapsed | observed suppressed (< {} × largest) | smallest / largest eigenvalue |\n|---|---|---|---|---|---|\n", SUPPRESSION_THRESHOLD));
    for r in &s.strong_augmentation {
        let ratio = r.spectrum.last().copied().unwrap_or(0.0) / r.spectrum.first().copied().unwrap_or(1.0);
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2e} |\n",
            r.noise, r.predicted_collapsed, r.predicted_collapsed_end, r.observed_collapsed, r.observed_suppressed, ratio
        ));
    }
    let ir = &s.implicit_regularisation;
    md.push_str(&format!(
        "\n## Implicit regularisation (two linear layers, weak augmentation)\n\ncollapsed embedding dimensions: {} at initialisation, {} at the end; W1 singular values at the end: {}.\n\nalignment |V2ᵀU1|: diagonal mass {:.3} at the start, {:.3} at the end; mass in the diagonal blocks of {} and {} directions (W1's singular values split at their largest gap) {:.3} at the start, {:.3} at the end.\n\n",
        ir.collapsed_start,
        ir.collapsed,
        ir.w1_singular_values.last().map(|v| v.iter().map(|x| format!("{x:.2e}")).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        s.alignment.diagonal_mass_start,
        s.alignment.diagonal_mass_end,
        s.alignment.blocks[0],
        s.alignment.blocks[1],
        s.alignment.block_diagonal_mass_start,
        s.alignment.block_diagonal_mass_end
    ));
    md.push_str("## Depth sweep\n\n| depth | ReLU | collapsed | smallest / largest eigenvalue |\n|---|---|---|---|\n");
    for r in &s.depth_sweep {
        let ratio = r.spectrum.last().copied().unwrap_or(0.0) / r.spectrum.first().copied().unwrap_or(1.0);
        md.push_str(&format!("| {} | {} | {} | {:.2e} |\n", r.depth, if r.relu { "yes" } else { "no" }, r.collapsed, ratio));
    }
    md.push_str("\nFigures: strong-augmentation-spectra, implicit-{w1,w2}-singular-values, implicit-embedding-spectrum, alignment-{start,end}, depth-sweep-{linear,relu} (.svg and .png).\n");
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_split_is_at_the_largest_log_gap_and_counts_the_blocks_mass() {
        assert_eq!(largest_gap(&[1.0, 0.9, 0.8, 1e-3, 5e-4]), 3);
        assert_eq!(largest_gap(&[1.0, 0.5, 0.25]), 1, "equal gaps: the first");
        let a = ndarray::arr2(&[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        assert!((block_diagonal_mass(&a, 2) - 1.0).abs() < 1e-12, "a swap inside the first block");
        assert!((block_diagonal_mass(&a, 1) - 1.0 / 3.0).abs() < 1e-12);
    }
}
