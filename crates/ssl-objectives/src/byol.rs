//! Predictor losses of BYOL (Grill et al. 2020) and SimSiam (Chen & He 2021): negative cosine
//! similarity between the online network's predictions and the target's projections, with a
//! stop-gradient on the targets, symmetrised over the views (cosine as `F.cosine_similarity`, eps 1e-8).
//!
//! For k views (solo-learn's form): BYOL `L = Σ_{i≠j} (2 − 2·mean_b cos(p_i, t_j))` — for k = 2
//! the paper's L + L̃; SimSiam `L = mean_{i≠j} (−mean_b cos(p_i, t_j))` — for k = 2 the paper's
//! ½D(p₁, z₂) + ½D(p₂, z₁). The targets are detached inside.

use tch::Tensor;

use crate::error::ObjectiveError;
use crate::objective::{check_views, LossOutput};
use crate::util::{at_least_f32, scalar};

/// Which normalisation of the negative cosine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredictorLossKind {
    /// 2 − 2 cos, summed over ordered view pairs.
    Byol,
    /// −cos, averaged over ordered view pairs.
    SimSiam,
}

/// The BYOL / SimSiam predictor loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredictorLoss {
    /// BYOL or SimSiam.
    pub kind: PredictorLossKind,
}

impl PredictorLoss {
    /// Predictions `[k, B, d]` of the online branch, targets `[k, B, d]` of the target branch.
    pub fn compute(&self, predictions: &Tensor, targets: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (k, b, d) = check_views(predictions, 2, 1)?;
        if targets.size() != [k, b, d] {
            return Err(ObjectiveError::Shape(format!("predictions are {:?} but targets {:?}", predictions.size(), targets.size())));
        }
        let p = at_least_f32(predictions);
        let t = at_least_f32(&targets.detach()).to_kind(p.kind());
        let mut sum: Option<Tensor> = None;
        for i in 0..k {
            for j in 0..k {
                if i == j {
                    continue;
                }
                let cos = Tensor::cosine_similarity(&p.get(i), &t.get(j), 1, 1e-8).mean(p.kind());
                let term = match self.kind {
                    PredictorLossKind::Byol => -cos * 2.0 + 2.0,
                    PredictorLossKind::SimSiam => -cos,
                };
                sum = Some(match sum {
                    Some(s) => s + term,
                    None => term,
                });
            }
        }
        let sum = sum.expect("k >= 2");
        let pairs = (k * (k - 1)) as f64;
        let loss = match self.kind {
            PredictorLossKind::Byol => sum,
            PredictorLossKind::SimSiam => sum / pairs,
        };
        let mean_cos = match self.kind {
            PredictorLossKind::Byol => 1.0 - scalar(&loss) / (2.0 * pairs),
            PredictorLossKind::SimSiam => -scalar(&loss),
        };
        Ok(LossOutput { parts: vec![("mean_cosine", mean_cos)], loss })
    }
}
