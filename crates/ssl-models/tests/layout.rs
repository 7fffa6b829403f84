//! Channels-last weights and bfloat16 autocast change speed, not results: the same outputs and
//! loss trajectory as the standard layout in float32 (within float rounding), the same numbers
//! run after run, and checkpoints written in the standard layout.

use ssl_models::checkpoint::{read_tensors, save, TrainState};
use ssl_models::{MemoryFormat, Mlp, MlpConfig, Optimizer, OptimizerConfig, OptimizerKind, Precision, ResNet, ResNetConfig};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

struct Net {
    vs: nn::VarStore,
    enc: ResNet,
    head: Mlp,
}

fn net(format: MemoryFormat) -> Net {
    ssl_models::seeded(7, || {
        let vs = nn::VarStore::new(Device::Cpu);
        let enc = ResNet::new(&(vs.root() / "backbone"), &ResNetConfig { width: 8, in_channels: 3, ..ResNetConfig::resnet18_cifar() });
        let head = Mlp::new(&(vs.root() / "projector"), &MlpConfig::simclr_v1(enc.out_dim(), 32, 16));
        format.convert_variables(&vs);
        Net { vs, enc, head }
    })
}

fn images() -> Tensor {
    ssl_models::seeded(3, || Tensor::randn([16, 3, 16, 16], (Kind::Float, Device::Cpu)))
}

/// Losses of `steps` SGD steps on a fixed batch (loss = mean of squared projections). SGD, not
/// Adam: Adam's update of a weight with a near-zero gradient is ±lr whatever its size, so float
/// rounding anywhere could flip it.
fn trajectory(format: MemoryFormat, precision: Precision, steps: usize) -> (Vec<f64>, Net) {
    let n = net(format);
    let mut opt = Optimizer::new(&n.vs, OptimizerConfig::new(OptimizerKind::Sgd)).unwrap();
    let x = format.apply(&images());
    let mut losses = vec![];
    for _ in 0..steps {
        let loss = precision.autocast(Device::Cpu, || n.head.forward_t(&n.enc.forward_t(&x, true), true).square().mean(Kind::Float)).unwrap();
        opt.zero_grad();
        loss.backward();
        opt.step(0.05);
        losses.push(loss.double_value(&[]));
    }
    (losses, n)
}

#[test]
fn apply_sets_channels_last_strides_and_keeps_values() {
    let x = images();
    let cl = MemoryFormat::ChannelsLast.apply(&x);
    assert_eq!(cl.size(), x.size());
    assert_eq!(cl.stride(), vec![16 * 16 * 3, 1, 16 * 3, 3]);
    assert_eq!(MemoryFormat::of(&cl), Some(MemoryFormat::ChannelsLast));
    assert_eq!(MemoryFormat::of(&x), Some(MemoryFormat::Contiguous));
    assert!(cl.equal(&x));
    let back = MemoryFormat::Contiguous.apply(&cl);
    assert!(back.is_contiguous() && back.equal(&x));
    // One channel: both layouts at once, nothing copied; other ranks untouched.
    let grey = Tensor::zeros([4, 1, 8, 8], (Kind::Float, Device::Cpu));
    assert!(MemoryFormat::ChannelsLast.holds(&grey) && MemoryFormat::Contiguous.holds(&grey));
    assert_eq!(MemoryFormat::ChannelsLast.apply(&grey).data_ptr(), grey.data_ptr());
    let flat = Tensor::zeros([4, 8], (Kind::Float, Device::Cpu));
    assert_eq!(MemoryFormat::ChannelsLast.apply(&flat).data_ptr(), flat.data_ptr());
    assert_eq!(MemoryFormat::of(&flat), None);
}

#[test]
fn channels_last_network_computes_in_channels_last() {
    let (a, b) = (net(MemoryFormat::Contiguous), net(MemoryFormat::ChannelsLast));
    let conv = b.vs.variables()["backbone.layer1.0.conv1.weight"].shallow_clone();
    assert_eq!(MemoryFormat::of(&conv), Some(MemoryFormat::ChannelsLast));
    let x = images();
    let mut layouts = vec![];
    let hb = b.enc.forward_stages(&MemoryFormat::ChannelsLast.apply(&x), true, |_, m| layouts.push(MemoryFormat::of(m)));
    assert!(layouts.iter().all(|l| *l == Some(MemoryFormat::ChannelsLast)), "{layouts:?}");
    let ha = a.enc.forward_t(&x, true);
    let diff = (&ha - &hb).abs().max().double_value(&[]);
    assert!(diff < 1e-4, "features differ by {diff}");
}

#[test]
fn channels_last_follows_the_same_loss_trajectory() {
    let (a, na) = trajectory(MemoryFormat::Contiguous, Precision::Float32, 5);
    let (b, nb) = trajectory(MemoryFormat::ChannelsLast, Precision::Float32, 5);
    for (s, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "step {s}: {x} vs {y}");
    }
    // The weights after 5 steps, and their layout (gradients and Adam's state followed it).
    let (va, vb) = (na.vs.variables(), nb.vs.variables());
    for (name, t) in &va {
        let diff = (t - &vb[name]).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{name} differs by {diff}");
        if t.dim() == 4 {
            assert!(MemoryFormat::ChannelsLast.holds(&vb[name]), "{name}: strides {:?}", vb[name].stride());
        }
    }
}

#[test]
fn channels_last_is_deterministic() {
    let (a, _) = trajectory(MemoryFormat::ChannelsLast, Precision::Float32, 3);
    let (b, _) = trajectory(MemoryFormat::ChannelsLast, Precision::Float32, 3);
    assert_eq!(a, b, "same seed, same numbers");
}

#[test]
fn checkpoints_of_channels_last_weights_are_contiguous() {
    let n = net(MemoryFormat::ChannelsLast);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    let state = TrainState { epoch: 0, step: 0, finished: false, seed: 7, loss_scale: 1.0, extra: serde_json::Value::Null };
    save(&path, &[("", &n.vs)], None, &state).unwrap();
    let vars = n.vs.variables();
    for (name, t) in read_tensors(&path).unwrap() {
        if let Some(v) = vars.get(&name) {
            assert!(t.is_contiguous(), "{name} saved with strides {:?}", t.stride());
            assert!(t.equal(v), "{name}");
        }
    }
}

#[test]
fn bfloat16_autocast_is_close_to_float32_and_switches_back() {
    if Precision::Bfloat16.check(Device::Cpu).is_err() {
        eprintln!("skipped: this CPU has no bfloat16 kernels ({})", Precision::Bfloat16.check(Device::Cpu).unwrap_err());
        return;
    }
    // Drawn under `seeded`: an unseeded draw would disturb the other tests' seeded builds.
    let a = ssl_models::seeded(5, || Tensor::randn([32, 32], (Kind::Float, Device::Cpu)));
    let y = Precision::Bfloat16.autocast(Device::Cpu, || a.mm(&a)).unwrap();
    assert_eq!(y.kind(), Kind::BFloat16, "matrix products run in bfloat16");
    assert_eq!(a.mm(&a).kind(), Kind::Float, "autocast is off again afterwards");
    let (f, _) = trajectory(MemoryFormat::Contiguous, Precision::Float32, 3);
    let (h, _) = trajectory(MemoryFormat::Contiguous, Precision::Bfloat16, 3);
    for (x, y) in f.iter().zip(&h) {
        // bfloat16 keeps 8 bits of mantissa: a relative error of a few 1e-3.
        assert!((x - y).abs() <= 0.03 * x.abs(), "{x} vs {y}");
    }
}

#[test]
fn channels_last_trains_narrow_networks_on_large_images() {
    // Width 4 on 64×64: layer2's 1×1 stride-2 downsample sees 4 channels on 64×64 maps, where
    // oneDNN's channels-last weight gradient crashes the process (scripts/
    // onednn_1x1_stride2_crash.py); that convolution runs contiguous instead.
    let run = |format: MemoryFormat| {
        ssl_models::seeded(2, || {
            let vs = nn::VarStore::new(Device::Cpu);
            let enc = ResNet::new(&vs.root(), &ResNetConfig { width: 4, in_channels: 3, ..ResNetConfig::resnet18_cifar() });
            format.convert_variables(&vs);
            let x = format.apply(&Tensor::randn([32, 3, 64, 64], (Kind::Float, Device::Cpu)));
            enc.forward_t(&x, true).square().mean(Kind::Float).backward();
            let g = vs.variables()["layer2.0.downsample.0.weight"].grad();
            assert!(g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0, "the downsample weight gets its gradient");
            g
        })
    };
    let (a, b) = (run(MemoryFormat::Contiguous), run(MemoryFormat::ChannelsLast));
    // Not 1e-5: libtorch's channels-last batch-norm backward is ~1000x less exact than NCHW's on
    // maps this large (scripts/bn_channels_last_precision.py); 17 of them give 5.6e-3 here.
    let diff = (&a - &b).abs().max().double_value(&[]) / a.abs().max().double_value(&[]);
    assert!(diff < 1e-2, "{diff}");
}
