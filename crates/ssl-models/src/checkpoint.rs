//! Checkpoints: every variable of one or more [`VarStore`]s, the optimiser's state and the
//! training position in one `.safetensors` file, written atomically (a temporary file in the same
//! folder, then a rename), so an interrupted write never destroys the previous checkpoint.
//!
//! Layout of the file:
//! * `<store prefix><variable>` — e.g. `backbone.layer1.0.bn1.running_mean` for the online
//!   network (prefix `""`) and `momentum/backbone.conv1.weight` for a momentum encoder;
//! * `optimizer/<parameter>/<slot>` and `optimizer/steps` ([`crate::optim::Optimizer`]);
//! * `state/json` — the [`TrainState`] as UTF-8 JSON bytes (u8 tensor), so the file is
//!   self-contained; a readable copy is written beside it as `<name>.json`.
//!
//! Random state: the data pipeline's RNG is a pure function of (seed, epoch, index, view), so the
//! seed and position restore it exactly; the torch RNG is used only for initialisation.
//!
//! [`export_backbone`] writes the backbone alone with torchvision's names (plus the
//! `num_batches_tracked` buffers torchvision's BatchNorm has), loadable with
//! `torchvision.models.resnet18().load_state_dict(..., strict=False)` where only `fc.*` (and a
//! changed stem) differ.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ssl_io::AtomicError;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::error::{ModelError, Result};
use crate::optim::Optimizer;

/// Where training stands, saved with every checkpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Epochs completed (a mid-epoch checkpoint has `step` past `epoch × steps_per_epoch`).
    pub epoch: usize,
    /// Optimiser steps taken.
    pub step: usize,
    /// The run reached its last step.
    pub finished: bool,
    /// The run's seed.
    pub seed: u64,
    /// The loss scale of mixed-precision training (1 when disabled).
    #[serde(default = "one")]
    pub loss_scale: f64,
    /// Anything else the runner wants back (e.g. a hash of its configuration).
    #[serde(default)]
    pub extra: serde_json::Value,
}

fn one() -> f64 {
    1.0
}

/// A failed atomic write as a [`ModelError`]; `write` turns the writer's own error into one.
fn atomic_error<E>(e: AtomicError<E>, write: impl FnOnce(PathBuf, E) -> ModelError) -> ModelError {
    match e {
        AtomicError::Write { path, source } => write(path, source),
        AtomicError::Io { path, action, source } => ModelError::Io { path, action, source },
        AtomicError::Exists { path } => ModelError::Io { path, action: "replace it", source: std::io::ErrorKind::AlreadyExists.into() },
    }
}

/// Writes named tensors to `path` atomically (`ssl_io::write_atomic`: a temporary sibling, then a
/// rename), so an interrupted write never destroys the previous file.
pub fn write_tensors_atomic(path: &Path, named: &[(String, Tensor)]) -> Result<()> {
    let cpu: Vec<(String, Tensor)> = named.iter().map(|(n, t)| (n.clone(), t.to_device(Device::Cpu).contiguous())).collect();
    ssl_io::write_atomic(path, |tmp| Tensor::write_safetensors(&cpu, tmp))
        .map_err(|e| atomic_error(e, |path, source| ModelError::Torch { path: Some(path), action: "cannot write", source }))
}

/// Saves `stores` (each with its name prefix), the optimiser state and `state` to `path`
/// (`.safetensors`), and a readable `path.with_extension("json")`, each atomically.
pub fn save(path: &Path, stores: &[(&str, &VarStore)], optimizer: Option<&Optimizer>, state: &TrainState) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (prefix, vs) in stores {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        named.extend(vars.into_iter().map(|(n, t)| (format!("{prefix}{n}"), t.detach())));
    }
    if let Some(opt) = optimizer {
        named.extend(opt.state_tensors());
    }
    let json = serde_json::to_string(state).map_err(|source| ModelError::SerializeState { source })?;
    named.push(("state/json".into(), Tensor::from_slice(json.as_bytes())));
    write_tensors_atomic(path, &named)?;
    let pretty = serde_json::to_string_pretty(state).map_err(|source| ModelError::SerializeState { source })?;
    ssl_io::write_bytes_atomic(path.with_extension("json"), pretty).map_err(|e| atomic_error(e, |_, never| match never {}))
}

/// Reads every tensor of a `.safetensors` file; the error names the file.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if !path.is_file() {
        return Err(ModelError::NoSuchFile { path: path.to_path_buf() });
    }
    Tensor::read_safetensors(path).map_err(|source| ModelError::NotSafetensors { path: path.to_path_buf(), source })
}

/// The [`TrainState`] held by the `state/json` entry of the tensors of checkpoint `path`.
fn parse_state(path: &Path, named: &[(String, Tensor)]) -> Result<TrainState> {
    let t = named.iter().find(|(n, _)| n == "state/json").ok_or_else(|| ModelError::NotACheckpoint { path: path.to_path_buf() })?;
    let bytes: Vec<u8> = Vec::<u8>::try_from(t.1.to_kind(Kind::Uint8)).map_err(|source| ModelError::Torch {
        path: Some(path.to_path_buf()),
        action: "cannot read state/json",
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ModelError::BadState { path: path.to_path_buf(), source })
}

/// Loads a checkpoint written by [`save`] into `stores` (same prefixes) and `optimizer`, and
/// returns its [`TrainState`]. Every variable must be present with its shape; errors name the
/// file and the variable, and leave nothing half-loaded only in the sense that the caller should
/// discard the stores on error.
pub fn load(path: &Path, stores: &mut [(&str, &mut VarStore)], optimizer: Option<&mut Optimizer>) -> Result<TrainState> {
    let named = read_tensors(path)?;
    let state = parse_state(path, &named)?;
    let by_name: HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for (prefix, vs) in stores.iter_mut() {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, var) in vars.iter_mut() {
            let key = format!("{prefix}{name}");
            let Some(src) = by_name.get(key.as_str()) else {
                return Err(ModelError::MissingVariable { path: path.to_path_buf(), name: key });
            };
            if src.size() != var.size() {
                return Err(ModelError::ShapeMismatch { path: path.to_path_buf(), name: key, found: src.size(), expected: var.size() });
            }
            tch::no_grad(|| var.copy_(&src.to_device(var.device()).to_kind(var.kind())));
        }
    }
    if let Some(opt) = optimizer {
        opt.load_state(&named).map_err(|e| e.in_file(path))?;
    }
    Ok(state)
}

/// Reads only the [`TrainState`] of a checkpoint.
pub fn read_state(path: &Path) -> Result<TrainState> {
    parse_state(path, &read_tensors(path)?)
}

/// Writes the variables of `vs` under `prefix` (e.g. `"backbone."`) with the prefix removed —
/// torchvision's names — plus an int64 `num_batches_tracked` (= `batches_tracked`) beside every
/// BatchNorm's `running_mean`, atomically to `path`.
pub fn export_backbone(vs: &VarStore, prefix: &str, path: &Path, batches_tracked: i64) -> Result<usize> {
    let mut named: Vec<(String, Tensor)> =
        vs.variables().into_iter().filter_map(|(n, t)| n.strip_prefix(prefix).map(|s| (s.to_string(), t.detach()))).collect();
    if named.is_empty() {
        return Err(ModelError::NoVariableWithPrefix { prefix: prefix.to_string() });
    }
    let bns: Vec<String> = named.iter().filter_map(|(n, _)| n.strip_suffix(".running_mean").map(str::to_string)).collect();
    for bn in bns {
        named.push((format!("{bn}.num_batches_tracked"), Tensor::from(batches_tracked)));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_tensors_atomic(path, &named)?;
    Ok(named.len())
}
