//! What logging one metrics line costs: `metrics.jsonl` alone against `metrics.jsonl` plus the
//! TensorBoard event file (`RunDir::log`, both flushed), for a step line with three loss parts and
//! a monitor line with a 128-eigenvalue spectrum. `cargo bench -p ssl-train --bench logging`.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion};
use ssl_train::run::tensorboard::EventWriter;
use ssl_train::run::{MetricLine, MonitorLine, StepLine};

fn lines() -> [MetricLine; 2] {
    let parts: BTreeMap<String, f64> = [("alignment", 0.5), ("uniformity", 1.5), ("accuracy", 0.25)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let step = MetricLine::Step(StepLine {
        epoch: 1,
        step: 10,
        loss: 2.5,
        lr: 0.1,
        images_per_s: 300.0,
        ema_tau: None,
        online_probe_acc: Some(0.5),
        loss_scale: None,
        parts,
    });
    let monitor = MetricLine::Monitor(MonitorLine {
        epoch: 1,
        step: 10,
        knn_accuracy: 0.8,
        knn_bank: 5000,
        knn_queries: 2000,
        knn_k: 200,
        participation_ratio: 7.5,
        alpha: 2.4,
        alpha_r2: 0.99,
        rankme: 33.0,
        collapsed_dims: 0,
        collapse_threshold: 1e-5,
        dim: 128,
        eigenvalues: (0..128).map(|k| (-0.1 * k as f64).exp()).collect(),
        seconds: Some(3.5),
    });
    [step, monitor]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let [step, monitor] = lines();
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(dir.path().join("metrics.jsonl")).unwrap());
    let mut events = EventWriter::create(dir.path()).unwrap();
    for (name, line) in [("step line", &step), ("monitor line", &monitor)] {
        c.bench_function(&format!("{name}: metrics.jsonl"), |b| {
            b.iter(|| {
                use std::io::Write;
                writeln!(jsonl, "{}", line.to_json()).unwrap();
                jsonl.flush().unwrap();
            })
        });
        c.bench_function(&format!("{name}: TensorBoard event"), |b| b.iter(|| events.log(line).unwrap()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
