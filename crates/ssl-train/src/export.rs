//! `cargo xtask export --run runs/X --split test`: a run's backbone (and projector) embeddings and
//! labels as `.npy`, for `cargo xtask analyze` or any other tool.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ssl_data::{PlainView, Split};
use ssl_models::{pick_device, DeviceChoice};
use tch::nn::ModuleT;

use crate::config::read_saved;
use crate::model::{embed, embed_with, Network};
use crate::data::load_split;

/// Rebuilds a run's network and loads its `checkpoint.safetensors`.
pub fn load_network(run: &Path, device: DeviceChoice) -> Result<(crate::config::Config, Network)> {
    let cfg = read_saved(&run.join("config.toml")).with_context(|| format!("{} is not a readable run folder", run.display()))?;
    let device = pick_device(device).map_err(anyhow::Error::msg)?;
    let mut net = Network::new(&cfg, device);
    let ckpt = run.join("checkpoint.safetensors");
    if !ckpt.is_file() {
        bail!("{} has no checkpoint.safetensors", run.display());
    }
    ssl_models::checkpoint::load(&ckpt, &mut [("", &mut net.vs)], None).map_err(|e| anyhow::anyhow!("corrupt or incompatible checkpoint: {e}"))?;
    Ok((cfg, net))
}

/// Writes `<split>_backbone.npy`, `<split>_projector.npy` (if the run has a projector) and
/// `<split>_labels.npy` into `out` (default `<run>/export`); never overwrites a file.
pub fn export(run: &Path, split: Split, out: Option<PathBuf>, device: DeviceChoice) -> Result<Vec<PathBuf>> {
    let (cfg, net) = load_network(run, device)?;
    let out = out.unwrap_or_else(|| run.join("export"));
    let names: Vec<PathBuf> = ["backbone", "projector", "labels"].iter().map(|k| out.join(format!("{}_{k}.npy", split.name()))).collect();
    if let Some(p) = names.iter().find(|p| p.exists()) {
        bail!("{} already exists; choose another --out (nothing was written)", p.display());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let limit = match split {
        Split::Train => cfg.data.train_limit,
        Split::Test => cfg.data.test_limit,
    };
    let ds = load_split(&cfg, split, limit)?;
    let sv = cfg.view();
    let view = PlainView { mean: sv.mean, std: sv.std };
    let device = net.vs.device();
    let mut written = Vec::new();
    let backbone = embed(&net.backbone, &ds, &view, cfg.eval.batch_size, device)?;
    ssl_analysis::npy::write_matrix(&names[0], &backbone)?;
    written.push(names[0].clone());
    if let Some(head) = &net.projector {
        let z = embed_with(&ds, &view, cfg.eval.batch_size, device, |x| head.forward_t(&net.backbone.forward_t(x, false), false))?;
        ssl_analysis::npy::write_matrix(&names[1], &z)?;
        written.push(names[1].clone());
    }
    ssl_analysis::npy::write_labels(&names[2], ds.labels().unwrap_or_default())?;
    written.push(names[2].clone());
    Ok(written)
}
