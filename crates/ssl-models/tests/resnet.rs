//! ResNet encoders: torchvision's parameter counts and names, output shapes, initialisation.

use ssl_models::resnet::Depth;
use ssl_models::{Mlp, MlpConfig, ResNet, ResNetConfig, Stem};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

fn trainable(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
}

/// torchvision's totals include the 1000-way fc layer, which an encoder does not have.
fn fc(dim: i64) -> i64 {
    dim * 1000 + 1000
}

#[test]
fn parameter_counts_equal_torchvision() {
    for (depth, total, dim) in [(Depth::R18, 11_689_512i64, 512i64), (Depth::R34, 21_797_672, 512), (Depth::R50, 25_557_032, 2048)] {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ResNetConfig { depth, stem: Stem::Imagenet, in_channels: 3, width: 64, zero_init_residual: false };
        let net = ResNet::new(&vs.root(), &cfg);
        assert_eq!(net.out_dim(), dim);
        assert_eq!(trainable(&vs) + fc(dim), total, "{depth:?}");
    }
    // The CIFAR stem swaps the 7x7x3x64 conv for a 3x3x3x64 one.
    let vs = nn::VarStore::new(Device::Cpu);
    ResNet::new(&vs.root(), &ResNetConfig::resnet18_cifar());
    assert_eq!(trainable(&vs) + fc(512), 11_689_512 - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64);
}

#[test]
fn names_follow_torchvision() {
    let vs = nn::VarStore::new(Device::Cpu);
    ResNet::new(&vs.root(), &ResNetConfig::resnet18_cifar());
    let names = vs.variables();
    for n in [
        "conv1.weight",
        "bn1.weight",
        "bn1.bias",
        "bn1.running_mean",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer1.0.bn1.running_mean",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "layer4.1.conv2.weight",
        "layer4.1.bn2.bias",
    ] {
        assert!(names.contains_key(n), "missing {n}");
    }
    assert!(!names.contains_key("layer1.0.downsample.0.weight"));
    assert!(!names.contains_key("conv1.bias"));
}

#[test]
fn output_shapes_for_stems_widths_and_channels() {
    for (stem, side) in [(Stem::Cifar, 28), (Stem::Cifar, 32), (Stem::Imagenet, 64)] {
        for (depth, width, cin, dim) in [(Depth::R18, 16, 1, 128), (Depth::R34, 8, 2, 64), (Depth::R50, 8, 3, 256)] {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = ResNet::new(&vs.root(), &ResNetConfig { depth, stem, in_channels: cin, width, zero_init_residual: true });
            let x = Tensor::randn([3, cin, side, side], (Kind::Float, Device::Cpu));
            assert_eq!(net.forward_t(&x, true).size(), vec![3, dim]);
            assert_eq!(net.forward_t(&x, false).size(), vec![3, dim]);
        }
    }
}

/// The stages' feature maps: torchvision's shapes (channels width·2^s·expansion, side halved
/// from stage 2 on), and the pooled output equal to the plain forward pass.
#[test]
fn stage_outputs_have_torchvision_shapes() {
    for (depth, stem, side, expansion) in [(Depth::R18, Stem::Cifar, 32, 1), (Depth::R50, Stem::Imagenet, 64, 4)] {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = ResNet::new(&vs.root(), &ResNetConfig { depth, stem, in_channels: 3, width: 8, zero_init_residual: false });
        let x = Tensor::randn([2, 3, side, side], (Kind::Float, Device::Cpu));
        let mut shapes = Vec::new();
        let pooled = net.forward_stages(&x, false, |stage, h| shapes.push((stage, h.size())));
        let s0 = if stem == Stem::Imagenet { side / 4 } else { side };
        let want: Vec<(usize, Vec<i64>)> = vec![
            (0, vec![2, 8, s0, s0]),
            (1, vec![2, 8 * expansion, s0, s0]),
            (2, vec![2, 16 * expansion, s0 / 2, s0 / 2]),
            (3, vec![2, 32 * expansion, s0 / 4, s0 / 4]),
            (4, vec![2, 64 * expansion, s0 / 8, s0 / 8]),
        ];
        assert_eq!(shapes, want, "{depth:?}");
        assert_eq!((pooled - net.forward_t(&x, false)).abs().max().double_value(&[]), 0.0);
    }
}

#[test]
fn initialisation_is_torchvision_s() {
    let vs = nn::VarStore::new(Device::Cpu);
    ResNet::new(&vs.root(), &ResNetConfig { width: 32, zero_init_residual: true, ..ResNetConfig::resnet18_cifar() });
    let v = vs.variables();
    assert_eq!(v["bn1.weight"].min().double_value(&[]), 1.0);
    assert_eq!(v["bn1.weight"].max().double_value(&[]), 1.0);
    assert_eq!(v["bn1.bias"].abs().max().double_value(&[]), 0.0);
    // zero_init_residual: the last BN of each block starts at 0.
    assert_eq!(v["layer3.1.bn2.weight"].abs().max().double_value(&[]), 0.0);
    // Kaiming normal, fan-out: std = sqrt(2 / (out * k * k)) = sqrt(2 / (256 * 9)) for layer4 convs.
    let w = &v["layer4.0.conv2.weight"];
    let std = w.std(true).double_value(&[]);
    let want = (2.0f64 / (256.0 * 9.0)).sqrt();
    assert!((std / want - 1.0).abs() < 0.02, "{std} vs {want}");
}

#[test]
fn mlp_head_shapes_and_names() {
    let vs = nn::VarStore::new(Device::Cpu);
    let head = Mlp::new(&(vs.root() / "projector"), &MlpConfig { dims: vec![64, 32, 32, 8], batch_norm: true, output_bias: true });
    let names = vs.variables();
    // Like torch.nn.Sequential(Linear, BN, ReLU, Linear, BN, ReLU, Linear).
    for n in ["projector.0.weight", "projector.1.weight", "projector.3.weight", "projector.4.running_mean", "projector.6.weight", "projector.6.bias"] {
        assert!(names.contains_key(n), "missing {n}");
    }
    assert!(!names.contains_key("projector.0.bias"), "hidden linear layers before BN carry no bias");
    let z = head.forward_t(&Tensor::randn([5, 64], (Kind::Float, Device::Cpu)), true);
    assert_eq!(z.size(), vec![5, 8]);
    // torch.nn.Linear init: |w| <= 1/sqrt(fan_in).
    assert!(names["projector.6.weight"].abs().max().double_value(&[]) <= 1.0 / 32f64.sqrt() + 1e-7);
    // MMCR's official head: no bias in the output layer either.
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = Mlp::new(&(vs.root() / "g"), &MlpConfig { dims: vec![64, 32, 8], batch_norm: true, output_bias: false });
    let names = vs.variables();
    assert!(names.contains_key("g.3.weight") && !names.contains_key("g.3.bias") && !names.contains_key("g.0.bias"), "{:?}", names.keys());
}

#[test]
fn folded_batch_norm_gives_the_eval_forward() {
    // Basic and bottleneck blocks, both stems, both layouts; running statistics moved away from
    // (0, 1) and affine weights away from (1, 0) first, so the fold has something to fold.
    for (depth, stem, format) in [
        (Depth::R18, Stem::Cifar, ssl_models::MemoryFormat::Contiguous),
        (Depth::R18, Stem::Cifar, ssl_models::MemoryFormat::ChannelsLast),
        (Depth::R50, Stem::Imagenet, ssl_models::MemoryFormat::Contiguous),
    ] {
        let (vs, net, x) = ssl_models::seeded(11, || {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = ResNet::new(&vs.root(), &ResNetConfig { depth, stem, in_channels: 3, width: 8, zero_init_residual: false });
            let x = Tensor::randn([6, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 + 0.5;
            tch::no_grad(|| {
                for (name, mut v) in vs.variables() {
                    if name.ends_with("bn1.weight") || name.ends_with("bn2.bias") {
                        let _ = v.uniform_(0.5, 1.5);
                    }
                }
            });
            for _ in 0..3 {
                let _ = tch::no_grad(|| net.forward_t(&x, true));
            }
            (vs, net, x)
        });
        format.convert_variables(&vs);
        let want = tch::no_grad(|| net.forward_t(&x, false));
        let got = tch::no_grad(|| net.folded().forward(&format.apply(&x)));
        let diff = (&want - &got).abs().max().double_value(&[]);
        let scale = want.abs().max().double_value(&[]);
        assert!(diff <= 1e-4 * scale.max(1.0), "{depth:?} {stem:?} {format:?}: differs by {diff} (scale {scale})");
    }
}
