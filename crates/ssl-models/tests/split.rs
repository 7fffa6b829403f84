//! Channel-split encoders: the groups cut from an input recombine to it, each view is its own
//! encoder on its own channels, the representation is their concatenation, and bad splits are
//! refused naming the setting.

use ssl_models::resnet::ResNetConfig;
use ssl_models::split::{ChannelSplit, SplitEncoder};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

fn cfg(in_channels: i64) -> ResNetConfig {
    ResNetConfig { width: 4, in_channels, ..ResNetConfig::resnet18_cifar() }
}

fn split(groups: &[&[usize]], shared: bool) -> ChannelSplit {
    ChannelSplit { groups: groups.iter().map(|g| g.to_vec()).collect(), shared }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn the_groups_of_an_input_recombine_to_it() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let enc = SplitEncoder::new(&(vs.root() / "b"), &cfg(3), &split(&[&[0], &[1, 2]], false)).unwrap();
    let x = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
    let (l, ab) = (enc.group(&x, 0), enc.group(&x, 1));
    assert_eq!((l.size(), ab.size()), (vec![2, 1, 8, 8], vec![2, 2, 8, 8]));
    assert_eq!(max_diff(&Tensor::cat(&[l, ab], 1), &x), 0.0);
    // A group out of order takes exactly its channels, in its order.
    let vs = nn::VarStore::new(Device::Cpu);
    let enc = SplitEncoder::new(&(vs.root() / "b"), &cfg(3), &split(&[&[2, 0], &[1]], false)).unwrap();
    let g = enc.group(&x, 0);
    assert_eq!(max_diff(&g.select(1, 0), &x.select(1, 2)), 0.0);
    assert_eq!(max_diff(&g.select(1, 1), &x.select(1, 0)), 0.0);
}

#[test]
fn each_view_is_its_own_encoder_on_its_own_channels() {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(Device::Cpu);
    let enc = SplitEncoder::new(&(vs.root() / "backbone"), &cfg(3), &split(&[&[0], &[1, 2]], false)).unwrap();
    let vars = vs.variables();
    assert_eq!(vars["backbone.0.conv1.weight"].size(), vec![4, 1, 3, 3], "f1 takes L");
    assert_eq!(vars["backbone.1.conv1.weight"].size(), vec![4, 2, 3, 3], "f2 takes ab");
    assert_eq!((enc.encoders(), enc.out_dim()), (2, 64));
    let x = Tensor::randn([5, 3, 16, 16], (Kind::Float, Device::Cpu));
    let views = tch::no_grad(|| enc.encode_groups(&x, false));
    assert_eq!(views.len(), 2);
    assert_eq!(views[0].size(), vec![5, 32]);
    // The representation is both encoders' outputs side by side.
    let rep = tch::no_grad(|| enc.forward_t(&x, false));
    assert_eq!(max_diff(&rep, &Tensor::cat(&views, 1)), 0.0);
    // Changing the ab channels leaves view 0 (f1 on L) unchanged and moves view 1.
    let y = x.copy();
    let _ = y.narrow(1, 1, 2).fill_(0.5);
    let views_y = tch::no_grad(|| enc.encode_groups(&y, false));
    assert_eq!(max_diff(&views[0], &views_y[0]), 0.0);
    assert!(max_diff(&views[1], &views_y[1]) > 1e-4);
    // The stages concatenate both encoders' maps.
    let mut widths = Vec::new();
    let _ = tch::no_grad(|| enc.forward_stages(&x, false, |_, h| widths.push(h.size()[1])));
    assert_eq!(widths, vec![8, 8, 16, 32, 64]);
}

#[test]
fn a_shared_encoder_takes_every_group_through_one_resnet() {
    tch::manual_seed(2);
    let vs = nn::VarStore::new(Device::Cpu);
    let enc = SplitEncoder::new(&(vs.root() / "backbone"), &cfg(2), &split(&[&[0], &[1]], true)).unwrap();
    assert_eq!(vs.variables()["backbone.conv1.weight"].size(), vec![4, 1, 3, 3]);
    assert_eq!((enc.encoders(), enc.out_dim()), (1, 32));
    let x = Tensor::randn([3, 2, 14, 14], (Kind::Float, Device::Cpu));
    let views = tch::no_grad(|| enc.encode_groups(&x, false));
    // In eval mode each view is the shared encoder on that patch alone.
    for (g, v) in views.iter().enumerate() {
        let alone = tch::no_grad(|| enc.forward_t(&x.narrow(1, g as i64, 1), false));
        assert!(max_diff(v, &alone) < 1e-5, "view {g}");
    }
}

#[test]
fn bad_splits_are_refused_naming_the_setting() {
    let cases: [(ChannelSplit, i64, &str); 6] = [
        (split(&[&[0, 1, 2]], false), 3, "at least two channel groups"),
        (split(&[&[0], &[]], false), 3, "at least one channel"),
        (split(&[&[0], &[1, 3]], false), 3, "below model.in_channels"),
        (split(&[&[0], &[1, 1]], false), 3, "no channel twice"),
        (split(&[&[0], &[1, 2]], true), 3, "model.split.shared"),
        (split(&[&[0], &[1]], false), 1, "model.in_channels = 1"),
    ];
    for (s, c, want) in cases {
        let vs = nn::VarStore::new(Device::Cpu);
        let e = SplitEncoder::new(&vs.root(), &cfg(c), &s).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("model.split"), "{s:?}: {e}");
    }
}
