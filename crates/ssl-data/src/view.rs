//! The view interface: one decoded image in, one normalised planar `f32` view out. Views are
//! described as op pipelines ([`crate::pipeline`]); [`PerView`] cycles one per view.

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
