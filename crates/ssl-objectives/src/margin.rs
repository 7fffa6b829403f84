//! The margin pairwise contrastive loss of Hadsell, Chopra & LeCun (2006), cited by SimCLR
//! (seed 001) as the pre-NT-Xent form: with D = ‖f(x₁) − f(x₂)‖₂ and Y = 0 for a similar pair,
//! 1 for a dissimilar one, `L = (1 − Y)·½D² + Y·½·max(0, m − D)²`, averaged over pairs.
//!
//! As an [`Objective`] on 2 views of B images it scores the B positive pairs (view 1 of image b
//! with view 2 of image b, Y = 0) and B negative pairs (view 1 of image b with view 2 of image
//! b + 1 mod B, Y = 1), and averages over the 2B pairs. B ≥ 2.

use tch::Tensor;

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_two_views, LossOutput, Objective};
use crate::util::{at_least_f32, scalar};

/// The margin loss with margin `m`.
#[derive(Clone, Debug, PartialEq)]
pub struct MarginContrastive {
    margin: f64,
}

impl MarginContrastive {
    /// Margin `m > 0`.
    pub fn new(margin: f64) -> Result<Self, ObjectiveError> {
        Ok(MarginContrastive { margin: check_positive("margin", margin, false)? })
    }

    /// Mean loss of explicit pairs: `x1`, `x2` are `[N, d]`, `dissimilar` is `[N]` with 0/1.
    pub fn pairs(&self, x1: &Tensor, x2: &Tensor, dissimilar: &Tensor) -> Result<Tensor, ObjectiveError> {
        if x1.size() != x2.size() || x1.dim() != 2 || dissimilar.size() != [x1.size()[0]] {
            return Err(ObjectiveError::Shape(format!(
                "pairs need x1, x2 of the same [N, d] shape and labels [N]; got {:?}, {:?}, {:?}",
                x1.size(),
                x2.size(),
                dissimilar.size()
            )));
        }
        let (x1, x2) = (at_least_f32(x1), at_least_f32(x2));
        let y = dissimilar.to_kind(x1.kind());
        // D² directly for similar pairs (smooth at D = 0); D for the hinge, with a safe sqrt.
        let d2 = (&x1 - &x2).square().sum_dim_intlist([1i64].as_slice(), false, x1.kind());
        let d = d2.clamp_min(1e-24).sqrt();
        let hinge = (-d + self.margin).clamp_min(0.0).square();
        let loss = (-&y + 1.0) * &d2 * 0.5 + &y * hinge * 0.5;
        Ok(loss.mean(x1.kind()))
    }
}

impl Objective for MarginContrastive {
    fn name(&self) -> &'static str {
        "margin"
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (b, _) = check_two_views(views, 2, "the margin loss")?;
        let (v1, v2) = (views.get(0), views.get(1));
        let shifted = v2.roll([-1i64].as_slice(), [0i64].as_slice()); // row b: view 2 of image b + 1
        let x1 = Tensor::cat(&[&v1, &v1], 0);
        let x2 = Tensor::cat(&[&v2, &shifted], 0);
        let y = Tensor::cat(&[Tensor::zeros([b], (tch::Kind::Float, views.device())), Tensor::ones([b], (tch::Kind::Float, views.device()))], 0);
        let loss = self.pairs(&x1, &x2, &y)?;
        let pos = self.pairs(&v1, &v2, &Tensor::zeros([b], (tch::Kind::Float, views.device())))?;
        Ok(LossOutput { parts: vec![("positive", scalar(&pos))], loss })
    }
}
