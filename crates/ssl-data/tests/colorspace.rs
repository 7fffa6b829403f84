//! Colour spaces: round trips, published reference values, and their normalisation.

use rand::{Rng, SeedableRng};
use ssl_data::colorspace::ColorSpace;
use ssl_data::{ImageF32, Shape};

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
fn unit_normalization_maps_every_space_into_about_the_unit_range() {
    // Over random colours and the cube's corners, every normalised channel stays within
    // [−1.08, 1.08] (Lab's b reaches −1.08) and uses most of that range.
    let img = random_image(4);
    let mut cube = ImageF32::zeros(Shape { channels: 3, height: 1, width: 8 });
    for corner in 0..8 {
        for c in 0..3 {
            cube.channel_mut(c)[corner] = ((corner >> c) & 1) as f32;
        }
    }
    for space in ColorSpace::ALL {
        let (mean, std) = space.unit_normalization();
        let mut extent = [0f32; 3];
        for rgb in [&img, &cube] {
            let conv = space.from_rgb(rgb).unwrap();
            for c in 0..3 {
                for &v in conv.channel(c) {
                    let z = (v - mean[c]) / std[c];
                    assert!(z.abs() <= 1.08, "{space:?} channel {c}: {z}");
                    extent[c] = extent[c].max(z.abs());
                }
            }
        }
        assert!(extent.iter().all(|&e| e > 0.4), "{space:?}: {extent:?}");
    }
}
