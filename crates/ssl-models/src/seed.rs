//! Seeded construction. libtorch draws initial weights from one process-wide generator, so two
//! threads that each seed it and build a model at the same time interleave their draws and both
//! get weights that depend on timing (two runs, or two tests, in one process). [`seeded`] makes
//! "seed, then build" atomic with respect to every other `seeded` call in the process.

use std::sync::Mutex;

static GENERATOR: Mutex<()> = Mutex::new(());

/// Seeds libtorch's generator with `seed` and runs `build` while no other `seeded` call runs:
/// whatever `build` draws depends on `seed` alone.
pub fn seeded<T>(seed: u64, build: impl FnOnce() -> T) -> T {
    let _only_us = GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tch::manual_seed(seed as i64);
    build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn draws_depend_on_the_seed_alone_across_threads() {
        let draw = |seed| seeded(seed, || Vec::<f32>::try_from(Tensor::randn([64], (Kind::Float, Device::Cpu))).unwrap());
        let want: Vec<Vec<f32>> = (0..4).map(draw).collect();
        let got: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| (0..50).map(|i| draw(i % 4)).collect::<Vec<_>>())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for per_thread in got {
            for (i, v) in per_thread.iter().enumerate() {
                assert_eq!(v, &want[i % 4]);
            }
        }
    }
}
