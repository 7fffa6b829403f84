//! The run folder, owned by this module: every file a run writes is written and read through
//! its type here.
//!
//! | file | type |
//! |---|---|
//! | `config.toml` | [`crate::config::RunConfig`] (the resolved recipe) |
//! | `run.json` | [`Provenance`], with the run's [`RunState`] (training → evaluating → done) |
//! | `metrics.jsonl` | one [`MetricLine`] per line |
//! | `checkpoint.safetensors`, `checkpoint.json` | `ssl_models::checkpoint` (weights, optimiser state, [`ssl_models::checkpoint::TrainState`]) |
//! | `embeddings.npy`, `labels.npy` | test-set backbone embeddings (f32, n × d) and labels (int64) |
//! | `report.json` | [`RunReport`] |
//! | `spectrum.png` | log eigenvalue against rank, trained and initial encoder |
//! | `eval.json` | [`EvalReport`] (`cargo xtask eval`) |
//! | `events.out.tfevents.*` | the same lines for TensorBoard (`tensorboard --logdir runs`), one file per invocation |
//! | `.lock` | locked while a process trains in the folder: a second `--resume` is refused |

mod dir;
mod metrics;
mod provenance;
mod report;
pub mod tensorboard;

use std::path::Path;

use anyhow::{bail, Context, Result};
use ssl_models::{pick_device, DeviceChoice};

pub use dir::{atomic_error, check_resumable, new_run_path, read_json, write_json_new, RunDir};
pub use metrics::{read_metrics, EpochLine, MetricLine, MonitorLine, StepLine, StopReason, StoppedLine, TrackLine};
pub use provenance::{git_revision, torch_version, Provenance, Resumption, RunState};
pub use report::{DistillResult, EvalReport, FinetuneResult, FractionResult, InitSpectrum, KnnResult, LinearResult, RunReport};

use crate::config::{read_saved, Config};
use crate::network::Network;

/// The checkpoint file of a run folder.
pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// Rebuilds a run's network on `device` and loads its `checkpoint.safetensors`.
pub fn load_network(run: &Path, device: DeviceChoice) -> Result<(Config, Network)> {
    let cfg = read_saved(&run.join("config.toml")).with_context(|| format!("{} is not a readable run folder", run.display()))?;
    let device = pick_device(device)?;
    let mut net = Network::of_run(&cfg, device);
    let ckpt = run.join(CHECKPOINT);
    if !ckpt.is_file() {
        bail!("{} has no {CHECKPOINT}", run.display());
    }
    ssl_models::checkpoint::load(&ckpt, &mut [("", &mut net.vs)], None).context("corrupt or incompatible checkpoint")?;
    // Inference in float32, in the layout the run's rule picks for it (checkpoints are contiguous).
    cfg.training.memory_format.resolve(device, false).convert_variables(&net.vs);
    Ok((cfg, net))
}
