//! Maximum Manifold Capacity Representations (Yerxa et al. 2023, seed 003), in the official
//! order of ThomasYerxa/mmcr `loss_mmcr.py`:
//! 1. L2-normalise every view embedding;
//! 2. centroid c_b = plain mean of image b's k normalised views (not re-normalised);
//! 3. `L = −‖C‖_* + λ·(1/B)·Σ_b ‖Z_b‖_*` with C the B × d centroid matrix and Z_b the k × d views
//!    of image b; every shipped default has λ = 0.
//!
//! Parts: `global_nuclear_norm` = ‖C‖_*, and when λ ≠ 0 `local_nuclear_norm` = (1/B)·Σ_b ‖Z_b‖_*
//! (like the official code, the local term is not computed when its weight is 0).
//! The loss is computed in fp32 (or f64) even when the embeddings are fp16/bf16: there is no
//! half-precision SVD. k = 1 is an error (the centroids would be the views themselves).
//!
//! Nuclear norms: only singular values enter, and the gradient of Σσ is U·Vᵀ, stable even with
//! repeated singular values. Two equal paths: the SVD, or `Σ √eig(M Mᵀ)` (or `MᵀM`, whichever is
//! smaller) through a symmetric eigensolver — cheaper for thin matrices. The Gram path runs in f64
//! whatever the input precision, and eigenvalues below `λ_max · 1e-14` count as zero, which keeps
//! the gradient finite for rank-deficient inputs (a valid subgradient: zero along null
//! directions) while every direction with σ above `1e-7·σ_max` keeps its unit gradient (in f32 the
//! cut would have to be `λ_max · 1e-6`, silencing every σ below `1e-3·σ_max`).
//!
//! [`MmcrMomentum`]: the momentum variant — centroids average the online views and the
//! momentum-encoder views (treated as constants).

use tch::{Kind, Tensor};

use crate::error::ObjectiveError;
use crate::objective::{check_positive, check_views, LossOutput, Objective};
use crate::util::{at_least_f32, l2_normalize, scalar};

/// How nuclear norms are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NuclearNormPath {
    /// The Gram path when it is cheaper (the matrix is at least twice as long as it is wide), else the SVD.
    Auto,
    /// Singular values from `torch.svd`.
    Svd,
    /// Square roots of the eigenvalues of the smaller Gram matrix.
    Gram,
}

/// Nuclear norms of a batch of matrices `[..., r, c]` → `[...]`.
pub fn nuclear_norm(m: &Tensor, path: NuclearNormPath) -> Tensor {
    let size = m.size();
    let (r, c) = (size[size.len() - 2], size[size.len() - 1]);
    let use_gram = match path {
        NuclearNormPath::Svd => false,
        NuclearNormPath::Gram => true,
        NuclearNormPath::Auto => r.max(c) >= 2 * r.min(c),
    };
    if !use_gram {
        let (_, s, _) = m.svd(true, true);
        return s.sum_dim_intlist([-1i64].as_slice(), false, m.kind());
    }
    // Always in f64 (issue #20): in f32 the cut below would have to sit at λ_max·1e-6, which gives
    // directions with σ < 1e-3·σ_max no gradient at all — exactly the near-collapsed directions
    // MMCR exists to push up. The Gram matrix is at most min(r, c)², so f64 costs next to nothing.
    let md = m.to_kind(Kind::Double);
    let mt = md.transpose(-2, -1);
    let gram = if r <= c { md.matmul(&mt) } else { mt.matmul(&md) };
    let eig = gram.linalg_eigvalsh("L");
    let top = tch::no_grad(|| eig.amax([-1i64].as_slice(), true).clamp_min(0.0));
    let tiny = (top * 1e-14).clamp_min(1e-300); // > 0 so that sqrt never sees 0 (its slope there is infinite)
    let keep = eig.gt_tensor(&tiny).to_kind(Kind::Double);
    let sigma = eig.maximum(&tiny).sqrt() * keep;
    sigma.sum_dim_intlist([-1i64].as_slice(), false, Kind::Double).to_kind(m.kind())
}

/// MMCR with per-manifold weight λ.
#[derive(Clone, Debug, PartialEq)]
pub struct Mmcr {
    lambda: f64,
    path: NuclearNormPath,
}

impl Default for Mmcr {
    fn default() -> Self {
        Mmcr { lambda: 0.0, path: NuclearNormPath::Auto }
    }
}

impl Mmcr {
    /// MMCR with `λ >= 0` and a nuclear-norm path.
    pub fn new(lambda: f64, path: NuclearNormPath) -> Result<Self, ObjectiveError> {
        Ok(Mmcr { lambda: check_positive("lambda", lambda, true)?, path })
    }

    /// The loss of already-normalised views `[k, B, d]` (k ≥ 2 checked by the caller).
    fn loss_of_normalized(&self, z: &Tensor) -> LossOutput {
        let centroids = z.mean_dim([0i64].as_slice(), false, z.kind());
        let global = nuclear_norm(&centroids, self.path);
        if self.lambda == 0.0 {
            // As the official code: the local term is not computed when it has no weight.
            return LossOutput { parts: vec![("global_nuclear_norm", scalar(&global))], loss: -global };
        }
        let local = nuclear_norm(&z.transpose(0, 1), self.path).mean(z.kind());
        let loss = -&global + &local * self.lambda;
        LossOutput { parts: vec![("global_nuclear_norm", scalar(&global)), ("local_nuclear_norm", scalar(&local))], loss }
    }
}

impl Objective for Mmcr {
    fn name(&self) -> &'static str {
        "mmcr"
    }

    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError> {
        check_views(views, 2, 1)?;
        Ok(self.loss_of_normalized(&l2_normalize(&at_least_f32(views))))
    }
}

/// MMCR's momentum variant: centroids average the online views and the momentum-encoder views.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MmcrMomentum {
    /// The loss applied to the joined views.
    pub mmcr: Mmcr,
}

impl MmcrMomentum {
    /// `online` `[k, B, d]` (differentiated) and `target` `[k', B, d]` (constants); k + k' ≥ 2.
    pub fn compute(&self, online: &Tensor, target: &Tensor) -> Result<LossOutput, ObjectiveError> {
        let (_, b, d) = check_views(online, 1, 1)?;
        let (_, bt, dt) = check_views(target, 1, 1)?;
        if (b, d) != (bt, dt) {
            return Err(ObjectiveError::Shape(format!("online views are [_, {b}, {d}] but target views [_, {bt}, {dt}]")));
        }
        let online = l2_normalize(&at_least_f32(online));
        let target = l2_normalize(&at_least_f32(&target.detach())).to_kind(online.kind());
        Ok(self.mmcr.loss_of_normalized(&Tensor::cat(&[online, target], 0)))
    }
}
