//! Colour ops: mirror `torchvision.transforms.v2.functional.adjust_brightness`,
//! `adjust_contrast`, `adjust_saturation`, `adjust_hue`, `rgb_to_grayscale` and the random
//! `torchvision.transforms.v2.ColorJitter`.
//!
//! Semantics of `torchvision.transforms.v2.functional` on float images in `[0, 1]`: every op
//! clamps its result to `[0, 1]`. Grayscale weights are torchvision's (0.2989, 0.587, 0.114).
//! Saturation, hue and grayscale leave one-channel images unchanged, as torchvision does.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::DataError;
use crate::image::ImageF32;

/// Luma weights used by torchvision's `rgb_to_grayscale`.
pub const GRAY_WEIGHTS: [f32; 3] = [0.2989, 0.587, 0.114];

/// Per-pixel grayscale of an image (`[h*w]`); a one-channel image is returned as is.
pub fn grayscale_plane(img: &ImageF32) -> Vec<f32> {
    if img.shape.channels == 3 {
        let (r, g, b) = (img.channel(0), img.channel(1), img.channel(2));
        r.iter().zip(g).zip(b).map(|((&r, &g), &b)| luma(r, g, b)).collect()
    } else {
        img.channel(0).to_vec()
    }
}

/// torchvision's luma of one pixel.
#[inline(always)]
fn luma(r: f32, g: f32, b: f32) -> f32 {
    GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b
}

/// The three planes of an RGB image, mutably.
fn rgb_planes_mut(img: &mut ImageF32) -> (&mut [f32], &mut [f32], &mut [f32]) {
    let n = img.shape.height * img.shape.width;
    let (r, rest) = img.data.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    (r, g, &mut b[..n])
}

// The per-pixel loops below are compiled for AVX2 as well as the baseline and picked at run
// time (`multiversion`); Rust never contracts `a * b + c` into an FMA nor reassociates sums, so
// both versions do the same arithmetic in the same order.

/// `brightness`: `x ↦ clamp(f·x)`.
pub fn adjust_brightness(img: &mut ImageF32, factor: f32) {
    scale_clamp(&mut img.data, factor, 0.0);
}

/// `x ↦ clamp(f·x + offset, 0, 1)` over a slice.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn scale_clamp(data: &mut [f32], factor: f32, offset: f32) {
    for v in data {
        *v = (*v * factor + offset).clamp(0.0, 1.0);
    }
}

/// Mean luma of an RGB image (or mean of a grey one), summed in f64 over eight lanes.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn mean_luma(img: &ImageF32) -> f32 {
    let n = img.shape.height * img.shape.width;
    if n == 0 {
        return 0.0;
    }
    let mut lanes = [0f64; 8];
    let mut add = |v: [f32; 8]| {
        for (l, v) in lanes.iter_mut().zip(v) {
            *l += f64::from(v);
        }
    };
    if img.shape.channels == 3 {
        let (r, g, b) = (img.channel(0), img.channel(1), img.channel(2));
        let (rc, gc, bc) = (r.chunks_exact(8), g.chunks_exact(8), b.chunks_exact(8));
        let (rt, gt, bt) = (rc.remainder(), gc.remainder(), bc.remainder());
        for ((r, g), b) in rc.zip(gc).zip(bc) {
            add(std::array::from_fn(|i| luma(r[i], g[i], b[i])));
        }
        add(std::array::from_fn(|i| if i < rt.len() { luma(rt[i], gt[i], bt[i]) } else { 0.0 }));
    } else {
        let c = img.channel(0).chunks_exact(8);
        let t = c.remainder();
        for x in c {
            add(std::array::from_fn(|i| x[i]));
        }
        add(std::array::from_fn(|i| t.get(i).copied().unwrap_or(0.0)));
    }
    (lanes.iter().sum::<f64>() / n as f64) as f32
}

/// `contrast`: blend with the mean of the image's grayscale, `x ↦ clamp(f·x + (1−f)·mean)`.
pub fn adjust_contrast(img: &mut ImageF32, factor: f32) {
    let mean = mean_luma(img);
    scale_clamp(&mut img.data, factor, (1.0 - factor) * mean);
}

/// `saturation`: blend each pixel with its grayscale, `x ↦ clamp(f·x + (1−f)·gray)`.
pub fn adjust_saturation(img: &mut ImageF32, factor: f32) {
    if img.shape.channels != 3 {
        return;
    }
    let (r, g, b) = rgb_planes_mut(img);
    blend_with_luma(r, g, b, factor);
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn blend_with_luma(r: &mut [f32], g: &mut [f32], b: &mut [f32], factor: f32) {
    let keep = 1.0 - factor;
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let y = luma(*r, *g, *b);
        *r = (*r * factor + keep * y).clamp(0.0, 1.0);
        *g = (*g * factor + keep * y).clamp(0.0, 1.0);
        *b = (*b * factor + keep * y).clamp(0.0, 1.0);
    }
}

/// `hue`: rotates the hue of every pixel by `shift` turns in HSV (`(h + shift) mod 1`).
pub fn adjust_hue(img: &mut ImageF32, shift: f32) {
    if img.shape.channels != 3 || shift == 0.0 {
        return;
    }
    let (r, g, b) = rgb_planes_mut(img);
    if (-1.0..=1.0).contains(&shift) {
        rotate_hue(r, g, b, shift);
    } else {
        for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
            let (h, s, v) = rgb_to_hsv(*r, *g, *b);
            (*r, *g, *b) = hsv_to_rgb((h + shift).rem_euclid(1.0), s, v);
        }
    }
}

/// The hue rotation for `|shift| ≤ 1`, branch-free so that it vectorises. A hue rotation keeps
/// each pixel's max `V` and chroma `C = max − min`, so it needs one reciprocal per pixel: the
/// hue in sextants `H = 6h` from the usual piecewise formula, `H' = (H + 6·shift) mod 6`, and
/// channel `n ∈ {5, 3, 1}` (R, G, B) `= V − C·clamp(min(k, 4 − k), 0, 1)`, `k = (n + H') mod 6`
/// — the same function as torchvision's `_rgb_to_hsv` → shift → `_hsv_to_rgb`, to f32 rounding.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn rotate_hue(r: &mut [f32], g: &mut [f32], b: &mut [f32], shift: f32) {
    let turn = 6.0 * shift;
    let channel = |n: f32, hue: f32, v: f32, c: f32| {
        let k = n + hue;
        let k = if k >= 6.0 { k - 6.0 } else { k };
        v - c * k.min(4.0 - k).clamp(0.0, 1.0)
    };
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let (rv, gv, bv) = (*r, *g, *b);
        let v = rv.max(gv).max(bv);
        let c = v - rv.min(gv).min(bv);
        let inv = if c > 0.0 { 1.0 / c } else { 0.0 };
        let hue = if v == rv {
            (gv - bv) * inv
        } else if v == gv {
            2.0 + (bv - rv) * inv
        } else {
            4.0 + (rv - gv) * inv
        };
        // hue + turn ∈ [−7, 11): two conditional steps of 6 each way land in [0, 6).
        let hue = hue + turn;
        let hue = if hue < 0.0 { hue + 6.0 } else { hue };
        let hue = if hue < 0.0 { hue + 6.0 } else { hue };
        let hue = if hue >= 6.0 { hue - 6.0 } else { hue };
        let hue = if hue >= 6.0 { hue - 6.0 } else { hue };
        (*r, *g, *b) = (channel(5.0, hue, v, c), channel(3.0, hue, v, c), channel(1.0, hue, v, c));
    }
}

/// RGB → HSV with H in `[0, 1)` (torchvision's `_rgb_to_hsv`).
pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let cr = maxc - minc;
    let eqc = cr == 0.0;
    let s = cr / if maxc == 0.0 { 1.0 } else { maxc };
    let crd = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / crd;
    let gc = (maxc - g) / crd;
    let bc = (maxc - b) / crd;
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    // h/6 + 1 lies in [5/6, 11/6): wrapping by one subtraction equals rem_euclid(1.0) exactly,
    // without a libm fmod call per pixel.
    let t = h / 6.0 + 1.0;
    let h = if t >= 1.0 { t - 1.0 } else { t };
    (if eqc { 0.0 } else { h }, s, maxc)
}

/// HSV → RGB (torchvision's `_hsv_to_rgb`): sector `floor(6h) mod 6`, fraction `6h − floor(6h)`.
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match (i as i32).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// Converts to grayscale, keeping the number of channels (torchvision `RandomGrayscale`).
pub fn grayscale(img: &mut ImageF32) {
    if img.shape.channels != 3 {
        return;
    }
    let (r, g, b) = rgb_planes_mut(img);
    to_luma(r, g, b);
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn to_luma(r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let y = luma(*r, *g, *b);
        (*r, *g, *b) = (y, y, y);
    }
}

/// `torchvision.transforms.ColorJitter(brightness, contrast, saturation, hue)`.
///
/// Factors are uniform in `[max(0, 1−x), 1+x]`, the hue shift uniform in `[−h, h]`; the four
/// ops run in a random order per image; an op with strength 0 is skipped.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ColorJitter {
    /// Brightness strength.
    pub brightness: f32,
    /// Contrast strength.
    pub contrast: f32,
    /// Saturation strength.
    pub saturation: f32,
    /// Hue strength, at most 0.5.
    pub hue: f32,
}

impl ColorJitter {
    /// Checks the strengths: non-negative, hue ≤ 0.5.
    pub fn validate(&self) -> Result<(), DataError> {
        for (name, x) in [("jitter.brightness", self.brightness), ("jitter.contrast", self.contrast), ("jitter.saturation", self.saturation)] {
            if !(x >= 0.0 && x.is_finite()) {
                return Err(DataError::param(name, format!("{x}: expected a finite value >= 0")));
            }
        }
        if !(0.0..=0.5).contains(&self.hue) {
            return Err(DataError::param("jitter.hue", format!("{}: expected 0 <= hue <= 0.5", self.hue)));
        }
        Ok(())
    }

    /// Draws the op order and factors, then applies them.
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) {
        let mut order = [0usize, 1, 2, 3];
        order.shuffle(rng);
        let factor = |rng: &mut dyn rand::RngCore, x: f32| {
            let lo = (1.0 - x).max(0.0);
            if x > 0.0 {
                rng.random_range(lo..=1.0 + x)
            } else {
                1.0
            }
        };
        let b = factor(rng, self.brightness);
        let c = factor(rng, self.contrast);
        let s = factor(rng, self.saturation);
        let h = if self.hue > 0.0 { rng.random_range(-self.hue..=self.hue) } else { 0.0 };
        for op in order {
            match op {
                0 if self.brightness > 0.0 => adjust_brightness(img, b),
                1 if self.contrast > 0.0 => adjust_contrast(img, c),
                2 if self.saturation > 0.0 => adjust_saturation(img, s),
                3 if self.hue > 0.0 => adjust_hue(img, h),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Shape;

    fn rgb(data: Vec<f32>) -> ImageF32 {
        ImageF32 { shape: Shape { channels: 3, height: 1, width: data.len() / 3 }, data }
    }

    #[test]
    fn brightness_scales_and_clamps() {
        let mut img = rgb(vec![0.2, 0.6, 0.1, 0.9, 0.5, 0.3]);
        adjust_brightness(&mut img, 1.5);
        let want = [0.3, 0.9, 0.15, 1.0, 0.75, 0.45];
        for (a, b) in img.data.iter().zip(want) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn contrast_blends_with_grey_mean() {
        // One grey channel: mean = 0.5; factor 0.5 -> 0.5*x + 0.25.
        let mut img = ImageF32 { shape: Shape { channels: 1, height: 1, width: 2 }, data: vec![0.2, 0.8] };
        adjust_contrast(&mut img, 0.5);
        assert!((img.data[0] - 0.35).abs() < 1e-6 && (img.data[1] - 0.65).abs() < 1e-6);
    }

    #[test]
    fn hsv_round_trip() {
        for &(r, g, b) in &[(0.1, 0.5, 0.9), (0.9, 0.2, 0.2), (0.3, 0.3, 0.3), (0.0, 1.0, 0.5)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
        }
    }

    #[test]
    fn hue_rotation_equals_torchvision_hsv_round_trip() {
        // The one-reciprocal rotation against torchvision's literal path (rgb → hsv, shift
        // mod 1, hsv → rgb) on random pixels plus greys, ties and pure colours, every shift.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut px: Vec<[f32; 3]> = (0..4000).map(|_| [rng.random(), rng.random(), rng.random()]).collect();
        px.extend([
            [0.0; 3],
            [1.0; 3],
            [0.5; 3],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.7, 0.7, 0.2],
            [0.2, 0.7, 0.7],
            [0.7, 0.2, 0.7],
            [1.0, 1.0, 0.0],
        ]);
        let mut worst = 0f32;
        for shift in [-1.0, -0.5, -0.37, -0.1, 1e-4, 0.05, 0.25, 0.5, 0.83, 1.0] {
            let (mut r, mut g, mut b): (Vec<f32>, Vec<f32>, Vec<f32>) =
                (px.iter().map(|p| p[0]).collect(), px.iter().map(|p| p[1]).collect(), px.iter().map(|p| p[2]).collect());
            rotate_hue(&mut r, &mut g, &mut b, shift);
            for (i, p) in px.iter().enumerate() {
                let (h, s, v) = rgb_to_hsv(p[0], p[1], p[2]);
                let want = hsv_to_rgb((h + shift).rem_euclid(1.0), s, v);
                for (got, want) in [(r[i], want.0), (g[i], want.1), (b[i], want.2)] {
                    worst = worst.max((got - want).abs());
                }
            }
        }
        assert!(worst < 2e-6, "worst difference {worst}");
    }

    #[test]
    fn full_hue_turn_is_identity() {
        let mut img = rgb(vec![0.1, 0.5, 0.9, 0.7, 0.2, 0.4]);
        let orig = img.clone();
        adjust_hue(&mut img, 0.5);
        adjust_hue(&mut img, -0.5);
        for (a, b) in img.data.iter().zip(&orig.data) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn grayscale_on_one_channel_is_noop() {
        let mut img = ImageF32 { shape: Shape { channels: 1, height: 1, width: 2 }, data: vec![0.2, 0.8] };
        grayscale(&mut img);
        assert_eq!(img.data, vec![0.2, 0.8]);
    }
}
