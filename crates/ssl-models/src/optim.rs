//! Optimisers with inspectable state, so checkpoints hold it and a resumed run continues exactly:
//! SGD (momentum), Adam and AdamW with PyTorch's update rules (`torch.optim`, whose C++ twins tch
//! wraps — the tests check equality with tch's), and LARS in solo-learn's form
//! (`solo/utils/lars.py`; You et al. 2017):
//!
//! ```text
//! for each parameter p with gradient g:
//!     if p is adapted (ndim > 1, or exclusion off) and ‖p‖ ≠ 0 and ‖g‖ ≠ 0:
//!         trust = η‖p‖ / (‖g‖ + wd‖p‖ + ε);  with clip_lr: trust = min(trust / lr, 1)
//!         d = (g + wd·p) · trust
//!     else: d = g                      (bias and BatchNorm: no adaptation, no weight decay)
//!     buf = d on the first step, else μ·buf + d
//!     p −= lr · buf
//! ```
//!
//! The learning rate is passed to every [`Optimizer::step`] (schedules live in
//! [`crate::schedule`]).

use std::collections::BTreeMap;

use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::error::{ModelError, OptimizerStateError, Result};

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (heavy-ball) momentum and L2 weight decay.
    Sgd,
    /// Adam with L2 weight decay (added to the gradient).
    Adam,
    /// AdamW: decoupled weight decay.
    Adamw,
    /// LARS (solo-learn form).
    Lars,
}

/// Hyperparameters of an optimiser (the learning rate is given per step).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Momentum μ (SGD, LARS).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// Weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's (β₁, β₂).
    #[serde(default = "default_betas")]
    pub betas: (f64, f64),
    /// Adam's ε.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// LARS trust coefficient η.
    #[serde(default = "default_eta")]
    pub eta: f64,
    /// LARS: trust = min(trust / lr, 1).
    #[serde(default = "default_true")]
    pub clip_lr: bool,
    /// Exclude biases and BatchNorm parameters (every 1-D parameter) from weight decay and from
    /// LARS adaptation; `None`: the rule's default (LARS true; SGD/Adam/AdamW false, as PyTorch),
    /// see [`OptimizerConfig::excludes_bias_and_norm`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_bias_and_norm: Option<bool>,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_betas() -> (f64, f64) {
    (0.9, 0.999)
}
fn default_eps() -> f64 {
    1e-8
}
fn default_eta() -> f64 {
    0.02
}
fn default_true() -> bool {
    true
}

impl OptimizerConfig {
    /// Defaults of `kind` (LARS: η 0.02, clipping, bias/BN excluded; others PyTorch's); the
    /// exclusion is left to the rule's default (`exclude_bias_and_norm: None`).
    pub fn new(kind: OptimizerKind) -> Self {
        OptimizerConfig {
            kind,
            momentum: if kind == OptimizerKind::Sgd { 0.9 } else { default_momentum() },
            weight_decay: 0.0,
            betas: default_betas(),
            eps: default_eps(),
            eta: default_eta(),
            clip_lr: true,
            exclude_bias_and_norm: None,
        }
    }

    /// Whether biases and BatchNorm parameters are excluded from weight decay and LARS
    /// adaptation: `exclude_bias_and_norm` when set, else the rule's default (true for LARS,
    /// false for SGD, Adam and AdamW).
    pub fn excludes_bias_and_norm(&self) -> bool {
        self.exclude_bias_and_norm.unwrap_or(self.kind == OptimizerKind::Lars)
    }

    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, v: f64, expected: &'static str| Err(ModelError::Config { field, value: v.to_string(), expected });
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("optimizer.momentum", self.momentum, "0 <= momentum < 1");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad("optimizer.weight_decay", self.weight_decay, "a finite value >= 0");
        }
        if !(0.0..1.0).contains(&self.betas.0) || !(0.0..1.0).contains(&self.betas.1) {
            return Err(ModelError::Config { field: "optimizer.betas", value: format!("{:?}", self.betas), expected: "both in [0, 1)" });
        }
        if !(self.eps > 0.0) {
            return bad("optimizer.eps", self.eps, "> 0");
        }
        if !(self.eta > 0.0) {
            return bad("optimizer.eta", self.eta, "> 0");
        }
        Ok(())
    }
}

/// One trainable tensor and how the rule treats it.
struct Param {
    name: String,
    tensor: Tensor,
    /// Weight decay and LARS adaptation apply.
    adapted: bool,
}

/// An optimiser over every trainable variable of a [`VarStore`], with named state tensors.
pub struct Optimizer {
    cfg: OptimizerConfig,
    params: Vec<Param>,
    /// `"<param>/<slot>"` → state (slots: `momentum`, `exp_avg`, `exp_avg_sq`).
    state: BTreeMap<String, Tensor>,
    steps: i64,
}

impl Optimizer {
    /// Collects the trainable variables of `vs` (sorted by name).
    pub fn new(vs: &VarStore, cfg: OptimizerConfig) -> Result<Self> {
        cfg.validate()?;
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let exclude = cfg.excludes_bias_and_norm();
        let params = vars
            .into_iter()
            .map(|(name, tensor)| {
                let adapted = !(exclude && tensor.dim() <= 1);
                Param { name, tensor, adapted }
            })
            .collect();
        Ok(Optimizer { cfg, params, state: BTreeMap::new(), steps: 0 })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Number of steps taken.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// Zeroes every gradient.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    /// Multiplies every gradient by `factor` (loss-scale removal); returns false when a gradient
    /// holds a NaN or an infinity.
    pub fn scale_grads(&mut self, factor: f64) -> bool {
        let mut finite = true;
        tch::no_grad(|| {
            for p in &mut self.params {
                let mut g = p.tensor.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(factor);
                    finite &= g.isfinite().all().int64_value(&[]) != 0;
                }
            }
        });
        finite
    }

    /// One update with learning rate `lr`; parameters without a gradient are skipped.
    pub fn step(&mut self, lr: f64) {
        self.steps += 1;
        let t = self.steps;
        let c = self.cfg.clone();
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                let decay = if p.adapted { c.weight_decay } else { 0.0 };
                match c.kind {
                    OptimizerKind::Sgd => {
                        let d = if decay != 0.0 { &g + &p.tensor * decay } else { g.shallow_clone() };
                        let d = momentum(&mut self.state, &p.name, d, c.momentum);
                        let _ = p.tensor.g_add_(&(d * -lr));
                    }
                    OptimizerKind::Lars => {
                        let mut d = g.shallow_clone();
                        if p.adapted {
                            let pn = p.tensor.norm().double_value(&[]);
                            let gn = g.norm().double_value(&[]);
                            if pn != 0.0 && gn != 0.0 {
                                let mut trust = c.eta * pn / (gn + pn * c.weight_decay + c.eps);
                                if c.clip_lr {
                                    trust = (trust / lr).min(1.0);
                                }
                                d = (&g + &p.tensor * c.weight_decay) * trust;
                            }
                        }
                        let d = momentum(&mut self.state, &p.name, d, c.momentum);
                        let _ = p.tensor.g_add_(&(d * -lr));
                    }
                    OptimizerKind::Adam | OptimizerKind::Adamw => {
                        let g = if c.kind == OptimizerKind::Adam && decay != 0.0 { &g + &p.tensor * decay } else { g.shallow_clone() };
                        if c.kind == OptimizerKind::Adamw && decay != 0.0 {
                            let _ = p.tensor.g_mul_scalar_(1.0 - lr * decay);
                        }
                        let (b1, b2) = c.betas;
                        let m = slot(&mut self.state, &p.name, "exp_avg", &g);
                        let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                        let m = m.shallow_clone();
                        let v = slot(&mut self.state, &p.name, "exp_avg_sq", &g);
                        let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                        let v = v.shallow_clone();
                        let bc1 = 1.0 - b1.powi(t as i32);
                        let bc2 = 1.0 - b2.powi(t as i32);
                        let denom = v.sqrt() / bc2.sqrt() + c.eps;
                        let _ = p.tensor.g_add_(&(m / denom * (-lr / bc1)));
                    }
                }
            }
        });
    }

    /// The state as named tensors (`optimizer/<param>/<slot>`, and `optimizer/steps`), for a
    /// checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self.state.iter().map(|(k, v)| (format!("optimizer/{k}"), v.shallow_clone())).collect();
        out.push(("optimizer/steps".into(), Tensor::from_slice(&[self.steps])));
        out
    }

    /// Restores the state written by [`Optimizer::state_tensors`]; every state tensor must belong
    /// to a parameter of this optimiser and have its shape.
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<()> {
        let mut state = BTreeMap::new();
        let mut steps = None;
        for (name, t) in named {
            let Some(key) = name.strip_prefix("optimizer/") else { continue };
            if key == "steps" {
                steps = Some(t.int64_value(&[0]));
                continue;
            }
            let (param, slot) = key.rsplit_once('/').ok_or_else(|| OptimizerStateError::BadName { name: name.clone() })?;
            let p = self
                .params
                .iter()
                .find(|p| p.name == param)
                .ok_or_else(|| OptimizerStateError::UnknownParameter { name: name.clone(), param: param.to_string() })?;
            if t.size() != p.tensor.size() {
                return Err(OptimizerStateError::ShapeMismatch { name: name.clone(), found: t.size(), expected: p.tensor.size() }.into());
            }
            if !["momentum", "exp_avg", "exp_avg_sq"].contains(&slot) {
                return Err(OptimizerStateError::UnknownSlot { name: name.clone(), slot: slot.to_string() }.into());
            }
            state.insert(key.to_string(), t.to_device(p.tensor.device()).to_kind(p.tensor.kind()));
        }
        self.steps = steps.ok_or(OptimizerStateError::NoSteps)?;
        self.state = state;
        Ok(())
    }
}

/// Heavy-ball momentum as torch: the buffer starts as `d`, then `μ·buf + d`; returns the update.
fn momentum(state: &mut BTreeMap<String, Tensor>, name: &str, d: Tensor, mu: f64) -> Tensor {
    if mu == 0.0 {
        return d;
    }
    let key = format!("{name}/momentum");
    match state.get_mut(&key) {
        Some(buf) => {
            let _ = buf.g_mul_scalar_(mu).g_add_(&d);
            buf.shallow_clone()
        }
        None => {
            let buf = d.detach().copy();
            state.insert(key, buf.shallow_clone());
            buf
        }
    }
}

/// The state slot `name/slot`, created as zeros like `like` when missing.
fn slot<'a>(state: &'a mut BTreeMap<String, Tensor>, name: &str, slot: &str, like: &Tensor) -> &'a mut Tensor {
    state.entry(format!("{name}/{slot}")).or_insert_with(|| like.zeros_like().to_kind(Kind::Float).to_kind(like.kind()))
}
