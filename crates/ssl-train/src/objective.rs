//! The loss of a run: `[objective] kind = "…"` with exactly that method's knobs, and the
//! [`Method`] built from it — what the training step calls with the network's projections.

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use ssl_objectives::{
    BarlowTwins, DirectClr, LossOutput, MarginContrastive, Mmcr, MmcrMomentum, NtXent, NuclearNormPath, Objective, PredictorLoss, PredictorLossKind, Vicreg,
};
use tch::{Kind, Tensor};

use crate::network::{ModelConfig, Network};
use crate::parallel::Parallel;

fn default_temperature() -> f64 {
    0.2
}
fn default_barlow_lambda() -> f64 {
    0.0051
}
fn default_vicreg_similarity() -> f64 {
    25.0
}
fn default_vicreg_covariance() -> f64 {
    1.0
}
fn default_ema_base() -> f64 {
    0.99
}
fn default_ema_final() -> f64 {
    1.0
}
fn default_margin() -> f64 {
    1.0
}

/// The objectives the runner trains, each with its own parameters (seeds 000–003; formulas and
/// conventions in `docs/methods.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ObjectiveConfig {
    /// SimCLR's NT-Xent over k views.
    Ntxent {
        /// Temperature τ.
        #[serde(default = "default_temperature")]
        temperature: f64,
    },
    /// DirectCLR: InfoNCE on the first `d0` dimensions of the representation (no projector).
    Directclr {
        /// Dimensions the loss sees (all when absent).
        #[serde(default)]
        d0: Option<i64>,
        /// Temperature τ.
        #[serde(default = "default_temperature")]
        temperature: f64,
    },
    /// Barlow Twins.
    Barlow {
        /// Off-diagonal weight λ.
        #[serde(default = "default_barlow_lambda")]
        lambda: f64,
    },
    /// VICReg.
    Vicreg {
        /// Invariance weight.
        #[serde(default = "default_vicreg_similarity")]
        invariance: f64,
        /// Variance weight.
        #[serde(default = "default_vicreg_similarity")]
        variance: f64,
        /// Covariance weight.
        #[serde(default = "default_vicreg_covariance")]
        covariance: f64,
    },
    /// BYOL: predictor + EMA target.
    Byol {
        /// Target momentum at the start (0.99 / 0.996).
        #[serde(default = "default_ema_base")]
        ema_base: f64,
        /// Target momentum at the end (1.0: cosine schedule; = ema_base: fixed).
        #[serde(default = "default_ema_final")]
        ema_final: f64,
    },
    /// SimSiam: predictor + stop-gradient.
    Simsiam,
    /// The margin pairwise loss of Hadsell, Chopra & LeCun 2006 (cited by SimCLR, seed 001) on
    /// the un-normalised projections of 2 views: B positive pairs (the two views of an image)
    /// and B negative pairs (view 1 of image b with view 2 of image b + 1), mean over 2B pairs.
    Margin {
        /// Margin m of the hinge on negative pairs.
        #[serde(default = "default_margin")]
        margin: f64,
    },
    /// MMCR: nuclear norm of the centroid matrix.
    Mmcr {
        /// Weight of the per-image nuclear norms.
        #[serde(default)]
        lambda: f64,
        /// With a momentum encoder (the target's centroids enter the loss).
        #[serde(default)]
        momentum_encoder: bool,
        /// Target momentum at the start (with `momentum_encoder`).
        #[serde(default = "default_ema_base")]
        ema_base: f64,
        /// Target momentum at the end (with `momentum_encoder`).
        #[serde(default = "default_ema_final")]
        ema_final: f64,
    },
}

impl ObjectiveConfig {
    /// The `kind` name.
    pub fn name(&self) -> &'static str {
        match self {
            ObjectiveConfig::Ntxent { .. } => "ntxent",
            ObjectiveConfig::Directclr { .. } => "directclr",
            ObjectiveConfig::Barlow { .. } => "barlow",
            ObjectiveConfig::Vicreg { .. } => "vicreg",
            ObjectiveConfig::Byol { .. } => "byol",
            ObjectiveConfig::Simsiam => "simsiam",
            ObjectiveConfig::Margin { .. } => "margin",
            ObjectiveConfig::Mmcr { .. } => "mmcr",
        }
    }

    /// The EMA schedule `(base, final)` when the run keeps a target network (BYOL, MMCR with a
    /// momentum encoder).
    pub fn target_momentum(&self) -> Option<(f64, f64)> {
        match *self {
            ObjectiveConfig::Byol { ema_base, ema_final } => Some((ema_base, ema_final)),
            ObjectiveConfig::Mmcr { momentum_encoder: true, ema_base, ema_final, .. } => Some((ema_base, ema_final)),
            _ => None,
        }
    }

    /// BYOL and SimSiam predict one view's projection from another's.
    pub fn uses_predictor(&self) -> bool {
        matches!(self, ObjectiveConfig::Byol { .. } | ObjectiveConfig::Simsiam)
    }

    /// Checks the parameters against the number of views and the model.
    pub fn check(&self, views: usize, model: &ModelConfig) -> Result<()> {
        let name = self.name();
        match self {
            ObjectiveConfig::Barlow { .. }
            | ObjectiveConfig::Vicreg { .. }
            | ObjectiveConfig::Byol { .. }
            | ObjectiveConfig::Simsiam
            | ObjectiveConfig::Margin { .. }
                if views != 2 =>
            {
                bail!("views.count = {views}: {name} uses exactly 2 views")
            }
            _ if views < 2 => bail!("views.count = {views}: {name} needs at least 2 views per image"),
            _ => {}
        }
        match *self {
            ObjectiveConfig::Ntxent { temperature } | ObjectiveConfig::Directclr { temperature, .. } if !(temperature > 0.0 && temperature.is_finite()) => {
                bail!("objective.temperature = {temperature}: must be a finite value > 0")
            }
            ObjectiveConfig::Margin { margin } if !(margin > 0.0 && margin.is_finite()) => bail!("objective.margin = {margin}: must be a finite value > 0"),
            ObjectiveConfig::Directclr { d0, .. } => {
                if !model.projector.is_empty() {
                    bail!("model.projector = {:?}: DirectCLR trains without a projector (set model.projector = [])", model.projector);
                }
                let rep = model.view_dim();
                if let Some(d0) = d0.filter(|&d| d < 1 || d > rep) {
                    bail!("objective.d0 = {d0}: must be between 1 and the representation size {rep}");
                }
            }
            _ => {}
        }
        if self.uses_predictor() && (model.predictor.is_empty() || model.projector.is_empty()) {
            bail!("{name} needs model.projector and model.predictor (hidden widths), e.g. predictor = [512]");
        }
        if !self.uses_predictor() && !model.predictor.is_empty() {
            bail!("model.predictor = {:?}: only byol and simsiam use a predictor", model.predictor);
        }
        if let Some((base, last)) = self.target_momentum() {
            if !(0.0 <= base && base <= last && last <= 1.0) {
                bail!("objective.ema_base = {base}, ema_final = {last}: need 0 <= ema_base <= ema_final <= 1");
            }
        }
        Ok(())
    }
}

/// The objective of a run, with what it needs besides the projections.
pub enum Method {
    /// Objectives on `[k, B, d]` projections.
    Plain(Box<dyn Objective>),
    /// BYOL (EMA target) or SimSiam (stop-gradient on the online projections).
    Predictor(PredictorLoss),
    /// MMCR with a momentum encoder.
    MmcrMomentum(MmcrMomentum),
}

impl Method {
    /// The loss of `cfg`.
    pub fn new(cfg: &ObjectiveConfig) -> Result<Method> {
        Ok(match *cfg {
            ObjectiveConfig::Ntxent { temperature } => Method::Plain(Box::new(NtXent::new(temperature)?)),
            ObjectiveConfig::Directclr { d0, temperature } => Method::Plain(Box::new(DirectClr::new(d0, temperature)?)),
            ObjectiveConfig::Barlow { lambda } => Method::Plain(Box::new(BarlowTwins::new(lambda)?)),
            ObjectiveConfig::Vicreg { invariance, variance, covariance } => Method::Plain(Box::new(Vicreg { invariance, variance, covariance })),
            ObjectiveConfig::Margin { margin } => Method::Plain(Box::new(MarginContrastive::new(margin)?)),
            ObjectiveConfig::Mmcr { lambda, momentum_encoder: true, .. } => {
                Method::MmcrMomentum(MmcrMomentum { mmcr: Mmcr::new(lambda, NuclearNormPath::Auto)? })
            }
            ObjectiveConfig::Mmcr { lambda, .. } => Method::Plain(Box::new(Mmcr::new(lambda, NuclearNormPath::Auto)?)),
            ObjectiveConfig::Byol { .. } => Method::Predictor(PredictorLoss { kind: PredictorLossKind::Byol }),
            ObjectiveConfig::Simsiam => Method::Predictor(PredictorLoss { kind: PredictorLossKind::SimSiam }),
        })
    }

    /// The loss of one batch `x` of `k` views of `b` images (`[k·B, C, H, W]` drawn views, or
    /// one draw per image `[B, C, H, W]` for a channel split: see [`crate::network::Backbone::encode_views`]),
    /// and the detached representation of the images (for the online probe).
    ///
    /// In a data-parallel run (`parallel`) `x` is this rank's part of the global batch, and the
    /// batch-level objectives (NT-Xent's negatives, Barlow Twins' cross-correlation, VICReg's
    /// covariance, MMCR's centroid matrix) see the global batch's projections, gathered with
    /// their gradient; BYOL and SimSiam, per-sample losses, stay local.
    pub fn loss(&self, net: &Network, target: Option<&Network>, x: &Tensor, k: i64, b: i64, parallel: Option<&Parallel>) -> Result<(LossOutput, Tensor)> {
        let h = net.backbone.encode_views(x, true);
        let feats = net.backbone.representation_of_views(&h, k, b);
        let z = net.head(&h, true);
        let global = |t: Tensor| -> Result<Tensor> {
            match parallel {
                Some(p) => p.gather_samples(&t),
                None => Ok(t),
            }
        };
        let out = match self {
            Method::Plain(obj) => obj.compute(&global(z.view([k, b, -1]).to_kind(Kind::Float))?)?,
            Method::Predictor(loss) => {
                let p = net.predict(&z, true).view([k, b, -1]).to_kind(Kind::Float);
                let t = match target {
                    Some(t) => tch::no_grad(|| t.project_views(x, true)),
                    None => z.detach(), // SimSiam: stop-gradient on the online branch
                };
                loss.compute(&p, &t.view([k, b, -1]).to_kind(Kind::Float))?
            }
            Method::MmcrMomentum(m) => {
                let t = target.ok_or_else(|| anyhow!("MMCR momentum needs its target network"))?;
                let tz = tch::no_grad(|| t.project_views(x, true));
                m.compute(&global(z.view([k, b, -1]).to_kind(Kind::Float))?, &global(tz.view([k, b, -1]).to_kind(Kind::Float))?)?
            }
        };
        Ok((out, feats))
    }
}
