//! The one trait all objectives implement.

use tch::Tensor;

use crate::error::ObjectiveError;

/// What an objective returns: the scalar to minimise and named diagnostic parts.
#[derive(Debug)]
pub struct LossOutput {
    /// The scalar loss (differentiable).
    pub loss: Tensor,
    /// Named parts of the loss or diagnostics (plain numbers, not differentiated).
    pub parts: Vec<(&'static str, f64)>,
}

/// A self-supervised objective on the embeddings of k views of B images.
pub trait Objective: Send {
    /// A short name (`ntxent`, `barlow`, …).
    fn name(&self) -> &'static str;
    /// The loss of `views`, a `[k, B, d]` floating-point tensor.
    fn compute(&self, views: &Tensor) -> Result<LossOutput, ObjectiveError>;
}

/// Checks that `views` is `[k, B, d]` with `k >= min_views`, `B >= min_batch`, `d >= 1`,
/// floating point; returns `(k, B, d)`.
pub fn check_views(views: &Tensor, min_views: i64, min_batch: i64) -> Result<(i64, i64, i64), ObjectiveError> {
    let size = views.size();
    let [k, b, d] = size[..] else {
        return Err(ObjectiveError::Shape(format!("expected [views, batch, dim], got {size:?}")));
    };
    if !views.is_floating_point() {
        return Err(ObjectiveError::Shape(format!("expected a floating-point tensor, got {:?}", views.kind())));
    }
    if k < min_views {
        return Err(ObjectiveError::Shape(format!("{k} views given, this objective needs at least {min_views}")));
    }
    if b < min_batch {
        return Err(ObjectiveError::Shape(format!("batch of {b}, this objective needs at least {min_batch}")));
    }
    if d < 1 {
        return Err(ObjectiveError::Shape("embedding dimension is 0".into()));
    }
    Ok((k, b, d))
}

/// Checks that `views` holds exactly two views of at least `min_batch` images; returns `(B, d)`.
pub fn check_two_views(views: &Tensor, min_batch: i64, method: &str) -> Result<(i64, i64), ObjectiveError> {
    let (k, b, d) = check_views(views, 2, min_batch)?;
    if k != 2 {
        return Err(ObjectiveError::Shape(format!("{method} takes exactly 2 views, got {k}")));
    }
    Ok((b, d))
}

/// Checks a hyper-parameter that must be finite and `> 0` (or `>= 0` when `zero_ok`).
pub fn check_positive(name: &'static str, value: f64, zero_ok: bool) -> Result<f64, ObjectiveError> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0));
    if ok {
        Ok(value)
    } else {
        Err(ObjectiveError::Param { name, problem: format!("{value}: must be {}", if zero_ok { ">= 0" } else { "> 0" }) })
    }
}
