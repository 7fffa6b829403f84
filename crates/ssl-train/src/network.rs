//! The network of a run (backbone, projector, and for BYOL / SimSiam a predictor), its EMA
//! target, and embedding extraction.

use anyhow::{bail, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use ssl_data::{make_batch, Dataset, ViewTransform};
use ssl_io::progress::Progress;
use ssl_models::resnet::Depth;
use ssl_models::{ChannelSplit, FoldedResNet, Mlp, MlpConfig, ResNet, ResNetConfig, SplitEncoder, Stem};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::config::Config;

/// Encoder and heads.
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
    /// Channel-split views (CMC / InfoMin §4): the input's channels cut into groups, a ResNet
    /// per group (or one shared), each group's encoding one view of one drawn image —
    /// `split = { groups = [[0], [1, 2]] }` for Lab's L | ab. The views are then `views.count =
    /// groups` splits of one draw per image; the representation is the encoders' outputs
    /// concatenated (shared: the encoder on images of one group's width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<ChannelSplit>,
    /// Projector widths after the representation (empty = no projector).
    pub projector: Vec<i64>,
    /// BatchNorm in the projector's hidden layers.
    #[serde(default)]
    pub projector_batch_norm: bool,
    /// A bias in the projector's output layer (default true; MMCR's official CIFAR head has none).
    #[serde(default = "default_true")]
    pub projector_output_bias: bool,
    /// Hidden widths of the BYOL / SimSiam predictor (its input and output are the projector's
    /// output); empty for methods without one.
    #[serde(default)]
    pub predictor: Vec<i64>,
}

fn default_true() -> bool {
    true
}

impl ModelConfig {
    /// The width of one view's features (what the projector and the objective see): one
    /// ResNet's output.
    pub fn view_dim(&self) -> i64 {
        self.width * 8 * if self.depth == Depth::R50 { 4 } else { 1 }
    }

    /// Images drawn per image and step: 1 with a channel split (its views are splits of that
    /// draw), otherwise `views` (the run's `views.count`).
    pub fn draws_per_image(&self, views: usize) -> usize {
        if self.split.is_some() {
            1
        } else {
            views
        }
    }

    /// Channels of the images a representation is taken of (evaluation, export, probes).
    pub fn eval_channels(&self) -> i64 {
        match &self.split {
            Some(s) => s.eval_channels(self.in_channels as usize) as i64,
            None => self.in_channels,
        }
    }

    /// Checks widths.
    pub fn check(&self) -> Result<()> {
        if self.width < 1 || self.in_channels < 1 {
            bail!("model.width = {} and model.in_channels = {}: both must be >= 1", self.width, self.in_channels);
        }
        if self.projector.iter().chain(&self.predictor).any(|&w| w < 1) {
            bail!("model.projector = {:?} / model.predictor = {:?}: every width must be >= 1", self.projector, self.predictor);
        }
        if let Some(s) = &self.split {
            s.validate(self.in_channels as usize)?;
        }
        Ok(())
    }
}

/// Backbone, optional projector, and the variables they live in.
pub struct Network {
    /// All variables (`backbone.*`, `projector.*`).
    pub vs: nn::VarStore,
    /// The encoder whose output is the representation.
    pub backbone: Backbone,
    /// The projector head, if any.
    pub projector: Option<Mlp>,
    /// The predictor (BYOL, SimSiam), if any.
    pub predictor: Option<Mlp>,
}

impl Network {
    /// Builds the network of a run on `device`, its initial weights drawn from `cfg.seed`.
    pub fn of_run(cfg: &Config, device: Device) -> Network {
        Self::new(&cfg.model, cfg.seed, device)
    }

    /// Builds the network `m` on `device`, its initial weights drawn from `seed`.
    pub fn new(m: &ModelConfig, seed: u64, device: Device) -> Network {
        Self::build(m, seed, device, true)
    }

    /// Synchronises every batch norm (backbone, projector, predictor) across `sync`'s replicas.
    pub fn set_sync(&mut self, sync: Option<ssl_models::ReplicaSync>) {
        self.backbone.set_sync(sync.clone());
        for head in self.projector.iter_mut().chain(self.predictor.iter_mut()) {
            head.set_sync(sync.clone());
        }
    }

    /// The EMA target of a run's network: backbone and projector, no predictor, frozen.
    pub fn target_of_run(cfg: &Config, device: Device) -> Network {
        let mut net = Self::build(&cfg.model, cfg.seed, device, false);
        net.vs.freeze();
        net
    }

    fn build(m: &ModelConfig, seed: u64, device: Device, with_predictor: bool) -> Network {
        // Seeded under a process-wide lock: the weights depend on the seed alone, even with
        // other runs (or tests) building models on other threads.
        ssl_models::seeded(seed, || {
            let vs = nn::VarStore::new(device);
            let rc = ResNetConfig { depth: m.depth, stem: m.stem, in_channels: m.in_channels, width: m.width, zero_init_residual: false };
            let backbone = match &m.split {
                None => Backbone::One(Box::new(ResNet::new(&(vs.root() / "backbone"), &rc))),
                Some(split) => Backbone::Split(SplitEncoder::new(&(vs.root() / "backbone"), &rc, split).expect("model.split is checked with the config")),
            };
            let projector = (!m.projector.is_empty()).then(|| {
                let mut dims = vec![m.view_dim()];
                dims.extend(&m.projector);
                Mlp::new(&(vs.root() / "projector"), &MlpConfig { dims, batch_norm: m.projector_batch_norm, output_bias: m.projector_output_bias })
            });
            let out = m.projector.last().copied().unwrap_or(m.view_dim());
            let predictor = (with_predictor && !m.predictor.is_empty()).then(|| {
                let mut dims = vec![out];
                dims.extend(&m.predictor);
                dims.push(out);
                Mlp::new(&(vs.root() / "predictor"), &MlpConfig { dims, batch_norm: true, output_bias: true })
            });
            Network { vs, backbone, projector, predictor }
        })
    }

    /// The predictor applied to projections (identity when there is none).
    pub fn predict(&self, z: &Tensor, train: bool) -> Tensor {
        match &self.predictor {
            Some(p) => p.forward_t(z, train),
            None => z.shallow_clone(),
        }
    }

    /// The projector applied to backbone features (identity when there is none).
    pub fn head(&self, h: &Tensor, train: bool) -> Tensor {
        match &self.projector {
            Some(p) => p.forward_t(h, train),
            None => h.shallow_clone(),
        }
    }

    /// Embeddings fed to the objective, `[k·B, d]`, from the views of a batch (see
    /// [`Backbone::encode_views`]).
    pub fn project_views(&self, x: &Tensor, train: bool) -> Tensor {
        self.head(&self.backbone.encode_views(x, train), train)
    }

    /// Number of trainable parameters.
    pub fn num_parameters(&self) -> i64 {
        self.vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
    }
}

/// The encoder of a network: one ResNet over every view, or a ResNet per channel group
/// (`model.split`).
#[derive(Debug)]
pub enum Backbone {
    /// One ResNet; the views are drawn images.
    One(Box<ResNet>),
    /// A ResNet per channel group of one drawn image (CMC / InfoMin §4).
    Split(SplitEncoder),
}

impl Backbone {
    /// Synchronises every batch norm of the encoder(s) across `sync`'s replicas (None: off).
    pub fn set_sync(&mut self, sync: Option<ssl_models::ReplicaSync>) {
        match self {
            Backbone::One(r) => r.set_sync(sync),
            Backbone::Split(s) => s.set_sync(sync),
        }
    }

    /// The width of the representation.
    pub fn out_dim(&self) -> i64 {
        match self {
            Backbone::One(r) => r.out_dim(),
            Backbone::Split(s) => s.out_dim(),
        }
    }

    /// The features of a training batch's views, `[k·B, d]`, views-major: from `x` = the k drawn
    /// views `[k·B, C, H, W]` for one encoder, or from `x` = one draw per image `[B, C, H, W]`
    /// for a split (view `g` = group `g` through its encoder).
    pub fn encode_views(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Backbone::One(r) => r.forward_t(x, train),
            Backbone::Split(s) => Tensor::cat(&s.encode_groups(x, train), 0),
        }
    }

    /// The representation of the `b` images of a training batch from its view features `h`
    /// (`[k·B, d]`, from [`Backbone::encode_views`]), detached: view 0's features, or for a split
    /// with an encoder per group every group's features side by side (as [`ModuleT::forward_t`]).
    pub fn representation_of_views(&self, h: &Tensor, k: i64, b: i64) -> Tensor {
        match self {
            Backbone::Split(s) if s.encoders() > 1 => h.detach().view([k, b, -1]).transpose(0, 1).reshape([b, -1]),
            _ => h.narrow(0, 0, b).detach(),
        }
    }

    /// The representation with each stage's feature maps passed through `keep` (see
    /// [`ResNet::forward_stages`]; a split concatenates its encoders' maps per stage).
    pub fn forward_stages(&self, x: &Tensor, train: bool, keep: impl FnMut(usize, &Tensor)) -> Tensor {
        match self {
            Backbone::One(r) => r.forward_stages(x, train, keep),
            Backbone::Split(s) => s.forward_stages(x, train, keep),
        }
    }
}

/// A backbone frozen for inference: one ResNet with its batch norms folded into its
/// convolutions, or a split encoder as it is (eval mode).
pub enum FrozenBackbone<'a> {
    /// One ResNet, folded.
    Folded(FoldedResNet),
    /// Anything else, run in eval mode.
    Eval(&'a Backbone),
}

impl FrozenBackbone<'_> {
    /// The representation of images (no gradient).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| match self {
            FrozenBackbone::Folded(r) => r.forward(x),
            FrozenBackbone::Eval(b) => b.forward_t(x, false),
        })
    }
}

impl Backbone {
    /// A snapshot for inference (embedding, probes): see [`FrozenBackbone`].
    pub fn frozen(&self) -> FrozenBackbone<'_> {
        match self {
            Backbone::One(r) => FrozenBackbone::Folded(r.folded()),
            other => FrozenBackbone::Eval(other),
        }
    }
}

impl ModuleT for Backbone {
    /// The representation of images (for a split, of whole inputs: see [`SplitEncoder`]).
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Backbone::One(r) => r.forward_t(x, train),
            Backbone::Split(s) => s.forward_t(x, train),
        }
    }
}

/// Backbone representations (eval mode, batch norms folded: [`Backbone::frozen`], no gradient)
/// of every image of `ds`, `[n, d]` f32.
pub fn embed(backbone: &Backbone, ds: &dyn Dataset, view: &dyn ViewTransform, batch: usize, device: Device) -> Result<Array2<f32>> {
    let frozen = backbone.frozen();
    embed_with(ds, view, batch, device, &Progress::hidden(), |x| frozen.forward(x))
}

/// [`embed`], counting batches on `progress` (a stage of its own, named `stage`).
pub fn embed_shown(
    backbone: &Backbone,
    ds: &dyn Dataset,
    view: &dyn ViewTransform,
    batch: usize,
    device: Device,
    progress: (&Progress, &str),
) -> Result<Array2<f32>> {
    progress.0.stage(progress.1, ds.len().div_ceil(batch.max(1)) as u64);
    let frozen = backbone.frozen();
    embed_with(ds, view, batch, device, progress.0, |x| frozen.forward(x))
}

/// `f` (run in eval mode without gradient) applied to every image of `ds`, `[n, d]` f32; each
/// batch counts one on `progress`.
pub fn embed_with(
    ds: &dyn Dataset,
    view: &dyn ViewTransform,
    batch: usize,
    device: Device,
    progress: &Progress,
    f: impl Fn(&Tensor) -> Tensor,
) -> Result<Array2<f32>> {
    let n = ds.len();
    let mut rows: Vec<f32> = Vec::new();
    let mut dim = 0usize;
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let b = make_batch(ds, view, chunk, 1, 0, 0);
        let [_, bs, c, h, w] = b.dims();
        let x = crate::input::upload(&b.data, [bs as i64, c as i64, h as i64, w as i64], device);
        let r = tch::no_grad(|| f(&x)).to_kind(Kind::Float).to_device(Device::Cpu);
        dim = r.size()[1] as usize;
        rows.extend(Vec::<f32>::try_from(r.flatten(0, -1))?);
        progress.inc(1);
    }
    Ok(Array2::from_shape_vec((n, dim), rows)?)
}

/// Raw pixels in `[0, 1]` as an `[n, C*H*W]` matrix (the baseline "encoder").
pub fn raw_pixels(ds: &dyn Dataset) -> Array2<f32> {
    let n = ds.len();
    let d = ds.shape().len();
    let mut out = Array2::<f32>::zeros((n, d));
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        for (o, &p) in row.iter_mut().zip(ds.image(i).data) {
            *o = f32::from(p) / 255.0;
        }
    }
    out
}
