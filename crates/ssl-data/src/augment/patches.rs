//! Two patches of one image at a chosen distance (InfoMin §3.2's spatial sweep, Tian et al. 2020,
//! seed 004; CPC-style patch views): the further apart, the less the two views share.
//!
//! [`RandomPatchPair`] draws a direction θ uniformly in [0, 2π), the offset
//! `(dx, dy) = (round(d·cos θ), round(d·sin θ))`, then the first patch's corner uniformly among
//! those where both patches lie inside the image. The result stacks the two patches along the
//! channels, `[2C, size, size]` (patch 1's channels, then patch 2's), so one draw holds both
//! views; a channel-split encoder (`ssl_models::split`, groups `[0..C) | [C..2C)`, shared)
//! takes them apart.

use rand::Rng;

use crate::error::DataError;
use crate::image::{ImageF32, Shape};

/// Two `size × size` patches whose corners are `distance` pixels apart (rounded per axis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomPatchPair {
    /// Patch side.
    pub size: usize,
    /// Distance between the patches' corners (equivalently, centres), in pixels.
    pub distance: f32,
}

impl RandomPatchPair {
    /// Checks `size >= 1` and a finite `distance >= 0`.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.size == 0 {
            return Err(DataError::param("size", "0: expected a patch side >= 1"));
        }
        if !(self.distance >= 0.0 && self.distance.is_finite()) {
            return Err(DataError::param("distance", format!("{}: expected a finite value >= 0", self.distance)));
        }
        Ok(())
    }

    /// The shape of the stacked pair for an image of shape `input`, or an error when the patches
    /// cannot lie inside it in every direction (`size + distance <= min(height, width)`).
    pub fn output_shape(&self, input: Shape) -> Result<Shape, DataError> {
        self.validate()?;
        let room = input.height.min(input.width);
        if self.size as f32 + self.distance > room as f32 {
            return Err(DataError::param(
                "distance",
                format!(
                    "patches of {} px at distance {} do not fit a {}x{} image in every direction: need size + distance <= {room}",
                    self.size, self.distance, input.height, input.width
                ),
            ));
        }
        Ok(Shape { channels: 2 * input.channels, height: self.size, width: self.size })
    }

    /// Draws the two patches' corners `((y1, x1), (y2, x2))` for an image of `height × width`.
    pub fn sample(&self, height: usize, width: usize, rng: &mut impl Rng) -> ((usize, usize), (usize, usize)) {
        let theta = rng.random::<f64>() * std::f64::consts::TAU;
        let d = f64::from(self.distance);
        let (dy, dx) = ((d * theta.sin()).round() as i64, (d * theta.cos()).round() as i64);
        let corner = |extent: usize, delta: i64, rng: &mut dyn rand::RngCore| -> (usize, usize) {
            let lo = (-delta).max(0);
            let hi = extent as i64 - self.size as i64 - delta.max(0);
            let a = rng.random_range(lo..=hi.max(lo));
            (a as usize, (a + delta) as usize)
        };
        let (y1, y2) = corner(height, dy, rng);
        let (x1, x2) = corner(width, dx, rng);
        ((y1, x1), (y2, x2))
    }

    /// The stacked pair of `img` (see [`RandomPatchPair::sample`]).
    pub fn apply(&self, img: &ImageF32, rng: &mut impl Rng) -> ImageF32 {
        let ((y1, x1), (y2, x2)) = self.sample(img.shape.height, img.shape.width, rng);
        patch_pair(img, self.size, (y1, x1), (y2, x2))
    }
}

/// The `size × size` patches of `img` at corners `a` and `b` (row, column), stacked along the
/// channels: `[2C, size, size]`.
pub fn patch_pair(img: &ImageF32, size: usize, a: (usize, usize), b: (usize, usize)) -> ImageF32 {
    let Shape { channels, width, .. } = img.shape;
    let mut data = Vec::with_capacity(2 * channels * size * size);
    for (y0, x0) in [a, b] {
        for c in 0..channels {
            let plane = img.channel(c);
            for y in y0..y0 + size {
                data.extend_from_slice(&plane[y * width + x0..y * width + x0 + size]);
            }
        }
    }
    ImageF32 { shape: Shape { channels: 2 * channels, height: size, width: size }, data }
}
