//! `cargo xtask study infomin --part factors`: what contrastive views learn when they share
//! chosen factors (InfoMin, Tian et al., NeurIPS 2020, §3.1 and Table 2; seed 004).
//!
//! On the colourful moving-objects toy (`infomin-toy`: Fashion-MNIST items on textured
//! backgrounds, 64 × 64 RGB), one run per shared set — each single factor, each pair, all three
//! of {object, position, background} — trains SimCLR's InfoNCE on views that share exactly that
//! set ([`ssl_data::toy::ToyPairs`]), all on one budget. Then the frozen backbone of each run
//! (and the same encoder at initialisation, as a reference row) embeds the toy's test split and
//! linear readouts measure every factor ([`ssl_analysis::factors`]): object and background
//! accuracy, position R² and mean pixel error, beside their chance levels.
//!
//! The paper's claims tested: a single shared factor is the one the encoder learns; when several
//! are shared, the dominant (easiest) one wins and suppresses the others. Every run lives in
//! `DIR/runs/<shared>`.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::factors::FactorProbes;
use ssl_analysis::plot::category_plot;
use ssl_data::toy::ToyFactor;
use ssl_models::{pick_device, DeviceChoice};

use super::{figure, StudyOutput};
use crate::config::{Config, Source};
use crate::evaluate::toy_factor_probes;
use crate::network::Network;
use crate::run::load_network;
use crate::trainer::{train, RunOptions};
use ssl_io::progress::Progress;

/// The recipe every run starts from (v1 one frame).
pub const RECIPE: &str = "infomin-toy";

/// The recipe of the `frames` part: v1 the sample's 3 past frames, an encoder per view.
pub const RECIPE_FRAMES: &str = "infomin-toy-frames";

/// The shared sets, in the table's order: each single factor, each pair, all three.
pub const SHARED_SETS: [&[ToyFactor]; 7] = [
    &[ToyFactor::Object],
    &[ToyFactor::Position],
    &[ToyFactor::Background],
    &[ToyFactor::Object, ToyFactor::Position],
    &[ToyFactor::Object, ToyFactor::Background],
    &[ToyFactor::Position, ToyFactor::Background],
    &[ToyFactor::Object, ToyFactor::Position, ToyFactor::Background],
];

/// Ridge penalty of the factor probes (standardised features).
pub const PROBE_LAMBDA: f64 = crate::evaluate::FACTOR_PROBE_LAMBDA;

/// The budget shared by every run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FactorsBudget {
    /// Training epochs.
    pub epochs: usize,
    /// Training samples of the toy (0: its 10,000).
    pub train_limit: usize,
    /// Test samples the probes read (0: the toy's 2,000).
    pub test_limit: usize,
    /// Where the Fashion-MNIST objects come from (`None`: the recipe's `data/fashion-mnist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<std::path::PathBuf>,
    /// v1 is a sequence of past frames ([`RECIPE_FRAMES`], the `frames` part) instead of one frame.
    #[serde(default)]
    pub past_frames: bool,
}

impl Default for FactorsBudget {
    fn default() -> Self {
        FactorsBudget { epochs: 5, train_limit: 10_000, test_limit: 2_000, data_root: None, past_frames: false }
    }
}

impl FactorsBudget {
    /// The recipe the runs start from.
    pub fn recipe(&self) -> &'static str {
        if self.past_frames {
            RECIPE_FRAMES
        } else {
            RECIPE
        }
    }
}

/// One row of the table: a run (or the encoder at initialisation) and its factor readouts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FactorRow {
    /// The shared factors (`["object"]`, …); empty for the encoder at initialisation.
    pub shared: Vec<ToyFactor>,
    /// `trained` or `init`.
    pub encoder: String,
    /// Object-class accuracy.
    pub object_acc: f64,
    /// Background-class accuracy.
    pub background_acc: f64,
    /// Position R² (mean over x and y).
    pub position_r2: f64,
    /// Mean position error in pixels (64 × 64 canvas).
    pub position_err_px: f64,
    /// The probes in full (chance levels, split sizes).
    pub probes: FactorProbes,
    /// Final training loss (NaN for the encoder at initialisation).
    pub final_loss: f64,
    /// Training wall time in seconds (0 at initialisation).
    pub train_seconds: f64,
}

/// A verdict on one claim, computed from the rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The claim.
    pub claim: String,
    /// `reproduced`, `not reproduced` or `partly`.
    pub verdict: String,
    /// The numbers behind it.
    pub evidence: String,
}

impl Verdict {
    /// The verdicts as a Markdown list (`- **verdict** — claim: evidence`), for summary.md.
    pub fn markdown(verdicts: &[Verdict]) -> String {
        verdicts.iter().map(|v| format!("- **{}** — {}: {}\n", v.verdict, v.claim, v.evidence)).collect()
    }
}

/// `summary.json` of the factors part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FactorsSummary {
    /// The budget.
    pub budget: FactorsBudget,
    /// The recipe.
    pub recipe: String,
    /// `{shared, object_acc, background_acc, position_r2, position_err_px, …}` per run, then the
    /// encoder at initialisation.
    pub factors: Vec<FactorRow>,
    /// Chance levels of the probes (from the first row's split: every row shares it).
    pub chance: ssl_analysis::factors::FactorChance,
    /// The claims and their verdicts.
    pub verdicts: Vec<Verdict>,
    /// Wall time of the part.
    pub wall_seconds: f64,
}

fn names(shared: &[ToyFactor]) -> String {
    if shared.is_empty() {
        return "none (encoder at initialisation)".into();
    }
    shared.iter().map(|f| format!("{f:?}").to_lowercase()).collect::<Vec<_>>().join(" + ")
}

/// The checked config of the run sharing `shared`.
pub fn run_config(shared: &[ToyFactor], budget: &FactorsBudget) -> Result<Config> {
    let list = shared.iter().map(|f| format!("\"{}\"", format!("{f:?}").to_lowercase())).collect::<Vec<_>>().join(", ");
    let mut sets = vec![
        format!("views.shared=[{list}]"),
        format!("training.epochs={}", budget.epochs),
        format!("data.train_limit={}", budget.train_limit),
        format!("data.test_limit={}", budget.test_limit),
    ];
    if let Some(root) = &budget.data_root {
        sets.push(format!("data.root=\"{}\"", root.display()));
    }
    Config::load(&Source::Recipe(budget.recipe().into()), &sets)
}

/// The part's name on the command line.
fn part(budget: &FactorsBudget) -> &'static str {
    if budget.past_frames {
        "frames"
    } else {
        "factors"
    }
}

/// Checks every run's config (before any training).
pub fn check(budget: &FactorsBudget) -> Result<()> {
    for shared in SHARED_SETS {
        run_config(shared, budget).with_context(|| format!("infomin study, shared {}", names(shared)))?;
    }
    Ok(())
}

/// The factor readouts of `net`'s backbone on the toy's test split.
fn probe(cfg: &Config, net: &Network) -> Result<FactorProbes> {
    toy_factor_probes(cfg, net, (&Progress::hidden(), "factors"))
}

fn row(shared: &[ToyFactor], encoder: &str, probes: FactorProbes, final_loss: f64, train_seconds: f64) -> FactorRow {
    FactorRow {
        shared: shared.to_vec(),
        encoder: encoder.into(),
        object_acc: probes.object_accuracy,
        background_acc: probes.background_accuracy,
        position_r2: probes.position_r2,
        position_err_px: probes.position_error_px,
        probes,
        final_loss,
        train_seconds,
    }
}

/// A factor's readout as one "higher is better" score: accuracy for the classes, R² for the position.
fn score(r: &FactorRow, f: ToyFactor) -> f64 {
    match f {
        ToyFactor::Object => r.object_acc,
        ToyFactor::Background => r.background_acc,
        ToyFactor::Position => r.position_r2,
    }
}

fn factor_name(f: ToyFactor) -> &'static str {
    match f {
        ToyFactor::Object => "object accuracy",
        ToyFactor::Background => "background accuracy",
        ToyFactor::Position => "position R²",
    }
}

/// The verdicts of the two claims, from the rows (the last row is the encoder at initialisation).
pub fn verdicts(rows: &[FactorRow]) -> Vec<Verdict> {
    let find = |shared: &[ToyFactor]| rows.iter().find(|r| r.encoder == "trained" && r.shared == shared);
    let init = rows.iter().find(|r| r.encoder == "init");
    let singles = [ToyFactor::Object, ToyFactor::Position, ToyFactor::Background];
    // Claim 1: sharing only f makes f the best-read factor among the single-factor runs, above
    // the encoder at initialisation.
    let mut held = 0;
    let mut evidence = Vec::new();
    for f in singles {
        let Some(own) = find(&[f]) else { continue };
        let others: Vec<f64> = singles.iter().filter(|&&g| g != f).filter_map(|&g| find(&[g])).map(|r| score(r, f)).collect();
        let best_other = others.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let above_init = init.is_none_or(|i| score(own, f) > score(i, f));
        let ok = score(own, f) > best_other && above_init;
        held += usize::from(ok);
        evidence.push(format!(
            "{}: {:.3} when only it is shared, best other single run {:.3}, at initialisation {}",
            factor_name(f),
            score(own, f),
            best_other,
            init.map_or("-".into(), |i| format!("{:.3}", score(i, f)))
        ));
    }
    let claim1 = Verdict {
        claim: "A single shared factor is the one the encoder learns (its readout is highest in the run that shares it).".into(),
        verdict: match held {
            3 => "reproduced",
            0 => "not reproduced",
            _ => "partly",
        }
        .into(),
        evidence: evidence.join("; "),
    };
    // Claim 2: with two shared factors, one (the dominant) keeps its single-run readout and the
    // other loses part of its own: suppression = the weaker factor's drop from its single run.
    let mut suppressed = 0;
    let mut pairs = 0;
    let mut evidence = Vec::new();
    for shared in SHARED_SETS.iter().filter(|s| s.len() == 2) {
        let (Some(pair), Some(a), Some(b)) = (find(shared), find(&shared[..1]), find(&shared[1..])) else { continue };
        pairs += 1;
        let (fa, fb) = (shared[0], shared[1]);
        let (ra, rb) = (score(pair, fa) / score(a, fa).max(1e-9), score(pair, fb) / score(b, fb).max(1e-9));
        let (winner, loser, kept, lost) = if ra >= rb { (fa, fb, ra, rb) } else { (fb, fa, rb, ra) };
        // One factor keeps ≥ 90 % of its single-run readout while the other falls below 75 % of its own.
        let ok = kept >= 0.9 && lost < 0.75;
        suppressed += usize::from(ok);
        evidence.push(format!(
            "{}: {} keeps {:.0}% of its single-run readout, {} {:.0}%",
            names(shared),
            factor_name(winner),
            100.0 * kept,
            factor_name(loser),
            100.0 * lost
        ));
    }
    let claim2 = Verdict {
        claim: "With several shared factors the dominant one wins and suppresses the others (one keeps >= 90% of its single-run readout, the other falls below 75%).".into(),
        verdict: if pairs == 0 {
            "not measured".into()
        } else if suppressed == pairs {
            "reproduced".into()
        } else if suppressed == 0 {
            "not reproduced".into()
        } else {
            "partly".into()
        },
        evidence: evidence.join("; "),
    };
    // Claim 3 (the paper's example of claim 2): whenever the background is shared with another
    // factor, that factor's readout falls below 75 % of its single-run value.
    let mut held = 0;
    let mut sets = 0;
    let mut evidence = Vec::new();
    for shared in SHARED_SETS.iter().filter(|s| s.len() == 2 && s.contains(&ToyFactor::Background)) {
        let other = if shared[0] == ToyFactor::Background { shared[1] } else { shared[0] };
        let (Some(pair), Some(single)) = (find(shared), find(&[other])) else { continue };
        sets += 1;
        let kept = score(pair, other) / score(single, other).max(1e-9);
        held += usize::from(kept < 0.75);
        evidence.push(format!("{}: {} at {:.0}% of its single-run readout", names(shared), factor_name(other), 100.0 * kept));
    }
    let claim3 = Verdict {
        claim: "Whenever the background is shared, the representation drops the object and its position (the background is the shortcut).".into(),
        verdict: match (held, sets) {
            (_, 0) => "not measured",
            (h, n) if h == n => "reproduced",
            (0, _) => "contradicted",
            _ => "partly",
        }
        .into(),
        evidence: evidence.join("; "),
    };
    // Claim 4: when object and position are shared, the object is preferred.
    let pair = [ToyFactor::Object, ToyFactor::Position];
    let claim4 = match (find(&pair), find(&pair[..1]), find(&pair[1..])) {
        (Some(both), Some(o), Some(p)) => {
            let (ko, kp) = (
                score(both, ToyFactor::Object) / score(o, ToyFactor::Object).max(1e-9),
                score(both, ToyFactor::Position) / score(p, ToyFactor::Position).max(1e-9),
            );
            Verdict {
                claim: "When object and position are shared, the object is preferred over the position.".into(),
                verdict: if ko > kp { "reproduced" } else { "contradicted" }.into(),
                evidence: format!("object accuracy at {:.0}% of its single-run readout, position R² at {:.0}%", 100.0 * ko, 100.0 * kp),
            }
        }
        _ => Verdict {
            claim: "When object and position are shared, the object is preferred over the position.".into(),
            verdict: "not measured".into(),
            evidence: String::new(),
        },
    };
    vec![claim1, claim2, claim3, claim4]
}

/// The table as Markdown, chance levels and the paper's qualitative Table 2 beside it.
pub fn markdown(s: &FactorsSummary) -> String {
    let mut t = format!(
        "# InfoMin §3.1: what shared factors teach (`cargo xtask study infomin --part {}`)\n\n\
         Recipe `{}`: {} epochs on {} toy samples per run; probes on {} test samples (ridge, λ = {PROBE_LAMBDA}, every fifth row held out). Wall time {:.0} s.\n\n\
         | shared factors | object accuracy | background accuracy | position R² | position error (px) | final loss |\n|---|---|---|---|---|---|\n",
        if s.budget.past_frames { "frames" } else { "factors" },
        s.recipe,
        s.budget.epochs,
        s.budget.train_limit,
        s.factors.first().map_or(0, |r| r.probes.train + r.probes.test),
        s.wall_seconds
    );
    for r in &s.factors {
        t += &format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.3} |\n",
            names(&r.shared),
            r.object_acc,
            r.background_acc,
            r.position_r2,
            r.position_err_px,
            r.final_loss
        );
    }
    t += &format!(
        "| chance (majority class / mean position) | {:.3} | {:.3} | 0 | {:.2} | |\n\n",
        s.chance.object_accuracy, s.chance.background_accuracy, s.chance.position_error_px
    );
    t += &Verdict::markdown(&s.verdicts);
    t
}

/// Trains one run per shared set, probes every factor, writes `summary.json`, `summary.md` and
/// `factors.{svg,png}`.
pub fn run(out: &StudyOutput, budget: FactorsBudget, device: DeviceChoice, threads: Option<usize>) -> Result<FactorsSummary> {
    let started = Instant::now();
    check(&budget)?;
    let mut rows = Vec::new();
    for shared in SHARED_SETS {
        let cfg = run_config(shared, &budget)?;
        let name = shared.iter().map(|f| format!("{f:?}").to_lowercase()).collect::<Vec<_>>().join("-");
        out.progress(&format!(
            "infomin {}: training with shared {} ({} epochs on {} samples)",
            part(&budget),
            names(shared),
            budget.epochs,
            budget.train_limit
        ));
        let opts = RunOptions {
            device,
            threads,
            runs_root: out.dir().join("runs"),
            name: Some(name.clone()),
            command: format!("ssl-train study infomin --part {} (shared {})", part(&budget), names(shared)),
            skip_eval: true,
            ..Default::default()
        };
        let t = Instant::now();
        let trained = train(&cfg, &opts)?;
        let seconds = t.elapsed().as_secs_f64();
        out.progress(&format!("infomin {}: probing the factors of `{name}`", part(&budget)));
        let (cfg, net) = load_network(&trained.dir, device)?;
        rows.push(row(shared, "trained", probe(&cfg, &net)?, trained.epoch_losses.last().copied().unwrap_or(f64::NAN), seconds));
    }
    // The same encoder at initialisation (the recipe's seed): what the architecture alone reads out.
    out.progress(&format!("infomin {}: probing the encoder at initialisation", part(&budget)));
    let cfg = run_config(SHARED_SETS[0], &budget)?;
    let init = Network::of_run(&cfg, pick_device(device)?);
    rows.push(row(&[], "init", probe(&cfg, &init)?, f64::NAN, 0.0));

    let chance = rows[0].probes.chance.clone();
    let recipe = budget.recipe().into();
    let summary = FactorsSummary { budget, recipe, verdicts: verdicts(&rows), factors: rows, chance, wall_seconds: started.elapsed().as_secs_f64() };
    // Grouped bars: each factor's readout per shared set.
    let labels: Vec<String> = summary.factors.iter().map(|r| if r.shared.is_empty() { "init".into() } else { names(&r.shared) }).collect();
    let series: Vec<(&str, Vec<f64>)> = vec![
        ("object accuracy", summary.factors.iter().map(|r| r.object_acc).collect()),
        ("background accuracy", summary.factors.iter().map(|r| r.background_acc).collect()),
        ("position R²", summary.factors.iter().map(|r| r.position_r2).collect()),
    ];
    figure(out.dir(), "factors", |p| category_plot(p, "factor readouts by shared factors (InfoMin §3.1)", "readout", &labels, &series))?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}
