//! `cargo xtask study infomin --part colour`: colour-space split views (CMC; InfoMin §4 and its
//! Fig. 4/7, Tian et al. 2020, seed 004) on the CPU.
//!
//! One run per colour space on the `cmc-toy` recipe: each image gives one crop, converted to the
//! space and split into luma | chroma (or R | GB, H | SV), each group encoded by its own
//! ResNet-18 and the two trained against each other with InfoNCE — all on one budget. Then
//! the frozen representation (both encoders' outputs side by side) is read out on the object
//! class by kNN and a linear (ridge) probe, and the InfoNCE estimate I_NCE = ln K − L that
//! training reached is recorded. The encoder at initialisation (Lab) is the reference row.
//!
//! The paper's claims tested: luminance–chrominance splits (Lab, YDbDr) make better views than
//! an RGB channel split; Lab and YDbDr perform about alike. Runs live in `DIR/runs/<space>`.

use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use ssl_analysis::plot::category_plot;
use ssl_data::colorspace::ColorSpace;
use ssl_models::{pick_device, DeviceChoice};

use super::infomin::Verdict;
use super::readout::{readout, train_and_read, Readout, ViewStudyBudget};
use super::{figure, StudyOutput};
use crate::config::{Config, Source};
use crate::network::Network;

/// The recipe every run starts from.
pub const RECIPE: &str = "cmc-toy";

/// The splits compared, in the table's order: `(space, label)`; each splits the first channel
/// from the other two (`model.split.groups = [[0], [1, 2]]`).
pub const SPLITS: [(ColorSpace, &str); 6] = [
    (ColorSpace::Rgb, "R | GB"),
    (ColorSpace::Lab, "L | ab"),
    (ColorSpace::Ycbcr, "Y | CbCr"),
    (ColorSpace::Ydbdr, "Y | DbDr"),
    (ColorSpace::Yiq, "Y | IQ"),
    (ColorSpace::Hsv, "H | SV"),
];

/// The budget every run shares (default: 4 epochs on 10,000 toy samples, readout 5,000 → 2,000).
pub fn default_budget() -> ViewStudyBudget {
    ViewStudyBudget { epochs: 4, train_limit: 10_000, bank: 5_000, queries: 2_000, data_root: None, seed: None }
}

/// One row: a colour space's split (or the encoder at initialisation) and its readouts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColourRow {
    /// The space (`lab`, …).
    pub space: String,
    /// The split, e.g. `L | ab`.
    pub split: String,
    /// `trained` or `init`.
    pub encoder: String,
    /// kNN accuracy (object class).
    pub knn: f64,
    /// Linear (ridge) probe accuracy (object class).
    pub linear: f64,
    /// I_NCE = ln K − L over the last epoch, nats (NaN at initialisation: `null` in JSON).
    #[serde(deserialize_with = "ssl_analysis::report::nullable_f64")]
    pub i_nce: f64,
    /// ln K of that estimate (K = 2B − 1 candidates per anchor).
    #[serde(deserialize_with = "ssl_analysis::report::nullable_f64")]
    pub ln_k: f64,
    /// Training wall time in seconds.
    pub train_seconds: f64,
    /// The readout's sizes.
    pub readout: Readout,
}

/// `summary.json` of the colour part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColourSummary {
    /// The budget.
    pub budget: ViewStudyBudget,
    /// The recipe.
    pub recipe: String,
    /// `{space, split, knn, linear, i_nce, …}` per run, then the encoder at initialisation.
    pub colour: Vec<ColourRow>,
    /// The claims and their verdicts.
    pub verdicts: Vec<Verdict>,
    /// Wall time of the part.
    pub wall_seconds: f64,
}

/// The checked config of the run on `space`, its first channel split from the other two.
pub fn run_config(space: ColorSpace, budget: &ViewStudyBudget) -> Result<Config> {
    let (mean, std) = space.unit_normalization();
    let convert = format!(
        "{{ op = \"color_space\", space = \"{}\" }}, {{ op = \"normalize\", mean = {:?}, std = {:?} }}",
        space.name(),
        mean.map(f64::from),
        std.map(f64::from)
    );
    let mut sets = vec![
        format!(
            "views.train=[{{ ops = [{{ op = \"random_resized_crop\", size = 32, scale = [0.3, 1.0] }}, {{ op = \"horizontal_flip\", p = 0.5 }}, {convert}] }}]"
        ),
        format!("views.eval={{ ops = [{convert}] }}"),
        "model.split={ groups = [[0], [1, 2]] }".into(),
    ];
    sets.extend(budget.overrides());
    Config::load(&Source::Recipe(RECIPE.into()), &sets)
}

/// Checks every run's config (before any training).
pub fn check(budget: &ViewStudyBudget) -> Result<()> {
    for (space, label) in SPLITS {
        run_config(space, budget).with_context(|| format!("infomin colour study, {} {label}", space.name()))?;
    }
    Ok(())
}

/// The verdicts, from the rows.
pub fn verdicts(rows: &[ColourRow]) -> Vec<Verdict> {
    let find = |space: &str| rows.iter().find(|r| r.encoder == "trained" && r.space == space);
    let mut out = Vec::new();
    if let (Some(rgb), Some(lab), Some(ydbdr)) = (find("rgb"), find("lab"), find("ydbdr")) {
        let both = lab.linear > rgb.linear && ydbdr.linear > rgb.linear;
        let one = lab.linear > rgb.linear || ydbdr.linear > rgb.linear;
        out.push(Verdict {
            claim: "Luminance-chrominance splits (Lab L | ab, YDbDr Y | DbDr) make better views than an RGB channel split (R | GB).".into(),
            verdict: if both {
                "reproduced"
            } else if one {
                "partly"
            } else {
                "contradicted"
            }
            .into(),
            evidence: format!(
                "linear accuracy Lab {:.3}, YDbDr {:.3}, RGB {:.3}; kNN Lab {:.3}, YDbDr {:.3}, RGB {:.3}",
                lab.linear, ydbdr.linear, rgb.linear, lab.knn, ydbdr.knn, rgb.knn
            ),
        });
        let gap = (lab.linear - ydbdr.linear).abs();
        out.push(Verdict {
            claim: "Lab performs about as well as YDbDr (within 2 points of linear accuracy).".into(),
            verdict: if gap <= 0.02 { "reproduced" } else { "contradicted" }.into(),
            evidence: format!("linear accuracy Lab {:.3}, YDbDr {:.3} (gap {:.1} points)", lab.linear, ydbdr.linear, 100.0 * gap),
        });
    }
    let trained: Vec<&ColourRow> = rows.iter().filter(|r| r.encoder == "trained").collect();
    if let Some(best) = trained.iter().max_by(|a, b| a.linear.total_cmp(&b.linear)) {
        let luma = ["lab", "ycbcr", "ydbdr", "yiq"];
        out.push(Verdict {
            claim: "The best split is a luminance-chrominance one (the paper's best: YDbDr).".into(),
            verdict: if best.space == "ydbdr" {
                "reproduced"
            } else if luma.contains(&best.space.as_str()) {
                "partly"
            } else {
                "contradicted"
            }
            .into(),
            evidence: format!("best linear accuracy {:.3} with {} {}; ranking {}", best.linear, best.space, best.split, {
                let mut r = trained.clone();
                r.sort_by(|a, b| b.linear.total_cmp(&a.linear));
                r.iter().map(|x| format!("{} {:.3}", x.space, x.linear)).collect::<Vec<_>>().join(" > ")
            }),
        });
    }
    out
}

/// The table as Markdown.
pub fn markdown(s: &ColourSummary) -> String {
    let mut t = format!(
        "# InfoMin §4: colour-space split views (`cargo xtask study infomin --part colour`)\n\n\
         Recipe `{}`: one crop per image, converted and split into two channel groups, a ResNet-18 (width 8) per group, InfoNCE between them; {} epoch(s) on {} toy samples per run, seed {}. \
         Readout of the frozen representation (both encoders' outputs concatenated) on the object class: kNN and ridge probe, {} training images -> {} test images. Wall time {:.0} s.\n\n\
         | space | split | kNN | linear | I_NCE (nats) | ln K | train s |\n|---|---|---|---|---|---|---|\n",
        s.recipe,
        s.budget.epochs,
        s.budget.train_limit,
        s.budget.seed.map_or_else(|| "of the recipe".to_string(), |v| v.to_string()),
        s.colour.first().map_or(0, |r| r.readout.bank),
        s.colour.first().map_or(0, |r| r.readout.queries),
        s.wall_seconds
    );
    for r in &s.colour {
        let name = if r.encoder == "init" { format!("{} (at initialisation)", r.space) } else { r.space.clone() };
        // A `|` inside a cell is escaped for Markdown tables.
        t += &format!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |\n",
            r.split.replace('|', "\\|"),
            r.knn,
            r.linear,
            r.i_nce,
            r.ln_k,
            r.train_seconds
        );
    }
    t += "\n";
    t += &Verdict::markdown(&s.verdicts);
    t
}

/// Trains one run per split, reads each out, writes `summary.json`, `summary.md` and
/// `colour.{svg,png}`.
pub fn run(out: &StudyOutput, budget: ViewStudyBudget, device: DeviceChoice, threads: Option<usize>) -> Result<ColourSummary> {
    let started = Instant::now();
    check(&budget)?;
    let mut rows = Vec::new();
    for (space, label) in SPLITS {
        let cfg = run_config(space, &budget)?;
        out.progress(&format!("infomin colour: training {} {label} ({} epochs on {} samples)", space.name(), budget.epochs, budget.train_limit));
        let command = format!("ssl-train study infomin --part colour ({} {label})", space.name());
        let run = train_and_read(out, &cfg, space.name(), command, &budget, (device, threads))?;
        rows.push(ColourRow {
            space: space.name().into(),
            split: label.into(),
            encoder: "trained".into(),
            knn: run.readout.knn,
            linear: run.readout.linear,
            i_nce: run.i_nce,
            ln_k: run.ln_k,
            train_seconds: run.train_seconds,
            readout: run.readout,
        });
    }
    out.progress("infomin colour: reading out the encoders at initialisation (Lab)");
    let cfg = run_config(ColorSpace::Lab, &budget)?;
    let init = Network::of_run(&cfg, pick_device(device)?);
    let r = readout(&cfg, &init, budget.bank, budget.queries)?;
    rows.push(ColourRow {
        space: "lab".into(),
        split: SPLITS[1].1.into(),
        encoder: "init".into(),
        knn: r.knn,
        linear: r.linear,
        i_nce: f64::NAN,
        ln_k: f64::NAN,
        train_seconds: 0.0,
        readout: r,
    });
    let summary = ColourSummary { budget, recipe: RECIPE.into(), verdicts: verdicts(&rows), colour: rows, wall_seconds: started.elapsed().as_secs_f64() };
    let labels: Vec<String> =
        summary.colour.iter().map(|r| if r.encoder == "init" { "init (Lab)".into() } else { format!("{} {}", r.space, r.split) }).collect();
    let series: Vec<(&str, Vec<f64>)> =
        vec![("kNN", summary.colour.iter().map(|r| r.knn).collect()), ("linear", summary.colour.iter().map(|r| r.linear).collect())];
    figure(out.dir(), "colour", |p| category_plot(p, "object accuracy by colour-space split (InfoMin §4)", "accuracy", &labels, &series))?;
    out.write_summary(&summary, &markdown(&summary))?;
    Ok(summary)
}
