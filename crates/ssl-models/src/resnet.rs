//! ResNet encoders (He et al. 2016) with torchvision's layout, names and initialisation, and the
//! CIFAR stem used by SimCLR for small images (Chen et al. 2020, appendix B.9: 3×3 stride-1 first
//! convolution, no max-pool).

use tch::nn::{self, ConvConfig, Init, ModuleT};
use tch::Tensor;

use crate::norm::{BatchNorm, ReplicaSync};

/// The first layers of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stem {
    /// 7×7 stride-2 convolution then 3×3 stride-2 max-pool (ImageNet-size inputs).
    Imagenet,
    /// 3×3 stride-1 convolution, no max-pool (CIFAR / Fashion-MNIST-size inputs).
    Cifar,
}

/// Which residual block and how many per stage. Written `"18"`, `"34"` or `"50"`; read from that
/// string or the bare number (`depth = 50`), anything else named with the valid choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Depth {
    /// BasicBlock ×[2, 2, 2, 2].
    #[serde(rename = "18")]
    R18,
    /// BasicBlock ×[3, 4, 6, 3].
    #[serde(rename = "34")]
    R34,
    /// Bottleneck ×[3, 4, 6, 3].
    #[serde(rename = "50")]
    R50,
}

impl<'de> serde::Deserialize<'de> for Depth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(i64),
            Text(String),
        }
        let text = match Written::deserialize(d).map_err(|_| serde::de::Error::custom("expected \"18\", \"34\" or \"50\""))? {
            Written::Number(n) => n.to_string(),
            Written::Text(t) => t,
        };
        match text.as_str() {
            "18" => Ok(Depth::R18),
            "34" => Ok(Depth::R34),
            "50" => Ok(Depth::R50),
            other => Err(serde::de::Error::custom(format!("`{other}` is not a ResNet depth: expected \"18\", \"34\" or \"50\""))),
        }
    }
}

impl Depth {
    fn blocks(self) -> [usize; 4] {
        match self {
            Depth::R18 => [2, 2, 2, 2],
            Depth::R34 | Depth::R50 => [3, 4, 6, 3],
        }
    }
    fn expansion(self) -> i64 {
        match self {
            Depth::R50 => 4,
            _ => 1,
        }
    }
}

/// Shape of a ResNet encoder.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    /// 18, 34 or 50.
    pub depth: Depth,
    /// ImageNet or CIFAR stem.
    pub stem: Stem,
    /// Input channels (1 for Fashion-MNIST, 3 for RGB, 1–3 for colour-split views).
    pub in_channels: i64,
    /// Channels of the first stage (torchvision: 64); stages have width × [1, 2, 4, 8].
    pub width: i64,
    /// Initialise the last BN of each residual block to zero (Goyal et al. 2017).
    #[serde(default)]
    pub zero_init_residual: bool,
}

impl ResNetConfig {
    /// ResNet-18 with the CIFAR stem, 3 input channels, width 64.
    pub fn resnet18_cifar() -> Self {
        ResNetConfig { depth: Depth::R18, stem: Stem::Cifar, in_channels: 3, width: 64, zero_init_residual: false }
    }
}

/// torchvision's conv init: Kaiming normal, fan-out, ReLU gain: N(0, 2 / (out · k²)).
fn conv(p: &nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64) -> Conv {
    let std = (2.0 / (cout * k * k) as f64).sqrt();
    let cfg = ConvConfig { stride, padding, bias: false, ws_init: Init::Randn { mean: 0.0, stdev: std }, ..Default::default() };
    // oneDNN (libtorch 2.11, x86-64 AVX-512) crashes in the weight gradient of a channels-last
    // 1×1 stride-2 convolution with 2-12 input channels on large maps (SIGFPE / heap corruption
    // from 56×56 up; `scripts/onednn_1x1_stride2_crash.py`). Such a convolution runs contiguous.
    let contiguous_only = k == 1 && stride > 1 && cin < 16;
    Conv { layer: nn::conv2d(p, cin, cout, k, cfg), stride, padding, contiguous_only }
}

/// A bias-free convolution and its geometry (tch keeps the config private).
#[derive(Debug)]
struct Conv {
    layer: nn::Conv2D,
    stride: i64,
    padding: i64,
    /// Computed in the contiguous layout whatever the input's (a oneDNN crash, see `conv`).
    contiguous_only: bool,
}

impl nn::Module for Conv {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.contiguous_only && !x.is_contiguous() {
            let w = self.layer.ws.contiguous(); // a copy that passes its gradient back
            return x.contiguous().conv2d(&w, None::<Tensor>, [self.stride; 2], [self.padding; 2], [1, 1], 1);
        }
        x.apply(&self.layer)
    }
}

impl Conv {
    /// This convolution followed by `bn` in eval mode, as one convolution with a bias.
    fn fold(&self, bn: &BatchNorm) -> FoldedConv {
        let (scale, shift) = bn.eval_affine();
        let w = tch::no_grad(|| &self.layer.ws * scale.view([-1, 1, 1, 1]));
        FoldedConv { w, b: shift, stride: self.stride, padding: self.padding }
    }
}

/// A convolution with the batch norm after it folded in (inference only): with the running
/// statistics, BN(conv(x, w)) = conv(x, w·s) + (β − μ·s), s = γ / √(σ² + ε) per output channel.
#[derive(Debug)]
struct FoldedConv {
    w: Tensor,
    b: Tensor,
    stride: i64,
    padding: i64,
}

impl FoldedConv {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.w, Some(&self.b), [self.stride; 2], [self.padding; 2], [1, 1], 1)
    }
}

/// BatchNorm initialised as torchvision (weight 1, bias 0), not tch's uniform default.
fn bn(p: &nn::Path, c: i64, zero: bool) -> BatchNorm {
    BatchNorm::new2d(p, c, if zero { 0.0 } else { 1.0 })
}

/// One residual block (basic or bottleneck) with its optional downsample branch.
#[derive(Debug)]
struct Block {
    convs: Vec<Conv>,
    bns: Vec<BatchNorm>,
    downsample: Option<(Conv, BatchNorm)>,
}

impl Block {
    fn new(p: &nn::Path, depth: Depth, cin: i64, planes: i64, stride: i64, zero_init: bool) -> Self {
        let exp = depth.expansion();
        let cout = planes * exp;
        let (convs, bns) = if exp == 1 {
            (
                vec![conv(&(p / "conv1"), cin, planes, 3, stride, 1), conv(&(p / "conv2"), planes, planes, 3, 1, 1)],
                vec![bn(&(p / "bn1"), planes, false), bn(&(p / "bn2"), planes, zero_init)],
            )
        } else {
            (
                vec![
                    conv(&(p / "conv1"), cin, planes, 1, 1, 0),
                    conv(&(p / "conv2"), planes, planes, 3, stride, 1),
                    conv(&(p / "conv3"), planes, cout, 1, 1, 0),
                ],
                vec![bn(&(p / "bn1"), planes, false), bn(&(p / "bn2"), planes, false), bn(&(p / "bn3"), cout, zero_init)],
            )
        };
        let downsample =
            (stride != 1 || cin != cout).then(|| (conv(&(p / "downsample" / "0"), cin, cout, 1, stride, 0), bn(&(p / "downsample" / "1"), cout, false)));
        Block { convs, bns, downsample }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let identity = match &self.downsample {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        residual(x, self.convs.len(), |i, h| h.apply(&self.convs[i]).apply_t(&self.bns[i], train), identity)
    }
}

/// A residual block's pattern, trained or folded: `stages` layers (conv + batch norm), a ReLU
/// after each but the last, the shortcut added, a ReLU. In-place ReLU and add, as torchvision
/// (fewer allocations; same autograd).
fn residual(x: &Tensor, stages: usize, layer: impl Fn(usize, &Tensor) -> Tensor, identity: Tensor) -> Tensor {
    let mut h = x.shallow_clone();
    for i in 0..stages {
        h = layer(i, &h);
        if i + 1 < stages {
            let _ = h.relu_();
        }
    }
    let _ = h.g_add_(&identity);
    let _ = h.relu_();
    h
}

/// The stem's ReLU and, for the ImageNet stem, its max-pool, after its conv + batch norm.
fn stem_tail(mut h: Tensor, stem: Stem) -> Tensor {
    let _ = h.relu_();
    if stem == Stem::Imagenet {
        h = h.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
    }
    h
}

/// A ResNet backbone: image batch `[B, C, H, W]` in, representation `[B, out_dim]` out
/// (after global average pooling; no classifier).
#[derive(Debug)]
pub struct ResNet {
    conv1: Conv,
    bn1: BatchNorm,
    stem: Stem,
    depth: Depth,
    blocks: Vec<Block>,
    out_dim: i64,
}

impl ResNet {
    /// Builds the encoder's variables under `p` with torchvision's names.
    pub fn new(p: &nn::Path, cfg: &ResNetConfig) -> Self {
        let w = cfg.width;
        let conv1 = match cfg.stem {
            Stem::Imagenet => conv(&(p / "conv1"), cfg.in_channels, w, 7, 2, 3),
            Stem::Cifar => conv(&(p / "conv1"), cfg.in_channels, w, 3, 1, 1),
        };
        let bn1 = bn(&(p / "bn1"), w, false);
        let mut blocks = Vec::new();
        let mut cin = w;
        for (stage, &n) in cfg.depth.blocks().iter().enumerate() {
            let planes = w << stage;
            let lp = p / format!("layer{}", stage + 1);
            for i in 0..n {
                let stride = if i == 0 && stage > 0 { 2 } else { 1 };
                blocks.push(Block::new(&(&lp / i.to_string()), cfg.depth, cin, planes, stride, cfg.zero_init_residual));
                cin = planes * cfg.depth.expansion();
            }
        }
        ResNet { conv1, bn1, stem: cfg.stem, depth: cfg.depth, blocks, out_dim: cin }
    }

    /// Dimension of the representation (width × 8 × expansion).
    pub fn out_dim(&self) -> i64 {
        self.out_dim
    }

    /// Synchronises every batch norm's training statistics across `sync`'s replicas (None: off).
    pub fn set_sync(&mut self, sync: Option<ReplicaSync>) {
        self.bn1.set_sync(sync.clone());
        for b in &mut self.blocks {
            for n in b.bns.iter_mut().chain(b.downsample.as_mut().map(|(_, n)| n)) {
                n.set_sync(sync.clone());
            }
        }
    }

    /// Number of residual stages (`layer1` … `layer4`).
    pub const STAGES: usize = 4;

    /// The forward pass with what each stage gives: `[stem, layer1, layer2, layer3, layer4]`
    /// (feature maps `[B, C, H, W]`; the stem after its ReLU and, for the ImageNet stem, its
    /// max-pool), each passed through `keep` as soon as it is computed (so a caller can pool it
    /// and drop the map before the next stage), then the pooled representation `[B, out_dim]`.
    pub fn forward_stages(&self, x: &Tensor, train: bool, mut keep: impl FnMut(usize, &Tensor)) -> Tensor {
        let mut h = stem_tail(x.apply(&self.conv1).apply_t(&self.bn1, train), self.stem);
        keep(0, &h);
        let mut stage = 0;
        let mut seen = 0;
        let per_stage = self.depth.blocks();
        for b in &self.blocks {
            h = b.forward(&h, train);
            seen += 1;
            if seen == per_stage[stage] {
                keep(stage + 1, &h);
                stage += 1;
                seen = 0;
            }
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

impl Block {
    fn fold(&self) -> FoldedBlock {
        FoldedBlock { convs: self.convs.iter().zip(&self.bns).map(|(c, b)| c.fold(b)).collect(), downsample: self.downsample.as_ref().map(|(c, b)| c.fold(b)) }
    }
}

/// A residual block with its batch norms folded into its convolutions.
#[derive(Debug)]
struct FoldedBlock {
    convs: Vec<FoldedConv>,
    downsample: Option<FoldedConv>,
}

impl FoldedBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        let identity = self.downsample.as_ref().map_or_else(|| x.shallow_clone(), |c| c.forward(x));
        residual(x, self.convs.len(), |i, h| self.convs[i].forward(h), identity)
    }
}

/// A frozen [`ResNet`] for inference, every batch norm folded into the convolution before it
/// (its running statistics: eval mode). Same outputs as `forward_t(x, false)` up to float
/// rounding, one pass over each feature map fewer per convolution. A snapshot: later changes to
/// the ResNet's weights do not reach it.
#[derive(Debug)]
pub struct FoldedResNet {
    conv1: FoldedConv,
    stem: Stem,
    blocks: Vec<FoldedBlock>,
}

impl FoldedResNet {
    /// The representation `[B, out_dim]` (no gradient is recorded for the folded weights).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = stem_tail(self.conv1.forward(x), self.stem);
        for b in &self.blocks {
            h = b.forward(&h);
        }
        h.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

impl ResNet {
    /// This encoder frozen for inference, its batch norms folded into its convolutions (see
    /// [`FoldedResNet`]). The folded weights keep the convolution weights' memory layout.
    pub fn folded(&self) -> FoldedResNet {
        FoldedResNet { conv1: self.conv1.fold(&self.bn1), stem: self.stem, blocks: self.blocks.iter().map(Block::fold).collect() }
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        self.forward_stages(x, train, |_, _| {})
    }
}
