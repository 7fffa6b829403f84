//! View recipes: one decoded image in, one normalised planar `f32` view out.

use rand::Rng;

use crate::augment::{grayscale, resized_crop_u8, ColorJitter, RandomResizedCrop};
use crate::error::DataError;
use crate::image::{ImageRef, Shape};
use crate::rng::ViewRng;

/// Turns an image into one random view, writing `output_shape(input).len()` values into `out`.
pub trait ViewTransform: Send + Sync {
    /// The shape of a view of an image of shape `input`.
    fn output_shape(&self, input: Shape) -> Shape;
    /// Draws parameters from `rng` and writes the view (CHW, normalised) into `out`.
    fn apply(&self, img: ImageRef<'_>, rng: &mut ViewRng, out: &mut [f32]);
    /// The view number `view` of an image (batches call this); transforms that differ per view
    /// (BYOL's asymmetric pair, colour-split views) override it. Default: [`ViewTransform::apply`].
    fn apply_view(&self, img: ImageRef<'_>, view: usize, rng: &mut ViewRng, out: &mut [f32]) {
        let _ = view;
        self.apply(img, rng, out)
    }
}

/// A different transform per view: view `v` uses `transforms[v % len]` (BYOL's asymmetric views:
/// blur p = 1.0 / 0.1, solarize 0 / 0.2). All transforms must give views of one shape.
pub struct PerView {
    /// The transforms, cycled over the views.
    pub transforms: Vec<std::sync::Arc<dyn ViewTransform>>,
}

impl PerView {
    /// Checks that there is at least one transform and that all give the same shape for `input`.
    pub fn check(&self, input: Shape) -> Result<(), DataError> {
        let first = self.transforms.first().ok_or_else(|| DataError::param("views", "no view transform given".to_string()))?.output_shape(input);
        if let Some((i, t)) = self.transforms.iter().enumerate().find(|(_, t)| t.output_shape(input) != first) {
            return Err(DataError::param("views", format!("view {i} gives {:?}, view 0 gives {first:?}: every view needs one shape", t.output_shape(input))));
        }
        Ok(())
    }
}

impl ViewTransform for PerView {
    fn output_shape(&self, input: Shape) -> Shape {
        self.transforms[0].output_shape(input)
    }
    fn apply(&self, img: ImageRef<'_>, rng: &mut ViewRng, out: &mut [f32]) {
        self.transforms[0].apply_view(img, 0, rng, out)
    }
    fn apply_view(&self, img: ImageRef<'_>, view: usize, rng: &mut ViewRng, out: &mut [f32]) {
        self.transforms[view % self.transforms.len()].apply_view(img, view, rng, out)
    }
}

/// The SimCLR view (Chen et al. 2020, seed 001 §3 and appendix A): random resized crop,
/// horizontal flip, colour jitter with probability `jitter_p`, grayscale with probability
/// `grayscale_p`, then per-channel normalisation `(x − mean) / std`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimclrView {
    /// The crop (its `size` is the view's side).
    pub crop: RandomResizedCrop,
    /// Probability of a horizontal flip.
    pub flip_p: f64,
    /// Colour-jitter strengths.
    pub jitter: ColorJitter,
    /// Probability of applying the jitter.
    pub jitter_p: f64,
    /// Probability of converting to grayscale.
    pub grayscale_p: f64,
    /// Per-channel mean subtracted at the end (one value, or one per channel).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided at the end.
    pub std: Vec<f32>,
}

impl SimclrView {
    /// The Fashion-MNIST variant of the default recipe: crop scale (0.2, 1), flip 0.5,
    /// brightness/contrast jitter 0.4 with p = 0.8, no grayscale (already grey), normalised with
    /// the dataset's mean 0.2860 and std 0.3530.
    pub fn fashion_mnist(size: usize) -> Self {
        SimclrView {
            crop: RandomResizedCrop { size, scale: (0.2, 1.0), ratio: (3.0 / 4.0, 4.0 / 3.0) },
            flip_p: 0.5,
            jitter: ColorJitter { brightness: 0.4, contrast: 0.4, saturation: 0.0, hue: 0.0 },
            jitter_p: 0.8,
            grayscale_p: 0.0,
            mean: vec![0.2860],
            std: vec![0.3530],
        }
    }

    /// Checks every parameter; the error names the field.
    pub fn validate(&self) -> Result<(), DataError> {
        self.crop.validate()?;
        self.jitter.validate()?;
        for (name, p) in [("flip_p", self.flip_p), ("jitter_p", self.jitter_p), ("grayscale_p", self.grayscale_p)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(DataError::param(name, format!("{p}: a probability must lie in [0, 1]")));
            }
        }
        if self.mean.is_empty() || self.mean.len() != self.std.len() {
            return Err(DataError::param(
                "mean/std",
                format!("need the same number (>= 1) of means and stds, got {} and {}", self.mean.len(), self.std.len()),
            ));
        }
        if let Some(s) = self.std.iter().find(|&&s| !(s > 0.0 && s.is_finite())) {
            return Err(DataError::param("std", format!("{s}: every std must be > 0")));
        }
        Ok(())
    }

    /// Checks that the normalisation fits images with `channels` channels.
    pub fn check_channels(&self, channels: usize) -> Result<(), DataError> {
        if self.mean.len() != 1 && self.mean.len() != channels {
            return Err(DataError::param(
                "mean/std",
                format!("{} values given for {channels}-channel images (expected 1 or {channels})", self.mean.len()),
            ));
        }
        Ok(())
    }
}

impl ViewTransform for SimclrView {
    fn output_shape(&self, input: Shape) -> Shape {
        Shape { channels: input.channels, height: self.crop.size, width: self.crop.size }
    }

    fn apply(&self, img: ImageRef<'_>, rng: &mut ViewRng, out: &mut [f32]) {
        let bx = self.crop.sample(img.shape.height, img.shape.width, rng);
        let mirror = rng.random_bool(self.flip_p);
        let mut v = resized_crop_u8(img, bx, self.crop.size, self.crop.size, mirror);
        if rng.random_bool(self.jitter_p) {
            self.jitter.apply(&mut v, rng);
        }
        if rng.random_bool(self.grayscale_p) {
            grayscale(&mut v);
        }
        let plane = self.crop.size * self.crop.size;
        for (c, chunk) in v.data.chunks(plane).enumerate() {
            let (m, s) = if self.mean.len() == 1 { (self.mean[0], self.std[0]) } else { (self.mean[c], self.std[c]) };
            for (o, &x) in out[c * plane..(c + 1) * plane].iter_mut().zip(chunk) {
                *o = (x - m) / s;
            }
        }
    }
}

/// The identity view: the whole image, normalised (for evaluation and embedding export).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlainView {
    /// Per-channel mean (one value, or one per channel).
    pub mean: Vec<f32>,
    /// Per-channel standard deviation.
    pub std: Vec<f32>,
}

impl ViewTransform for PlainView {
    fn output_shape(&self, input: Shape) -> Shape {
        input
    }

    fn apply(&self, img: ImageRef<'_>, _rng: &mut ViewRng, out: &mut [f32]) {
        let v = img.to_f32();
        let plane = img.shape.height * img.shape.width;
        for (c, chunk) in v.data.chunks(plane).enumerate() {
            let (m, s) = if self.mean.len() == 1 { (self.mean[0], self.std[0]) } else { (self.mean[c], self.std[c]) };
            for (o, &x) in out[c * plane..(c + 1) * plane].iter_mut().zip(chunk) {
                *o = (x - m) / s;
            }
        }
    }
}
