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
