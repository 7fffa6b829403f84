//! SimCLR views per second: B images × 2 views through `make_batch_reusing` (each batch drawn
//! into the previous one's buffer, as the loader does when the trainer hands batches back), on
//! one thread and on all threads, at 32 px (CIFAR-size sources) and 224 px (from 256 × 256
//! sources). The torchvision twin is `scripts/bench_views.py`, which runs this bench too and
//! prints views/s per core.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ssl_data::pipeline::simclr;
use ssl_data::{make_batch_reusing, InMemoryDataset, Shape};

fn dataset(n: usize, side: usize) -> InMemoryDataset {
    let shape = Shape { channels: 3, height: side, width: side };
    let pixels = (0..n * shape.len()).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    InMemoryDataset::new(shape, pixels, None).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("simclr_views");
    group.sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(5));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (out, src, batch) in [(32usize, 32usize, 256usize), (224, 256, 32)] {
        let ds = dataset(batch, src);
        let view = simclr(out, 0.5, false, vec![0.5, 0.5, 0.5], vec![0.25, 0.25, 0.25]);
        let idx: Vec<usize> = (0..batch).collect();
        group.throughput(Throughput::Elements((2 * batch) as u64));
        for t in [1, threads] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
            let mut epoch = 0u64;
            let mut spare = Vec::new();
            group.bench_function(BenchmarkId::new(format!("{out}px"), format!("threads{t}")), |b| {
                b.iter(|| {
                    epoch += 1;
                    let batch = pool.install(|| make_batch_reusing(&ds, &view, &idx, 2, 0, epoch, std::mem::take(&mut spare)));
                    spare = batch.data;
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
