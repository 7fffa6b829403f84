//! Cross-view InfoNCE and DirectCLR (Jing et al. 2022, seed 000), plus the InfoNCE
//! mutual-information lower bound used in InfoMin's analyses (Tian et al. 2020, seed 004).
//!
//! Official DirectCLR (facebookresearch/directclr): no projector; both views' representations
//! are cut to their first `d0` components, L2-normalised; logits = z₁ z₂ᵀ / τ with the matching
//! image on the diagonal; **negatives are the other image's views in the other view only**; the
//! loss is the cross-entropy averaged over both directions:
//! `L = ½ CE(z₁[:, :d0] z₂[:, :d0]ᵀ/τ) + ½ CE(z₂[:, :d0] z₁[:, :d0]ᵀ/τ)`, τ = 0.1, d0 = 360 of 2048.
//! With k > 2 views the loss averages over all ordered view pairs (for k = 2 exactly the official).
//! Without `d0` this is the plain cross-view InfoNCE of CPC/InfoMin.

use tch::{Kind, Tensor};

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_views, LossOutput, Objective};
use crate::util::{at_least_f32, l2_normalize, scalar};

/// Cross-view InfoNCE on the first `d0` dimensions (DirectCLR) or on all (`d0 = None`).
#[derive(Clone, Debug, PartialEq)]
pub struct DirectClr {
    d0: Option<i64>,
    temperature: f64,
}

impl DirectClr {
    /// DirectCLR on the first `d0` components with temperature τ (official: 360, 0.1).
    pub fn new(d0: Option<i64>, temperature: f64) -> Result<Self, ObjectiveError> {
        check_positive("temperature", temperature, false)?;
        if let Some(d) = d0 {
            if d < 1 {
                return Err(ObjectiveError::Param { name: "d0", problem: format!("{d}: must be >= 1") });
            }
        }
        Ok(DirectClr { d0, temperature })
    }
}

/// Cross-entropy of `a bᵀ / τ` with the diagonal as the target, mean over rows.
fn cross_view_ce(a: &Tensor, b: &Tensor, temperature: f64) -> Tensor {
    let logits = a.matmul(&b.tr()) / temperature;
    let n = logits.size()[0];
    let target = Tensor::arange(n, (Kind::Int64, logits.device()));
    logits.log_softmax(1, logits.kind()).gather(1, &target.unsqueeze(1), false).mean(logits.kind()).neg()
}

impl Objective for DirectClr {
    fn name(&self) -> &'static str {
        if self.d0.is_some() {
            "directclr"
        } else {
            "infonce"
        }
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (k, b, d) = check_views(views, 2, 1)?;
        let d0 = self.d0.unwrap_or(d);
        if d0 > d {
            return Err(ObjectiveError::Param { name: "d0", problem: format!("{d0} is larger than the representation ({d})") });
        }
        let z = l2_normalize(&at_least_f32(views).narrow(2, 0, d0));
        let mut total: Option<Tensor> = None;
        for i in 0..k {
            for j in 0..k {
                if i != j {
                    let l = cross_view_ce(&z.get(i), &z.get(j), self.temperature);
                    total = Some(match total {
                        Some(t) => t + l,
                        None => l,
                    });
                }
            }
        }
        let loss = total.expect("k >= 2") / (k * (k - 1)) as f64;
        let mi = mutual_information_lower_bound(scalar(&loss), b);
        Ok(LossOutput { loss, parts: vec![("mi_lower_bound", mi)] })
    }
}

/// The InfoNCE bound I(v₁; v₂) ≥ log K − L_NCE (Oord et al. 2018; used by InfoMin), with K the
/// number of candidates each anchor is scored against (B for the cross-view loss), in nats.
pub fn mutual_information_lower_bound(loss: f64, candidates: i64) -> f64 {
    (candidates as f64).ln() - loss
}
