//! Factor-sharing views (InfoMin §3.1) through the runner's own training loader: every pair of
//! a batch shares exactly the factors `views.shared` names, and each view is that rendering.

mod common;

use ssl_data::toy::{Shared, ToyPairs};
use ssl_data::{view_source_key, Dataset, Loader, LoaderConfig, Split};
use std::sync::Arc;

fn toy_config(data: &std::path::Path, shared: &str) -> ssl_train::config::Config {
    common::tiny_simclr(
        data,
        &[
            "data.dataset=\"toy\"",
            "data.train_limit=48",
            "data.test_limit=16",
            "model.in_channels=3",
            // The identity on [0, 1] pixels, so the batch shows the renderings themselves.
            "views.train=[{ ops = [{ op = \"normalize\", mean = [0.0], std = [1.0] }] }]",
            "views.eval={ ops = [{ op = \"normalize\", mean = [0.0], std = [1.0] }] }",
            &format!("views.shared={shared}"),
        ],
    )
}

#[test]
fn every_pair_in_a_batch_shares_exactly_the_named_factors() {
    let (_tmp, data) = common::toy_data(60, 20);
    for (names, share) in [
        ("[\"object\"]", Shared { object: true, ..Default::default() }),
        ("[\"background\"]", Shared { background: true, ..Default::default() }),
        ("[\"position\", \"background\"]", Shared { position: true, background: true, ..Default::default() }),
        ("[\"object\", \"position\", \"background\"]", Shared { object: true, position: true, background: true }),
    ] {
        let cfg = toy_config(&data, names);
        assert_eq!(Shared::of(cfg.views.shared.as_deref().unwrap()), share);
        let (images, source) = ssl_train::trainer::training_data(&cfg).unwrap();
        assert_eq!(images.len(), 48);
        // The same toy dataset, rebuilt here to know each sample's factors.
        let toy = Arc::new(ssl_train::dataset::load_toy(&cfg, Split::Train, 48).unwrap());
        let pairs = ToyPairs::new(toy.clone(), share);
        let lc = LoaderConfig { batch_size: 16, views: 2, seed: cfg.seed, ..Default::default() };
        let loader = Loader::new(source, cfg.views.train_view(), lc).unwrap();
        for epoch in 0..2u64 {
            let batch = loader.epoch(epoch).next().unwrap().unwrap();
            let per = batch.shape.len();
            let key = view_source_key(cfg.seed, epoch);
            for (slot, &i) in batch.indices.iter().enumerate() {
                let (a, b) = (pairs.view_factors(i, 0, key), pairs.view_factors(i, 1, key));
                assert_eq!(a, toy.factors(i));
                // Exactly the shared factors agree; every other one differs.
                assert_eq!(a.object_class == b.object_class, share.object, "{names}: sample {i}");
                assert_eq!(a.position == b.position, share.position, "{names}: sample {i}");
                assert_eq!(a.background == b.background, share.background, "{names}: sample {i}");
                // And the views are those renderings (HWC bytes -> CHW floats in [0, 1]).
                for (v, f) in [(0usize, a), (1, b)] {
                    let got = &batch.data[(v * batch.indices.len() + slot) * per..][..per];
                    let hwc = toy.render(&f);
                    let (h, w) = (batch.shape.height, batch.shape.width);
                    for c in 0..3 {
                        for p in [0, h * w / 2 + w / 2, h * w - 1] {
                            assert!((got[c * h * w + p] - f32::from(hwc[p * 3 + c]) / 255.0).abs() < 1e-6, "{names}: view {v} of sample {i}");
                        }
                    }
                }
            }
            // A new epoch draws new partners for the non-shared factors.
            if !(share.object && share.position && share.background) {
                let next = view_source_key(cfg.seed, epoch + 1);
                assert!((0..48).any(|i| pairs.view_factors(i, 1, key) != pairs.view_factors(i, 1, next)));
            }
        }
        // Train images are the toy's renderings, labelled by object class.
        assert_eq!(images.label(5), Some(toy.factors(5).object_class));
    }
}

#[test]
fn shared_views_are_refused_off_the_toy_dataset_and_with_one_view() {
    let (_tmp, data) = common::toy_data(60, 20);
    let load = |extra: &[&str]| {
        let mut o = vec![format!("data.root=\"{}\"", data.display())];
        o.extend(extra.iter().map(|s| s.to_string()));
        ssl_train::config::RunConfig::load(&ssl_train::config::Source::Recipe("simclr-fmnist".into()), &o).and_then(|c| c.check().map(drop))
    };
    let e = load(&["views.shared=[\"object\"]"]).unwrap_err().to_string();
    assert!(e.contains("views.shared") && e.contains("data.dataset = \"toy\""), "{e}");
    let e = load(&["data.dataset=\"toy\"", "views.shared=[\"object\"]", "views.count=1"]).unwrap_err().to_string();
    assert!(e.contains("views.count >= 2"), "{e}");
    let e = load(&["data.dataset=\"toy\"", "views.shared=[\"colour\"]"]).unwrap_err().to_string();
    assert!(e.contains("views.shared") && e.contains("object") && e.contains("background"), "{e}");
}

#[test]
fn a_run_on_shared_views_exports_its_factors_and_analyze_probes_them() {
    use ssl_analysis::analyze::{analyze, AnalyzeInput, AnalyzeOptions};
    use ssl_train::cmd::export::{export, ExportOptions, ViewPipeline, ViewsExport};
    use ssl_train::trainer::{train, RunOptions};

    let (tmp, data) = common::toy_data(60, 40);
    let cfg = common::tiny_simclr(
        &data,
        &[
            "data.dataset=\"toy\"",
            "data.train_limit=48",
            "data.test_limit=40",
            "model.in_channels=3",
            "training.epochs=1",
            "views.train=[{ ops = [{ op = \"normalize\", mean = [0.5], std = [0.25] }] }]",
            "views.eval={ ops = [{ op = \"normalize\", mean = [0.5], std = [0.25] }] }",
            "views.shared=[\"background\"]",
        ],
    );
    let runs = tmp.path().join("runs");
    let opts = RunOptions {
        device: ssl_models::DeviceChoice::Cpu,
        runs_root: runs.clone(),
        name: Some("toy".into()),
        command: "test".into(),
        progress: false,
        ..Default::default()
    };
    train(&cfg, &opts).unwrap();
    let run = runs.join("toy");
    // The resolved config keeps the shared factors.
    assert!(std::fs::read_to_string(run.join("config.toml")).unwrap().contains("shared = [\"background\"]"));

    let out = tmp.path().join("export");
    let files = export(&run, &ExportOptions { out: Some(out.clone()), ..ExportOptions::plain(Split::Test) }).unwrap();
    assert!(files.iter().any(|f| f.ends_with("test_factors.npy")), "{files:?}");
    let factors = ssl_analysis::npy::read_matrix(out.join("test_factors.npy")).unwrap();
    let labels = ssl_analysis::npy::read_labels(out.join("test_labels.npy")).unwrap();
    let toy = ssl_train::dataset::load_toy(&cfg, Split::Test, 40).unwrap();
    assert_eq!(factors.dim(), (40, 4));
    for (i, &label) in labels.iter().enumerate() {
        let f = toy.factors(i);
        assert_eq!(factors.row(i).to_vec(), vec![f.object_class as f32, f.background as f32, f.position.1 as f32, f.position.0 as f32]);
        assert_eq!(label, f.object_class);
    }
    // Augmentation-manifold exports carry the factors of each view's image.
    let vout = tmp.path().join("views");
    let vopts = ExportOptions {
        out: Some(vout.clone()),
        views: Some(ViewsExport { views: 3, images: 4, pipeline: ViewPipeline::Train, epoch: 0 }),
        ..ExportOptions::plain(Split::Test)
    };
    export(&run, &vopts).unwrap();
    let vf = ssl_analysis::npy::read_matrix(vout.join("test_views_factors.npy")).unwrap();
    assert_eq!(vf.nrows(), 12);
    assert_eq!(vf.row(7), factors.row(2));

    let x = ssl_analysis::npy::read_matrix(out.join("test_backbone.npy")).unwrap();
    let input = AnalyzeInput { factors: Some(("test_factors.npy", factors.view())), ..AnalyzeInput::new("test_backbone.npy", x.view()) };
    let report = analyze(&input, &AnalyzeOptions { capacity_trials: 0, mft: None, ..Default::default() }, &mut |_| {}).unwrap();
    let p = report.factors.expect("factor probes");
    assert_eq!((p.train, p.test), (32, 8));
    // `eval --protocols factors` embeds the same test images: the same probes.
    use ssl_train::cmd::eval::{evaluate_run, EvalOptions, Protocol};
    let eval_opts = EvalOptions { protocols: vec![Protocol::Factors], out: Some(tmp.path().join("eval.json")), ..Default::default() };
    let (_, eval) = evaluate_run(&run, &eval_opts).unwrap();
    assert_eq!(eval.factors.as_ref(), Some(&p));
    assert!((0.0..=1.0).contains(&p.object_accuracy) && (0.0..=1.0).contains(&p.background_accuracy) && p.position_error_px.is_finite());
}

#[test]
fn the_views_grid_shows_the_factor_sharing_partners() {
    let (tmp, data) = common::toy_data(60, 20);
    let cfg = toy_config(&data, "[\"background\"]");
    let out = tmp.path().join("grid.png");
    let (rows, cols) = ssl_train::cmd::views::views_grid(&cfg, 2, 2, cfg.seed, &out).unwrap();
    assert_eq!((rows, cols), (2, 3));
    let grid = image::open(&out).unwrap().to_rgb8();
    // Cells are (side * zoom + 4) pixels; the two view cells of row 0 (columns 1 and 2) come from
    // the sample and from a partner with another object and position: they differ, although the
    // pipeline alone (resize-free identity) would draw them equal.
    let cell = grid.width() as usize / cols;
    let block = |col: usize| {
        (0..cell).flat_map(|y| (0..cell).map(move |x| (x, y))).map(|(x, y)| grid.get_pixel((col * cell + x) as u32, y as u32).0).collect::<Vec<_>>()
    };
    assert_ne!(block(1), block(2));
    // View 0 is the sample itself: its cell equals the original's (column 0).
    assert_eq!(block(0), block(1));
}

#[test]
fn past_frames_reach_the_trainer_as_one_image_split_into_the_two_views() {
    use ssl_train::network::{Backbone, Network};
    let (_tmp, data) = common::toy_data(60, 20);
    let cfg = ssl_train::config::Config::load(
        &ssl_train::config::Source::Recipe("infomin-toy-frames".into()),
        &[format!("data.root=\"{}\"", data.display()), "data.train_limit=48".into(), "data.test_limit=16".into()],
    )
    .unwrap();
    let (images, source) = ssl_train::trainer::training_data(&cfg).unwrap();
    assert_eq!(images.shape().channels, 12);
    let lc = LoaderConfig { batch_size: 16, views: cfg.model.draws_per_image(cfg.views.count), seed: cfg.seed, ..Default::default() };
    let batch = Loader::new(source, cfg.views.train_view(), lc).unwrap().epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.dims(), [1, 16, 12, 32, 32]);
    let x = tch::Tensor::from_slice(&batch.data).view([16, 12, 32, 32]);
    let net = Network::of_run(&cfg, tch::Device::Cpu);
    let Backbone::Split(split) = &net.backbone else { panic!("infomin-toy-frames has model.split") };
    assert_eq!((split.group(&x, 0).size()[1], split.group(&x, 1).size()[1]), (9, 3), "f1 reads the 3 past frames, f2 the later frame");
    // The factor probes read the test samples' sequences with their own frame.
    let probes = ssl_train::evaluate::toy_factor_probes(&cfg, &net, (&ssl_io::progress::Progress::hidden(), "factors")).unwrap();
    assert!(probes.object_accuracy.is_finite());
}
