//! Test helpers shared by the runner's integration tests: a Fashion-MNIST-shaped toy in idx files.

use std::io::Write;
use std::path::Path;

/// Writes an idx file of unsigned bytes.
pub fn write_idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut out = vec![0u8, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&out).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// A temporary folder with `data/` holding the toy dataset of `train` / `test` images.
pub fn toy_data(train: usize, test: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    toy_dataset(&data, train, test);
    (tmp, data)
}

/// A Fashion-MNIST-shaped toy: class c is a bright bar at row 2c + 4 on a noisy background.
pub fn toy_dataset(dir: &Path, train: usize, test: usize) {
    let make = |n: usize, salt: usize| {
        let mut px = vec![0u8; n * 28 * 28];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let c = (i * 7 + salt) % 10;
            labels[i] = c as u8;
            for y in 0..28 {
                for x in 0..28 {
                    let noise = ((i * 131 + y * 29 + x * 17 + salt) % 37) as u8;
                    let bar = if y / 2 == c + 2 { 200 } else { 0 };
                    px[i * 784 + y * 28 + x] = noise.saturating_add(bar);
                }
            }
        }
        (px, labels)
    };
    let (p, l) = make(train, 0);
    write_idx(&dir.join("train-images-idx3-ubyte.gz"), &[train as u32, 28, 28], &p);
    write_idx(&dir.join("train-labels-idx1-ubyte.gz"), &[train as u32], &l);
    let (p, l) = make(test, 3);
    write_idx(&dir.join("t10k-images-idx3-ubyte.gz"), &[test as u32, 28, 28], &p);
    write_idx(&dir.join("t10k-labels-idx1-ubyte.gz"), &[test as u32], &l);
}

/// The tiny run of the runner's tests: `simclr-fmnist` on the toy set in `data`, width 4,
/// projector [32, 16], batch 16, Adam 1e-3, kNN k = 5 — with `extra` overrides (epochs, logging).
#[allow(dead_code)] // not every test binary trains it
pub fn tiny_simclr(data: &Path, extra: &[&str]) -> ssl_train::config::Config {
    let mut overrides: Vec<String> = vec![
        format!("data.root=\"{}\"", data.display()),
        "model.width=4".into(),
        "model.projector=[32, 16]".into(),
        "training.batch_size=16".into(),
        "optimizer.kind=\"adam\"".into(),
        "schedule.lr=0.001".into(),
        "eval.knn_k=5".into(),
        "eval.batch_size=50".into(),
    ];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ssl_train::config::Config::load(&ssl_train::config::Source::Recipe("simclr-fmnist".into()), &overrides).unwrap()
}
