//! `cargo xtask study infomin --part sweetspot`: the InfoMin sweet spot (Tian et al. 2020, §3.2
//! and Fig. 3/4, seed 004) along the paper's spatial sweep.
//!
//! The two views are two 14 × 14 patches of one Fashion-MNIST image `distance` pixels apart
//! (`infomin-patches-fmnist`, one shared encoder, no other augmentation): the further apart,
//! the less the views share. One run per distance, all on one budget; per run the InfoNCE
//! estimate I_NCE = ln K − L that training reached (K = 2B − 1 candidates per anchor) and the
//! frozen encoder's linear (ridge) and kNN accuracy on whole images. The paper's claim: as the
//! shared information falls, downstream accuracy first rises then falls — an inverted U against
//! I_NCE, with the best views at an intermediate amount of shared information.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::plot::labelled_points_plot;
use ssl_models::{pick_device, DeviceChoice};

use super::infomin::Verdict;
use super::readout::{readout, train_and_read, Readout, ViewStudyBudget};
use super::{figure, StudyOutput};
use crate::config::{Config, Source};
use crate::network::Network;

/// The recipe every run starts from.
pub const RECIPE: &str = "infomin-patches-fmnist";

/// Patch side (pixels) on the 28 × 28 images.
pub const PATCH: usize = 14;

/// The distances swept (pixels between the patches' corners): 0 = the same patch twice, 14 =
/// patches that touch at most along an edge.
pub const DISTANCES: [f32; 7] = [0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 14.0];

/// The budget every run shares (default: 1 epoch on all 60,000 images, readout 10,000 → 5,000).
pub fn default_budget() -> ViewStudyBudget {
    ViewStudyBudget { epochs: 1, train_limit: 0, bank: 10_000, queries: 5_000, data_root: None, seed: None }
}

/// One setting of the sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweetspotRow {
    /// The setting, e.g. `distance 7 px`.
    pub setting: String,
    /// Distance between the patches in pixels.
    pub distance: f32,
    /// I_NCE = ln K − L over the last epoch, nats.
    pub i_nce: f64,
    /// ln K of that estimate.
    pub ln_k: f64,
    /// Linear (ridge) probe accuracy on whole test images.
    pub linear: f64,
    /// kNN accuracy on whole test images.
    pub knn: f64,
    /// Training wall time in seconds.
    pub train_seconds: f64,
    /// The readout's sizes.
    pub readout: Readout,
}

/// `summary.json` of the sweet-spot part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweetspotSummary {
    /// The budget.
    pub budget: ViewStudyBudget,
    /// The recipe.
    pub recipe: String,
    /// `{setting, i_nce, linear, …}` per distance, in sweep order.
    pub sweetspot: Vec<SweetspotRow>,
    /// The same readout of the encoder at initialisation (the recipe's seed): the reference.
    pub init: Readout,
    /// The claims and their verdicts.
    pub verdicts: Vec<Verdict>,
    /// Wall time of the part.
    pub wall_seconds: f64,
}

/// The checked config of the run at `distance`.
pub fn run_config(distance: f32, budget: &ViewStudyBudget) -> Result<Config> {
    let mut sets = vec![
        format!(
            "views.train=[{{ ops = [{{ op = \"patch_pair\", size = {PATCH}, distance = {distance:?} }}, {{ op = \"normalize\", mean = [0.286], std = [0.353] }}] }}]"
        ),
    ];
    sets.extend(budget.overrides());
    Config::load(&Source::Recipe(RECIPE.into()), &sets)
}

/// Checks every run's config (before any training).
pub fn check(budget: &ViewStudyBudget) -> Result<()> {
    for d in DISTANCES {
        run_config(d, budget).with_context(|| format!("infomin sweet-spot study, distance {d}"))?;
    }
    Ok(())
}

/// Spearman's rank correlation of two equally long series (no ties expected; ties get the
/// order of appearance).
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let ranks = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        for (rank, &i) in idx.iter().enumerate() {
            r[i] = rank as f64;
        }
        r
    };
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// The verdicts, from the rows (in sweep order).
pub fn verdicts(rows: &[SweetspotRow]) -> Vec<Verdict> {
    if rows.len() < 3 {
        return Vec::new();
    }
    let dist: Vec<f64> = rows.iter().map(|r| f64::from(r.distance)).collect();
    let inc: Vec<f64> = rows.iter().map(|r| r.i_nce).collect();
    let rho = spearman(&dist, &inc);
    let shared = Verdict {
        claim: "Moving the patches apart lowers the information the views share (I_NCE falls with the distance).".into(),
        verdict: if rho <= -0.8 {
            "reproduced"
        } else if rho < 0.0 {
            "partly"
        } else {
            "contradicted"
        }
        .into(),
        evidence: format!(
            "Spearman rank correlation of distance and I_NCE {rho:.2}; I_NCE {}",
            rows.iter().map(|r| format!("{:.2} at {} px", r.i_nce, r.distance)).collect::<Vec<_>>().join(", ")
        ),
    };
    // The inverted U: the best accuracy at an interior setting, above both ends by more than the
    // readout can resolve: twice the standard error of a difference of two accuracies on the
    // same number of test images, 2·√2·√(p(1 − p)/n).
    let (best, top) = rows.iter().enumerate().max_by(|a, b| a.1.linear.total_cmp(&b.1.linear)).map(|(i, r)| (i, r.linear)).expect("rows");
    let (first, last) = (rows[0].linear, rows[rows.len() - 1].linear);
    let interior = best > 0 && best + 1 < rows.len();
    let n = rows[best].readout.queries.max(1) as f64;
    let margin = 2.0 * std::f64::consts::SQRT_2 * (top * (1.0 - top) / n).sqrt();
    let (left, right) = (top - first >= margin, top - last >= margin);
    let u = Verdict {
        claim: "Accuracy against I_NCE is an inverted U: the best views share an intermediate amount of information (the best distance is neither the smallest nor the largest, and beats both ends by more than twice the standard error of the difference).".into(),
        verdict: if interior && left && right {
            "reproduced"
        } else if interior && (left || right) {
            "partly"
        } else {
            "not reproduced"
        }
        .into(),
        evidence: format!(
            "best linear accuracy {top:.4} at {} px (I_NCE {:.2}); at {} px {first:.4} ({}), at {} px {last:.4} ({}); resolvable difference {:.4} on {} test images",
            rows[best].distance,
            rows[best].i_nce,
            rows[0].distance,
            if left { "resolved" } else { "within the readout's noise" },
            rows[rows.len() - 1].distance,
            if right { "resolved" } else { "within the readout's noise" },
            margin,
            n
        ),
    };
    vec![shared, u]
}

/// The table as Markdown.
pub fn markdown(s: &SweetspotSummary) -> String {
    let mut t = format!(
        "# InfoMin §3.2: the sweet spot along the spatial sweep (`cargo xtask study infomin --part sweetspot`)\n\n\
         Recipe `{}`: two {PATCH} x {PATCH} patches of one Fashion-MNIST image at a set distance, one shared ResNet-18 (width 16), InfoNCE; {} epoch(s) on {} images per run, seed {}. \
         Readout of the frozen encoder on whole 28 x 28 images: ridge probe and kNN, {} training images -> {} test images. Wall time {:.0} s.\n\n\
         | setting | I_NCE (nats) | ln K | linear | kNN | train s |\n|---|---|---|---|---|---|\n",
        s.recipe,
        s.budget.epochs,
        if s.budget.train_limit == 0 { "60,000".to_string() } else { s.budget.train_limit.to_string() },
        s.budget.seed.map_or_else(|| "of the recipe".to_string(), |v| v.to_string()),
        s.sweetspot.first().map_or(0, |r| r.readout.bank),
        s.sweetspot.first().map_or(0, |r| r.readout.queries),
        s.wall_seconds
    );
    for r in &s.sweetspot {
        t += &format!("| {} | {:.3} | {:.3} | {:.4} | {:.4} | {:.0} |\n", r.setting, r.i_nce, r.ln_k, r.linear, r.knn, r.train_seconds);
    }
    t += &format!("| encoder at initialisation | | | {:.4} | {:.4} | |\n\n", s.init.linear, s.init.knn);
    t += &Verdict::markdown(&s.verdicts);
    t
}

/// Trains one run per distance, reads each out, writes `summary.json`, `summary.md` and
/// `sweetspot.{svg,png}` (linear accuracy against I_NCE).
pub fn run(out: &StudyOutput, budget: ViewStudyBudget, device: DeviceChoice, threads: Option<usize>) -> Result<SweetspotSummary> {
    let started = Instant::now();
    check(&budget)?;
    let mut rows = Vec::new();
    for d in DISTANCES {
        let cfg = run_config(d, &budget)?;
        out.progress(&format!("infomin sweet spot: training with patches {d} px apart ({} epoch(s)), then reading it out", budget.epochs));
        let command = format!("ssl-train study infomin --part sweetspot (distance {d})");
        let run = train_and_read(out, &cfg, &format!("distance-{d}"), command, &budget, (device, threads))?;
        rows.push(SweetspotRow {
            setting: format!("distance {d} px"),
            distance: d,
            i_nce: run.i_nce,
            ln_k: run.ln_k,
            linear: run.readout.linear,
            knn: run.readout.knn,
            train_seconds: run.train_seconds,
            readout: run.readout,
        });
    }
    out.progress("infomin sweet spot: reading out the encoder at initialisation");
    let cfg = run_config(DISTANCES[0], &budget)?;
    let init = readout(&cfg, &Network::of_run(&cfg, pick_device(device)?), budget.bank, budget.queries)?;
    let summary =
        SweetspotSummary { budget, recipe: RECIPE.into(), verdicts: verdicts(&rows), sweetspot: rows, init, wall_seconds: started.elapsed().as_secs_f64() };
    let points: Vec<(f64, f64, String)> = summary.sweetspot.iter().map(|r| (r.i_nce, r.linear, format!(" {} px", r.distance))).collect();
    figure(out.dir(), "sweetspot", |p| {
        labelled_points_plot(
            p,
            "linear accuracy against I_NCE, patches at growing distance (InfoMin §3.2)",
            "I_NCE = ln K - L (nats)",
            "linear accuracy",
            &points,
        )
    })?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::spearman;

    #[test]
    fn spearman_of_hand_series() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]), 1.0);
        assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]), -1.0);
        // Ranks (0,1,2,3) vs (1,0,3,2): d² = 4, ρ = 1 − 6·4 / (4·15) = 0.6.
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[2.0, 1.0, 4.0, 3.0]) - 0.6).abs() < 1e-12);
    }
}
