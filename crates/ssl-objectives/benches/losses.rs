//! Forward + backward time of every loss on f32 CPU tensors, for the cases in `benches/cases.txt`
//! (shared with the PyTorch twin `scripts/bench_losses.py`). Run:
//! `cargo bench -p ssl-objectives --bench losses`; the table in docs/benchmarks.md joins both.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ssl_objectives::*;
use tch::{Device, Kind, Tensor};

fn cases() -> Vec<(String, i64, i64, i64)> {
    include_str!("cases.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    tch::set_num_threads(2);
    let mut group = c.benchmark_group("loss_fwd_bwd");
    group.sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    for (name, k, b, d) in cases() {
        tch::manual_seed(0);
        let x = Tensor::randn([k, b, d], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let t = Tensor::randn([k, b, d], (Kind::Float, Device::Cpu));
        let objective: Option<Box<dyn Objective>> = match name.as_str() {
            "ntxent" => Some(Box::new(NtXent::new(0.2).unwrap())),
            "directclr" => Some(Box::new(DirectClr::new(Some(360), 0.1).unwrap())),
            "barlow" => Some(Box::new(BarlowTwins::default())),
            "vicreg" => Some(Box::new(Vicreg::default())),
            "mmcr" => Some(Box::new(Mmcr::default())),
            _ => None,
        };
        let byol = PredictorLoss { kind: PredictorLossKind::Byol };
        let id = BenchmarkId::new(&name, format!("k{k}_B{b}_d{d}"));
        group.bench_function(id, |bencher| {
            bencher.iter(|| {
                let loss = match &objective {
                    Some(o) => o.compute(&x).unwrap().loss,
                    None => byol.compute(&x, &t).unwrap().loss,
                };
                Tensor::run_backward(&[loss], &[&x], false, false)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
