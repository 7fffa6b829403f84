//! Patch pairs (InfoMin's spatial sweep): the stacked patches are the image's own pixels at two
//! corners the set distance apart, always inside the image; the pipeline op's shape and errors.

use rand::SeedableRng;
use ssl_data::augment::{patch_pair, RandomPatchPair};
use ssl_data::pipeline::Pipeline;
use ssl_data::{make_batch, ImageF32, InMemoryDataset, Shape};

/// A 2-channel 9 × 11 image whose value at (c, y, x) is 1000c + 100y + x.
fn coded() -> ImageF32 {
    let shape = Shape { channels: 2, height: 9, width: 11 };
    let mut data = Vec::new();
    for c in 0..2 {
        for y in 0..9 {
            for x in 0..11 {
                data.push((1000 * c + 100 * y + x) as f32);
            }
        }
    }
    ImageF32 { shape, data }
}

#[test]
fn a_pair_stacks_the_two_patches_along_the_channels() {
    let img = coded();
    let p = patch_pair(&img, 3, (1, 2), (5, 7));
    assert_eq!(p.shape, Shape { channels: 4, height: 3, width: 3 });
    // Patch 1 (channels 0, 1) at row 1, column 2; patch 2 (channels 2, 3) at row 5, column 7.
    assert_eq!(p.channel(0), &[102.0, 103.0, 104.0, 202.0, 203.0, 204.0, 302.0, 303.0, 304.0]);
    assert_eq!(p.channel(1)[0], 1102.0);
    assert_eq!(p.channel(2), &[507.0, 508.0, 509.0, 607.0, 608.0, 609.0, 707.0, 708.0, 709.0]);
    assert_eq!(p.channel(3)[8], 1709.0);
}

#[test]
fn drawn_patches_lie_inside_the_image_at_the_set_distance() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for distance in [0.0f32, 1.0, 2.5, 4.0, 6.0] {
        let t = RandomPatchPair { size: 5, distance };
        t.output_shape(Shape { channels: 1, height: 11, width: 12 }).unwrap();
        let mut angles = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let ((y1, x1), (y2, x2)) = t.sample(11, 12, &mut rng);
            assert!(y1.max(y2) + 5 <= 11 && x1.max(x2) + 5 <= 12, "d = {distance}: ({y1}, {x1}) ({y2}, {x2})");
            let (dy, dx) = (y2 as f32 - y1 as f32, x2 as f32 - x1 as f32);
            // Each axis is rounded by at most half a pixel: the distance is within √0.5.
            assert!(((dy * dy + dx * dx).sqrt() - distance).abs() <= 0.5f32.sqrt() + 1e-6, "d = {distance}: offset ({dy}, {dx})");
            angles.insert((dy as i32, dx as i32));
        }
        if distance >= 2.0 {
            assert!(angles.len() >= 8, "d = {distance}: the direction is drawn, found only {angles:?}");
        }
    }
    // At distance 0 the two views are the same patch.
    let img = coded();
    let p = RandomPatchPair { size: 4, distance: 0.0 }.apply(&img, &mut rng);
    assert_eq!(p.data[..32], p.data[32..]);
}

#[test]
fn the_pipeline_op_gives_2c_channels_and_refuses_what_cannot_fit() {
    let grey = Shape { channels: 1, height: 28, width: 28 };
    let ok: Pipeline = toml::from_str(r#"ops = [{ op = "patch_pair", size = 14, distance = 14 }, { op = "normalize", mean = [0.5], std = [0.25] }]"#).unwrap();
    assert_eq!(ok.checked_shape(grey).unwrap(), Shape { channels: 2, height: 14, width: 14 });
    let far: Pipeline = toml::from_str(r#"ops = [{ op = "patch_pair", size = 14, distance = 14.5 }]"#).unwrap();
    let e = far.checked_shape(grey).unwrap_err().to_string();
    assert!(e.contains("patch_pair") && e.contains("distance") && e.contains("28"), "{e}");
    let after: Pipeline = toml::from_str(r#"ops = [{ op = "patch_pair", size = 8, distance = 4 }, { op = "horizontal_flip" }]"#).unwrap();
    let e = after.checked_shape(grey).unwrap_err().to_string();
    assert!(e.contains("only normalize may follow patch_pair") && e.contains("horizontal_flip"), "{e}");
    let neg: Pipeline = toml::from_str(r#"ops = [{ op = "patch_pair", size = 8, distance = -1 }]"#).unwrap();
    assert!(neg.validate().unwrap_err().to_string().contains("distance"));
    // Through a batch: one draw per image holds both patches, the image's own pixels.
    let pixels: Vec<u8> = (0..28 * 28).map(|i| (i % 251) as u8).collect();
    let ds = InMemoryDataset::new(grey, pixels.clone(), None).unwrap();
    let raw: Pipeline = toml::from_str(r#"ops = [{ op = "patch_pair", size = 14, distance = 9 }]"#).unwrap();
    let b = make_batch(&ds, &raw, &[0], 1, 5, 0);
    assert_eq!(b.dims(), [1, 1, 2, 14, 14]);
    let first_row: Vec<u8> = b.data[..14].iter().map(|&v| (v * 255.0).round() as u8).collect();
    let found = (0..=14).flat_map(|y| (0..=14).map(move |x| (y, x))).any(|(y, x)| pixels[y * 28 + x..y * 28 + x + 14] == first_row[..]);
    assert!(found, "the first patch row is a row of the image");
}
