//! Erasing / cutout (torchvision `erase`, `RandomErasing`; DeVries & Taylor 2017).
//!
//! `RandomErasing` draws, up to 10 times, an area `s·H·W` with `s` uniform in `scale` and an
//! aspect ratio `exp(u)` with `u` uniform in `[ln r₀, ln r₁]`; the box `h = round(√(area·r))`,
//! `w = round(√(area/r))` is accepted when it fits, at a uniform position; otherwise nothing is
//! erased.

use rand::Rng;

use crate::augment::blur::check_p;
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
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), DataError> {
        check_p("erase.p", self.p)?;
        if !(0.0 < self.scale.0 && self.scale.0 <= self.scale.1 && self.scale.1 <= 1.0) {
            return Err(DataError::param("erase.scale", format!("{:?}: expected 0 < min <= max <= 1", self.scale)));
        }
        if !(0.0 < self.ratio.0 && self.ratio.0 <= self.ratio.1) {
            return Err(DataError::param("erase.ratio", format!("{:?}: expected 0 < min <= max", self.ratio)));
        }
        Ok(())
    }

    /// Draws the box as torchvision does and erases it (with probability `p`).
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) {
        if rng.random::<f64>() >= self.p {
            return;
        }
        let (ih, iw) = (img.shape.height, img.shape.width);
        let area = (ih * iw) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let a = area * rng.random_range(self.scale.0..=self.scale.1);
            let r = rng.random_range(lr0..=lr1).exp();
            let h = (a * r).sqrt().round() as usize;
            let w = (a / r).sqrt().round() as usize;
            if h < ih && w < iw && h > 0 && w > 0 {
                let top = rng.random_range(0..=ih - h);
                let left = rng.random_range(0..=iw - w);
                erase(img, top, left, h, w, self.value);
                return;
            }
        }
    }
}
