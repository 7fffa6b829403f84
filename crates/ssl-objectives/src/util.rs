//! Small tensor helpers shared by the objectives.

use tch::{Kind, Tensor};

/// Computes in fp32 when the input is half precision (fp16/bf16), otherwise keeps its kind
/// (so f64 gradient checks stay f64). Losses with reductions, norms or SVDs call this first.
pub fn at_least_f32(x: &Tensor) -> Tensor {
    match x.kind() {
        Kind::Half | Kind::BFloat16 => x.to_kind(Kind::Float),
        _ => x.shallow_clone(),
    }
}

/// L2-normalises the last dimension (`x / max(‖x‖, 1e-12)`, like `F.normalize`).
pub fn l2_normalize(x: &Tensor) -> Tensor {
    let norm = x.norm_scalaropt_dim(2.0, [-1i64].as_slice(), true).clamp_min(1e-12);
    x / norm
}

/// Sum of squares of the off-diagonal entries of a square matrix: Σ m² − Σ diag(m)².
pub fn off_diagonal_sq_sum(m: &Tensor) -> Tensor {
    m.square().sum(m.kind()) - m.diagonal(0, 0, 1).square().sum(m.kind())
}

/// A plain number out of a scalar tensor (for the named parts).
pub fn scalar(t: &Tensor) -> f64 {
    tch::no_grad(|| t.to_kind(Kind::Double).double_value(&[]))
}
