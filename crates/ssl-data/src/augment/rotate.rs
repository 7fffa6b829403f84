//! Rotation by multiples of 90° (`torch.rot90(x, k, dims=(-2, -1))`; RotNet-style views):
//! counter-clockwise, so a non-square image swaps its height and width for odd `k`.

use rand::Rng;

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
}
