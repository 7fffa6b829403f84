//! # ssl-models
//!
//! Encoders and heads for self-supervised learning on libtorch (`tch`):
//!
//! * [`resnet`]: ResNet-18/34/50 with the ImageNet stem (7×7/2 conv + max-pool) or the CIFAR stem
//!   (3×3/1 conv, no max-pool), any number of input channels, a width multiplier, torchvision's
//!   initialisation (BN weight 1, bias 0; Kaiming-normal fan-out convs) and torchvision's
//!   parameter names (`conv1.weight`, `layer1.0.bn1.running_mean`, …).
//! * [`head`]: projector / predictor MLPs (SimCLR v1's 2-layer head, v2's 3-layer, Barlow's
//!   3 × 8192, MMCR's, BYOL's predictor), with the output after any layer.
//! * [`optim`]: SGD, Adam, AdamW (PyTorch's rules) and LARS (solo-learn's), with state that
//!   checkpoints hold; [`schedule`]: LR scaling, warm-up + cosine, BYOL's τ schedule.
//! * [`split`]: channel-split encoders (CMC / InfoMin §4): a ResNet per channel group of one
//!   input (Lab's L | ab, …), each group's encoding one view.
//! * [`ema`]: momentum (EMA) encoders.
//! * [`amp`]: dynamic loss scaling for autocast on CUDA; [`precision`]: bfloat16 autocast on the
//!   CPU or CUDA; [`layout`]: channels-last weights and images (both for speed only).
//! * [`checkpoint`]: atomic `.safetensors` checkpoints (model, optimiser, position) and the
//!   torchvision-loadable backbone export.
//! * [`device`]: picks CUDA when present; [`seed`]: seeded construction that other threads'
//!   draws from libtorch's process-wide generator cannot disturb.
//! * [`error`]: [`ModelError`], the error of every fallible function here, naming the file, the
//!   variable or the setting and keeping the cause (I/O, libtorch, JSON) as its `source()`.
//!
//! ```no_run
//! use ssl_models::{resnet::{ResNet, ResNetConfig}, head::{Mlp, MlpConfig}};
//! use tch::{nn, nn::ModuleT, Device, Kind, Tensor};
//!
//! let vs = nn::VarStore::new(Device::Cpu);
//! let cfg = ResNetConfig { width: 16, in_channels: 1, ..ResNetConfig::resnet18_cifar() };
//! let encoder = ResNet::new(&(vs.root() / "backbone"), &cfg);
//! let head = Mlp::new(&(vs.root() / "projector"), &MlpConfig::simclr_v1(encoder.out_dim(), 512, 128));
//! let x = Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu));
//! let z = head.forward_t(&encoder.forward_t(&x, true), true);
//! assert_eq!(z.size(), vec![8, 128]);
//! ```

pub mod amp;
pub mod checkpoint;
pub mod device;
pub mod ema;
pub mod error;
pub mod head;
pub mod layout;
pub mod norm;
pub mod optim;
pub mod precision;
pub mod resnet;
pub mod schedule;
pub mod seed;
pub mod split;

pub use device::{pick_device, DeviceChoice};
pub use error::{ModelError, OptimizerStateError, Result};
pub use head::{Mlp, MlpConfig};
pub use layout::MemoryFormat;
pub use norm::{BatchNorm, CrossReplica, ReplicaSync};
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};
pub use precision::Precision;
pub use resnet::{FoldedResNet, ResNet, ResNetConfig, Stem};
pub use seed::seeded;
pub use split::{ChannelSplit, SplitEncoder};
