//! `run.json`: where a run came from — seed, code revision, libtorch, device, command lines —
//! and how long it took; written at the start, on every resume, and at the end.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// Where a run folder stands: training → evaluating → done, recorded in `run.json` (atomically)
/// at each transition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Training (or interrupted during training: `--resume` continues it).
    #[default]
    Training,
    /// The final checkpoint is written and the final evaluation runs (or was interrupted:
    /// `--resume` runs it again).
    Evaluating,
    /// Trained and evaluated.
    Done,
}

/// The provenance of a run folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Where the run stands (absent in folders written before it existed: read as `training`).
    #[serde(default)]
    pub state: RunState,
    /// Seed of weights, sample order and views.
    pub seed: u64,
    /// `git rev-parse HEAD` of the working tree (`-dirty` when it had changes).
    pub git_revision: String,
    /// The libtorch the runner was built against (read from the wheel's `version.py`).
    pub torch_version: String,
    /// The device of the last (re)start, e.g. `Cpu` or `Cuda(0)`.
    pub device: String,
    /// libtorch CPU threads.
    pub threads: i32,
    /// Mixed precision in use.
    pub amp: bool,
    /// The memory layout trained in (`contiguous` | `channels_last`; absent in older folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_format: Option<ssl_models::MemoryFormat>,
    /// The precision of the forward pass and loss (`float32` | `bfloat16`; absent in older folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<ssl_models::Precision>,
    /// Processes of a data-parallel run (1: a single process; absent in older folders).
    #[serde(default = "one")]
    pub world_size: usize,
    /// The process group's backend (`gloo` | `nccl`) of a data-parallel run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The command line that started the run.
    pub command: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Every resume: at which step, with which command, when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<Resumption>,
    /// Training wall time summed over every invocation, in seconds.
    #[serde(default)]
    pub train_seconds: f64,
    /// Steps of the whole run.
    #[serde(default)]
    pub steps: usize,
    /// Wall time of the invocation that finished the run (training and evaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
    /// Wall time of the final evaluation (embedding, kNN, probes, report) in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_seconds: Option<f64>,
}

fn one() -> usize {
    1
}

/// One `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resumption {
    /// Steps done when it resumed.
    pub at_step: usize,
    /// Its command line.
    pub command: String,
    /// When (RFC 3339).
    pub time: String,
}

/// The libtorch version the workspace is built against (one place: torch-link reads it from the
/// installed wheel at build time).
pub fn torch_version() -> &'static str {
    option_env!("SSL_TORCH_VERSION").unwrap_or("unknown")
}

/// The git revision of the working tree (`<sha>` or `<sha>-dirty`), or `unknown`.
pub fn git_revision() -> String {
    let out = |args: &[&str]| {
        Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match out(&["rev-parse", "HEAD"]) {
        Some(sha) => {
            let dirty = out(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        None => "unknown".into(),
    }
}
