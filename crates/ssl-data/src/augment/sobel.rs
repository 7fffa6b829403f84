//! Sobel filtering (DeepCluster; SimCLR's and InfoMin's "Sobel" views). torchvision has no Sobel
//! op: [`sobel`] is `torchvision.transforms.v2.functional.rgb_to_grayscale` (weights 0.2989,
//! 0.587, 0.114; a one-channel image is used as is) followed by
//! `torch.nn.functional.conv2d(grey, weight, padding=1)` — a cross-correlation with zero padding
//! 1 — with DeepCluster's fixed kernels `Gx = [[1, 0, −1], [2, 0, −2], [1, 0, −1]]` and
//! `Gy = Gxᵀ`. The result is a 2-channel (Gx, Gy) image of the same height and width, values in
//! [−4, 4] for inputs in [0, 1]. (DeepCluster's own grey layer averages R, G, B with weight 1/3
//! each: grey the image that way and call [`sobel_grey`] to reproduce it exactly.)

use crate::augment::color::grayscale_plane;
use crate::image::{ImageF32, Shape};

/// The 2-channel (Gx, Gy) Sobel image of `img` (converted to grayscale first when RGB).
pub fn sobel(img: &ImageF32) -> ImageF32 {
    sobel_grey(&grayscale_plane(img), img.shape.height, img.shape.width)
}

/// The 2-channel (Gx, Gy) Sobel image of one grey plane of `h × w` values (row-major).
pub fn sobel_grey(g: &[f32], h: usize, w: usize) -> ImageF32 {
    assert_eq!(g.len(), h * w, "sobel_grey: {} values for {h}x{w}", g.len());
    let at = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            g[y as usize * w + x as usize]
        }
    };
    const KX: [[f32; 3]; 3] = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]];
    let mut out = ImageF32::zeros(Shape { channels: 2, height: h, width: w });
    for y in 0..h {
        for x in 0..w {
            let (mut gx, mut gy) = (0f32, 0f32);
            for (dy, row) in KX.iter().enumerate() {
                for (dx, &kx) in row.iter().enumerate() {
                    let v = at(y as isize + dy as isize - 1, x as isize + dx as isize - 1);
                    gx += kx * v;
                    gy += KX[dx][dy] * v;
                }
            }
            out.data[y * w + x] = gx;
            out.data[h * w + y * w + x] = gy;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vertical_edge_has_only_a_horizontal_gradient_inside() {
        // Left half 0, right half 1, 4 × 4, one channel.
        let data: Vec<f32> = (0..16).map(|i| if i % 4 >= 2 { 1.0 } else { 0.0 }).collect();
        let s = sobel(&ImageF32 { shape: Shape { channels: 1, height: 4, width: 4 }, data });
        // Row 1, column 1: Gx = Σ k·v = (0 − 1) + 2(0 − 1) + (0 − 1) = −4; Gy = 0.
        assert_eq!(s.data[4 + 1], -4.0);
        assert_eq!(s.data[16 + 4 + 1], 0.0);
    }
}
