//! The network of a run (backbone, projector, and for BYOL / SimSiam a predictor), its EMA
//! target, and embedding extraction.

use anyhow::{bail, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use ssl_data::{make_batch, Dataset, ViewTransform};
use ssl_io::progress::Progress;
use ssl_models::resnet::Depth;
use ssl_models::{Mlp, MlpConfig, ResNet, ResNetConfig, Stem};
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
    /// The representation size: the backbone's output width.
    pub fn representation_dim(&self) -> i64 {
        self.width * 8 * if self.depth == Depth::R50 { 4 } else { 1 }
    }

    /// Checks widths.
    pub fn check(&self) -> Result<()> {
        if self.width < 1 || self.in_channels < 1 {
            bail!("model.width = {} and model.in_channels = {}: both must be >= 1", self.width, self.in_channels);
        }
        if self.projector.iter().chain(&self.predictor).any(|&w| w < 1) {
            bail!("model.projector = {:?} / model.predictor = {:?}: every width must be >= 1", self.projector, self.predictor);
        }
        Ok(())
    }
}

/// Backbone, optional projector, and the variables they live in.
pub struct Network {
    /// All variables (`backbone.*`, `projector.*`).
    pub vs: nn::VarStore,
    /// The encoder whose output is the representation.
    pub backbone: ResNet,
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
            let backbone = ResNet::new(&(vs.root() / "backbone"), &rc);
            let projector = (!m.projector.is_empty()).then(|| {
                let mut dims = vec![backbone.out_dim()];
                dims.extend(&m.projector);
                Mlp::new(&(vs.root() / "projector"), &MlpConfig { dims, batch_norm: m.projector_batch_norm, output_bias: m.projector_output_bias })
            });
            let out = m.projector.last().copied().unwrap_or(backbone.out_dim());
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

    /// Embeddings fed to the objective: `[N, d]` from a `[N, C, H, W]` batch.
    pub fn project(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.backbone.forward_t(x, train);
        match &self.projector {
            Some(p) => p.forward_t(&h, train),
            None => h,
        }
    }

    /// Number of trainable parameters.
    pub fn num_parameters(&self) -> i64 {
        self.vs.trainable_variables().iter().map(Tensor::numel).sum::<usize>() as i64
    }
}

/// Backbone representations (eval mode, no gradient) of every image of `ds`, `[n, d]` f32.
pub fn embed(backbone: &ResNet, ds: &dyn Dataset, view: &dyn ViewTransform, batch: usize, device: Device) -> Result<Array2<f32>> {
    embed_with(ds, view, batch, device, &Progress::hidden(), |x| backbone.forward_t(x, false))
}

/// [`embed`], counting batches on `progress` (a stage of its own, named `stage`).
pub fn embed_shown(
    backbone: &ResNet,
    ds: &dyn Dataset,
    view: &dyn ViewTransform,
    batch: usize,
    device: Device,
    progress: (&Progress, &str),
) -> Result<Array2<f32>> {
    progress.0.stage(progress.1, ds.len().div_ceil(batch.max(1)) as u64);
    embed_with(ds, view, batch, device, progress.0, |x| backbone.forward_t(x, false))
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
        let x = Tensor::from_slice(&b.data).view([bs as i64, c as i64, h as i64, w as i64]).to_device(device);
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
