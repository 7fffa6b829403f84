//! Channel-split encoders (CMC, Tian et al. 2019; InfoMin §4, Tian et al. 2020, seed 004): one
//! image's channels are cut into groups — Lab's L | ab, YDbDr's Y | DbDr, two stacked patches —
//! and each group is encoded by its own ResNet f₁, f₂, … whose input channels match the group
//! (or, when every group has the same width, by one shared ResNet). Each group's encoding is one
//! view of the contrastive objective, so the views are splits of *one* crop.
//!
//! The representation of an image (for probes, kNN, export) is, as in CMC's linear evaluation,
//! the concatenation of every encoder's output on its group; with a shared encoder it is that
//! encoder applied to an image of one group's width (`ChannelSplit::eval_channels`).
//!
//! ```no_run
//! use ssl_models::resnet::ResNetConfig;
//! use ssl_models::split::{ChannelSplit, SplitEncoder};
//! use tch::{nn, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let split = ChannelSplit { groups: vec![vec![0], vec![1, 2]], shared: false }; // L | ab
//! let cfg = ResNetConfig { width: 8, in_channels: 3, ..ResNetConfig::resnet18_cifar() };
//! let enc = SplitEncoder::new(&(vs.root() / "backbone"), &cfg, &split).unwrap();
//! let x = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu)); // one Lab crop per image
//! let views = enc.encode_groups(&x, true); // f₁(L), f₂(ab): two [4, 64] views
//! assert_eq!(views.len(), 2);
//! ```

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::error::{ModelError, Result};
use crate::resnet::{ResNet, ResNetConfig};

/// How an input's channels are split into views: `groups[v]` are the channels of view `v`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSplit {
    /// The channels of each view, e.g. `[[0], [1, 2]]` (Lab's L | ab).
    pub groups: Vec<Vec<usize>>,
    /// One encoder for every group (the groups must have one width); default: one per group.
    #[serde(default)]
    pub shared: bool,
}

impl ChannelSplit {
    /// Checks the groups against an input of `in_channels` channels: at least two groups, none
    /// empty, every index < `in_channels`, no channel twice in a group, and one width when shared.
    pub fn validate(&self, in_channels: usize) -> Result<()> {
        let value = || format!("{:?} (model.in_channels = {in_channels})", self.groups);
        let bad = |expected: &'static str| Err(ModelError::Config { field: "model.split.groups", value: value(), expected });
        if self.groups.len() < 2 {
            return bad("at least two channel groups, one per view (e.g. [[0], [1, 2]])");
        }
        if self.groups.iter().any(Vec::is_empty) {
            return bad("every group to name at least one channel");
        }
        if self.groups.iter().flatten().any(|&c| c >= in_channels) {
            return bad("channel indices below model.in_channels (the input's channels)");
        }
        if self.groups.iter().any(|g| (1..g.len()).any(|i| g[..i].contains(&g[i]))) {
            return bad("no channel twice in one group");
        }
        if self.shared && self.groups.iter().any(|g| g.len() != self.groups[0].len()) {
            return Err(ModelError::Config {
                field: "model.split.shared",
                value: format!("true with groups {:?}", self.groups),
                expected: "groups of one width (a shared encoder takes one number of channels), or shared = false",
            });
        }
        Ok(())
    }

    /// Views per image: one per group.
    pub fn views(&self) -> usize {
        self.groups.len()
    }

    /// Channels of the images whose representation is taken (evaluation, export): the whole
    /// input for one encoder per group, one group's width for a shared encoder.
    pub fn eval_channels(&self, in_channels: usize) -> usize {
        if self.shared {
            self.groups[0].len()
        } else {
            in_channels
        }
    }
}

/// How one group is cut out of a batch: a contiguous range (a `narrow`) or an index list.
#[derive(Debug)]
enum Cut {
    Range(i64, i64),
    Index(Tensor),
}

impl Cut {
    fn of(group: &[usize], device: tch::Device) -> Cut {
        let contiguous = group.windows(2).all(|w| w[1] == w[0] + 1);
        if contiguous {
            Cut::Range(group[0] as i64, group.len() as i64)
        } else {
            let idx: Vec<i64> = group.iter().map(|&c| c as i64).collect();
            Cut::Index(Tensor::from_slice(&idx).to_device(device))
        }
    }

    fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            Cut::Range(start, len) => x.narrow(1, *start, *len),
            Cut::Index(idx) => x.index_select(1, idx),
        }
    }
}

/// A ResNet per channel group (or one shared), as [`ChannelSplit`] says.
#[derive(Debug)]
pub struct SplitEncoder {
    cuts: Vec<Cut>,
    encoders: Vec<ResNet>,
    shared: bool,
}

impl SplitEncoder {
    /// Builds the encoders under `p`: `p/0`, `p/1`, … (each with `cfg` and its group's channel
    /// count), or one ResNet directly under `p` when shared. `cfg.in_channels` is the input's
    /// channel count the groups index into.
    pub fn new(p: &nn::Path, cfg: &ResNetConfig, split: &ChannelSplit) -> Result<SplitEncoder> {
        split.validate(cfg.in_channels as usize)?;
        let cuts = split.groups.iter().map(|g| Cut::of(g, p.device())).collect();
        let encoders = if split.shared {
            vec![ResNet::new(p, &ResNetConfig { in_channels: split.groups[0].len() as i64, ..cfg.clone() })]
        } else {
            split
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| ResNet::new(&(p / i.to_string()), &ResNetConfig { in_channels: g.len() as i64, ..cfg.clone() }))
                .collect()
        };
        Ok(SplitEncoder { cuts, encoders, shared: split.shared })
    }

    /// Group `g`'s channels of `x` (`[B, C, H, W]` → `[B, |g|, H, W]`).
    pub fn group(&self, x: &Tensor, g: usize) -> Tensor {
        self.cuts[g].apply(x)
    }

    /// The views of a batch of whole inputs `x` (`[B, C, H, W]`): each group through its encoder,
    /// `[B, d]` per group, in group order.
    pub fn encode_groups(&self, x: &Tensor, train: bool) -> Vec<Tensor> {
        if self.shared {
            // One pass over every group at once: the shared encoder's batch norm sees all views,
            // as it does for k drawn views of a plain encoder.
            let b = x.size()[0];
            let all = Tensor::cat(&(0..self.cuts.len()).map(|g| self.group(x, g)).collect::<Vec<_>>(), 0);
            let h = self.encoders[0].forward_t(&all, train);
            (0..self.cuts.len() as i64).map(|g| h.narrow(0, g * b, b)).collect()
        } else {
            self.encoders.iter().enumerate().map(|(g, e)| e.forward_t(&self.group(x, g), train)).collect()
        }
    }

    /// The width of the representation: the sum of the encoders' outputs (one per group), or
    /// the shared encoder's.
    pub fn out_dim(&self) -> i64 {
        self.encoders.iter().map(ResNet::out_dim).sum()
    }

    /// The representation of `x` with what each stage gives (as [`ResNet::forward_stages`]):
    /// per stage the encoders' feature maps concatenated along channels; with a shared encoder,
    /// that encoder on `x` (one group's width).
    pub fn forward_stages(&self, x: &Tensor, train: bool, mut keep: impl FnMut(usize, &Tensor)) -> Tensor {
        if self.shared {
            return self.encoders[0].forward_stages(x, train, keep);
        }
        let mut maps: Vec<Vec<Tensor>> = (0..=ResNet::STAGES).map(|_| Vec::new()).collect();
        let outs: Vec<Tensor> =
            self.encoders.iter().enumerate().map(|(g, e)| e.forward_stages(&self.group(x, g), train, |s, h| maps[s].push(h.shallow_clone()))).collect();
        for (s, m) in maps.iter().enumerate() {
            keep(s, &Tensor::cat(m, 1));
        }
        Tensor::cat(&outs, 1)
    }

    /// Synchronises every encoder's batch norms across `sync`'s replicas.
    pub fn set_sync(&mut self, sync: Option<crate::norm::ReplicaSync>) {
        for e in &mut self.encoders {
            e.set_sync(sync.clone());
        }
    }

    /// Number of encoders (1 when shared).
    pub fn encoders(&self) -> usize {
        self.encoders.len()
    }
}

impl ModuleT for SplitEncoder {
    /// The representation: every encoder on its group, concatenated (CMC's evaluation
    /// features); with a shared encoder, that encoder on `x`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        if self.shared {
            self.encoders[0].forward_t(x, train)
        } else {
            let outs: Vec<Tensor> = self.encoders.iter().enumerate().map(|(g, e)| e.forward_t(&self.group(x, g), train)).collect();
            Tensor::cat(&outs, 1)
        }
    }
}
