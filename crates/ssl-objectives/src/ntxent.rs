//! NT-Xent / InfoNCE (SimCLR, Chen et al. 2020, seed 001, eq. 1).
//!
//! Every view embedding is L2-normalised; logits are cosine similarities divided by the
//! temperature τ. Each of the kB anchors has as positives the other k − 1 views of its image and
//! as negatives the views of the other B − 1 images. The loss of anchor i is
//! `−log( Σ_pos exp(s_ip) / Σ_{j≠i} exp(s_ij) )` (solo-learn's k-view form; for k = 2 this is
//! exactly the paper's ℓ(i, j)).
//!
//! **Pinned reduction:** the mean over all kB anchors (solo-learn). The TF original sums the two
//! directions of each pair and divides by B, which is 2× this value for k = 2.
//!
//! Parts: `alignment` = mean ‖ẑ_i − ẑ_p‖² over positive pairs and `uniformity` =
//! log mean_{i≠j} exp(−2‖ẑ_i − ẑ_j‖²) (Wang & Isola 2020), computed without gradient.

use tch::{Kind, Tensor};

use crate::error::ObjectiveError;
use crate::objective::{check_views, LossOutput, Objective};
use crate::util::at_least_f32;

/// NT-Xent with temperature τ.
#[derive(Clone, Debug, PartialEq)]
pub struct NtXent {
    temperature: f64,
}

impl NtXent {
    /// NT-Xent with temperature `temperature > 0`.
    pub fn new(temperature: f64) -> Result<Self, ObjectiveError> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(ObjectiveError::Param { name: "temperature", problem: format!("{temperature}: must be > 0") });
        }
        Ok(NtXent { temperature })
    }

    /// The temperature τ.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }
}

pub use crate::util::l2_normalize;

impl Objective for NtXent {
    fn name(&self) -> &'static str {
        "ntxent"
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (k, b, d) = check_views(views, 2, 1)?;
        let n = k * b;
        let device = views.device();
        let z = l2_normalize(&at_least_f32(views).reshape([n, d]));
        let cos = z.matmul(&z.tr());
        let logits = &cos / self.temperature;
        // Image id of each row: row r = v * B + i belongs to image i.
        let ids = Tensor::arange(n, (Kind::Int64, device)).remainder(b);
        let same = ids.unsqueeze(1).eq_tensor(&ids.unsqueeze(0));
        let eye = Tensor::eye(n, (Kind::Bool, device));
        let pos_mask = same.logical_and(&eye.logical_not());
        let neg_inf = f64::NEG_INFINITY;
        let all = logits.masked_fill(&eye, neg_inf).logsumexp([1i64].as_slice(), false);
        let pos = logits.masked_fill(&pos_mask.logical_not(), neg_inf).logsumexp([1i64].as_slice(), false);
        let loss = (all - pos).mean(logits.kind());

        let parts = tch::no_grad(|| {
            let cos = cos.to_kind(Kind::Double);
            let sq = (cos.neg() * 2.0 + 2.0).clamp_min(0.0);
            let npos = (k * (k - 1) * b) as f64;
            let alignment = sq.masked_select(&pos_mask).sum(Kind::Double).double_value(&[]) / npos;
            let off = eye.logical_not();
            let pairs = (n * (n - 1)).max(1) as f64;
            let mean_exp = (sq * -2.0).exp().masked_select(&off).sum(Kind::Double).double_value(&[]) / pairs;
            vec![("alignment", alignment), ("uniformity", mean_exp.ln())]
        });
        Ok(LossOutput { loss, parts })
    }
}
