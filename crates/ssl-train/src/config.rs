//! Run configuration: a TOML recipe (shipped with the runner or the user's file) plus `--set`
//! overrides, checked strictly — an unknown key or a wrong type names the field.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use ssl_models::resnet::Depth;
use ssl_models::{DeviceChoice, Stem};

/// The recipes shipped with the runner: (name, TOML text).
pub const RECIPES: &[(&str, &str)] = &[("simclr-fmnist", include_str!("../recipes/simclr-fmnist.toml"))];

/// The recipe `cargo xtask train` runs without arguments.
pub const DEFAULT_RECIPE: &str = "simclr-fmnist";

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the recipe (and prefix of run folders).
    pub name: String,
    /// Seed of weights, sample order and views.
    pub seed: u64,
    /// cpu | cuda | auto.
    pub device: DeviceChoice,
    /// Dataset.
    pub data: DataConfig,
    /// Views.
    pub views: ViewsConfig,
    /// Encoder and head.
    pub model: ModelConfig,
    /// Loss.
    pub objective: ObjectiveConfig,
    /// Optimiser and schedule.
    pub optimizer: OptimizerConfig,
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

/// Dataset selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Only `fashion-mnist` (or `mnist`, same format) in this version.
    pub dataset: String,
    /// Folder with the idx files.
    pub root: PathBuf,
    /// Train on the first N training images (0 = all).
    #[serde(default)]
    pub train_limit: usize,
    /// Evaluate on the first N test images (0 = all).
    #[serde(default)]
    pub test_limit: usize,
}

/// The SimCLR view parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsConfig {
    /// Views per image (k).
    pub count: usize,
    /// Output side.
    pub size: usize,
    /// Crop area range.
    pub crop_scale: [f64; 2],
    /// Crop aspect range.
    pub crop_ratio: [f64; 2],
    /// Flip probability.
    pub flip_p: f64,
    /// Brightness jitter strength.
    pub brightness: f64,
    /// Contrast jitter strength.
    pub contrast: f64,
    /// Saturation jitter strength.
    #[serde(default)]
    pub saturation: f64,
    /// Hue jitter strength.
    #[serde(default)]
    pub hue: f64,
    /// Jitter probability.
    pub jitter_p: f64,
    /// Grayscale probability.
    #[serde(default)]
    pub grayscale_p: f64,
    /// Normalisation mean per channel.
    pub mean: Vec<f64>,
    /// Normalisation std per channel.
    pub std: Vec<f64>,
}

/// Encoder and projector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// 18 | 34 | 50.
    pub depth: Depth,
    /// cifar | imagenet.
    pub stem: Stem,
    /// First-stage channels.
    pub width: i64,
    /// Input channels.
    pub in_channels: i64,
    /// Projector widths after the representation (empty = no projector).
    pub projector: Vec<i64>,
    /// BatchNorm in the projector's hidden layers.
    #[serde(default)]
    pub projector_batch_norm: bool,
}

/// The loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// Only `ntxent` in this version.
    pub kind: String,
    /// Temperature τ.
    pub temperature: f64,
}

/// Optimiser and schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// sgd | adam | adamw.
    pub kind: String,
    /// Base learning rate, scaled by batch_size / 256.
    pub lr: f64,
    /// SGD momentum.
    #[serde(default)]
    pub momentum: f64,
    /// Weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Linear warm-up length in epochs (may be fractional), then cosine decay to 0.
    #[serde(default)]
    pub warmup_epochs: f64,
    /// Images per batch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
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
/// string when it does not parse. Unknown keys are caught afterwards by the strict config types.
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String]) -> Result<()> {
    for ov in overrides {
        let (key, raw) = ov.split_once('=').ok_or_else(|| anyhow!("--set {ov}: expected key.path=value"))?;
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        let parts: Vec<&str> = key.trim().split('.').collect();
        let (last, parents) = parts.split_last().expect("split yields one part");
        let mut cur = &mut *table;
        for p in parents {
            cur = cur
                .get_mut(*p)
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| anyhow!("--set {ov}: `{p}` is not a section of the config"))?;
        }
        cur.insert((*last).to_string(), value);
    }
    Ok(())
}

impl Config {
    /// Loads a recipe or file, applies overrides, and checks every field.
    pub fn load(src: &Source, overrides: &[String]) -> Result<Config> {
        let text = source_text(src)?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| anyhow!("{src}: invalid TOML: {e}"))?;
        apply_overrides(&mut table, overrides)?;
        let cfg: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| anyhow!("{src}: {}", e.message()))?;
        cfg.validate().with_context(|| format!("{src}: invalid setting"))?;
        Ok(cfg)
    }

    /// Checks ranges and combinations the types cannot express.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.data.dataset.as_str(), "fashion-mnist" | "mnist") {
            bail!("data.dataset = `{}`: this version trains on `fashion-mnist` or `mnist`", self.data.dataset);
        }
        if self.objective.kind != "ntxent" {
            bail!("objective.kind = `{}`: this version implements `ntxent`", self.objective.kind);
        }
        if !matches!(self.optimizer.kind.as_str(), "sgd" | "adam" | "adamw") {
            bail!("optimizer.kind = `{}`: expected sgd, adam or adamw", self.optimizer.kind);
        }
        if self.views.count < 2 {
            bail!("views.count = {}: NT-Xent needs at least 2 views", self.views.count);
        }
        if self.optimizer.batch_size < 2 || self.optimizer.epochs == 0 {
            bail!("optimizer.batch_size must be >= 2 and optimizer.epochs >= 1");
        }
        if !(self.optimizer.lr > 0.0) {
            bail!("optimizer.lr = {}: must be > 0", self.optimizer.lr);
        }
        if self.model.width < 1 || self.model.in_channels < 1 {
            bail!("model.width and model.in_channels must be >= 1");
        }
        if self.monitor.every_epochs > 0 && (self.monitor.bank == 0 || self.monitor.queries < 2) {
            bail!("monitor.bank must be >= 1 and monitor.queries >= 2 (or monitor.every_epochs = 0)");
        }
        if self.log.every_steps == 0 || self.eval.batch_size == 0 {
            bail!("log.every_steps and eval.batch_size must be >= 1");
        }
        self.view().validate()?;
        Ok(())
    }

    /// The view pipeline of this config.
    pub fn view(&self) -> ssl_data::SimclrView {
        let v = &self.views;
        ssl_data::SimclrView {
            crop: ssl_data::augment::RandomResizedCrop {
                size: v.size,
                scale: (v.crop_scale[0], v.crop_scale[1]),
                ratio: (v.crop_ratio[0], v.crop_ratio[1]),
            },
            flip_p: v.flip_p,
            jitter: ssl_data::augment::ColorJitter {
                brightness: v.brightness as f32,
                contrast: v.contrast as f32,
                saturation: v.saturation as f32,
                hue: v.hue as f32,
            },
            jitter_p: v.jitter_p,
            grayscale_p: v.grayscale_p,
            mean: v.mean.iter().map(|&m| m as f32).collect(),
            std: v.std.iter().map(|&s| s as f32).collect(),
        }
    }

    /// The resolved config as TOML (written to the run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not serialise: {e}"))
    }
}

/// Reads a config saved in a run folder.
pub fn read_saved(path: &Path) -> Result<Config> {
    Config::load(&Source::File(path.to_path_buf()), &[])
}
