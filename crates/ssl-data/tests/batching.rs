//! Multi-view batching: layout, determinism across thread counts, epoch shuffling.

use std::sync::Arc;

use ssl_data::pipeline::fashion_mnist;
use ssl_data::{make_batch, Dataset, InMemoryDataset, Loader, LoaderConfig, Shape, Shard};

fn toy(n: usize) -> InMemoryDataset {
    let shape = Shape { channels: 1, height: 28, width: 28 };
    let pixels = (0..n * shape.len()).map(|i| ((i * 7919) % 251) as u8).collect();
    InMemoryDataset::new(shape, pixels, Some((0..n as u32).map(|i| i % 10).collect())).unwrap()
}

#[test]
fn batch_is_identical_whatever_the_thread_count() {
    let ds = toy(37);
    let view = fashion_mnist(28);
    let idx: Vec<usize> = (0..37).rev().collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let many = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    let a = one.install(|| make_batch(&ds, &view, &idx, 3, 42, 5));
    let b = many.install(|| make_batch(&ds, &view, &idx, 3, 42, 5));
    assert_eq!(a, b);
    assert_eq!(a.dims(), [3, 37, 1, 28, 28]);
}

#[test]
fn views_differ_and_depend_on_epoch() {
    let ds = toy(4);
    let view = fashion_mnist(28);
    let b0 = make_batch(&ds, &view, &[0, 1, 2, 3], 2, 1, 0);
    let per = 28 * 28;
    // View 0 and view 1 of image 0 are different draws.
    assert_ne!(&b0.data[..per], &b0.data[4 * per..5 * per]);
    let b1 = make_batch(&ds, &view, &[0, 1, 2, 3], 2, 1, 1);
    assert_ne!(b0.data, b1.data);
}

#[test]
fn loader_covers_each_image_once_per_epoch() {
    let ds = Arc::new(toy(50));
    let loader =
        Loader::new(ds.clone(), Arc::new(fashion_mnist(28)), LoaderConfig { batch_size: 8, views: 2, seed: 3, drop_last: false, ..Default::default() })
            .unwrap();
    let mut seen: Vec<usize> = loader.epoch(0).flat_map(|b| b.unwrap().indices).collect();
    assert_ne!(seen, (0..50).collect::<Vec<_>>(), "epoch order is shuffled");
    seen.sort();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    assert_ne!(loader.order(0), loader.order(1));
    assert_eq!(loader.batches_per_epoch(), 7);
    let labels = loader.epoch(0).next().unwrap().unwrap().labels.unwrap();
    assert_eq!(labels.len(), 8);
    assert_eq!(ds.len(), 50);
}

#[test]
fn loader_rejects_bad_configs() {
    let ds = Arc::new(toy(5));
    let view = Arc::new(fashion_mnist(28));
    for cfg in [
        LoaderConfig { views: 0, ..Default::default() },
        LoaderConfig { views: 65, ..Default::default() },
        LoaderConfig { batch_size: 0, ..Default::default() },
        LoaderConfig { batch_size: 6, ..Default::default() },
    ] {
        let err = Loader::new(ds.clone(), view.clone(), cfg).err().expect("must be rejected");
        assert!(err.to_string().contains("invalid parameter"), "{err}");
    }
}

#[test]
fn dropping_an_epoch_early_stops_the_worker() {
    let ds = Arc::new(toy(64));
    let loader = Loader::new(ds, Arc::new(fashion_mnist(28)), LoaderConfig { batch_size: 4, ..Default::default() }).unwrap();
    let mut it = loader.epoch(0);
    assert!(it.next().is_some());
    drop(it); // must not hang
}

#[test]
fn recycled_buffers_give_the_same_batches() {
    // The loader draws later batches into buffers handed back (dirty, and one of the wrong
    // size when the last batch is short); every batch equals a fresh make_batch.
    let ds = Arc::new(toy(30));
    let view = Arc::new(ssl_data::pipeline::simclr(20, 0.5, false, vec![0.3], vec![0.3]));
    let cfg = LoaderConfig { batch_size: 8, views: 3, seed: 9, drop_last: false, prefetch: 1, ..Default::default() };
    let loader = Loader::new(ds.clone(), view.clone(), cfg.clone()).unwrap();
    for epoch in 0..2 {
        let order = loader.order(epoch);
        let mut batches = loader.epoch(epoch);
        let mut n = 0;
        while let Some(b) = batches.next() {
            let b = b.unwrap();
            let want = make_batch(ds.as_ref(), view.as_ref(), &order[n * 8..(n * 8 + 8).min(30)], 3, 9, epoch);
            assert_eq!(b, want, "epoch {epoch} batch {n}");
            let mut dirty = b.data;
            dirty.iter_mut().for_each(|v| *v = f32::NAN);
            batches.recycle(dirty);
            n += 1;
        }
        assert_eq!(n, 4);
    }
    // make_batch_reusing itself, on a dirty buffer of the right size.
    let fresh = make_batch(ds.as_ref(), view.as_ref(), &[3, 1, 4], 2, 0, 7);
    let reused = ssl_data::make_batch_reusing(ds.as_ref(), view.as_ref(), &[3, 1, 4], 2, 0, 7, vec![f32::NAN; fresh.data.len()]);
    assert_eq!(fresh, reused);
}

#[test]
fn shards_of_every_batch_add_up_to_the_single_process_batch() {
    let ds = Arc::new(toy(40));
    let view = Arc::new(fashion_mnist(28));
    let whole = LoaderConfig { batch_size: 12, views: 2, seed: 9, ..Default::default() };
    let single: Vec<_> = Loader::new(ds.clone(), view.clone(), whole.clone()).unwrap().epoch(1).map(Result::unwrap).collect();
    let parts: Vec<Vec<_>> = (0..3)
        .map(|index| {
            let cfg = LoaderConfig { shard: Shard { index, count: 3 }, ..whole.clone() };
            Loader::new(ds.clone(), view.clone(), cfg).unwrap().epoch(1).map(Result::unwrap).collect()
        })
        .collect();
    assert_eq!(single.len(), 3);
    let per = 28 * 28;
    for (b, full) in single.iter().enumerate() {
        let shards: Vec<_> = parts.iter().map(|p| &p[b]).collect();
        let indices: Vec<usize> = shards.iter().flat_map(|s| s.indices.clone()).collect();
        assert_eq!(indices, full.indices, "batch {b}: the parts in rank order are the batch");
        for (r, s) in shards.iter().enumerate() {
            assert_eq!(s.dims(), [2, 4, 1, 28, 28]);
            for v in 0..2 {
                for i in 0..4 {
                    let mine = &s.data[(v * 4 + i) * per..(v * 4 + i + 1) * per];
                    let theirs = &full.data[(v * 12 + r * 4 + i) * per..(v * 12 + r * 4 + i + 1) * per];
                    assert_eq!(mine, theirs, "batch {b}, rank {r}, view {v}, image {i}: the same draw");
                }
            }
        }
    }
    for bad in [Shard { index: 3, count: 3 }, Shard { index: 0, count: 0 }, Shard { index: 0, count: 5 }] {
        let err = Loader::new(ds.clone(), view.clone(), LoaderConfig { shard: bad, ..whole.clone() }).err().expect("refused");
        assert!(err.to_string().contains("shard") || err.to_string().contains("batch_size"), "{err}");
    }
}
