//! Solarisation: mirrors `torchvision.transforms.v2.functional.solarize` and
//! `torchvision.transforms.v2.RandomSolarize` (BYOL's and Barlow Twins' second view): every value
//! `x ≥ threshold` becomes `1 − x` (float images; torchvision refuses a threshold above 1).

use rand::Rng;

use crate::augment::blur::check_p;
use crate::error::DataError;
use crate::image::ImageF32;

/// Inverts the values at or above `threshold`.
pub fn solarize(img: &mut ImageF32, threshold: f32) {
    for v in &mut img.data {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    }
}

/// `RandomSolarize(threshold, p)` (BYOL: threshold 0.5, p 0 / 0.2 for its two views).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomSolarize {
    /// Values at or above it are inverted.
    pub threshold: f32,
    /// Probability.
    pub p: f64,
}

impl RandomSolarize {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), DataError> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(DataError::param("solarize.threshold", format!("{}: expected a value in [0, 1]", self.threshold)));
        }
        check_p("solarize.p", self.p)
    }

    /// Solarises with probability `p`.
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) {
        if rng.random::<f64>() < self.p {
            solarize(img, self.threshold);
        }
    }
}
