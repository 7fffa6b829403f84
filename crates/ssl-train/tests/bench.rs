//! `bench`: three finite rates from the runner's own trainer, nothing left behind, and the
//! settings it cannot time refused up front.

#[allow(dead_code)]
mod common;

use ssl_train::cmd::bench::{bench, BenchOptions};

#[test]
fn bench_times_the_loader_the_step_and_the_loop() {
    let (_tmp, data) = common::toy_data(64, 16);
    let cfg = common::tiny_simclr(&data, &["training.batch_size=8", "monitor.every_epochs=0"]);
    let opts = BenchOptions { device: ssl_models::DeviceChoice::Cpu, threads: None, steps: 2, warmup: 1 };
    let r = bench(&cfg, &opts).unwrap();
    for v in [r.loader_images_per_s, r.step_images_per_s, r.loop_images_per_s] {
        assert!(v.is_finite() && v > 0.0, "{r:?}");
    }
    assert_eq!((r.batch_size, r.views, r.steps, r.device.as_str()), (8, 2, 2, "Cpu"));
    assert!(r.lines()[3].contains("% of the step alone"));
    // 64 images in batches of 8 is 8 per epoch: 2 × (3 + 2) = 10 are more than one epoch holds.
    let e = bench(&cfg, &BenchOptions { steps: 3, warmup: 2, ..opts.clone() }).unwrap_err().to_string();
    assert!(e.contains("--steps 3") && e.contains("8 per epoch"), "{e}");
    assert!(bench(&cfg, &BenchOptions { steps: 0, ..opts }).unwrap_err().to_string().contains("--steps 0"));
}
