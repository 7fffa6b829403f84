//! `export --views K --images N --layers …`: augmentation manifolds per layer, with the same
//! pixels as the trainer's views, and bad requests refused before any file is written.

use std::path::Path;
use std::sync::Arc;

use ssl_data::{Dataset, Loader, LoaderConfig, Split};
use ssl_train::cmd::export::{export, ExportOptions, Layer, ViewPipeline, ViewsExport};
use ssl_train::config::Config;
use ssl_train::trainer::{train, RunOptions};
use tch::nn::ModuleT;

mod common;
use common::{tiny_simclr, toy_data};

fn tiny_config(data: &Path) -> Config {
    tiny_simclr(data, &["training.epochs=1"])
}

fn views_export(layers: &[Layer], views: usize, images: usize, out: &Path) -> ExportOptions {
    ExportOptions {
        split: Split::Train,
        out: Some(out.to_path_buf()),
        device: ssl_models::DeviceChoice::Cpu,
        layers: Some(layers.to_vec()),
        views: Some(ViewsExport { views, images, pipeline: ViewPipeline::Train, epoch: 0 }),
    }
}

#[test]
fn views_per_layer_are_the_trainers_views() {
    let (tmp, data) = toy_data(64, 20);
    let cfg = tiny_config(&data);
    let runs = tmp.path().join("runs");
    let opts = RunOptions {
        device: ssl_models::DeviceChoice::Cpu,
        runs_root: runs.clone(),
        name: Some("r".into()),
        command: "test".into(),
        progress: false,
        ..Default::default()
    };
    train(&cfg, &opts).unwrap();
    let run = runs.join("r");
    let out = tmp.path().join("views");
    let k = cfg.views.count;
    let layers = [Layer::Input, Layer::Stem, Layer::Layer1, Layer::Layer4, Layer::Pool, Layer::Projector];
    let files = export(&run, &views_export(&layers, k, 5, &out)).unwrap();
    let read = |name: &str| ssl_analysis::npy::read_matrix(out.join(name)).unwrap();
    let input = read("train_views_input.npy");
    assert_eq!(input.dim(), (5 * k, 784));
    for (name, dim) in [("stem", 4), ("layer1", 4), ("layer4", 32), ("pool", 32), ("projector", 16)] {
        assert_eq!(read(&format!("train_views_{name}.npy")).dim(), (5 * k, dim), "{name}");
    }
    let ids = ssl_analysis::npy::read_labels(out.join("train_views_manifold_ids.npy")).unwrap();
    assert_eq!(ids, (0..5 * k).map(|r| (r / k) as u32).collect::<Vec<_>>());
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("train_views.json")).unwrap()).unwrap();
    assert_eq!(meta["layers"].as_array().unwrap().len(), layers.len());
    assert!(meta["layers"][1]["reduction"].as_str().unwrap().contains("averaged over H x W"));
    assert_eq!(files.len(), layers.len() + 3);

    // The same pixels as the trainer's epoch-0 batches (its loader, seed and pipelines).
    let train_set = Arc::new(ssl_train::dataset::load_split(&cfg, Split::Train, cfg.data.train_limit).unwrap());
    let labels: Vec<u32> = (0..5 * k).map(|r| train_set.label(r / k).unwrap()).collect();
    assert_eq!(ssl_analysis::npy::read_labels(out.join("train_views_labels.npy")).unwrap(), labels);
    let lc = LoaderConfig { batch_size: cfg.training.batch_size, views: k, seed: cfg.seed, ..Default::default() };
    let loader = Loader::new(train_set.clone(), cfg.views.train_view(), lc).unwrap();
    let mut seen = 0;
    for batch in loader.epoch(0) {
        let batch = batch.unwrap();
        let (b, len) = (batch.batch_size(), batch.shape.len());
        for (pos, &image) in batch.indices.iter().enumerate() {
            if image < 5 {
                for v in 0..k {
                    let start = (v * b + pos) * len;
                    assert_eq!(&batch.data[start..start + len], input.row(image * k + v).as_slice().unwrap(), "image {image} view {v}");
                    seen += 1;
                }
            }
        }
    }
    assert_eq!(seen, 5 * k);

    // Each layer's rows belong to the same views: the representation of the exported pixels.
    let (_, net) = ssl_train::run::load_network(&run, ssl_models::DeviceChoice::Cpu).unwrap();
    let x = tch::Tensor::from_slice(input.as_slice().unwrap()).view([(5 * k) as i64, 1, 28, 28]);
    let pooled = tch::no_grad(|| net.backbone.forward_t(&x, false));
    let want = Vec::<f32>::try_from(pooled.flatten(0, -1)).unwrap();
    let got = read("train_views_pool.npy");
    let diff = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(diff < 1e-5, "pool differs from the backbone on the exported pixels by {diff}");

    // Bad requests: named, and nothing written.
    let bad = tmp.path().join("bad");
    for (opts, needle) in [
        (views_export(&[Layer::Pool], 2, 1000, &bad), "--images 1000: the train split has only 64 images"),
        (views_export(&[Layer::Pool], 0, 3, &bad), "expected at least 1 view"),
        (views_export(&[], 2, 3, &bad), "--layers: name at least one layer"),
    ] {
        let e = format!("{:#}", export(&run, &opts).unwrap_err());
        assert!(e.contains(needle), "{e}");
        assert!(!bad.exists() || std::fs::read_dir(&bad).unwrap().next().is_none(), "{needle}: wrote files");
    }
    // An existing export is never overwritten.
    let e = format!("{:#}", export(&run, &views_export(&layers, k, 5, &out)).unwrap_err());
    assert!(e.contains("already exists"), "{e}");
    // Factor probes need known factors: refused on a Fashion-MNIST-format run, nothing written.
    use ssl_train::cmd::eval::{evaluate_run, EvalOptions, Protocol};
    let eval_out = tmp.path().join("eval.json");
    let e = format!(
        "{:#}",
        evaluate_run(&run, &EvalOptions { protocols: vec![Protocol::Factors], out: Some(eval_out.clone()), ..Default::default() }).unwrap_err()
    );
    assert!(e.contains("--protocols factors") && e.contains("toy dataset"), "{e}");
    assert!(!eval_out.exists());
}
