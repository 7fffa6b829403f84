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

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

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

/// The temporary sibling a file is written to before the rename.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Writes named tensors to `path` atomically.
pub fn write_tensors_atomic(path: &Path, named: &[(String, Tensor)]) -> Result<(), String> {
    let tmp = temp_path(path);
    let cpu: Vec<(String, Tensor)> = named.iter().map(|(n, t)| (n.clone(), t.to_device(Device::Cpu).contiguous())).collect();
    Tensor::write_safetensors(&cpu, &tmp).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot write: {e}", tmp.display())
    })?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot move {} to {}: {e}", tmp.display(), path.display()))
}

/// Saves `stores` (each with its name prefix), the optimiser state and `state` to `path`
/// (`.safetensors`), and a readable `path.with_extension("json")`, each atomically.
pub fn save(path: &Path, stores: &[(&str, &VarStore)], optimizer: Option<&Optimizer>, state: &TrainState) -> Result<(), String> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (prefix, vs) in stores {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        named.extend(vars.into_iter().map(|(n, t)| (format!("{prefix}{n}"), t.detach())));
    }
    if let Some(opt) = optimizer {
        named.extend(opt.state_tensors());
    }
    let json = serde_json::to_string(state).map_err(|e| e.to_string())?;
    named.push(("state/json".into(), Tensor::from_slice(json.as_bytes())));
    write_tensors_atomic(path, &named)?;
    let side = path.with_extension("json");
    let tmp = temp_path(&side);
    let pretty = serde_json::to_string_pretty(state).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, pretty).map_err(|e| format!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &side).map_err(|e| format!("cannot move {} to {}: {e}", tmp.display(), side.display()))
}

/// Reads every tensor of a `.safetensors` file; the error names the file.
pub fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, String> {
    if !path.is_file() {
        return Err(format!("{}: no such checkpoint file", path.display()));
    }
    Tensor::read_safetensors(path).map_err(|e| format!("{}: not a readable safetensors file ({e})", path.display()))
}

/// Loads a checkpoint written by [`save`] into `stores` (same prefixes) and `optimizer`, and
/// returns its [`TrainState`]. Every variable must be present with its shape; errors name the
/// file and the variable, and leave nothing half-loaded only in the sense that the caller should
/// discard the stores on error.
pub fn load(path: &Path, stores: &mut [(&str, &mut VarStore)], optimizer: Option<&mut Optimizer>) -> Result<TrainState, String> {
    let named = read_tensors(path)?;
    let by_name: HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let state_bytes = by_name.get("state/json").ok_or_else(|| format!("{}: no state/json entry; not a checkpoint of this toolkit", path.display()))?;
    let bytes: Vec<u8> = Vec::<u8>::try_from(state_bytes.to_kind(Kind::Uint8)).map_err(|e| format!("{}: state/json: {e}", path.display()))?;
    let state: TrainState = serde_json::from_slice(&bytes).map_err(|e| format!("{}: state/json is not a training state: {e}", path.display()))?;
    for (prefix, vs) in stores.iter_mut() {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, var) in vars.iter_mut() {
            let key = format!("{prefix}{name}");
            let src = by_name.get(key.as_str()).ok_or_else(|| format!("{}: missing variable `{key}`", path.display()))?;
            if src.size() != var.size() {
                return Err(format!("{}: `{key}` has shape {:?}, the model expects {:?}", path.display(), src.size(), var.size()));
            }
            tch::no_grad(|| var.copy_(&src.to_device(var.device()).to_kind(var.kind())));
        }
    }
    if let Some(opt) = optimizer {
        opt.load_state(&named).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(state)
}

/// Reads only the [`TrainState`] of a checkpoint.
pub fn read_state(path: &Path) -> Result<TrainState, String> {
    let named = read_tensors(path)?;
    let t = named.iter().find(|(n, _)| n == "state/json").ok_or_else(|| format!("{}: no state/json entry", path.display()))?;
    let bytes: Vec<u8> = Vec::<u8>::try_from(t.1.to_kind(Kind::Uint8)).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: state/json: {e}", path.display()))
}

/// Writes the variables of `vs` under `prefix` (e.g. `"backbone."`) with the prefix removed —
/// torchvision's names — plus an int64 `num_batches_tracked` (= `batches_tracked`) beside every
/// BatchNorm's `running_mean`, atomically to `path`.
pub fn export_backbone(vs: &VarStore, prefix: &str, path: &Path, batches_tracked: i64) -> Result<usize, String> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix(prefix).map(|s| (s.to_string(), t.detach())))
        .collect();
    if named.is_empty() {
        return Err(format!("no variable starts with `{prefix}`"));
    }
    let bns: Vec<String> = named.iter().filter_map(|(n, _)| n.strip_suffix(".running_mean").map(str::to_string)).collect();
    for bn in bns {
        named.push((format!("{bn}.num_batches_tracked"), Tensor::from(batches_tracked)));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_tensors_atomic(path, &named)?;
    Ok(named.len())
}
