//! Times one SimCLR-shaped training step (2 views) and an inference pass of the CIFAR-stem
//! ResNet-18 at several widths on the CPU: `cargo run --release --example step_time -p ssl-models`.

use std::time::Instant;

use ssl_models::{Mlp, MlpConfig, ResNet, ResNetConfig};
use tch::nn::{ModuleT, OptimizerConfig};
use tch::{nn, Device, Kind, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let side: i64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(28);
    let batch: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    println!("threads {} side {side} batch {batch} (x2 views)", tch::get_num_threads());
    for width in [8i64, 16, 32] {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ResNetConfig { width, in_channels: 1, ..ResNetConfig::resnet18_cifar() };
        let enc = ResNet::new(&(vs.root() / "backbone"), &cfg);
        let head = Mlp::new(&(vs.root() / "projector"), &MlpConfig::simclr_v1(enc.out_dim(), 512, 128));
        let mut opt = nn::Sgd { momentum: 0.9, ..Default::default() }.build(&vs, 0.1).unwrap();
        let x = Tensor::randn([2 * batch, 1, side, side], (Kind::Float, Device::Cpu));
        let mut times = vec![];
        for _ in 0..6 {
            let t = Instant::now();
            let z = head.forward_t(&enc.forward_t(&x, true), true);
            let loss = z.square().mean(Kind::Float);
            opt.zero_grad();
            loss.backward();
            opt.step();
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let step = times[times.len() / 2];
        let xe = Tensor::randn([1024, 1, side, side], (Kind::Float, Device::Cpu));
        let t = Instant::now();
        for _ in 0..3 {
            let _ = tch::no_grad(|| enc.forward_t(&xe, false));
        }
        let inf = t.elapsed().as_secs_f64() / 3.0;
        println!(
            "width {width:3}: train step {step:.3}s = {:.0} images/s ({:.0} views/s); inference {:.0} images/s",
            batch as f64 / step,
            2.0 * batch as f64 / step,
            1024.0 / inf
        );
    }
}
