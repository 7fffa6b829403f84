//! Times one SimCLR-shaped training step (2 views) and an inference pass of the CIFAR-stem
//! ResNet-18 on the CPU, per width, memory format and precision:
//! `cargo run --release --example step_time -p ssl-models -- [SIDE] [BATCH] [WIDTHS] [FORMATS] [PRECISIONS]`,
//! e.g. `-- 28 128 16 contiguous,channels_last float32,bfloat16` (defaults: 28, 256, 8,16,32,
//! contiguous, float32).

use std::time::Instant;

use ssl_models::{MemoryFormat, Mlp, MlpConfig, Precision, ResNet, ResNetConfig};
use tch::nn::{ModuleT, OptimizerConfig};
use tch::{nn, Device, Kind, Tensor};

fn list<T>(arg: Option<&String>, default: &str, parse: impl Fn(&str) -> T) -> Vec<T> {
    arg.map_or(default, String::as_str).split(',').map(parse).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let side: i64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(28);
    let batch: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let widths = list(args.get(3), "8,16,32", |s| s.parse::<i64>().expect("a width"));
    let formats = list(args.get(4), "contiguous", |s| serde_json::from_value::<MemoryFormat>(s.into()).expect("contiguous | channels_last"));
    let precisions = list(args.get(5), "float32", |s| serde_json::from_value::<Precision>(s.into()).expect("float32 | bfloat16"));
    println!("threads {} side {side} batch {batch} (x2 views)", tch::get_num_threads());
    for &width in &widths {
        for &format in &formats {
            for &precision in &precisions {
                let vs = nn::VarStore::new(Device::Cpu);
                let cfg = ResNetConfig { width, in_channels: 1, ..ResNetConfig::resnet18_cifar() };
                let enc = ResNet::new(&(vs.root() / "backbone"), &cfg);
                let head = Mlp::new(&(vs.root() / "projector"), &MlpConfig::simclr_v1(enc.out_dim(), 512, 128));
                format.convert_variables(&vs);
                let mut opt = nn::Sgd { momentum: 0.9, ..Default::default() }.build(&vs, 0.1).unwrap();
                let x = format.apply(&Tensor::randn([2 * batch, 1, side, side], (Kind::Float, Device::Cpu)));
                let mut times = vec![];
                for _ in 0..6 {
                    let t = Instant::now();
                    let loss = precision.autocast(Device::Cpu, || head.forward_t(&enc.forward_t(&x, true), true).square().mean(Kind::Float)).unwrap();
                    opt.zero_grad();
                    loss.backward();
                    opt.step();
                    times.push(t.elapsed().as_secs_f64());
                }
                times.sort_by(f64::total_cmp);
                let step = times[times.len() / 2];
                let xe = format.apply(&Tensor::randn([1024, 1, side, side], (Kind::Float, Device::Cpu)));
                let t = Instant::now();
                for _ in 0..3 {
                    let _ = precision.autocast(Device::Cpu, || tch::no_grad(|| enc.forward_t(&xe, false))).unwrap();
                }
                let inf = t.elapsed().as_secs_f64() / 3.0;
                let folded = enc.folded();
                let t = Instant::now();
                for _ in 0..3 {
                    let _ = precision.autocast(Device::Cpu, || tch::no_grad(|| folded.forward(&xe))).unwrap();
                }
                let inf_folded = t.elapsed().as_secs_f64() / 3.0;
                println!(
                    "width {width:3} {format:13} {precision:8}: train step {step:.3}s = {:.0} images/s ({:.0} views/s); inference {:.0} images/s, batch norm folded {:.0}",
                    batch as f64 / step,
                    2.0 * batch as f64 / step,
                    1024.0 / inf,
                    1024.0 / inf_folded
                );
            }
        }
    }
}
