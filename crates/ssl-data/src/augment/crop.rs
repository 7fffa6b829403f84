//! Random resized crop: mirrors `torchvision.transforms.v2.RandomResizedCrop` (its `make_params`
//! box sampling, Python's ties-to-even `round` included) and
//! `torchvision.transforms.v2.functional.resized_crop(..., interpolation=BILINEAR,
//! antialias=True)`, whose resize is torch's `_upsample_bilinear2d_aa` (PIL's separable
//! triangle filter, widened by the scale factor when downscaling; `align_corners=False`).

use rand::Rng;

use crate::error::DataError;
use crate::image::{ImageF32, ImageRef, Shape};

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
    /// Number of taps of each output pixel (`start + count <= input`).
    count: Vec<usize>,
    /// Normalised weights of each output pixel, `width` apiece (zero-padded after `count`).
    weights: Vec<f32>,
    /// Weight slots per output pixel: the largest `count`.
    width: usize,
}

impl Taps {
    /// The input indices' start and the weights of output pixel `i`.
    #[inline(always)]
    fn of(&self, i: usize) -> (usize, &[f32]) {
        (self.start[i], &self.weights[i * self.width..i * self.width + self.count[i]])
    }
}

/// The taps of an `input → output` resize, every weight multiplied by `gain`.
fn taps(input: usize, output: usize, gain: f64) -> Taps {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    let radius = filter_scale; // bilinear filter support 1.0, widened when downscaling
    let support = (radius.ceil() as usize) * 2 + 1;
    let mut start = Vec::with_capacity(output);
    let mut count = Vec::with_capacity(output);
    let mut all = vec![0f32; output * support];
    for i in 0..output {
        let center = scale * (i as f64 + 0.5);
        let xmin = ((center - radius + 0.5).trunc().max(0.0)) as usize;
        let xmax = ((center + radius + 0.5).trunc() as usize).min(input);
        // Every tap of the filter, however wide (a 500 → 4 downscale has 251 taps per pixel).
        let n = xmax.saturating_sub(xmin).min(support);
        let tri = |j: usize| (1.0 - (((j + xmin) as f64 - center + 0.5) / filter_scale).abs()).max(0.0);
        let total: f64 = (0..n).map(tri).sum();
        for (j, wj) in all[i * support..i * support + n].iter_mut().enumerate() {
            *wj = if total > 0.0 { (gain * tri(j) / total) as f32 } else { 0.0 };
        }
        start.push(xmin);
        count.push(n);
    }
    // Repack to the widest pixel's count (2 or 3 for the usual crops, not `support`).
    let width = count.iter().copied().max().unwrap_or(0).max(1);
    let mut weights = vec![0f32; output * width];
    for (i, &n) in count.iter().enumerate() {
        weights[i * width..i * width + n].copy_from_slice(&all[i * support..i * support + n]);
    }
    Taps { start, count, weights, width }
}

/// Crops `bx` out of `img` and resizes it to `out_h × out_w` with antialiased bilinear
/// interpolation (torchvision `resized_crop(..., antialias=True)`), horizontal pass first.
pub fn resized_crop(img: &ImageF32, bx: CropBox, out_h: usize, out_w: usize) -> ImageF32 {
    let Shape { channels, height, width } = img.shape;
    debug_assert!(bx.top + bx.height <= height && bx.left + bx.width <= width);
    let tx = taps(bx.width, out_w, 1.0);
    let ty = taps(bx.height, out_h, 1.0);
    let mut out = ImageF32::zeros(Shape { channels, height: out_h, width: out_w });
    let mut tmp = vec![0f32; bx.height * out_w];
    for c in 0..channels {
        let src = img.channel(c);
        // Horizontal pass over the crop's rows.
        for y in 0..bx.height {
            let row = &src[(bx.top + y) * width + bx.left..(bx.top + y) * width + bx.left + bx.width];
            for x in 0..out_w {
                let (s, w) = tx.of(x);
                tmp[y * out_w + x] = w.iter().zip(&row[s..s + w.len()]).map(|(&wk, &v)| wk * v).sum();
            }
        }
        vertical_pass(&tmp, out_w, &ty, out.channel_mut(c));
    }
    out
}

/// [`resized_crop`] straight from a decoded `u8` image (HWC), giving the planar `f32` view in
/// `[0, 1]` that `resized_crop(&img.to_f32(), ..)` gives (to float rounding) without converting
/// the whole source first; `mirror` also flips it left ↔ right (torchvision's
/// `horizontal_flip` after the crop).
pub fn resized_crop_u8(img: ImageRef<'_>, bx: CropBox, out_h: usize, out_w: usize, mirror: bool) -> ImageF32 {
    let mut out = ImageF32 { shape: Shape { channels: img.shape.channels, height: out_h, width: out_w }, data: Vec::new() };
    resized_crop_u8_into(img, bx, mirror, &mut out, &mut Vec::new());
    out
}

/// [`resized_crop_u8`] into `out` (its shape gives the output size; its buffer is reused), with
/// `row` as scratch. Vertical pass first, straight from the `u8` rows (vectorised), then the
/// horizontal pass on each output row, all channels of a pixel at once.
pub(crate) fn resized_crop_u8_into(img: ImageRef<'_>, bx: CropBox, mirror: bool, out: &mut ImageF32, row: &mut Vec<f32>) {
    let Shape { channels: c, height, width } = img.shape;
    let (out_h, out_w) = (out.shape.height, out.shape.width);
    debug_assert!(bx.top + bx.height <= height && bx.left + bx.width <= width && out.shape.channels == c);
    // The 1/255 of the u8 → [0, 1] conversion rides on the vertical weights.
    let ty = taps(bx.height, out_h, 1.0 / 255.0);
    let tx = taps(bx.width, out_w, 1.0);
    let span = bx.width * c;
    // Zero padding after the row: pixels beyond a tap count (zero weight) and the fourth lane
    // of the last RGB pixel are read, never out of bounds.
    row.clear();
    row.resize(span + (tx.width + 1) * c + 1, 0.0);
    // Every output value is written below: no need to clear the old ones.
    out.data.resize(c * out_h * out_w, 0.0);
    let plane = out_h * out_w;
    for y in 0..out_h {
        let (s, w) = ty.of(y);
        let src = |k: usize| {
            let at = ((bx.top + s + k) * width + bx.left) * c;
            &img.data[at..at + span]
        };
        vertical_u8(&mut row[..span], w, src);
        let at = y * out_w;
        if c == 3 {
            let (r, rest) = out.data.split_at_mut(plane);
            let (g, b) = rest.split_at_mut(plane);
            horizontal_rgb(row, &tx, mirror, &mut r[at..at + out_w], &mut g[at..at + out_w], &mut b[at..at + out_w]);
        } else {
            for ch in 0..c {
                let dst = &mut out.data[ch * plane + at..ch * plane + at + out_w];
                for x in 0..out_w {
                    let (s, w) = tx.of(x);
                    let v = w.iter().enumerate().map(|(k, &wk)| wk * row[(s + k) * c + ch]).sum();
                    dst[if mirror { out_w - 1 - x } else { x }] = v;
                }
            }
        }
    }
}

/// `row = Σ_k w_k · src(k)` over `u8` rows (vectorised).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn vertical_u8<'a>(row: &mut [f32], w: &[f32], src: impl Fn(usize) -> &'a [u8]) {
    match w.split_first() {
        None => row.fill(0.0),
        Some((&w0, rest)) => {
            for (o, &v) in row.iter_mut().zip(src(0)) {
                *o = w0 * f32::from(v);
            }
            for (k, &wk) in rest.iter().enumerate() {
                for (o, &v) in row.iter_mut().zip(src(k + 1)) {
                    *o += wk * f32::from(v);
                }
            }
        }
    }
}

/// The horizontal pass of one interleaved RGB row into three planar rows: each output pixel
/// sums its taps over four lanes (R, G, B and the next pixel's R, unused), so the three
/// channels share one vector multiply-add per tap. Tap counts up to 4 get an unrolled loop.
fn horizontal_rgb(row: &[f32], tx: &Taps, mirror: bool, r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    match tx.width {
        1 => horizontal_rgb_k::<1>(row, tx, mirror, r, g, b),
        2 => horizontal_rgb_k::<2>(row, tx, mirror, r, g, b),
        3 => horizontal_rgb_k::<3>(row, tx, mirror, r, g, b),
        4 => horizontal_rgb_k::<4>(row, tx, mirror, r, g, b),
        _ => {
            let n = r.len();
            for x in 0..n {
                let (s, w) = tx.of(x);
                let mut acc = [0f32; 3];
                for (k, &wk) in w.iter().enumerate() {
                    for (l, a) in acc.iter_mut().enumerate() {
                        *a += wk * row[(s + k) * 3 + l];
                    }
                }
                let xo = if mirror { n - 1 - x } else { x };
                (r[xo], g[xo], b[xo]) = (acc[0], acc[1], acc[2]);
            }
        }
    }
}

/// [`horizontal_rgb`] for exactly `K` weight slots per pixel (zero-padded ones included).
#[inline(always)]
fn horizontal_rgb_k<const K: usize>(row: &[f32], tx: &Taps, mirror: bool, r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    let n = r.len();
    for (x, (&s, w)) in tx.start.iter().zip(tx.weights.chunks_exact(K)).enumerate().take(n) {
        let win = &row[s * 3..s * 3 + 3 * K + 1];
        let acc = taps4::<K>(win, w);
        let xo = if mirror { n - 1 - x } else { x };
        (r[xo], g[xo], b[xo]) = (acc[0], acc[1], acc[2]);
    }
}

/// `Σ_k w_k · win[3k .. 3k + 4]` (four lanes; the products are added in tap order).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn taps4<const K: usize>(win: &[f32], w: &[f32]) -> [f32; 4] {
    use std::arch::x86_64::{_mm_add_ps, _mm_loadu_ps, _mm_mul_ps, _mm_set1_ps, _mm_setzero_ps, _mm_storeu_ps};
    assert!(win.len() > 3 * K && w.len() >= K);
    let mut out = [0f32; 4];
    // SAFETY: SSE is part of the x86_64 baseline; every load reads win[3k .. 3k + 4], inside
    // `win` by the assert above, and the store writes the four floats of `out`.
    unsafe {
        let mut acc = _mm_setzero_ps();
        for (k, &wk) in w[..K].iter().enumerate() {
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(wk), _mm_loadu_ps(win.as_ptr().add(3 * k))));
        }
        _mm_storeu_ps(out.as_mut_ptr(), acc);
    }
    out
}

/// `Σ_k w_k · win[3k .. 3k + 4]` (four lanes; the products are added in tap order).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn taps4<const K: usize>(win: &[f32], w: &[f32]) -> [f32; 4] {
    let mut acc = [0f32; 4];
    for k in 0..K {
        for l in 0..4 {
            acc[l] += w[k] * win[3 * k + l];
        }
    }
    acc
}

/// The vertical pass of a separable resize: output row `y` = Σ_k w_k · (input row `s_y + k`).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn vertical_pass(src: &[f32], width: usize, ty: &Taps, dst: &mut [f32]) {
    for (y, drow) in dst.chunks_exact_mut(width).enumerate() {
        let (s, w) = ty.of(y);
        drow.fill(0.0);
        for (k, &wk) in w.iter().enumerate() {
            let srow = &src[(s + k) * width..(s + k + 1) * width];
            for (d, &v) in drow.iter_mut().zip(srow) {
                *d += wk * v;
            }
        }
    }
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
