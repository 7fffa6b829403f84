//! Erasing / cutout: mirrors `torchvision.transforms.v2.functional.erase` and
//! `torchvision.transforms.v2.RandomErasing` (Zhong et al. 2017; SimCLR's "cutout" ablation,
//! DeVries & Taylor 2017).
//!
//! `RandomErasing` first draws whether to act (`u < p`), then up to 10 times an area `s·H·W` with
//! `s` uniform in `scale` and an aspect ratio `exp(u)` with `u` uniform in `[ln r₀, ln r₁]`; the
//! box `h = round(√(area·r))`, `w = round(√(area/r))` (Python's `round`: ties to even) is accepted
//! when `h < H` and `w < W` — a zero-sized box is accepted too and erases nothing, as in
//! torchvision — at a uniform position `top ∈ 0..=H−h`, `left ∈ 0..=W−w`. When no try fits,
//! nothing is erased. The fill is one constant for every channel (torchvision's default 0;
//! its `value="random"` noise fill is not implemented).

use rand::Rng;

use crate::augment::blur::check_p;
use crate::augment::crop::CropBox;
use crate::error::DataError;
use crate::image::ImageF32;

/// Sets the `h × w` box at (`top`, `left`) of every channel to `value` (clipped to the image).
pub fn erase(img: &mut ImageF32, top: usize, left: usize, h: usize, w: usize, value: f32) {
    let (ih, iw) = (img.shape.height, img.shape.width);
    for c in 0..img.shape.channels {
        let plane = img.channel_mut(c);
        for y in top.min(ih)..(top + h).min(ih) {
            for x in left.min(iw)..(left + w).min(iw) {
                plane[y * iw + x] = value;
            }
        }
    }
}

/// torchvision's `RandomErasing(p, scale, ratio, value)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomErasing {
    /// Probability of erasing.
    pub p: f64,
    /// Erased area as a fraction of the image, range.
    pub scale: (f64, f64),
    /// Aspect ratio range.
    pub ratio: (f64, f64),
    /// The fill value.
    pub value: f32,
}

impl Default for RandomErasing {
    fn default() -> Self {
        RandomErasing { p: 0.5, scale: (0.02, 0.33), ratio: (0.3, 3.3), value: 0.0 }
    }
}

impl RandomErasing {
    /// Checks the parameters: `p ∈ [0, 1]`, `0 ≤ scale.0 ≤ scale.1 ≤ 1`,
    /// `0 < ratio.0 ≤ ratio.1 < ∞`, a finite fill value.
    pub fn validate(&self) -> Result<(), DataError> {
        check_p("erase.p", self.p)?;
        if !(0.0 <= self.scale.0 && self.scale.0 <= self.scale.1 && self.scale.1 <= 1.0) {
            return Err(DataError::param("erase.scale", format!("{:?}: expected 0 <= min <= max <= 1", self.scale)));
        }
        if !(0.0 < self.ratio.0 && self.ratio.0 <= self.ratio.1 && self.ratio.1.is_finite()) {
            return Err(DataError::param("erase.ratio", format!("{:?}: expected 0 < min <= max", self.ratio)));
        }
        if !self.value.is_finite() {
            return Err(DataError::param("erase.value", format!("{}: expected a finite fill value", self.value)));
        }
        Ok(())
    }

    /// Draws the box as torchvision's `make_params` does, or `None` when no try fits.
    pub fn sample(&self, height: usize, width: usize, rng: &mut impl Rng) -> Option<CropBox> {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let a = area * uniform(rng, self.scale.0, self.scale.1);
            let r = uniform(rng, lr0, lr1).exp();
            let h = (a * r).sqrt().round_ties_even() as usize;
            let w = (a / r).sqrt().round_ties_even() as usize;
            if h < height && w < width {
                let top = rng.random_range(0..=height - h);
                let left = rng.random_range(0..=width - w);
                return Some(CropBox { top, left, height: h, width: w });
            }
        }
        None
    }

    /// Draws the box as torchvision does and erases it (with probability `p`).
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) {
        if rng.random::<f64>() >= self.p {
            return;
        }
        if let Some(b) = self.sample(img.shape.height, img.shape.width, rng) {
            erase(img, b.top, b.left, b.height, b.width, self.value);
        }
    }
}

/// Uniform in `[lo, hi)` like `torch.empty(1).uniform_(lo, hi)` (`lo` when the range is empty).
fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Shape;
    use crate::rng::view_rng;

    #[test]
    fn erase_clips_to_the_image() {
        let mut img = ImageF32 { shape: Shape { channels: 2, height: 3, width: 3 }, data: vec![1.0; 18] };
        erase(&mut img, 1, 2, 5, 5, 0.25);
        let plane = [1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 1.0, 1.0, 0.25];
        assert_eq!(img.channel(0), plane);
        assert_eq!(img.channel(1), plane);
    }

    #[test]
    fn boxes_fit_and_follow_the_scale_and_ratio() {
        let t = RandomErasing { p: 1.0, ..Default::default() };
        let mut rng = view_rng(3, 0, 0, 0);
        let (h, w) = (32usize, 24usize);
        let mut hits = 0;
        for _ in 0..2000 {
            if let Some(b) = t.sample(h, w, &mut rng) {
                hits += 1;
                assert!(b.height < h && b.width < w && b.top + b.height <= h && b.left + b.width <= w);
                // Rounding each side moves the area by at most about one row and one column.
                let area = (b.height * b.width) as f64;
                assert!(area <= 0.33 * (h * w) as f64 + (b.height + b.width) as f64 + 1.0, "{b:?}");
            }
        }
        assert!(hits > 1900, "{hits}");
    }

    #[test]
    fn p_zero_never_erases_and_a_full_scale_never_fits() {
        let mut img = ImageF32 { shape: Shape { channels: 1, height: 8, width: 8 }, data: vec![0.5; 64] };
        let mut rng = view_rng(0, 0, 0, 0);
        RandomErasing { p: 0.0, ..Default::default() }.apply(&mut img, &mut rng);
        // Area 1 with ratio 1 gives an 8x8 box, which torchvision rejects (h < H is required).
        RandomErasing { p: 1.0, scale: (1.0, 1.0), ratio: (1.0, 1.0), value: 0.0 }.apply(&mut img, &mut rng);
        assert!(img.data.iter().all(|&v| v == 0.5));
    }

    #[test]
    fn bad_parameters() {
        let e = |p, scale, ratio, value| RandomErasing { p, scale, ratio, value }.validate().is_err();
        assert!(e(1.5, (0.02, 0.33), (0.3, 3.3), 0.0));
        assert!(e(0.5, (0.5, 0.2), (0.3, 3.3), 0.0));
        assert!(e(0.5, (-0.1, 0.2), (0.3, 3.3), 0.0));
        assert!(e(0.5, (0.1, 1.2), (0.3, 3.3), 0.0));
        assert!(e(0.5, (0.02, 0.33), (0.0, 3.3), 0.0));
        assert!(e(0.5, (0.02, 0.33), (3.3, 0.3), 0.0));
        assert!(e(0.5, (0.02, 0.33), (0.3, 3.3), f32::NAN));
        assert!(!e(0.5, (0.0, 0.33), (0.3, 3.3), 0.0));
    }
}
