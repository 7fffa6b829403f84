//! The toy dataset: motion, rendering, factors, and view pairs sharing exactly the chosen factors.

use ssl_data::toy::{bounce, Shared, ToyDataset, CANVAS};
use ssl_data::{Dataset, InMemoryDataset, Shape};

fn objects() -> InMemoryDataset {
    // 10 classes; object c is a filled square whose side grows with c.
    let mut px = vec![0u8; 20 * 784];
    let labels: Vec<u32> = (0..20).map(|i| i % 10).collect();
    for i in 0..20 {
        let side = 4 + 2 * (i % 10);
        for y in 0..side {
            for x in 0..side {
                px[i * 784 + y * 28 + x] = 255;
            }
        }
    }
    InMemoryDataset::new(Shape { channels: 1, height: 28, width: 28 }, px, Some(labels)).unwrap()
}

#[test]
fn bouncing_reflects_at_the_walls() {
    assert_eq!((0..8).map(|t| bounce(33, 2, t, 36)).collect::<Vec<_>>(), vec![33, 35, 35, 33, 31, 29, 27, 25]);
    assert_eq!(bounce(1, -3, 1, 36), 2);
    assert_eq!(bounce(0, 5, 3, 0), 0);
}

#[test]
fn samples_render_their_factors() {
    let ds = ToyDataset::new(objects(), None, 50, 1).unwrap();
    let imgs = ds.images();
    assert_eq!((imgs.len(), imgs.shape()), (50, Shape { channels: 3, height: CANVAS, width: CANVAS }));
    let (classes, positions, backgrounds) = ds.factor_table();
    assert!(backgrounds.iter().any(|&b| b != backgrounds[0]));
    for i in 0..50 {
        let f = ds.factors(i);
        assert_eq!(imgs.label(i), Some(classes[i]));
        assert!(positions[i].0 <= 36 && positions[i].1 <= 36);
        // The object's top-left pixel is white (opaque object over the background).
        let (y, x) = f.position;
        assert_eq!(&imgs.image(i).data[(y * CANVAS + x) * 3..(y * CANVAS + x) * 3 + 3], &[255, 255, 255]);
    }
    // Deterministic in the seed.
    let again = ToyDataset::new(objects(), None, 50, 1).unwrap();
    assert_eq!(again.images().pixels(), imgs.pixels());
}

#[test]
fn pairs_share_exactly_the_chosen_factors() {
    let ds = ToyDataset::new(objects(), None, 30, 2).unwrap();
    for (share, i) in [
        (Shared { object: true, position: false, background: false }, 0),
        (Shared { object: false, position: true, background: false }, 1),
        (Shared { object: false, position: false, background: true }, 2),
        (Shared { object: true, position: true, background: true }, 3),
        (Shared::default(), 4),
    ] {
        for draw in 0..5 {
            let ((img_a, a), (img_b, b)) = ds.pair(i, share, draw);
            assert_eq!(a, ds.factors(i));
            assert_eq!(a.object_class == b.object_class, share.object, "{share:?}");
            assert_eq!(a.position == b.position, share.position, "{share:?}");
            assert_eq!(a.background == b.background, share.background, "{share:?}");
            assert_eq!(img_a.len(), img_b.len());
        }
    }
}

#[test]
fn bad_inputs() {
    let rgb = InMemoryDataset::new(Shape { channels: 3, height: 28, width: 28 }, vec![0; 3 * 784], Some(vec![0])).unwrap();
    assert!(ToyDataset::new(rgb, None, 5, 0).is_err());
    assert!(ToyDataset::new(objects(), None, 0, 0).is_err());
    let bg = InMemoryDataset::new(Shape { channels: 3, height: 64, width: 64 }, vec![0; 3 * 4096], Some(vec![12])).unwrap();
    assert!(ToyDataset::new(objects(), Some(bg), 5, 0).is_err());
}

#[test]
fn past_frames_replay_the_motion_and_stack_with_the_later_view() {
    use ssl_data::toy::{Factors, ToyPairs};
    let ds = std::sync::Arc::new(ToyDataset::new(objects(), None, 30, 4).unwrap());
    // A sample that moves: its past frames put the object where the motion was earlier.
    let i = (0..30).find(|&i| ds.factors(i).motion.velocity != (0, 0)).unwrap();
    let f = ds.factors(i);
    assert_eq!(f.motion.position_before(0), f.position);
    let frames = ds.past_frames(i, 3);
    assert_eq!(frames.len(), 3);
    for (k, frame) in frames.iter().enumerate() {
        let dt = 3 - k as i64; // oldest first
        assert_eq!(frame, &ds.render(&Factors { position: f.motion.position_before(dt), ..f }), "frame t - {dt}");
    }
    assert_ne!(frames[2], ds.render(&f), "the object moved since the last past frame");
    // The stacked image: channels 3k..3k+3 of every pixel are frame k, the last three the later view.
    let later = ds.partner(i, Shared { object: true, ..Default::default() }, 9);
    let seq = ds.sequence(i, 3, &later);
    let c = 12;
    let later_px = ds.render(&later);
    for p in [0, 777, CANVAS * CANVAS - 1] {
        assert_eq!(seq[p * c..p * c + 3], frames[0][p * 3..p * 3 + 3]);
        assert_eq!(seq[p * c + 6..p * c + 9], frames[2][p * 3..p * 3 + 3]);
        assert_eq!(seq[p * c + 9..p * c + 12], later_px[p * 3..p * 3 + 3]);
    }
    // As a training set: one image per sample of 12 channels; each epoch's v2 shares exactly the
    // chosen factors with the sample's own frame, v1 stays its past frames.
    let share = Shared { background: true, ..Default::default() };
    let pairs = ToyPairs::with_frames(ds.clone(), share, 3).unwrap();
    assert_eq!(pairs.shape(), Shape { channels: 12, height: CANVAS, width: CANVAS });
    assert_eq!(pairs.image(i).data, &ds.sequence(i, 3, &f)[..], "evaluation sees the sample's own frame as v2");
    for key in [1u64, 2] {
        let src = pairs.view_source(i, 0, key);
        let img = src.image();
        let v2 = pairs.view_factors(i, 1, key);
        assert!(v2.background == f.background && v2.object_class != f.object_class && v2.position != f.position);
        assert_eq!(img.data, &ds.sequence(i, 3, &v2)[..]);
    }
    assert!(ToyPairs::with_frames(ds, share, 0).is_err());
}
