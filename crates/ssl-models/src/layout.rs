//! Memory layout of 4-D tensors (convolution weights, images, feature maps), chosen for speed and
//! never for accuracy. The convolutions are as exact in either layout; libtorch's channels-last
//! batch norm on the CPU is less exact than NCHW's (`scripts/bn_channels_last_precision.py`).
//!
//! libtorch's CPU convolutions (oneDNN) and cuDNN's tensor-core kernels run fastest on
//! channels-last (NHWC) data. A tensor keeps its logical NCHW shape; only its strides change
//! (`[N, C, H, W]` with strides `[HWC, 1, WC, C]`). When a convolution's weight is channels-last,
//! libtorch computes it in channels-last and every following batch norm, ReLU, residual add and
//! convolution keeps that layout, so converting the weights once (and each input batch) puts a
//! whole ResNet in channels-last. Gradients and optimiser state follow the weights' strides.
//!
//! Checkpoints and exports stay in the standard (contiguous) layout: [`crate::checkpoint`] writes
//! `.contiguous()` copies, and loading copies values into the variables, whatever their layout.
//!
//! ```no_run
//! use ssl_models::layout::MemoryFormat;
//! use ssl_models::{ResNet, ResNetConfig};
//! use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let net = ResNet::new(&vs.root(), &ResNetConfig { width: 16, in_channels: 1, ..ResNetConfig::resnet18_cifar() });
//! MemoryFormat::ChannelsLast.convert_variables(&vs);
//! let x = MemoryFormat::ChannelsLast.apply(&Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu)));
//! let h = net.forward_t(&x, true);
//! ```

use tch::nn::VarStore;
use tch::Tensor;

/// How 4-D tensors are laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryFormat {
    /// NCHW, row-major: PyTorch's default.
    Contiguous,
    /// NHWC strides under the NCHW shape (`torch.channels_last`).
    ChannelsLast,
}

impl MemoryFormat {
    /// The name used in configs and provenance (`contiguous` | `channels_last`).
    pub fn name(self) -> &'static str {
        match self {
            MemoryFormat::Contiguous => "contiguous",
            MemoryFormat::ChannelsLast => "channels_last",
        }
    }

    /// `t` in this layout: a copy when its strides differ, `t` itself (shallow) when they already
    /// match or when `t` is not 4-D (only images and convolution weights have a channel axis to
    /// move).
    pub fn apply(self, t: &Tensor) -> Tensor {
        if t.dim() != 4 || self.holds(t) {
            return t.shallow_clone();
        }
        match self {
            MemoryFormat::Contiguous => t.contiguous(),
            // NHWC storage, NCHW view: the strides of `torch.channels_last`.
            MemoryFormat::ChannelsLast => t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]),
        }
    }

    /// Whether a 4-D tensor's strides are this layout's (sizes of 1 match any stride, so a
    /// one-channel image is in both).
    pub fn holds(self, t: &Tensor) -> bool {
        if t.dim() != 4 {
            return false;
        }
        match self {
            MemoryFormat::Contiguous => t.is_contiguous(),
            MemoryFormat::ChannelsLast => {
                let (size, stride) = (t.size(), t.stride());
                let (c, h, w) = (size[1], size[2], size[3]);
                let expected = [h * w * c, 1, w * c, c];
                (0..4).all(|d| size[d] == 1 || stride[d] == expected[d])
            }
        }
    }

    /// The layout of a 4-D tensor's strides (contiguous first where both hold), `None` for other
    /// shapes or other strides.
    pub fn of(t: &Tensor) -> Option<MemoryFormat> {
        [MemoryFormat::Contiguous, MemoryFormat::ChannelsLast].into_iter().find(|f| f.holds(t))
    }

    /// Puts every 4-D variable of `vs` (the convolution weights) in this layout, in place: the
    /// values are unchanged, their strides change. Gradients and optimiser state created after
    /// this follow the new strides.
    pub fn convert_variables(self, vs: &VarStore) {
        for (_, mut var) in vs.variables() {
            if var.dim() == 4 && !self.holds(&var) {
                let data = tch::no_grad(|| self.apply(&var.detach()));
                var.set_data(&data);
            }
        }
    }
}

impl std::fmt::Display for MemoryFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
