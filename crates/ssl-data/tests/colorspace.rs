//! Colour spaces: round trips, published reference values, and channel-split views.

use rand::{Rng, SeedableRng};
use ssl_data::colorspace::{ChannelSplitView, ColorSpace};
use ssl_data::{make_batch, ImageF32, InMemoryDataset, PlainView, Shape};

fn random_image(seed: u64) -> ImageF32 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let shape = Shape { channels: 3, height: 17, width: 13 };
    let mut data: Vec<f32> = (0..shape.len()).map(|_| rng.random::<f32>()).collect();
    // Include the corners of the cube and greys.
    data[..6].copy_from_slice(&[0.0, 1.0, 0.5, 0.0, 1.0, 0.5]);
    ImageF32 { shape, data }
}

#[test]
fn round_trips_within_1e5() {
    for space in ColorSpace::ALL {
        let mut worst = 0f32;
        for seed in 0..5 {
            let img = random_image(seed);
            let back = space.to_rgb(&space.from_rgb(&img).unwrap()).unwrap();
            worst = worst.max(img.data.iter().zip(&back.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max));
        }
        println!("{space:?}: worst RGB round-trip error {worst:.2e}");
        assert!(worst <= 1e-5, "{space:?}: {worst}");
    }
}

#[test]
fn published_values() {
    let close = |a: [f64; 3], b: [f64; 3], tol: f64| a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol);
    // sRGB red in CIE Lab (D65): (53.2408, 80.0925, 67.2032); white (100, 0, 0); black (0, 0, 0).
    assert!(close(ColorSpace::Lab.pixel_from_rgb([1.0, 0.0, 0.0]), [53.2408, 80.0925, 67.2032], 2e-3));
    // (skimage's sRGB matrix gives white a, b of a few thousandths, as here.)
    assert!(close(ColorSpace::Lab.pixel_from_rgb([1.0, 1.0, 1.0]), [100.0, 0.0, 0.0], 2e-2));
    assert!(close(ColorSpace::Lab.pixel_from_rgb([0.0, 0.0, 0.0]), [0.0, 0.0, 0.0], 1e-9));
    // JPEG YCbCr of red: Y 0.299, Cb 0.5 − 0.168736, Cr 1.0.
    assert!(close(ColorSpace::Ycbcr.pixel_from_rgb([1.0, 0.0, 0.0]), [0.299, 0.331264, 1.0], 1e-9));
    // Every luma-chroma space maps grey g to (g, 0, 0) (YCbCr: chroma 0.5).
    for s in [ColorSpace::Ydbdr, ColorSpace::Yiq, ColorSpace::Ypbpr] {
        assert!(close(s.pixel_from_rgb([0.4, 0.4, 0.4]), [0.4, 0.0, 0.0], 1e-3), "{s:?}");
    }
    // HSV of pure green: hue 1/3, full saturation and value.
    assert!(close(ColorSpace::Hsv.pixel_from_rgb([0.0, 1.0, 0.0]), [1.0 / 3.0, 1.0, 1.0], 1e-6));
    assert!(ColorSpace::Lab.from_rgb(&ImageF32::zeros(Shape { channels: 1, height: 2, width: 2 })).is_err());
}

#[test]
fn split_views_keep_only_their_channel_group() {
    let img = random_image(9);
    let pixels = img.to_u8_hwc();
    let ds = InMemoryDataset::new(img.shape, pixels, None).unwrap();
    let view = ChannelSplitView {
        base: PlainView { mean: vec![0.0], std: vec![1.0] },
        space: ColorSpace::Lab,
        groups: vec![vec![0], vec![1, 2]],
        mean: [50.0, 0.0, 0.0],
        std: [50.0, 100.0, 100.0],
    };
    view.validate().unwrap();
    let b = make_batch(&ds, &view, &[0], 2, 0, 0);
    let n = 17 * 13;
    let (v0, v1) = (&b.data[..3 * n], &b.data[3 * n..]);
    // View 0: L only; view 1: a and b only.
    assert!(v0[n..].iter().all(|&x| x == 0.0) && v0[..n].iter().any(|&x| x != 0.0));
    assert!(v1[..n].iter().all(|&x| x == 0.0) && v1[n..].iter().any(|&x| x != 0.0));
    // The kept channels are the space's channels, normalised.
    let lab = ColorSpace::Lab.from_rgb(&ImageF32 { shape: img.shape, data: ssl_data::ImageRef { shape: img.shape, data: ds.pixels() }.to_f32().data }).unwrap();
    assert!((v0[5] - (lab.data[5] - 50.0) / 50.0).abs() < 1e-5);
    view.check(img.shape).unwrap();
    assert!(view.check(Shape { channels: 1, ..img.shape }).is_err());
    let bad = ChannelSplitView { groups: vec![vec![3]], ..view };
    assert!(bad.validate().is_err());
}

#[test]
fn ydbdr_and_lab_presets_split_luma_from_chroma() {
    let img = random_image(4);
    let ds = InMemoryDataset::new(img.shape, img.to_u8_hwc(), None).unwrap();
    let rgb = ssl_data::ImageRef { shape: img.shape, data: ds.pixels() }.to_f32();
    let n = 17 * 13;
    for (view, space) in [
        (ChannelSplitView::ydbdr_y_dbdr(PlainView { mean: vec![0.0], std: vec![1.0] }), ColorSpace::Ydbdr),
        (ChannelSplitView::lab_l_ab(PlainView { mean: vec![0.0], std: vec![1.0] }), ColorSpace::Lab),
    ] {
        view.check(img.shape).unwrap();
        let conv = space.from_rgb(&rgb).unwrap();
        let b = make_batch(&ds, &view, &[0], 2, 0, 0);
        let (v0, v1) = (&b.data[..3 * n], &b.data[3 * n..]);
        for c in 0..3 {
            let (keep, other) = if c == 0 { (v0, v1) } else { (v1, v0) };
            assert!(other[c * n..(c + 1) * n].iter().all(|&x| x == 0.0), "{space:?} channel {c}");
            for i in 0..n {
                let want = (conv.data[c * n + i] - view.mean[c]) / view.std[c];
                assert!((keep[c * n + i] - want).abs() < 1e-5, "{space:?} channel {c}");
                // The presets map every channel into about [−1, 1] (Lab b reaches −1.08).
                assert!(want.abs() <= 1.08, "{space:?} channel {c}: {want}");
            }
        }
    }
}
