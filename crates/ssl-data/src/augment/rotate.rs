//! Rotation by multiples of 90°: mirrors `torch.rot90(x, k, dims=(-2, -1))` (torchvision has no
//! transform of its own for it; `torchvision.transforms.v2.functional.rotate` by 90·k degrees with
//! `expand=True` gives the same pixels). Counter-clockwise, so a non-square image swaps its height
//! and width for odd `k`. Used by SimCLR's rotation ablation and RotNet-style pretext labels.

use rand::Rng;

use crate::augment::blur::check_p;
use crate::error::DataError;
use crate::image::{ImageF32, Shape};

/// Rotates by `k · 90°` counter-clockwise (`k` taken modulo 4).
pub fn rot90(img: &ImageF32, k: usize) -> ImageF32 {
    let Shape { channels: c, height: h, width: w } = img.shape;
    let k = k % 4;
    let (oh, ow) = if k % 2 == 1 { (w, h) } else { (h, w) };
    let mut out = ImageF32::zeros(Shape { channels: c, height: oh, width: ow });
    for ch in 0..c {
        let src = img.channel(ch);
        let dst = out.channel_mut(ch);
        for y in 0..oh {
            for x in 0..ow {
                // torch.rot90 (k = 1): out[i, j] = in[j, W − 1 − i].
                let (sy, sx) = match k {
                    0 => (y, x),
                    1 => (x, w - 1 - y),
                    2 => (h - 1 - y, w - 1 - x),
                    _ => (h - 1 - x, y),
                };
                dst[y * ow + x] = src[sy * w + sx];
            }
        }
    }
    out
}

/// Draws `k` uniformly from {0, 1, 2, 3}; returns the rotated image and `k` (a RotNet label).
pub fn random_rot90(img: &ImageF32, rng: &mut impl Rng) -> (ImageF32, usize) {
    let k = rng.random_range(0..4);
    (rot90(img, k), k)
}

/// Rotation by a random multiple of 90°: with probability `p`, `k` is drawn uniformly from
/// {0, 1, 2, 3} and the image rotated by `k · 90°` counter-clockwise (`p = 1`: SimCLR's rotation
/// ablation, RotNet). Odd `k` swap height and width of a non-square image.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomRotation90 {
    /// Probability of drawing a rotation at all (otherwise `k = 0`).
    pub p: f64,
}

impl Default for RandomRotation90 {
    fn default() -> Self {
        RandomRotation90 { p: 1.0 }
    }
}

impl RandomRotation90 {
    /// Checks `p ∈ [0, 1]`.
    pub fn validate(&self) -> Result<(), DataError> {
        check_p("rot90.p", self.p)
    }

    /// Draws `k` and rotates in place; returns `k` (the rotation label). With `p = 1` only `k` is
    /// drawn, so the draws are those of [`random_rot90`].
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) -> usize {
        if self.p < 1.0 && rng.random::<f64>() >= self.p {
            return 0;
        }
        let k = rng.random_range(0..4);
        if k != 0 {
            *img = rot90(img, k);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_torch_rot90_on_a_2x3() {
        // torch.rot90(torch.tensor([[1, 2, 3], [4, 5, 6]]), 1) = [[3, 6], [2, 5], [1, 4]].
        let img = ImageF32 { shape: Shape { channels: 1, height: 2, width: 3 }, data: vec![1., 2., 3., 4., 5., 6.] };
        let r = rot90(&img, 1);
        assert_eq!((r.shape.height, r.shape.width), (3, 2));
        assert_eq!(r.data, vec![3., 6., 2., 5., 1., 4.]);
        assert_eq!(rot90(&img, 2).data, vec![6., 5., 4., 3., 2., 1.]);
        assert_eq!(rot90(&img, 3).data, vec![4., 1., 5., 2., 6., 3.]);
        assert_eq!(rot90(&rot90(&img, 1), 3), img);
    }

    #[test]
    fn random_rotation_draws_every_k_and_validates_p() {
        let img = ImageF32 { shape: Shape { channels: 1, height: 2, width: 3 }, data: vec![1., 2., 3., 4., 5., 6.] };
        let mut rng = crate::rng::view_rng(0, 0, 0, 0);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            let mut x = img.clone();
            let k = RandomRotation90::default().apply(&mut x, &mut rng);
            assert_eq!(x, rot90(&img, k));
            counts[k] += 1;
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
        let mut x = img.clone();
        assert_eq!(RandomRotation90 { p: 0.0 }.apply(&mut x, &mut rng), 0);
        assert_eq!(x, img);
        assert!(RandomRotation90 { p: 1.5 }.validate().is_err() && RandomRotation90 { p: -0.1 }.validate().is_err());
        assert!(RandomRotation90::default().validate().is_ok());
    }
}
