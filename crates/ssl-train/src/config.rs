//! Run configuration: a TOML recipe (shipped with the runner or the user's file) plus `--set`
//! overrides, parsed into [`RunConfig`] (unknown keys refused, each error naming its key), then
//! checked once into a [`Config`] — the only form the runner accepts (as linfa's `*Params` →
//! `*ValidParams`).
//!
//! The sections compose the components' own config types: `[optimizer]` is
//! [`ssl_models::OptimizerConfig`], `[schedule]` is [`ssl_models::schedule::LrSchedule`],
//! `[views]` holds [`ssl_data::pipeline::Pipeline`]s, `[objective]` is a tagged
//! [`ObjectiveConfig`] whose variants carry exactly their own knobs, `[data] dataset` a
//! [`DatasetKind`]. Device and thread count are not part of a config: they are run options
//! (`--device`, `--threads`), so a run trained on a GPU resumes on the CPU.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use ssl_models::{MemoryFormat, Precision};
use tch::Device;

use crate::dataset::DataConfig;
use crate::network::ModelConfig;
use crate::objective::ObjectiveConfig;
use crate::recipes::RECIPES;
use crate::views::ViewsConfig;

pub use crate::dataset::DatasetKind;

/// A whole run, as written in a recipe: parsed, not yet checked (see [`RunConfig::check`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Name of the recipe (and prefix of run folders).
    pub name: String,
    /// Seed of weights, sample order and views.
    pub seed: u64,
    /// Dataset.
    pub data: DataConfig,
    /// Training and evaluation views.
    pub views: ViewsConfig,
    /// Encoder and heads.
    pub model: ModelConfig,
    /// Loss.
    pub objective: ObjectiveConfig,
    /// The update rule (ssl-models' own config).
    pub optimizer: ssl_models::OptimizerConfig,
    /// Learning rate, warm-up and decay (ssl-models' own config).
    pub schedule: ssl_models::schedule::LrSchedule,
    /// Batch size, length, precision.
    pub training: TrainingConfig,
    /// Logging.
    pub log: LogConfig,
    /// Final evaluation.
    pub eval: EvalConfig,
    /// In-training monitor (collapse watch).
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// Checkpointing.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// Weight and embedding spectra during training (off by default).
    #[serde(default)]
    pub track: crate::track::TrackConfig,
}

/// Batch size, length and precision of training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Images per batch (each drawn `views.count` times).
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Mixed precision (autocast + loss scaling) when the device is CUDA; ignored on the CPU.
    #[serde(default = "default_true")]
    pub amp: bool,
    /// Data-parallel runs (several processes): batch norm takes its statistics over the global
    /// batch (SimCLR's global BN, §B.2) instead of each process's part. No effect in one process.
    #[serde(default)]
    pub sync_batch_norm: bool,
    /// Memory layout of the encoder's weights and images, for speed only (the results agree;
    /// channels-last batch norm is less exact on the CPU, docs/benchmarks.md): `auto` (the rule of [`MemoryFormatChoice::resolve`]),
    /// `contiguous` or `channels_last`. run.json records what was used.
    #[serde(default)]
    pub memory_format: MemoryFormatChoice,
    /// Precision of the forward pass and loss: `float32`, or `bfloat16` autocast (CPUs with
    /// AVX-512 BW/VL/DQ, or CUDA; refused up front elsewhere). Changes the numbers slightly.
    #[serde(default)]
    pub precision: Precision,
}

/// `training.memory_format`: a layout, or `auto`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryFormatChoice {
    /// The measured rule of [`MemoryFormatChoice::resolve`].
    #[default]
    Auto,
    /// NCHW.
    Contiguous,
    /// NHWC strides.
    ChannelsLast,
}

impl MemoryFormatChoice {
    /// The layout to train in. `auto`: channels-last on the CPU (oneDNN's convolutions; 1.25x on
    /// the default recipe's step, medians in docs/benchmarks.md), and on CUDA when autocast is on
    /// (NVIDIA's guidance for tensor cores; not measured here, no GPU was lent); contiguous on
    /// CUDA in float32.
    pub fn resolve(self, device: Device, autocast: bool) -> MemoryFormat {
        match self {
            MemoryFormatChoice::Contiguous => MemoryFormat::Contiguous,
            MemoryFormatChoice::ChannelsLast => MemoryFormat::ChannelsLast,
            MemoryFormatChoice::Auto if device.is_cuda() && !autocast => MemoryFormat::Contiguous,
            MemoryFormatChoice::Auto => MemoryFormat::ChannelsLast,
        }
    }
}

fn default_true() -> bool {
    true
}

/// When the weights are saved during training (the final weights are always saved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Save `checkpoint.safetensors` after every N epochs (0 = only at the end).
    pub every_epochs: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig { every_epochs: 1 }
    }
}

/// The in-training monitor: spectrum + small kNN every N epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Measure after every N epochs (0 = never).
    pub every_epochs: usize,
    /// Training images in the kNN bank.
    pub bank: usize,
    /// Test images used as kNN queries and for the spectrum.
    pub queries: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig { every_epochs: 1, bank: 5000, queries: 2000 }
    }
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Write a metrics line every N steps.
    pub every_steps: usize,
}

/// Final evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// kNN neighbours.
    pub knn_k: usize,
    /// kNN vote temperature.
    pub knn_temperature: f64,
    /// Images per inference batch.
    pub batch_size: usize,
}

impl EvalConfig {
    /// The kNN probe's settings.
    pub fn knn(&self) -> ssl_analysis::knn::KnnConfig {
        ssl_analysis::knn::KnnConfig { k: self.knn_k, temperature: self.knn_temperature }
    }
}

/// A checked run configuration: every range and combination the types cannot express has been
/// checked by [`RunConfig::check`], the only way to make one. Reads like a [`RunConfig`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config(RunConfig);

impl Deref for Config {
    type Target = RunConfig;
    fn deref(&self) -> &RunConfig {
        &self.0
    }
}

impl RunConfig {
    /// Checks ranges and combinations; the error lists every problem found, each naming its key.
    pub fn check(self) -> Result<Config> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(Config(self))
        } else {
            Err(Problems(problems).into())
        }
    }

    /// Every range or combination this config gets wrong (empty when [`RunConfig::check`] passes),
    /// each naming its key and what was expected: all of them at once, not the first.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                out.push(format!("{e:#}"));
            }
        };
        note(self.optimizer.validate().map_err(Into::into));
        note(self.schedule.validate().map_err(Into::into));
        note(self.objective.check(self.views.count, &self.model));
        note(self.model.check());
        note(self.views.check());
        note(self.track.check());
        let t = &self.training;
        let expect = |ok: bool, problem: String| if ok { Ok(()) } else { Err(anyhow!(problem)) };
        note(expect(t.batch_size >= 2, format!("training.batch_size = {}: expected >= 2", t.batch_size)));
        note(expect(t.epochs >= 1, "training.epochs = 0: expected >= 1".into()));
        note(expect(
            self.monitor.every_epochs == 0 || (self.monitor.bank >= 1 && self.monitor.queries >= 2),
            format!(
                "monitor.bank = {}, monitor.queries = {}: expected bank >= 1 and queries >= 2 (or monitor.every_epochs = 0)",
                self.monitor.bank, self.monitor.queries
            ),
        ));
        note(expect(self.log.every_steps >= 1, "log.every_steps = 0: expected >= 1".into()));
        if let Some(split) = &self.model.split {
            note(expect(
                self.views.count == split.views(),
                format!("model.split has {} channel groups, one per view: set views.count = {} (it is {})", split.views(), split.views(), self.views.count),
            ));
            note(expect(
                self.views.shared.is_none() || self.views.frames.is_some(),
                "model.split and views.shared: a split's views are cuts of one drawn image, so they cannot also be the toy's factor-sharing renderings — unless views.frames stacks both in one image".into(),
            ));
        }
        if let Some(frames) = self.views.frames {
            note(expect(frames >= 1, "views.frames = 0: expected at least one past frame (or remove the key)".into()));
            note(expect(
                self.views.shared.is_some() && self.model.split.is_some(),
                format!(
                    "views.frames = {frames}: past frames are v1 of the toy's factor-sharing pairs (set views.shared) and need an encoder per view (set model.split, e.g. groups = [[0..{}], [{}, {}, {}]])",
                    3 * frames,
                    3 * frames,
                    3 * frames + 1,
                    3 * frames + 2
                ),
            ));
            note(expect(
                self.model.in_channels == 3 * (frames as i64 + 1),
                format!(
                    "views.frames = {frames} makes images of {} channels ({frames} past frames and the later one, RGB each); set model.in_channels = {} (it is {})",
                    3 * (frames + 1),
                    3 * (frames + 1),
                    self.model.in_channels
                ),
            ));
        }
        if let Some(shared) = &self.views.shared {
            note(expect(
                self.data.dataset == DatasetKind::Toy,
                format!(
                    "views.shared = {shared:?}: factor-sharing views need data.dataset = \"toy\" (the dataset with known factors), not \"{}\"",
                    self.data.dataset
                ),
            ));
            note(expect(!shared.is_empty(), "views.shared = []: name at least one of \"object\", \"position\", \"background\" (or remove the key)".into()));
            note(expect(self.views.count >= 2, format!("views.shared needs views.count >= 2, got {}", self.views.count)));
        }
        note(expect(self.eval.batch_size >= 1, "eval.batch_size = 0: expected >= 1".into()));
        note(expect(self.eval.knn_k >= 1, "eval.knn_k = 0: expected >= 1".into()));
        note(expect(
            self.eval.knn_temperature > 0.0 && self.eval.knn_temperature.is_finite(),
            format!("eval.knn_temperature = {}: expected a finite value > 0", self.eval.knn_temperature),
        ));
        out
    }

    /// Reads a recipe or file and applies overrides: unknown keys and wrong types are refused
    /// (naming the key path); ranges are not checked yet (see [`RunConfig::check`]).
    pub fn load(src: &Source, overrides: &[String]) -> Result<RunConfig> {
        let text = source_text(src)?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| anyhow!("{src}: invalid TOML: {}", e.message()))?;
        apply_overrides(&mut table, overrides)?;
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().message().to_string();
            let hint = moved_key_hint(&message).map(|h| format!(" ({h})")).unwrap_or_default();
            if path == "." || path.is_empty() {
                anyhow!("{src}: {message}{hint}")
            } else {
                anyhow!("{src}: {path}: {message}{hint}")
            }
        })
    }
}

impl RunConfig {
    /// The resolved config as TOML (written to the run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not serialise: {e}"))
    }

    /// Checks the training and evaluation views against the images' shape (see
    /// [`ViewsConfig::check_shape`]).
    pub fn check_views(&self, input: ssl_data::Shape) -> Result<()> {
        self.views.check_shape(input, self.model.in_channels, self.model.eval_channels())
    }
}

/// Every problem found by a check, listed together (one per line when there are several).
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// Loads a recipe or file, applies overrides, and checks every field.
    pub fn load(src: &Source, overrides: &[String]) -> Result<Config> {
        RunConfig::load(src, overrides)?.check().with_context(|| format!("{src}: invalid setting"))
    }

    /// The unchecked config, to derive another from (check it again with [`RunConfig::check`]).
    pub fn to_run_config(&self) -> RunConfig {
        self.0.clone()
    }
}

/// Where a key of the earlier flat config lives now, for the message about it (`unknown field
/// `lr``). Configs written before the typed sections had these keys.
fn moved_key_hint(message: &str) -> Option<&'static str> {
    let field = message.strip_prefix("unknown field `")?.split('`').next()?;
    Some(match field {
        "lr" | "warmup_epochs" => "moved: [schedule] lr, warmup_epochs, decay",
        "batch_size" | "epochs" | "amp" => "moved: [training] batch_size, epochs, amp",
        "device" => "not a config key any more: pass --device (and --threads) to the command",
        "size" | "crop_scale" | "crop_ratio" | "flip_p" | "brightness" | "contrast" | "saturation" | "hue" | "jitter_p" | "grayscale_p" | "pipelines" => {
            "views are pipelines now: [[views.train]] ops = [...] (see ssl_data::pipeline)"
        }
        "mean" | "std" => "normalisation is an op: { op = \"normalize\", mean = [...], std = [...] } in [[views.train]] and [views.eval]",
        "barlow_lambda" | "mmcr_lambda" => "renamed: objective.lambda",
        "vicreg_weights" => "renamed: objective.invariance, objective.variance, objective.covariance",
        _ => return None,
    })
}

/// Where a config came from (for messages).
#[derive(Clone, Debug)]
pub enum Source {
    /// A shipped recipe.
    Recipe(String),
    /// A user's file.
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Recipe(n) => write!(f, "recipe `{n}`"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The TOML text of a source.
pub fn source_text(src: &Source) -> Result<String> {
    match src {
        Source::Recipe(name) => RECIPES.iter().find(|(n, _)| n == name).map(|(_, t)| t.to_string()).ok_or_else(|| {
            let names: Vec<_> = RECIPES.iter().map(|(n, _)| *n).collect();
            anyhow!("unknown recipe `{name}`; shipped recipes: {}", names.join(", "))
        }),
        Source::File(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read config file {}", p.display())),
    }
}

/// Applies `key.path=value` overrides to a TOML table; the value is parsed as TOML, or taken as a
/// string when it does not parse. Missing sections are made; unknown keys are caught afterwards by
/// the strict config types.
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String]) -> Result<()> {
    for ov in overrides {
        let (key, raw) = ov.split_once('=').ok_or_else(|| anyhow!("--set {ov}: expected key.path=value"))?;
        let value: toml::Value =
            toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")).unwrap_or_else(|| toml::Value::String(raw.to_string()));
        let parts: Vec<&str> = key.trim().split('.').collect();
        let (last, parents) = parts.split_last().expect("split yields one part");
        let mut cur = &mut *table;
        for p in parents {
            // A section the file leaves out (e.g. `[track]`) is made; an unknown one is then
            // refused, by name, by the strict config types.
            let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cur = entry.as_table_mut().ok_or_else(|| anyhow!("--set {ov}: `{p}` is a value, not a section of the config"))?;
        }
        cur.insert((*last).to_string(), value);
    }
    Ok(())
}

/// The dotted keys whose values differ between two configs (e.g. `schedule.lr`).
pub fn differences(a: &Config, b: &Config) -> Vec<String> {
    fn walk(prefix: &str, a: &toml::Value, b: &toml::Value, out: &mut Vec<String>) {
        match (a, b) {
            (toml::Value::Table(ta), toml::Value::Table(tb)) => {
                let mut keys: Vec<&String> = ta.keys().chain(tb.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    match (ta.get(k), tb.get(k)) {
                        (Some(x), Some(y)) => walk(&key, x, y, out),
                        _ => out.push(key),
                    }
                }
            }
            _ if a != b => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let (Ok(ta), Ok(tb)) = (toml::Value::try_from(&a.0), toml::Value::try_from(&b.0)) else { return vec!["(unserialisable)".into()] };
    let mut out = Vec::new();
    walk("", &ta, &tb, &mut out);
    out
}

/// Reads a config saved in a run folder.
pub fn read_saved(path: &Path) -> Result<Config> {
    Config::load(&Source::File(path.to_path_buf()), &[])
}
