//! `cargo xtask export --run runs/X --split test`: a run's backbone (and projector) embeddings and
//! labels as `.npy`, for `cargo xtask analyze` or any other tool.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ssl_data::Split;
use ssl_models::DeviceChoice;
use tch::nn::ModuleT;

use crate::dataset::load_split;
use crate::network::{embed, embed_with};
use crate::run::load_network;

/// What an export writes per split.
const KINDS: [&str; 3] = ["backbone", "projector", "labels"];

/// Writes `<split>_backbone.npy`, `<split>_projector.npy` (if the run has a projector) and
/// `<split>_labels.npy` into `out` (default `<run>/export`): a new or empty folder, or one holding
/// only earlier exports; never overwrites a file.
pub fn export(run: &Path, split: Split, out: Option<PathBuf>, device: DeviceChoice) -> Result<Vec<PathBuf>> {
    let out = out.unwrap_or_else(|| run.join("export"));
    let names: Vec<PathBuf> = KINDS.iter().map(|k| out.join(format!("{}_{k}.npy", split.name()))).collect();
    // Before any work: a folder of the user's files is refused, an earlier export's kept.
    ssl_io::check_output_folder(&out, &names, |n| ["train", "test"].iter().any(|s| KINDS.iter().any(|k| n == format!("{s}_{k}.npy"))))?;
    let (cfg, net) = load_network(run, device)?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let limit = match split {
        Split::Train => cfg.data.train_limit,
        Split::Test => cfg.data.test_limit,
    };
    let ds = load_split(&cfg, split, limit)?;
    let view = cfg.views.eval_view();
    let device = net.vs.device();
    let mut written = Vec::new();
    let backbone = embed(&net.backbone, &ds, view, cfg.eval.batch_size, device)?;
    ssl_analysis::npy::write_matrix(&names[0], &backbone)?;
    written.push(names[0].clone());
    if let Some(head) = &net.projector {
        let z = embed_with(&ds, view, cfg.eval.batch_size, device, |x| head.forward_t(&net.backbone.forward_t(x, false), false))?;
        ssl_analysis::npy::write_matrix(&names[1], &z)?;
        written.push(names[1].clone());
    }
    ssl_analysis::npy::write_labels(&names[2], ds.labels().unwrap_or_default())?;
    written.push(names[2].clone());
    Ok(written)
}
