//! Studies: `cargo xtask study <name> [--part P] --out DIR` — each reproduces a paper's finding
//! with this toolkit's own pieces, trains what it needs, and writes `DIR/summary.json`,
//! `DIR/summary.md` and its figures (SVG and PNG). Each study's page in `docs/studies/` lists the
//! paper's claims, the command that tests each, the measured numbers and a verdict.
//!
//! * `collapse` — dimensional collapse (DirectCLR, Jing et al. 2022; seed 000): part `toy` (the
//!   linear toy models: strong augmentation, implicit regularisation, depth sweep; see
//!   [`collapse_toy`]) and part `projector` (the projector ablation on Fashion-MNIST; see
//!   [`collapse_projector`]).
//! * `capacity` — manifold capacity by layer (MMCR, Yerxa et al. 2023; seed 003): MMCR, SimCLR and
//!   Barlow Twins on the same data, mean-field-theory capacity of augmentation and class manifolds
//!   per layer (see [`capacity`]).
//! * `infomin` — what makes good views (InfoMin, Tian et al. 2020; seed 004): part `factors` (one
//!   run per set of shared toy factors, linear readouts of every factor; see [`infomin`]), part
//!   `frames` (the same with v1 a sequence of past frames, the paper's setting), part
//!   `colour` (colour-space split views, an encoder per channel group; [`infomin_colour`]) and
//!   part `sweetspot` (patches at growing distance, accuracy against I_NCE; [`infomin_sweetspot`]).

pub mod capacity;
pub mod collapse_projector;
pub mod collapse_toy;
pub mod infomin;
pub mod infomin_colour;
pub mod infomin_sweetspot;
pub mod readout;
pub mod toy;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use ssl_io::progress::Progress;

/// The studies and their parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Study {
    /// Dimensional collapse (DirectCLR, seed 000).
    Collapse,
    /// Manifold capacity by layer (MMCR, seed 003).
    Capacity,
    /// What makes good views (InfoMin, seed 004).
    Infomin,
}

/// A part of a study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The linear toy models (collapse).
    Toy,
    /// The projector ablation on real data (collapse).
    Projector,
    /// Capacity, radius and dimension layer by layer (capacity).
    Layers,
    /// Views sharing chosen toy factors, every factor read out (infomin).
    Factors,
    /// The factors part with v1 a sequence of 3 past frames, an encoder per view (infomin).
    Frames,
    /// Colour-space split views, one encoder per channel group (infomin).
    Colour,
    /// Patches at growing distance: accuracy against I_NCE (infomin).
    Sweetspot,
}

impl Study {
    /// The parts this study has, the first being the default.
    pub fn parts(self) -> &'static [Part] {
        match self {
            Study::Collapse => &[Part::Toy, Part::Projector],
            Study::Capacity => &[Part::Layers],
            Study::Infomin => &[Part::Factors, Part::Frames, Part::Colour, Part::Sweetspot],
        }
    }

    /// The study's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Study::Collapse => "collapse",
            Study::Capacity => "capacity",
            Study::Infomin => "infomin",
        }
    }
}

/// Options of a study run.
#[derive(Clone, Debug)]
pub struct StudyOptions {
    /// The part (default: the study's first).
    pub part: Option<Part>,
    /// Output folder: new or empty.
    pub out: PathBuf,
    /// SGD steps of each toy run (default: the paper's 10 000).
    pub toy_steps: Option<usize>,
    /// Training epochs of each real-data run (default: the part's).
    pub epochs: Option<usize>,
    /// Training images of each real-data run (default: the part's; 0 = all).
    pub train_limit: Option<usize>,
    /// Seed of every run (colour and sweetspot parts; default: the recipe's).
    pub seed: Option<u64>,
    /// Device of the real-data runs.
    pub device: ssl_models::DeviceChoice,
    /// libtorch CPU threads of the real-data runs.
    pub threads: Option<usize>,
    /// Print progress lines.
    pub progress: bool,
}

/// Checks the options before any work: the part belongs to the study, the output folder is new
/// or empty.
pub fn check(study: Study, opts: &StudyOptions) -> Result<Part> {
    let part = opts.part.unwrap_or(study.parts()[0]);
    if !study.parts().contains(&part) {
        let names: Vec<String> = study.parts().iter().map(|p| format!("{p:?}").to_lowercase()).collect();
        anyhow::bail!("--part {}: study `{}` has the parts {}", format!("{part:?}").to_lowercase(), study.name(), names.join(", "));
    }
    if opts.toy_steps == Some(0) {
        anyhow::bail!("--toy-steps 0: expected at least 1");
    }
    if opts.epochs == Some(0) {
        anyhow::bail!("--epochs 0: expected at least 1");
    }
    if opts.threads == Some(0) {
        anyhow::bail!("--threads 0: expected at least 1");
    }
    if opts.seed.is_some() && !matches!(part, Part::Colour | Part::Sweetspot) {
        anyhow::bail!("--seed: only the infomin parts colour and sweetspot take a seed; the other parts use their recipes' seeds");
    }
    if part == Part::Projector {
        collapse_projector::check(&projector_budget(opts))?;
    }
    if part == Part::Layers {
        capacity::check(&capacity_budget(opts))?;
    }
    if part == Part::Factors || part == Part::Frames {
        infomin::check(&factors_budget(opts, part == Part::Frames))?;
    }
    if part == Part::Colour {
        infomin_colour::check(&colour_budget(opts))?;
    }
    if part == Part::Sweetspot {
        infomin_sweetspot::check(&sweetspot_budget(opts))?;
    }
    // A study's folder holds only what the study writes: never a user's files.
    ssl_io::check_output_folder(&opts.out, &[], |_| false)?;
    Ok(part)
}

fn projector_budget(opts: &StudyOptions) -> collapse_projector::ProjectorBudget {
    let d = collapse_projector::ProjectorBudget::default();
    collapse_projector::ProjectorBudget { epochs: opts.epochs.unwrap_or(d.epochs), train_limit: opts.train_limit.unwrap_or(d.train_limit) }
}

fn capacity_budget(opts: &StudyOptions) -> capacity::CapacityBudget {
    let d = capacity::CapacityBudget::default();
    capacity::CapacityBudget { epochs: opts.epochs.unwrap_or(d.epochs), train_limit: opts.train_limit.unwrap_or(d.train_limit) }
}

fn factors_budget(opts: &StudyOptions, past_frames: bool) -> infomin::FactorsBudget {
    let d = infomin::FactorsBudget::default();
    infomin::FactorsBudget { epochs: opts.epochs.unwrap_or(d.epochs), train_limit: opts.train_limit.unwrap_or(d.train_limit), past_frames, ..d }
}

fn colour_budget(opts: &StudyOptions) -> readout::ViewStudyBudget {
    with_options(infomin_colour::default_budget(), opts)
}

fn sweetspot_budget(opts: &StudyOptions) -> readout::ViewStudyBudget {
    with_options(infomin_sweetspot::default_budget(), opts)
}

/// A view-study budget with `--epochs` and `--train-limit` applied.
fn with_options(d: readout::ViewStudyBudget, opts: &StudyOptions) -> readout::ViewStudyBudget {
    readout::ViewStudyBudget {
        epochs: opts.epochs.unwrap_or(d.epochs),
        train_limit: opts.train_limit.unwrap_or(d.train_limit),
        seed: opts.seed.or(d.seed),
        ..d
    }
}

/// Runs a study's part; returns the `summary.md` text.
pub fn run(study: Study, opts: &StudyOptions) -> Result<String> {
    let part = check(study, opts)?;
    let out = StudyOutput::create(&opts.out, opts.progress)?;
    match (study, part) {
        (Study::Collapse, Part::Toy) => {
            collapse_toy::run(&out, collapse_toy::ToyBudget { steps: opts.toy_steps.unwrap_or(collapse_toy::ToyBudget::default().steps) })?;
        }
        (Study::Collapse, Part::Projector) => {
            collapse_projector::run(&out, projector_budget(opts), opts.device, opts.threads)?;
        }
        (Study::Capacity, Part::Layers) => {
            capacity::run(&out, capacity_budget(opts), opts.device, opts.threads)?;
        }
        (Study::Infomin, part @ (Part::Factors | Part::Frames)) => {
            infomin::run(&out, factors_budget(opts, part == Part::Frames), opts.device, opts.threads)?;
        }
        (Study::Infomin, Part::Colour) => {
            infomin_colour::run(&out, colour_budget(opts), opts.device, opts.threads)?;
        }
        (Study::Infomin, Part::Sweetspot) => {
            infomin_sweetspot::run(&out, sweetspot_budget(opts), opts.device, opts.threads)?;
        }
        (study, part) => unreachable!("check() admits only a study's own parts, not {study:?} {part:?}"),
    }
    out.bar().finish();
    std::fs::read_to_string(out.dir().join("summary.md")).context("cannot read back summary.md")
}

/// A study's output folder.
pub struct StudyOutput {
    dir: PathBuf,
    progress: Progress,
}

impl StudyOutput {
    /// Creates the (checked) folder; `progress`: show the study's steps (a bar on a terminal,
    /// lines with the elapsed time otherwise).
    pub fn create(dir: &Path, progress: bool) -> Result<StudyOutput> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let progress = if progress { Progress::new("study", 0) } else { Progress::hidden() };
        Ok(StudyOutput { dir: dir.to_path_buf(), progress })
    }

    /// The study's progress display (for item counts inside a step).
    pub fn bar(&self) -> &Progress {
        &self.progress
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts the study's next step, named by `line`.
    pub fn progress(&self, line: &str) {
        self.progress.step(line);
    }

    /// Writes `summary.json` and `summary.md` (atomically, never over an existing file).
    pub fn write_summary<T: Serialize>(&self, summary: &T, markdown: &str) -> Result<()> {
        crate::run::write_json_new(&self.dir.join("summary.json"), summary)?;
        ssl_io::write_new_bytes_atomic(self.dir.join("summary.md"), markdown).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// Writes a figure as `<stem>.svg` and `<stem>.png` with the same drawing function.
pub fn figure(dir: &Path, stem: &str, draw: impl Fn(&Path) -> Result<(), ssl_analysis::AnalysisError>) -> Result<()> {
    for ext in ["svg", "png"] {
        let dest = dir.join(format!("{stem}.{ext}"));
        ssl_io::write_new_atomic(&dest, |tmp| draw(tmp).map_err(anyhow::Error::from)).map_err(crate::run::atomic_error)?;
    }
    Ok(())
}
