//! Random resized crop: mirrors `torchvision.transforms.v2.RandomResizedCrop` (its `make_params`
//! box sampling, Python's ties-to-even `round` included) and
//! `torchvision.transforms.v2.functional.resized_crop(..., interpolation=BILINEAR,
//! antialias=True)`, whose resize is torch's `_upsample_bilinear2d_aa` (PIL's separable
//! triangle filter, widened by the scale factor when downscaling; `align_corners=False`).

use rand::Rng;

use crate::error::DataError;
use crate::image::{ImageF32, Shape};

/// A crop rectangle in pixels of the source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// `torchvision.transforms.RandomResizedCrop(size, scale, ratio)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomResizedCrop {
    /// Output side (square output).
    pub size: usize,
    /// Range of the crop's area as a fraction of the image's, e.g. `(0.08, 1.0)`.
    pub scale: (f64, f64),
    /// Range of the crop's aspect ratio (width / height), e.g. `(3/4, 4/3)`.
    pub ratio: (f64, f64),
}

impl RandomResizedCrop {
    /// Checks the parameters: `0 < scale.0 <= scale.1`, `0 < ratio.0 <= ratio.1`, `size > 0`.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.size == 0 {
            return Err(DataError::param("crop.size", "must be at least 1"));
        }
        let (s0, s1) = self.scale;
        if !(s0 > 0.0 && s0 <= s1 && s1.is_finite()) {
            return Err(DataError::param("crop.scale", format!("({s0}, {s1}): expected 0 < min <= max")));
        }
        let (r0, r1) = self.ratio;
        if !(r0 > 0.0 && r0 <= r1 && r1.is_finite()) {
            return Err(DataError::param("crop.ratio", format!("({r0}, {r1}): expected 0 < min <= max")));
        }
        Ok(())
    }

    /// Draws a crop box for an image of `height × width` exactly as torchvision's `get_params`:
    /// up to 10 tries of (area, log-ratio) sampling, then a centre-crop fallback.
    pub fn sample(&self, height: usize, width: usize, rng: &mut impl Rng) -> CropBox {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target_area = area * uniform(rng, self.scale.0, self.scale.1);
            let aspect = uniform(rng, lr0, lr1).exp();
            let w = (target_area * aspect).sqrt().round_ties_even();
            let h = (target_area / aspect).sqrt().round_ties_even();
            if w > 0.0 && h > 0.0 && w <= width as f64 && h <= height as f64 {
                let (w, h) = (w as usize, h as usize);
                let top = rng.random_range(0..=height - h);
                let left = rng.random_range(0..=width - w);
                return CropBox { top, left, height: h, width: w };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < self.ratio.0 {
            (width, ((width as f64 / self.ratio.0).round_ties_even() as usize).min(height))
        } else if in_ratio > self.ratio.1 {
            (((height as f64 * self.ratio.1).round_ties_even() as usize).min(width), height)
        } else {
            (width, height)
        };
        CropBox { top: (height - h) / 2, left: (width - w) / 2, height: h, width: w }
    }
}

/// Uniform in `[lo, hi)` (returns `lo` when the range is empty).
fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// Per-output-pixel taps of a 1-D antialiased bilinear resize (PIL / `_upsample_bilinear2d_aa`,
/// `align_corners=False`): the triangle filter is widened by the downscale factor.
struct Taps {
    /// First input index of each output pixel.
    start: Vec<usize>,
    /// Normalised weights of each output pixel, `support` apiece (zero-padded).
    weights: Vec<f32>,
    /// Taps per output pixel.
    support: usize,
}

fn taps(input: usize, output: usize) -> Taps {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    let radius = filter_scale; // bilinear filter support 1.0, widened when downscaling
    let support = (radius.ceil() as usize) * 2 + 1;
    let mut start = Vec::with_capacity(output);
    let mut weights = vec![0f32; output * support];
    for i in 0..output {
        let center = scale * (i as f64 + 0.5);
        let xmin = ((center - radius + 0.5).trunc().max(0.0)) as usize;
        let xmax = ((center + radius + 0.5).trunc() as usize).min(input);
        // Every tap of the filter, however wide (a 500 → 4 downscale has 251 taps per pixel).
        let n = xmax.saturating_sub(xmin).min(support);
        let tri = |j: usize| (1.0 - (((j + xmin) as f64 - center + 0.5) / filter_scale).abs()).max(0.0);
        let total: f64 = (0..n).map(tri).sum();
        for (j, wj) in weights[i * support..i * support + n].iter_mut().enumerate() {
            *wj = if total > 0.0 { (tri(j) / total) as f32 } else { 0.0 };
        }
        start.push(xmin);
    }
    Taps { start, weights, support }
}

/// Crops `bx` out of `img` and resizes it to `out_h × out_w` with antialiased bilinear
/// interpolation (torchvision `resized_crop(..., antialias=True)`), horizontal pass first.
pub fn resized_crop(img: &ImageF32, bx: CropBox, out_h: usize, out_w: usize) -> ImageF32 {
    let Shape { channels, height, width } = img.shape;
    debug_assert!(bx.top + bx.height <= height && bx.left + bx.width <= width);
    let tx = taps(bx.width, out_w);
    let ty = taps(bx.height, out_h);
    let mut out = ImageF32::zeros(Shape { channels, height: out_h, width: out_w });
    let mut tmp = vec![0f32; bx.height * out_w];
    for c in 0..channels {
        let src = img.channel(c);
        // Horizontal pass over the crop's rows.
        for y in 0..bx.height {
            let row = &src[(bx.top + y) * width + bx.left..(bx.top + y) * width + bx.left + bx.width];
            for x in 0..out_w {
                let s = tx.start[x];
                let w = &tx.weights[x * tx.support..(x + 1) * tx.support];
                let mut acc = 0f32;
                for (k, &wk) in w.iter().enumerate() {
                    if s + k < row.len() {
                        acc += wk * row[s + k];
                    }
                }
                tmp[y * out_w + x] = acc;
            }
        }
        // Vertical pass.
        let dst = out.channel_mut(c);
        for y in 0..out_h {
            let s = ty.start[y];
            let w = &ty.weights[y * ty.support..(y + 1) * ty.support];
            let drow = &mut dst[y * out_w..(y + 1) * out_w];
            for (k, &wk) in w.iter().enumerate() {
                if wk == 0.0 || s + k >= bx.height {
                    continue;
                }
                let srow = &tmp[(s + k) * out_w..(s + k + 1) * out_w];
                for (d, &v) in drow.iter_mut().zip(srow) {
                    *d += wk * v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::view_rng;

    #[test]
    fn identity_resize_keeps_pixels() {
        let shape = Shape { channels: 1, height: 3, width: 4 };
        let img = ImageF32 { shape, data: (0..12).map(|v| v as f32 / 11.0).collect() };
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 3, width: 4 }, 3, 4);
        for (a, b) in out.data.iter().zip(&img.data) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn halving_averages_pairs() {
        // Downscale 4 -> 2 with antialias: scale 2, triangle of radius 2 centred at 1.0 and 3.0:
        // weights for output 0 over inputs 0..3 at offsets -0.5,0.5,1.5 -> 0.75,0.75,0.25 (normalised).
        let shape = Shape { channels: 1, height: 1, width: 4 };
        let img = ImageF32 { shape, data: vec![0.0, 1.0, 2.0, 3.0] };
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 1, width: 4 }, 1, 2);
        let e0 = (0.75 * 0.0 + 0.75 * 1.0 + 0.25 * 2.0) / 1.75;
        let e1 = (0.25 * 1.0 + 0.75 * 2.0 + 0.75 * 3.0) / 1.75;
        assert!((out.data[0] - e0).abs() < 1e-6, "{} vs {e0}", out.data[0]);
        assert!((out.data[1] - e1).abs() < 1e-6, "{} vs {e1}", out.data[1]);
    }

    #[test]
    fn wide_downscales_use_every_input_pixel() {
        // 200 → 1: the triangle spans the whole row, so a linear ramp averages to its middle
        // (an earlier version kept at most 64 taps and drifted towards the left end).
        let shape = Shape { channels: 1, height: 1, width: 200 };
        let img = ImageF32 { shape, data: (0..200).map(|v| v as f32 / 199.0).collect() };
        let out = resized_crop(&img, CropBox { top: 0, left: 0, height: 1, width: 200 }, 1, 1);
        assert!((out.data[0] - 0.5).abs() < 1e-5, "{}", out.data[0]);
    }

    #[test]
    fn crop_boxes_stay_inside_and_respect_scale() {
        let t = RandomResizedCrop { size: 28, scale: (0.2, 1.0), ratio: (0.75, 4.0 / 3.0) };
        let mut rng = view_rng(1, 2, 3, 4);
        for _ in 0..2000 {
            let b = t.sample(28, 28, &mut rng);
            assert!(b.top + b.height <= 28 && b.left + b.width <= 28);
            assert!(b.height > 0 && b.width > 0);
        }
    }

    #[test]
    fn impossible_ratio_falls_back_to_centre_crop() {
        // A 10x100 strip with ratio fixed at 1: every try fails for scale 1, fallback is centred.
        let t = RandomResizedCrop { size: 8, scale: (1.0, 1.0), ratio: (1.0, 1.0) };
        let b = t.sample(10, 100, &mut view_rng(0, 0, 0, 0));
        assert_eq!(b, CropBox { top: 0, left: 45, height: 10, width: 10 });
    }

    #[test]
    fn bad_parameters_are_errors() {
        let t = RandomResizedCrop { size: 8, scale: (0.9, 0.1), ratio: (1.0, 1.0) };
        assert!(t.validate().is_err());
        let t = RandomResizedCrop { size: 0, scale: (0.1, 0.9), ratio: (1.0, 1.0) };
        assert!(t.validate().is_err());
    }
}
