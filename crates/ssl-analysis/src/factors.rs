//! Factor probes: how much of each generative factor frozen features keep (InfoMin, Tian et al.
//! 2020, §3.1 and Table 2: after contrastive training on views that share some factors, linear
//! readouts of every factor show which ones the encoder learned).
//!
//! The factors come as a `factors.npy` matrix with one row per embedding and the columns
//! `object class, background class, x, y` (what `cargo xtask export` writes for the toy
//! dataset; the classes are non-negative integers, the position in pixels). On a split of their
//! own (every fifth row held out), a ridge classifier reads out each class and a ridge regression
//! the position; beside each number, its chance level from the training rows alone.
//!
//! ```
//! use ndarray::Array2;
//! use ssl_analysis::factors::{factor_probes, FactorTable};
//!
//! // Features that hold the object class and the position, but not the background.
//! let n = 200;
//! let f = Array2::from_shape_fn((n, 4), |(i, j)| [(i % 4) as f32, (i % 5) as f32, (i * 7 % 37) as f32, (i * 3 % 37) as f32][j]);
//! let x = Array2::from_shape_fn((n, 6), |(i, j)| if j < 4 { f32::from(i % 4 == j) } else { f[[i, j - 2]] });
//! let table = FactorTable::from_matrix(f.view())?;
//! let p = factor_probes(x.view(), &table, 1e-3)?;
//! assert_eq!(p.object_accuracy, 1.0);
//! assert!(p.position_r2 > 0.999 && p.position_error_px < 0.1);
//! assert!(p.background_accuracy < 0.5);
//! # Ok::<(), ssl_analysis::AnalysisError>(())
//! ```

use ndarray::{Array2, ArrayView2, Axis};

use crate::error::AnalysisError;
use crate::probe::{holdout_split, linear_probe_accuracy, mean_r2, Ridge};

/// The factors of each embedding: two class labels and a position.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorTable {
    /// Object class per row.
    pub object: Vec<u32>,
    /// Background class per row.
    pub background: Vec<u32>,
    /// Position per row, `[x, y]` in pixels.
    pub position: Array2<f64>,
}

impl FactorTable {
    /// Reads the `object, background, x, y` columns; the classes must be integers ≥ 0.
    pub fn from_matrix(m: ArrayView2<f32>) -> Result<FactorTable, AnalysisError> {
        if m.ncols() != 4 {
            return Err(AnalysisError::Shape(format!("{} columns; expected 4: object class, background class, x, y", m.ncols())));
        }
        let class = |col: usize, what: &str| -> Result<Vec<u32>, AnalysisError> {
            m.column(col)
                .iter()
                .enumerate()
                .map(|(row, &v)| {
                    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f32 {
                        Ok(v as u32)
                    } else {
                        Err(AnalysisError::Shape(format!("row {row}: {what} {v} is not a class (an integer >= 0)")))
                    }
                })
                .collect()
        };
        let object = class(0, "object class")?;
        let background = class(1, "background class")?;
        if let Some((row, _)) = m.slice(ndarray::s![.., 2..]).outer_iter().enumerate().find(|(_, r)| r.iter().any(|v| !v.is_finite())) {
            return Err(AnalysisError::NonFinite { what: "factor positions".into(), row, col: 2 });
        }
        let position = m.slice(ndarray::s![.., 2..]).mapv(f64::from);
        Ok(FactorTable { object, background, position })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.object.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.object.is_empty()
    }
}

/// Chance levels of the factor probes, from the training rows alone.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FactorChance {
    /// Test accuracy of always answering the most frequent training object class.
    pub object_accuracy: f64,
    /// The same for the background class.
    pub background_accuracy: f64,
    /// Mean test distance to the training rows' mean position, in pixels (R² 0 by definition).
    pub position_error_px: f64,
}

/// What linear readouts of frozen features recover of each factor (the `factors` key).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FactorProbes {
    /// Ridge-classifier accuracy for the object class.
    pub object_accuracy: f64,
    /// Ridge-classifier accuracy for the background class.
    pub background_accuracy: f64,
    /// R² of the ridge regression of the position (mean over x and y).
    pub position_r2: f64,
    /// Mean Euclidean distance between predicted and true positions, in pixels.
    pub position_error_px: f64,
    /// Their chance levels.
    pub chance: FactorChance,
    /// Training rows.
    pub train: usize,
    /// Test rows.
    pub test: usize,
    /// Ridge penalty (on standardised features).
    pub lambda: f64,
    /// How the rows were split.
    pub split: String,
}

fn majority_accuracy(train: &[u32], test: &[u32]) -> f64 {
    let mut counts = std::collections::BTreeMap::new();
    for &c in train {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let top = counts.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c))).map_or(0, |(c, _)| *c);
    test.iter().filter(|&&c| c == top).count() as f64 / test.len().max(1) as f64
}

fn mean_distance(pred: &Array2<f64>, truth: ArrayView2<f64>) -> f64 {
    let n = truth.nrows().max(1) as f64;
    pred.outer_iter().zip(truth.outer_iter()).map(|(p, t)| p.iter().zip(t).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()).sum::<f64>() / n
}

/// Reads each factor out of `x` on a split of its own (every fifth row held out): object and
/// background classes by ridge classifiers, the position by ridge regression.
pub fn factor_probes(x: ArrayView2<f32>, factors: &FactorTable, lambda: f64) -> Result<FactorProbes, AnalysisError> {
    if factors.len() != x.nrows() {
        return Err(AnalysisError::Shape(format!("{} factor rows for {} embeddings", factors.len(), x.nrows())));
    }
    if x.nrows() < 10 {
        return Err(AnalysisError::Shape(format!("{} embeddings; the factor probes need at least 10 (8 to train, 2 to test)", x.nrows())));
    }
    let (tr, te) = holdout_split(x.nrows());
    let (xtr, xte) = (x.select(Axis(0), &tr), x.select(Axis(0), &te));
    let pick = |v: &[u32], idx: &[usize]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let (otr, ote) = (pick(&factors.object, &tr), pick(&factors.object, &te));
    let (btr, bte) = (pick(&factors.background, &tr), pick(&factors.background, &te));
    let (ptr, pte) = (factors.position.select(Axis(0), &tr), factors.position.select(Axis(0), &te));
    let pred = Ridge::fit(xtr.view(), ptr.view(), lambda)?.predict(xte.view());
    let mean_position = ptr.mean_axis(Axis(0)).expect("at least 8 training rows");
    let constant = Array2::from_shape_fn(pte.dim(), |(_, j)| mean_position[j]);
    Ok(FactorProbes {
        object_accuracy: linear_probe_accuracy(xtr.view(), &otr, xte.view(), &ote, lambda)?,
        background_accuracy: linear_probe_accuracy(xtr.view(), &btr, xte.view(), &bte, lambda)?,
        position_r2: mean_r2(&pred, pte.view()),
        position_error_px: mean_distance(&pred, pte.view()),
        chance: FactorChance {
            object_accuracy: majority_accuracy(&otr, &ote),
            background_accuracy: majority_accuracy(&btr, &bte),
            position_error_px: mean_distance(&constant, pte.view()),
        },
        train: tr.len(),
        test: te.len(),
        lambda,
        split: "every fifth row held out".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_levels_are_hand_computed() {
        // Training rows' majority class 1 (3 of 4); test rows: 1 of 2 is class 1.
        assert_eq!(majority_accuracy(&[1, 1, 0, 1], &[1, 2]), 0.5);
        // Distances of (3, 4) and (0, 0) from (0, 0): 5 and 0.
        let p = Array2::zeros((2, 2));
        let t = ndarray::arr2(&[[3.0, 4.0], [0.0, 0.0]]);
        assert_eq!(mean_distance(&p, t.view()), 2.5);
    }

    #[test]
    fn bad_factor_tables_are_named() {
        let e = FactorTable::from_matrix(Array2::<f32>::zeros((3, 3)).view()).unwrap_err().to_string();
        assert!(e.contains("expected 4"), "{e}");
        let e = FactorTable::from_matrix(ndarray::arr2(&[[1.5f32, 0.0, 1.0, 1.0]]).view()).unwrap_err().to_string();
        assert!(e.contains("object class 1.5"), "{e}");
        let e = FactorTable::from_matrix(ndarray::arr2(&[[1.0f32, -1.0, 1.0, 1.0]]).view()).unwrap_err().to_string();
        assert!(e.contains("background class -1"), "{e}");
        let e = FactorTable::from_matrix(ndarray::arr2(&[[1.0f32, 1.0, f32::NAN, 1.0]]).view()).unwrap_err().to_string();
        assert!(e.contains("non-finite"), "{e}");
    }

    #[test]
    fn features_with_only_the_background_read_out_only_the_background() {
        // Known answer: one-hot background features; object and position are independent of it.
        let n = 300;
        let f = Array2::from_shape_fn((n, 4), |(i, j)| [(i % 3) as f32, (i % 7) as f32, ((i * 11) % 37) as f32, ((i * 5) % 37) as f32][j]);
        let x = Array2::from_shape_fn((n, 7), |(i, j)| f32::from(i % 7 == j));
        let p = factor_probes(x.view(), &FactorTable::from_matrix(f.view()).unwrap(), 1e-3).unwrap();
        assert_eq!(p.background_accuracy, 1.0);
        assert!(p.object_accuracy < 0.5, "{p:?}");
        assert!(p.position_r2 < 0.1 && p.position_error_px > 0.8 * p.chance.position_error_px, "{p:?}");
        assert_eq!((p.train, p.test), (240, 60));
    }
}
