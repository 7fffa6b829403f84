//! Forward + backward time of ResNet-18 with the CIFAR stem (width 64, 3 × 32 × 32, train-mode
//! BatchNorm, loss = mean(z²)) at B = 256 on the CPU, with the thread count of
//! `SSL_BENCH_THREADS` (default: libtorch's). The PyTorch-eager twin is
//! `scripts/bench_step.py`, which runs this bench too and prints the ratio.

use criterion::{criterion_group, criterion_main, Criterion};
use ssl_models::{ResNet, ResNetConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn bench(c: &mut Criterion) {
    if let Some(t) = std::env::var("SSL_BENCH_THREADS").ok().and_then(|s| s.parse().ok()) {
        tch::set_num_threads(t);
    }
    let batch: i64 = std::env::var("SSL_BENCH_BATCH").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let net = ResNet::new(&(vs.root() / "backbone"), &ResNetConfig::resnet18_cifar());
    let x = Tensor::randn([batch, 3, 32, 32], (Kind::Float, Device::Cpu));
    let mut group = c.benchmark_group("resnet18_cifar_fwd_bwd");
    group.sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(30));
    group.bench_function(format!("B{batch}_threads{}", tch::get_num_threads()), |b| {
        b.iter(|| {
            vs.trainable_variables().iter().for_each(|t| {
                let mut g = t.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            });
            let z = net.forward_t(&x, true);
            z.square().mean(Kind::Float).backward();
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
