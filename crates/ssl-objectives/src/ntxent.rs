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
//! log mean_{i≠j} exp(−2‖ẑ_i − ẑ_j‖²) (Wang & Isola 2020), computed without gradient; and
//! `mi_lower_bound`, the InfoNCE estimate I(v₁; v₂) ≥ log K − L (Oord et al. 2018; InfoMin's
//! measure, seed 004) with K = (kB − 1)/(k − 1) candidate groups per anchor (2B − 1 for k = 2:
//! one positive among the other 2B − 1 views), in nats.

use tch::{Kind, Tensor};

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_views, LossOutput, Objective};
use crate::util::at_least_f32;

/// NT-Xent with temperature τ.
#[derive(Clone, Debug, PartialEq)]
pub struct NtXent {
    temperature: f64,
}

impl NtXent {
    /// NT-Xent with temperature `temperature > 0`.
    pub fn new(temperature: f64) -> Result<Self, ObjectiveError> {
        Ok(NtXent { temperature: check_positive("temperature", temperature, false)? })
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
        let dot = z.matmul(&z.tr());
        let logits = &dot / self.temperature;
        // An anchor is not its own negative: −∞ on the diagonal (in place; positives never sit there).
        let _ = logits.diagonal(0, 0, 1).fill_(f64::NEG_INFINITY);
        let all = logits.logsumexp([1i64].as_slice(), false);
        // Row r = v·B + i: its positives are the columns w·B + i, w ≠ v.
        let pos_index: Vec<i64> = (0..n).flat_map(|r| (0..k).filter(move |&w| w != r / b).map(move |w| w * b + r % b)).collect();
        let pos_index = Tensor::from_slice(&pos_index).view([n, k - 1]).to_device(device);
        let pos = logits.gather(1, &pos_index, false).logsumexp([1i64].as_slice(), false);
        let loss = (all - pos).mean(logits.kind());
        let mut parts = tch::no_grad(|| alignment_uniformity(&z, &dot, k, b));
        let groups = (n - 1) as f64 / (k - 1) as f64;
        parts.push(("mi_lower_bound", groups.ln() - crate::util::scalar(&loss)));
        Ok(LossOutput { loss, parts })
    }
}

/// Wang & Isola's alignment and uniformity of normalised embeddings `z` (`[kB, d]`, row v·B + i)
/// from their Gram matrix, without materialising pairwise differences:
/// Σ_pos ‖z_p − z_q‖² = Σ_i (2k·Σ_v ‖z_vi‖² − 2‖Σ_v z_vi‖²), and ‖z_i − z_j‖² = ‖z_i‖² + ‖z_j‖² − 2 z_i·z_j.
fn alignment_uniformity(z: &Tensor, dot: &Tensor, k: i64, b: i64) -> Vec<(&'static str, f64)> {
    let n = k * b;
    let kind = z.kind();
    let sq_norms = dot.diagonal(0, 0, 1);
    let per_image = z.view([k, b, -1]).sum_dim_intlist([0i64].as_slice(), false, kind);
    let sum_pos_sq = (sq_norms.sum(Kind::Double) * (2 * k) as f64 - per_image.square().sum(Kind::Double) * 2.0).double_value(&[]);
    let alignment = sum_pos_sq / (k * (k - 1) * b) as f64;
    // exp(−2‖z_i − z_j‖²) over all pairs, in place on one n × n buffer.
    let mut t = dot * -2.0;
    let _ = t.g_add_(&sq_norms.unsqueeze(1)).g_add_(&sq_norms.unsqueeze(0)).clamp_min_(0.0).g_mul_scalar_(-2.0).exp_();
    // The diagonal contributes exp(0) = 1 per row; remove it exactly.
    let total = t.sum(Kind::Double).double_value(&[]) - n as f64;
    let uniformity = (total.max(0.0) / (n * (n - 1)).max(1) as f64).ln();
    vec![("alignment", alignment), ("uniformity", uniformity)]
}
