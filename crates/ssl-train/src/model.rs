//! The network of a run (backbone, projector, and for BYOL / SimSiam a predictor), its EMA
//! target, and embedding extraction.

use anyhow::Result;
use ndarray::Array2;
use ssl_data::{make_batch, Dataset, PlainView};
use ssl_models::{Mlp, MlpConfig, ResNet, ResNetConfig};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::config::Config;

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
    /// Builds the network of `cfg` on `device`, its initial weights drawn from `cfg.seed`.
    pub fn new(cfg: &Config, device: Device) -> Network {
        Self::build(cfg, device, true)
    }

    /// The EMA target of `cfg`'s network: backbone and projector, no predictor, frozen.
    pub fn target(cfg: &Config, device: Device) -> Network {
        let mut net = Self::build(cfg, device, false);
        net.vs.freeze();
        net
    }

    fn build(cfg: &Config, device: Device, with_predictor: bool) -> Network {
        // Seeded under a process-wide lock: the weights depend on the seed alone, even with
        // other runs (or tests) building models on other threads.
        ssl_models::seeded(cfg.seed, || {
            let vs = nn::VarStore::new(device);
            let m = &cfg.model;
            let rc = ResNetConfig { depth: m.depth, stem: m.stem, in_channels: m.in_channels, width: m.width, zero_init_residual: false };
            let backbone = ResNet::new(&(vs.root() / "backbone"), &rc);
            let projector = (!m.projector.is_empty()).then(|| {
                let mut dims = vec![backbone.out_dim()];
                dims.extend(&m.projector);
                Mlp::new(&(vs.root() / "projector"), &MlpConfig { dims, batch_norm: m.projector_batch_norm })
            });
            let out = m.projector.last().copied().unwrap_or(backbone.out_dim());
            let predictor = (with_predictor && !m.predictor.is_empty()).then(|| {
                let mut dims = vec![out];
                dims.extend(&m.predictor);
                dims.push(out);
                Mlp::new(&(vs.root() / "predictor"), &MlpConfig { dims, batch_norm: true })
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
pub fn embed(backbone: &ResNet, ds: &dyn Dataset, view: &PlainView, batch: usize, device: Device) -> Result<Array2<f32>> {
    embed_with(ds, view, batch, device, |x| backbone.forward_t(x, false))
}

/// `f` (run in eval mode without gradient) applied to every image of `ds`, `[n, d]` f32.
pub fn embed_with(
    ds: &dyn Dataset,
    view: &PlainView,
    batch: usize,
    device: Device,
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
