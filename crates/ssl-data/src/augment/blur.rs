//! Gaussian blur: mirrors `torchvision.transforms.v2.functional.gaussian_blur` and the random
//! `torchvision.transforms.v2.GaussianBlur` applied with probability `p` (SimCLR/BYOL ImageNet
//! views, where it sits inside `RandomApply`).
//!
//! The kernel is separable: `k(x) = exp(−½ (x/σ)²)` for `x = −(n−1)/2 … (n−1)/2`, normalised to
//! sum 1 (torchvision builds the same values as a softmax); rows are filtered first, then columns
//! (torchvision convolves once with the outer-product 2-D kernel: equal up to f32 rounding, about
//! 6e-7 on the fixtures); borders use torch `reflect` padding (the edge pixel is not repeated:
//! `… 2 1 | 0 1 2 …`). Where torch refuses (a padding of at least the image side) this keeps
//! reflecting back and forth, and a one-pixel side repeats its pixel.
//! `RandomGaussianBlur` draws σ uniformly in `[σ_min, σ_max]` as torchvision's `make_params` does.

use rand::Rng;

use crate::error::DataError;
use crate::image::ImageF32;

/// The normalised 1-D Gaussian kernel of odd `size` and standard deviation `sigma`.
pub fn gaussian_kernel(size: usize, sigma: f32) -> Vec<f32> {
    let half = (size as f32 - 1.0) * 0.5;
    let k: Vec<f32> = (0..size).map(|i| (-0.5 * ((i as f32 - half) / sigma).powi(2)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// Index `i` reflected into `0..n` (torch `reflect` padding; `n ≥ 2`, or 0 for `n = 1`).
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let mut j = i.rem_euclid(period);
    if j >= n as isize {
        j = period - j;
    }
    j as usize
}

/// Blurs every channel with an odd `size` × `size` Gaussian of standard deviation `sigma` (> 0);
/// [`check_blur`] checks the two parameters.
pub fn gaussian_blur(img: &mut ImageF32, size: usize, sigma: f32) {
    debug_assert!(check_blur(size, sigma).is_ok(), "gaussian_blur({size}, {sigma})");
    let (h, w) = (img.shape.height, img.shape.width);
    let k = gaussian_kernel(size, sigma);
    let r = (size / 2) as isize;
    let mut tmp = vec![0f32; h * w];
    for c in 0..img.shape.channels {
        let plane = img.channel_mut(c);
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0f32;
                for (t, &kv) in k.iter().enumerate() {
                    acc += kv * plane[y * w + reflect(x as isize + t as isize - r, w)];
                }
                tmp[y * w + x] = acc;
            }
        }
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0f32;
                for (t, &kv) in k.iter().enumerate() {
                    acc += kv * tmp[reflect(y as isize + t as isize - r, h) * w + x];
                }
                plane[y * w + x] = acc;
            }
        }
    }
}

/// torchvision's `GaussianBlur(kernel_size, sigma=(lo, hi))` applied with probability `p`
/// (BYOL: p = 1.0 / 0.1 for its two views; SimCLR ImageNet: 0.5, kernel 10 % of the side).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RandomGaussianBlur {
    /// Odd kernel side.
    pub kernel_size: usize,
    /// σ is drawn uniformly from this range.
    pub sigma: (f32, f32),
    /// Probability of blurring.
    pub p: f64,
}

impl RandomGaussianBlur {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.kernel_size == 0 || self.kernel_size.is_multiple_of(2) {
            return Err(DataError::param("blur.kernel_size", format!("{}: expected an odd size >= 1", self.kernel_size)));
        }
        if !(self.sigma.0 > 0.0 && self.sigma.0 <= self.sigma.1 && self.sigma.1.is_finite()) {
            return Err(DataError::param("blur.sigma", format!("{:?}: expected 0 < min <= max", self.sigma)));
        }
        check_p("blur.p", self.p)
    }

    /// Draws whether (`u < p`) and how much (σ uniform in the range) to blur, then blurs.
    pub fn apply(&self, img: &mut ImageF32, rng: &mut impl Rng) {
        if rng.random::<f64>() < self.p {
            let sigma = rng.random_range(self.sigma.0..=self.sigma.1);
            gaussian_blur(img, self.kernel_size, sigma);
        }
    }
}

/// Checks a kernel side (odd, ≥ 1) and a standard deviation (finite, > 0), as torchvision does.
pub fn check_blur(kernel_size: usize, sigma: f32) -> Result<(), DataError> {
    if kernel_size == 0 || kernel_size.is_multiple_of(2) {
        return Err(DataError::param("blur.kernel_size", format!("{kernel_size}: expected an odd size >= 1")));
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(DataError::param("blur.sigma", format!("{sigma}: expected a finite sigma > 0")));
    }
    Ok(())
}

/// A probability in [0, 1], or a typed error naming the parameter.
pub(crate) fn check_p(name: &'static str, p: f64) -> Result<(), DataError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(DataError::param(name, format!("{p}: expected a probability in [0, 1]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Shape;

    #[test]
    fn reflect_padding_and_constant_images() {
        assert_eq!((-1..6).map(|i| reflect(i, 4)).collect::<Vec<_>>(), vec![1, 0, 1, 2, 3, 2, 1]);
        let mut img = ImageF32 { shape: Shape { channels: 1, height: 5, width: 4 }, data: vec![0.25; 20] };
        gaussian_blur(&mut img, 3, 1.0);
        assert!(img.data.iter().all(|v| (v - 0.25).abs() < 1e-6));
        assert!((gaussian_kernel(5, 2.0).iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bad_parameters() {
        let b = |k, s, p| RandomGaussianBlur { kernel_size: k, sigma: s, p }.validate().is_err();
        assert!(b(4, (0.1, 2.0), 0.5) && b(0, (0.1, 2.0), 0.5) && b(3, (-0.1, 2.0), 0.5) && b(3, (2.0, 1.0), 0.5) && b(3, (0.1, 2.0), 1.5));
        assert!(!b(3, (0.1, 2.0), 0.5) && !b(1, (0.5, 0.5), 0.0));
        assert!(check_blur(3, 0.0).is_err() && check_blur(3, f32::NAN).is_err() && check_blur(2, 1.0).is_err());
        assert!(check_blur(5, 1.0).is_ok());
    }
}
