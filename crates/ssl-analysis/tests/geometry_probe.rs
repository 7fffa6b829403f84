//! Manifold geometry, ridge probes and the alignment matrix against hand computations.

use ndarray::{array, Array2};
use ssl_analysis::alignment::{alignment_matrix, off_diagonal_mass};
use ssl_analysis::geometry::manifold_geometry;
use ssl_analysis::probe::{holdout_split, linear_probe_accuracy, regression_probe_r2};

#[test]
fn geometry_of_two_hand_made_manifolds() {
    let (a, b) = (0.6f32, 0.8f32);
    // Manifold 0: centroid (0,0,2), points ±a along x → centred / 2: ±a/2 → λ = a/2, R = a/2, D = 1.
    // Manifold 1: centroid (0,4,0), points ±b along x and z → centred / 4: ±b/4 on two axes,
    // covariance (b²/32, b²/32) → λ = b/(4√2) twice: R = b/4, D = 2.
    let x = array![[a, 0.0, 2.0], [-a, 0.0, 2.0], [b, 4.0, 0.0], [-b, 4.0, 0.0], [0.0, 4.0, b], [0.0, 4.0, -b],];
    let g = manifold_geometry(x.view(), &[0, 0, 1, 1, 1, 1]).unwrap();
    assert_eq!(g.count, 2);
    let m0 = &g.manifolds[0];
    let m1 = &g.manifolds[1];
    assert!((m0.radius - f64::from(a) / 2.0).abs() < 1e-7 && (m0.dimension - 1.0).abs() < 1e-9);
    assert!((m1.radius - f64::from(b) / 4.0).abs() < 1e-7 && (m1.dimension - 2.0).abs() < 1e-7);
    assert!((m0.centroid_norm - 2.0).abs() < 1e-12 && (m1.centroid_norm - 4.0).abs() < 1e-12);
    assert!(g.centroid_similarity.abs() < 1e-12, "orthogonal centroids");
    assert!((g.radius - (f64::from(a) / 2.0 + f64::from(b) / 4.0) / 2.0).abs() < 1e-7);
    // A singleton manifold and a length mismatch are errors.
    assert!(manifold_geometry(x.view(), &[0, 0, 1, 1, 1, 2]).is_err());
    assert!(manifold_geometry(x.view(), &[0, 0, 1]).is_err());
}

#[test]
fn ridge_probes_on_separable_and_linear_data() {
    // Three classes at the corners of a triangle with small deterministic jitter.
    let n = 150;
    let x = Array2::from_shape_fn((n, 4), |(i, j)| {
        let c = i % 3;
        let jitter = ((i * 37 + j * 11) % 17) as f32 / 170.0;
        (if j == c { 1.0 } else { 0.0 }) + jitter
    });
    let labels: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
    let (tr, te) = holdout_split(n);
    assert_eq!((tr.len(), te.len()), (120, 30));
    let pick = |idx: &[usize]| x.select(ndarray::Axis(0), idx);
    let lab = |idx: &[usize]| idx.iter().map(|&i| labels[i]).collect::<Vec<_>>();
    let acc = linear_probe_accuracy(pick(&tr).view(), &lab(&tr), pick(&te).view(), &lab(&te), 1e-3).unwrap();
    assert_eq!(acc, 1.0);
    // Targets exactly linear in the features: R² → 1 as λ → 0.
    let t = Array2::from_shape_fn((n, 2), |(i, k)| if k == 0 { 2.0 * f64::from(x[[i, 0]]) - f64::from(x[[i, 1]]) + 3.0 } else { f64::from(x[[i, 3]]) });
    let pick_t = |idx: &[usize]| t.select(ndarray::Axis(0), idx);
    let r2 = regression_probe_r2(pick(&tr).view(), pick_t(&tr).view(), pick(&te).view(), pick_t(&te).view(), 1e-6).unwrap();
    assert!(r2 > 0.999_99, "{r2}");
    assert!(linear_probe_accuracy(pick(&tr).view(), &lab(&tr)[..5], pick(&te).view(), &lab(&te), 1.0).is_err());
    assert!(linear_probe_accuracy(pick(&tr).view(), &lab(&tr), pick(&te).view(), &lab(&te), 0.0).is_err());
}

#[test]
fn alignment_matrix_by_hand() {
    let w1 = array![[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]];
    let aligned = alignment_matrix(w1.view(), w1.view()).unwrap();
    assert!((aligned - Array2::<f64>::eye(3)).iter().all(|v| v.abs() < 1e-12));
    // W2 with the singular values in the opposite order: V₂ = (e3, e2, e1) → anti-diagonal.
    let w2 = array![[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]];
    let a = alignment_matrix(w1.view(), w2.view()).unwrap();
    assert!((a[[0, 2]] - 1.0).abs() < 1e-12 && (a[[1, 1]] - 1.0).abs() < 1e-12 && (a[[2, 0]] - 1.0).abs() < 1e-12);
    assert!((off_diagonal_mass(&a) - 2.0 / 3.0).abs() < 1e-12);
    assert!(alignment_matrix(w1.view(), array![[1.0, 2.0]].view()).is_err());
}
