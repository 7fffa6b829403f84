//! Run configuration: a TOML recipe (shipped with the runner or the user's file) plus `--set`
//! overrides, checked strictly — an unknown key or a wrong type names the field.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use ssl_models::resnet::Depth;
use ssl_models::{DeviceChoice, Stem};

/// The recipes shipped with the runner: (name, TOML text).
pub const RECIPES: &[(&str, &str)] = &[
    ("simclr-fmnist", include_str!("../recipes/simclr-fmnist.toml")),
    ("barlow-fmnist", include_str!("../recipes/barlow-fmnist.toml")),
    ("byol-fmnist", include_str!("../recipes/byol-fmnist.toml")),
    ("directclr-fmnist", include_str!("../recipes/directclr-fmnist.toml")),
    ("mmcr-fmnist", include_str!("../recipes/mmcr-fmnist.toml")),
    ("simclr-linproj-fmnist", include_str!("../recipes/simclr-linproj-fmnist.toml")),
    ("simclr-noproj-fmnist", include_str!("../recipes/simclr-noproj-fmnist.toml")),
    ("simclr-v2-fmnist", include_str!("../recipes/simclr-v2-fmnist.toml")),
    ("vicreg-fmnist", include_str!("../recipes/vicreg-fmnist.toml")),
    ("barlow-cifar10", include_str!("../recipes/barlow-cifar10.toml")),
    ("byol-cifar10", include_str!("../recipes/byol-cifar10.toml")),
    ("directclr-cifar10", include_str!("../recipes/directclr-cifar10.toml")),
    ("mmcr-cifar10", include_str!("../recipes/mmcr-cifar10.toml")),
    ("simclr-cifar10", include_str!("../recipes/simclr-cifar10.toml")),
    ("vicreg-cifar10", include_str!("../recipes/vicreg-cifar10.toml")),
];

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
    /// One of `crate::data::DATASETS`.
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
    /// Explicit view pipelines (one per view, cycled; e.g. BYOL's asymmetric pair). When given,
    /// they replace the SimCLR view built from the keys above for training; `mean`/`std` above
    /// still normalise evaluation images. See `ssl_data::pipeline` for the ops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<ssl_data::pipeline::Pipeline>,
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
    /// Hidden widths of the BYOL / SimSiam predictor (its input and output are the projector's
    /// output); empty for methods without one.
    #[serde(default)]
    pub predictor: Vec<i64>,
}

/// The loss (`kind`) and its parameters; keys a method does not use are ignored by it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// ntxent | directclr | barlow | vicreg | byol | simsiam | mmcr.
    pub kind: String,
    /// Temperature τ (ntxent, directclr).
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// DirectCLR: the loss sees the first d0 dimensions of the representation.
    #[serde(default)]
    pub d0: Option<i64>,
    /// Barlow Twins' off-diagonal weight λ.
    #[serde(default = "default_barlow_lambda")]
    pub barlow_lambda: f64,
    /// VICReg weights (invariance, variance, covariance).
    #[serde(default = "default_vicreg")]
    pub vicreg_weights: [f64; 3],
    /// MMCR's λ (weight of the per-image nuclear norms).
    #[serde(default)]
    pub mmcr_lambda: f64,
    /// MMCR with a momentum encoder (the target's centroids enter the loss).
    #[serde(default)]
    pub momentum_encoder: bool,
    /// EMA momentum of the target at the start (BYOL 0.99 / 0.996; MMCR momentum 0.99).
    #[serde(default = "default_ema_base")]
    pub ema_base: f64,
    /// EMA momentum at the end of training (1.0: cosine schedule; = ema_base: fixed).
    #[serde(default = "default_ema_final")]
    pub ema_final: f64,
}

fn default_temperature() -> f64 {
    0.2
}
fn default_barlow_lambda() -> f64 {
    0.0051
}
fn default_vicreg() -> [f64; 3] {
    [25.0, 25.0, 1.0]
}
fn default_ema_base() -> f64 {
    0.99
}
fn default_ema_final() -> f64 {
    1.0
}

/// The objectives the runner trains.
pub const OBJECTIVES: [&str; 7] = ["ntxent", "directclr", "barlow", "vicreg", "byol", "simsiam", "mmcr"];

impl ObjectiveConfig {
    /// BYOL, or MMCR with a momentum encoder: the run keeps an EMA target network.
    pub fn uses_target(&self) -> bool {
        self.kind == "byol" || (self.kind == "mmcr" && self.momentum_encoder)
    }
    /// BYOL and SimSiam predict one view's projection from another's.
    pub fn uses_predictor(&self) -> bool {
        self.kind == "byol" || self.kind == "simsiam"
    }
}

/// Optimiser and schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// sgd | adam | adamw | lars.
    pub kind: String,
    /// Base learning rate, scaled by batch_size / 256.
    pub lr: f64,
    /// Momentum (sgd, lars).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// Weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// LARS trust coefficient η.
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// Exclude biases and BN parameters from weight decay and LARS adaptation (default: true for
    /// lars, false otherwise).
    #[serde(default)]
    pub exclude_bias_and_norm: Option<bool>,
    /// Linear warm-up length in epochs (may be fractional), then cosine decay to 0.
    #[serde(default)]
    pub warmup_epochs: f64,
    /// Images per batch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Mixed precision (autocast + loss scaling) when the device is CUDA; ignored on the CPU.
    #[serde(default = "default_true")]
    pub amp: bool,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_eta() -> f64 {
    0.02
}
fn default_true() -> bool {
    true
}

impl OptimizerConfig {
    /// The ssl-models optimiser settings.
    pub fn build_config(&self) -> Result<ssl_models::OptimizerConfig> {
        use ssl_models::OptimizerKind as K;
        let kind = match self.kind.as_str() {
            "sgd" => K::Sgd,
            "adam" => K::Adam,
            "adamw" => K::Adamw,
            "lars" => K::Lars,
            other => bail!("optimizer.kind = `{other}`: expected sgd, adam, adamw or lars"),
        };
        let mut c = ssl_models::OptimizerConfig::new(kind);
        c.momentum = self.momentum;
        c.weight_decay = self.weight_decay;
        c.eta = self.eta;
        if let Some(e) = self.exclude_bias_and_norm {
            c.exclude_bias_and_norm = e;
        }
        c.validate().map_err(|e| anyhow!(e))?;
        Ok(c)
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
        if !crate::data::DATASETS.contains(&self.data.dataset.as_str()) {
            bail!("data.dataset = `{}`: expected one of {}", self.data.dataset, crate::data::DATASETS.join(", "));
        }
        let o = &self.objective;
        if !OBJECTIVES.contains(&o.kind.as_str()) {
            bail!("objective.kind = `{}`: expected one of {}", o.kind, OBJECTIVES.join(", "));
        }
        self.optimizer.build_config()?;
        let k = self.views.count;
        match o.kind.as_str() {
            "barlow" | "vicreg" | "byol" | "simsiam" if k != 2 => bail!("views.count = {k}: {} uses exactly 2 views", o.kind),
            _ if k < 2 => bail!("views.count = {k}: {} needs at least 2 views per image", o.kind),
            _ => {}
        }
        if matches!(o.kind.as_str(), "ntxent" | "directclr") && !(o.temperature > 0.0) {
            bail!("objective.temperature = {}: must be > 0", o.temperature);
        }
        let rep = self.model.width * 8 * if self.model.depth == Depth::R50 { 4 } else { 1 };
        if o.kind == "directclr" {
            if !self.model.projector.is_empty() {
                bail!("model.projector = {:?}: DirectCLR trains without a projector (set model.projector = [])", self.model.projector);
            }
            if let Some(d0) = o.d0 {
                if d0 < 1 || d0 > rep {
                    bail!("objective.d0 = {d0}: must be between 1 and the representation size {rep}");
                }
            }
        } else if o.d0.is_some() {
            bail!("objective.d0 is only used by directclr (objective.kind = `{}`)", o.kind);
        }
        if o.uses_predictor() && (self.model.predictor.is_empty() || self.model.projector.is_empty()) {
            bail!("{} needs model.projector and model.predictor (hidden widths), e.g. predictor = [512]", o.kind);
        }
        if !o.uses_predictor() && !self.model.predictor.is_empty() {
            bail!("model.predictor = {:?}: only byol and simsiam use a predictor", self.model.predictor);
        }
        if o.momentum_encoder && o.kind != "mmcr" {
            bail!("objective.momentum_encoder is an MMCR option (byol always has its target)");
        }
        if o.uses_target() && !(0.0 <= o.ema_base && o.ema_base <= o.ema_final && o.ema_final <= 1.0) {
            bail!("objective.ema_base = {}, ema_final = {}: need 0 <= ema_base <= ema_final <= 1", o.ema_base, o.ema_final);
        }
        if self.model.projector.iter().chain(&self.model.predictor).any(|&w| w < 1) {
            bail!("model.projector / model.predictor widths must be >= 1");
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

    /// The training view transform: the explicit pipelines (per view) or the SimCLR view.
    pub fn train_view(&self) -> std::sync::Arc<dyn ssl_data::ViewTransform> {
        if self.views.pipelines.is_empty() {
            std::sync::Arc::new(self.view())
        } else {
            let transforms = self.views.pipelines.iter().map(|p| std::sync::Arc::new(p.clone()) as std::sync::Arc<dyn ssl_data::ViewTransform>).collect();
            std::sync::Arc::new(ssl_data::PerView { transforms })
        }
    }

    /// Checks the training views against the images' shape: every pipeline must run on it and
    /// give `views.size`-sided views with `model.in_channels` channels.
    pub fn check_views(&self, input: ssl_data::Shape) -> Result<()> {
        for (i, p) in self.views.pipelines.iter().enumerate() {
            let s = p.checked_shape(input).map_err(|e| anyhow!("views.pipelines[{i}]: {e}"))?;
            if s.channels as i64 != self.model.in_channels || s.height != self.views.size || s.width != self.views.size {
                bail!(
                    "views.pipelines[{i}] gives {}x{}x{} views; the model expects {} channel(s) and views.size = {}",
                    s.channels, s.height, s.width, self.model.in_channels, self.views.size
                );
            }
        }
        Ok(())
    }

    /// The resolved config as TOML (written to the run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not serialise: {e}"))
    }
}

/// The dotted keys whose values differ between two configs (e.g. `optimizer.lr`).
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
    let (Ok(ta), Ok(tb)) = (toml::Value::try_from(a), toml::Value::try_from(b)) else { return vec!["(unserialisable)".into()] };
    let mut out = Vec::new();
    walk("", &ta, &tb, &mut out);
    out
}

/// Reads a config saved in a run folder.
pub fn read_saved(path: &Path) -> Result<Config> {
    Config::load(&Source::File(path.to_path_buf()), &[])
}
