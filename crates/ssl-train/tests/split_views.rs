//! Channel-split views (CMC / InfoMin §4, `model.split`) through the runner's own loader and
//! network: one draw per image, whose channel groups are the views — recombined, the groups give
//! the drawn crop back, and inverting the colour space gives the RGB crop itself; the patch pair
//! of the spatial sweep goes through one shared encoder.

mod common;

use ssl_data::colorspace::ColorSpace;
use ssl_data::pipeline::{Op, Pipeline};
use ssl_data::{make_batch, ImageF32, Loader, LoaderConfig, Shape};
use ssl_train::config::{Config, Source};
use ssl_train::network::{Backbone, Network};
use ssl_train::objective::Method;
use tch::{Device, Tensor};

fn recipe(name: &str, data: &std::path::Path, extra: &[&str]) -> Config {
    let mut sets = vec![format!("data.root=\"{}\"", data.display()), "data.train_limit=40".into(), "data.test_limit=16".into()];
    sets.extend(extra.iter().map(|s| s.to_string()));
    Config::load(&Source::Recipe(name.into()), &sets).unwrap()
}

/// The first batch the trainer would train on: `(config's draws, batch)`.
fn first_batch(cfg: &Config) -> ssl_data::MultiViewBatch {
    let (_, source) = ssl_train::trainer::training_data(cfg).unwrap();
    let lc = LoaderConfig { batch_size: 8, views: cfg.model.draws_per_image(cfg.views.count), seed: cfg.seed, ..Default::default() };
    let loader = Loader::new(source, cfg.views.train_view(), lc).unwrap();
    loader.epoch(0).next().unwrap().unwrap()
}

fn tensor(b: &ssl_data::MultiViewBatch) -> Tensor {
    let [d, n, c, h, w] = b.dims().map(|v| v as i64);
    Tensor::from_slice(&b.data).view([d * n, c, h, w])
}

#[test]
fn the_views_of_a_colour_split_are_channel_groups_of_one_crop() {
    let (_tmp, data) = common::toy_data(48, 16);
    let cfg = recipe("cmc-toy", &data, &[]);
    let batch = first_batch(&cfg);
    // One draw per image: a 3-channel Lab crop, cut into the 2 views by the encoder.
    assert_eq!(batch.dims(), [1, 8, 3, 32, 32]);
    let x = tensor(&batch);
    let net = Network::of_run(&cfg, Device::Cpu);
    let Backbone::Split(split) = &net.backbone else { panic!("cmc-toy has model.split") };
    let (l, ab) = (split.group(&x, 0), split.group(&x, 1));
    assert_eq!((l.size()[1], ab.size()[1]), (1, 2));
    assert_eq!((Tensor::cat(&[&l, &ab], 1) - &x).abs().max().double_value(&[]), 0.0, "the halves recombine to the crop");

    // The same draws without the colour ops give the RGB crop; L | ab, un-normalised and taken
    // back to RGB, are that crop.
    let rgb_ops: Vec<Op> = cfg.views.train[0].ops.iter().filter(|op| matches!(op, Op::RandomResizedCrop { .. } | Op::HorizontalFlip { .. })).cloned().collect();
    assert_eq!(rgb_ops.len(), 2);
    let (_, source) = ssl_train::trainer::training_data(&cfg).unwrap();
    let rgb = make_batch(source.as_ref(), &Pipeline { ops: rgb_ops }, &batch.indices, 1, cfg.seed, 0);
    let (mean, std) = ColorSpace::Lab.unit_normalization();
    let per = 3 * 32 * 32;
    let lab_all = Vec::<f32>::try_from(Tensor::cat(&[&l, &ab], 1).flatten(0, -1)).unwrap();
    let mut worst = 0f32;
    for i in 0..8 {
        let mut lab = ImageF32 { shape: Shape { channels: 3, height: 32, width: 32 }, data: lab_all[i * per..(i + 1) * per].to_vec() };
        for c in 0..3 {
            lab.channel_mut(c).iter_mut().for_each(|v| *v = *v * std[c] + mean[c]);
        }
        let back = ColorSpace::Lab.to_rgb(&lab).unwrap();
        for (a, b) in back.data.iter().zip(&rgb.data[i * per..(i + 1) * per]) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst < 1e-4, "Lab -> RGB of the split differs from the RGB crop by {worst}");

    // A training step's loss sees 2 views of the 8 images, each from its own encoder.
    let method = Method::new(&cfg.objective).unwrap();
    let (out, rep) = method.loss(&net, None, &x, 2, 8, None).unwrap();
    assert!(out.loss.double_value(&[]).is_finite());
    assert!(out.parts.iter().any(|(n, _)| *n == "mi_lower_bound"));
    assert_eq!(rep.size(), vec![8, 128], "the probe reads both encoders' features");
}

#[test]
fn a_patch_pair_trains_one_shared_encoder_on_both_patches() {
    let (_tmp, data) = common::toy_data(48, 16);
    let cfg = recipe(
        "infomin-patches-fmnist",
        &data,
        &["views.train=[{ ops = [{ op = \"patch_pair\", size = 14, distance = 9 }, { op = \"normalize\", mean = [0.286], std = [0.353] }] }]"],
    );
    let batch = first_batch(&cfg);
    assert_eq!(batch.dims(), [1, 8, 2, 14, 14]);
    let x = tensor(&batch);
    let net = Network::of_run(&cfg, Device::Cpu);
    let Backbone::Split(split) = &net.backbone else { panic!("the patch recipe has model.split") };
    assert_eq!(split.encoders(), 1);
    let (out, rep) = Method::new(&cfg.objective).unwrap().loss(&net, None, &x, 2, 8, None).unwrap();
    assert!(out.loss.double_value(&[]).is_finite());
    assert_eq!(rep.size(), vec![8, 128]);
    // The representation of whole 28 x 28 images is the shared encoder's.
    let test = ssl_train::dataset::load_split(&cfg, ssl_data::Split::Test, 16).unwrap();
    let e = ssl_train::network::embed(&net.backbone, &test, cfg.views.eval_view(), 8, Device::Cpu).unwrap();
    assert_eq!(e.dim(), (16, 128));
}
