//! View pipelines from TOML: parsing, shapes, errors, recipes, and equality with the hand-coded
//! SimCLR view for the same draws.

use ssl_data::pipeline::{byol, simclr, Op, Pipeline};
use ssl_data::{make_batch, InMemoryDataset, PerView, Shape, ViewTransform};
use std::sync::Arc;

fn parse(text: &str) -> Result<Pipeline, String> {
    toml::from_str::<Pipeline>(text).map_err(|e| e.to_string())
}

fn rgb_dataset() -> InMemoryDataset {
    let shape = Shape { channels: 3, height: 20, width: 24 };
    InMemoryDataset::new(shape, (0..4 * shape.len()).map(|i| (i * 37 % 251) as u8).collect(), Some(vec![0, 1, 2, 3])).unwrap()
}

#[test]
fn a_toml_pipeline_parses_and_runs() {
    let p = parse(
        r#"ops = [
            { op = "random_resized_crop", size = 16, scale = [0.2, 1.0] },
            { op = "horizontal_flip", p = 0.5 },
            { op = "color_jitter", brightness = 0.4, contrast = 0.4, saturation = 0.2, hue = 0.1, p = 0.8 },
            { op = "grayscale", p = 0.2 },
            { op = "gaussian_blur", kernel_size = 3, sigma = [0.1, 2.0], p = 0.5 },
            { op = "solarize", threshold = 0.5, p = 0.2 },
            { op = "erase", p = 0.5 },
            { op = "rot90" },
            { op = "normalize", mean = [0.5], std = [0.25] },
        ]"#,
    )
    .unwrap();
    let ds = rgb_dataset();
    assert_eq!(p.checked_shape(Shape { channels: 3, height: 20, width: 24 }).unwrap(), Shape { channels: 3, height: 16, width: 16 });
    let b = make_batch(&ds, &p, &[0, 1, 2, 3], 4, 7, 0);
    assert_eq!(b.dims(), [4, 4, 3, 16, 16]);
    assert!(b.data.iter().all(|v| v.is_finite()));
    // Same seed, same batch.
    assert_eq!(make_batch(&ds, &p, &[0, 1, 2, 3], 4, 7, 0).data, b.data);
    // Sobel and colour-space ops change the channel count / content.
    let s = parse(r#"ops = [{ op = "random_resized_crop", size = 8 }, { op = "sobel" }]"#).unwrap();
    assert_eq!(s.output_shape(Shape { channels: 3, height: 20, width: 24 }).channels, 2);
    let l = parse(r#"ops = [{ op = "color_space", space = "lab", keep = [0] }]"#).unwrap();
    let v = make_batch(&ds, &l, &[0], 1, 0, 0);
    let n = 20 * 24;
    assert!(v.data[n..].iter().all(|&x| x == 0.0) && v.data[..n].iter().any(|&x| x > 1.0));
}

#[test]
fn bad_pipelines_name_the_op_and_field() {
    let grey = Shape { channels: 1, height: 28, width: 28 };
    for (text, needle) in [
        (r#"ops = [{ op = "random_resized_crop", size = 8, scale = [0.9, 0.1] }]"#, "op 0 (random_resized_crop)"),
        (r#"ops = [{ op = "gaussian_blur", kernel_size = 4, sigma = [0.1, 2.0] }]"#, "kernel_size"),
        (r#"ops = [{ op = "solarize", threshold = 0.5, p = 2.0 }]"#, "probability"),
        (r#"ops = [{ op = "color_space", space = "lab" }]"#, "needs 3 channels"),
        (r#"ops = [{ op = "normalize", mean = [0.1, 0.2], std = [1.0, 1.0] }]"#, "channel"),
    ] {
        let e = parse(text).unwrap().checked_shape(grey).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
    assert!(parse(r#"ops = [{ op = "twirl" }]"#).unwrap_err().contains("twirl"));
    assert!(parse(r#"ops = [{ op = "horizontal_flip", prob = 0.5 }]"#).unwrap_err().contains("prob"));
}

#[test]
fn recipes_have_the_published_structure() {
    let m = vec![0.5f32; 3];
    let s = simclr(224, 1.0, true, m.clone(), m.clone());
    assert!(matches!(s.ops[2], Op::ColorJitter { brightness, hue, p, .. } if brightness == 0.8 && (hue - 0.2).abs() < 1e-6 && p == 0.8));
    assert!(matches!(s.ops[4], Op::GaussianBlur { kernel_size: 23, p, .. } if p == 0.5));
    assert_eq!(simclr(32, 0.5, false, m.clone(), m.clone()).ops.len(), 5);
    let [a, b] = byol(96, true, m.clone(), m.clone());
    let probs = |p: &Pipeline| {
        p.ops
            .iter()
            .filter_map(|o| match o {
                Op::GaussianBlur { p, .. } | Op::Solarize { p, .. } => Some(*p),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(probs(&a), vec![1.0, 0.0]);
    assert_eq!(probs(&b), vec![0.1, 0.2]);
    // Asymmetric views in one batch: view 0 uses pipeline a, view 1 pipeline b.
    let per = PerView { transforms: vec![Arc::new(a.clone()), Arc::new(b.clone())] };
    per.check(Shape { channels: 3, height: 20, width: 24 }).unwrap();
    let ds = rgb_dataset();
    let both = make_batch(&ds, &per, &[1], 2, 3, 0);
    let only_b = make_batch(&ds, &b, &[1], 2, 3, 0);
    let half = both.data.len() / 2;
    assert_eq!(both.data[half..], only_b.data[half..]);
}

/// The ops of `pipeline` one by one through the public op functions (the crop from the whole
/// image converted to f32, the flip as its own pass): the twin of the fused per-thread path.
fn op_by_op(ops: &[Op], img: ssl_data::ImageRef<'_>, rng: &mut impl rand::Rng) -> ssl_data::ImageF32 {
    use ssl_data::augment::*;
    let mut x = img.to_f32();
    for op in ops {
        match op {
            Op::RandomResizedCrop { size, scale, ratio } => {
                let bx = RandomResizedCrop { size: *size, scale: *scale, ratio: *ratio }.sample(x.shape.height, x.shape.width, rng);
                x = resized_crop(&x, bx, *size, *size);
            }
            Op::HorizontalFlip { p } => {
                if rng.random::<f64>() < *p {
                    hflip(&mut x)
                }
            }
            Op::ColorJitter { brightness, contrast, saturation, hue, p } => {
                if rng.random::<f64>() < *p {
                    ColorJitter { brightness: *brightness, contrast: *contrast, saturation: *saturation, hue: *hue }.apply(&mut x, rng)
                }
            }
            Op::Grayscale { p } => {
                if rng.random::<f64>() < *p {
                    grayscale(&mut x)
                }
            }
            Op::GaussianBlur { kernel_size, sigma, p } => RandomGaussianBlur { kernel_size: *kernel_size, sigma: *sigma, p: *p }.apply(&mut x, rng),
            Op::Solarize { threshold, p } => RandomSolarize { threshold: *threshold, p: *p }.apply(&mut x, rng),
            Op::Normalize { mean, std } => normalize(&mut x, mean, std),
            other => panic!("not used here: {other:?}"),
        }
    }
    x
}

#[test]
fn fused_views_equal_the_ops_run_one_by_one() {
    // Sources of several sizes (so the per-thread buffers change shape between views), crops
    // that both shrink and enlarge, every SimCLR / BYOL op, with and without a closing normalize.
    let sources: Vec<InMemoryDataset> = [(3, 40, 36), (3, 9, 13), (1, 30, 30)]
        .iter()
        .map(|&(c, h, w)| {
            let shape = Shape { channels: c, height: h, width: w };
            InMemoryDataset::new(shape, (0..shape.len()).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect(), None).unwrap()
        })
        .collect();
    let [b0, b1] = byol(16, true, vec![0.5], vec![0.25]);
    let mut no_norm = simclr(24, 1.0, false, vec![0.5], vec![0.25]);
    no_norm.ops.pop();
    let pipelines = [simclr(16, 1.0, false, vec![0.5], vec![0.25]), simclr(24, 0.5, true, vec![0.4], vec![0.3]), b0, b1, no_norm];
    let mut worst = 0f32;
    for seed in 0..40u64 {
        for (pi, p) in pipelines.iter().enumerate() {
            for ds in &sources {
                use ssl_data::Dataset;
                let img = ds.image(0);
                let shape = p.output_shape(img.shape);
                let mut out = vec![f32::NAN; shape.len()];
                p.apply(img, &mut ssl_data::rng::view_rng(seed, 0, pi as u64, 0), &mut out);
                let want = op_by_op(&p.ops, img, &mut ssl_data::rng::view_rng(seed, 0, pi as u64, 0));
                assert_eq!(want.shape, shape);
                let d = out.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(d <= 2e-5, "pipeline {pi}, seed {seed}, source {:?}: max diff {d}", img.shape);
                worst = worst.max(d);
            }
        }
    }
    println!("worst |fused − op by op| = {worst:.2e}");
}
