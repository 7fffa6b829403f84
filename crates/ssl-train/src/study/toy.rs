//! DirectCLR's linear toy models (Jing et al., ICLR 2022, §3–4; seed 000), as the official
//! `toy_task/case_1.py` and `case_2.py` of facebookresearch/directclr set them up: 16-dimensional
//! Gaussian data `x ~ N(0, I)` (10 000 points), two views `x + noise`, a stack of 16 × 16 linear
//! layers trained by plain SGD (no weight decay) on the one-directional InfoNCE of un-normalised
//! embeddings, `CE(z₁z₂ᵀ/τ, I)` with τ = 0.1, batches of 128 drawn without replacement.
//!
//! The theory's matrix (Lemma 1): for one linear layer `z = Wx`, gradient descent moves `W` as
//! `Ẇ = W X / (Nτ)` with `X = Σ̂₀ − Σ̂₁ − R`, where, with `αᵢⱼ = softmax_j(z₁ᵢ·z₂ⱼ/τ)`,
//! * `Σ̂₀ = Σᵢ Σ_{j≠i} αᵢⱼ (x₂ⱼ − x₁ᵢ)(x₂ⱼ − x₁ᵢ)ᵀ` — the α-weighted data spread,
//! * `Σ̂₁ = Σᵢ (1 − αᵢᵢ)(x₂ᵢ − x₁ᵢ)(x₂ᵢ − x₁ᵢ)ᵀ` — the α-weighted augmentation spread,
//! * `R = Σⱼ (Σᵢ αᵢⱼ − 1) x₂ⱼx₂ⱼᵀ` — zero when α's columns also sum to one (the paper's symmetric
//!   form); kept so that `X` is the exact gradient of the reference loss (see the tests).
//!
//! A negative eigenvalue of `X` is a direction `W` shrinks along: Theorem 1's collapsed
//! dimensions. [`theory_matrix`] returns `Σ̂₀ − Σ̂₁` (the paper's `X`) and `R` separately.

use anyhow::{bail, Result};
use ndarray::Array2;
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

/// An ensemble of `runs` independent stacks of square linear layers (no bias), trained together
/// in one batched step — every tensor carries a leading run dimension — so that a sweep costs one
/// run's overhead. Run `r` may put ReLU between its layers.
pub struct LinearStack {
    /// The layers' weights, first layer first, each `[runs, dim, dim]` (`z = W_L … W_1 x`).
    pub weights: Vec<Tensor>,
    /// `[runs, 1, 1]`: 1 where a run has ReLU between its layers (not after the last).
    relu: Tensor,
    vs: nn::VarStore,
}

/// How the layers start.
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: U(−1/√d, 1/√d) (Kaiming-uniform with a = √5).
    Default,
    /// `case_2.py`: a random matrix's singular vectors with singular values `exp(−0.35 k)`,
    /// k = 0…d−1 (a fast-decaying initial spectrum).
    Decaying,
}

impl LinearStack {
    /// `depth` layers of `dim × dim` for each run (`relu[r]`: ReLU between run r's layers), drawn
    /// from the caller's `tch::manual_seed`.
    pub fn new(dim: i64, depth: usize, relu: &[bool], init: Init) -> Result<LinearStack> {
        if depth == 0 || dim < 1 || relu.is_empty() {
            bail!("a linear stack needs at least one run and one layer of width >= 1 (runs {}, depth {depth}, width {dim})", relu.len());
        }
        let runs = relu.len() as i64;
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let bound = 1.0 / (dim as f64).sqrt();
        let weights = (0..depth)
            .map(|l| {
                let w0 = match init {
                    Init::Default => Tensor::empty([runs, dim, dim], (Kind::Float, Device::Cpu)).uniform_(-bound, bound),
                    Init::Decaying => {
                        let r = Tensor::rand([runs, dim, dim], (Kind::Double, Device::Cpu));
                        let (u, _, v) = r.svd(true, true);
                        let s = (Tensor::arange(dim, (Kind::Double, Device::Cpu)) * -0.35).exp();
                        (u * s.view([1, 1, dim])).matmul(&v.transpose(1, 2)).to_kind(Kind::Float)
                    }
                };
                (&root / format!("layer{l}")).var_copy("weight", &w0)
            })
            .collect();
        let mask: Vec<f32> = relu.iter().map(|&r| if r { 1.0 } else { 0.0 }).collect();
        Ok(LinearStack { weights, relu: Tensor::from_slice(&mask).view([runs, 1, 1]), vs })
    }

    /// Number of runs.
    pub fn runs(&self) -> i64 {
        self.weights[0].size()[0]
    }

    /// `z = W_L σ(… σ(W_1 x))` for each run's rows `x` (`[runs, n, dim]`).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for (l, w) in self.weights.iter().enumerate() {
            h = h.matmul(&w.transpose(1, 2));
            if l + 1 < self.weights.len() {
                h = &h + (h.relu() - &h) * &self.relu;
            }
        }
        h
    }

    /// The trainable variables.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Run `r`'s layer `l` as a matrix.
    pub fn weight(&self, r: i64, l: usize) -> Array2<f64> {
        to_matrix(&self.weights[l].get(r))
    }

    /// Singular values of run `r`'s layer `l`, descending.
    pub fn singular_values(&self, r: i64, l: usize) -> Vec<f64> {
        crate::track::singular_values(&self.weights[l].get(r))
    }
}

/// The reference loss per run: `CE(z₁z₂ᵀ/τ, I)`, mean over the batch; `[runs, n, d]` in, `[runs]` out.
pub fn info_nce(z1: &Tensor, z2: &Tensor, temperature: f64) -> Tensor {
    let logits = z1.matmul(&z2.transpose(1, 2)) / temperature;
    let (runs, n) = (logits.size()[0], logits.size()[1]);
    let targets = Tensor::arange(n, (Kind::Int64, z1.device())).repeat([runs]);
    logits.reshape([runs * n, n]).cross_entropy_loss::<Tensor>(&targets, None, tch::Reduction::None, -100, 0.0).view([runs, n]).mean_dim(1, false, Kind::Float)
}

/// The two augmented views of a batch (`[runs, n, dim]`): Gaussian noise of standard deviation
/// `noise[r]` for run r (`[runs, 1, 1]`) added to the dimensions `noisy` selects (a 0/1 mask over
/// the columns), independently per view.
pub fn views(x: &Tensor, noise: &Tensor, noisy: &Tensor) -> (Tensor, Tensor) {
    let scale = noise * noisy;
    let draw = || x + x.randn_like() * &scale;
    (draw(), draw())
}

/// Trains every run of `net` by SGD (learning rate `lr`, no momentum or weight decay) for `steps`
/// steps of 128 points of `data` (a new permutation each pass; the same batch for every run);
/// `watch(step, net)` is called before the first step and after every `every` steps.
pub fn train(
    net: &LinearStack,
    data: &Tensor,
    noise: &Tensor,
    noisy: &Tensor,
    steps: usize,
    lr: f64,
    every: usize,
    mut watch: impl FnMut(usize, &LinearStack),
) -> Result<()> {
    let mut opt = nn::Sgd { momentum: 0.0, dampening: 0.0, wd: 0.0, nesterov: false }.build(net.var_store(), lr)?;
    let n = data.size()[0];
    let runs = net.runs();
    watch(0, net);
    let batch = 128.min(n);
    let per_pass = n / batch;
    let mut order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
    for step in 1..=steps {
        // A fresh permutation per pass over the data: batches without replacement, as the
        // reference's `np.random.choice(…, replace=False)` per step, at a fraction of the cost.
        let k = ((step - 1) % per_pass as usize) as i64;
        if k == 0 && step > 1 {
            order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
        }
        let idx = order.narrow(0, k * batch, batch);
        let x = data.index_select(0, &idx).unsqueeze(0).expand([runs, -1, -1], false);
        let (x1, x2) = views(&x, noise, noisy);
        // The sum of the runs' losses: each run's gradient is its own loss's.
        let loss = info_nce(&net.forward(&x1), &net.forward(&x2), TEMPERATURE).sum(Kind::Float);
        opt.backward_step(&loss);
        if every > 0 && step % every == 0 {
            watch(step, net);
        }
    }
    Ok(())
}

/// τ of the reference code.
pub const TEMPERATURE: f64 = 0.1;

/// `(Σ̂₀ − Σ̂₁, R)` of one batch of view pairs under the embedding `embed` (see the module page).
pub fn theory_matrix(x1: &Tensor, x2: &Tensor, z1: &Tensor, z2: &Tensor, temperature: f64) -> (Array2<f64>, Array2<f64>) {
    let _guard = tch::no_grad_guard();
    let (x1, x2) = (x1.to_kind(Kind::Double), x2.to_kind(Kind::Double));
    let alpha = (z1.matmul(&z2.tr()) / temperature).to_kind(Kind::Double).softmax(1, Kind::Double);
    let n = x1.size()[0];
    let d = x1.size()[1];
    // Dᵢⱼ = x₂ⱼ − x₁ᵢ, [n, n, d].
    let diff = x2.unsqueeze(0) - x1.unsqueeze(1);
    let eye = Tensor::eye(n, (Kind::Double, Device::Cpu));
    let off = &alpha * (-&eye + 1.0);
    let weighted = |w: &Tensor| {
        let dw = &diff * w.unsqueeze(-1).sqrt();
        let flat = dw.reshape([n * n, d]);
        flat.tr().matmul(&flat)
    };
    let sigma0 = weighted(&off);
    let sigma1 = weighted(&(-alpha.diagonal(0, 0, 1) + 1.0).diag_embed(0, 0, 1));
    let col = alpha.sum_dim_intlist(0, false, Kind::Double) - 1.0;
    let r = (&x2 * col.unsqueeze(1)).tr().matmul(&x2);
    (to_matrix(&(sigma0 - sigma1)), to_matrix(&r))
}

/// Eigenvalues below −1e-9 × the largest magnitude: Theorem 1's collapsing directions (rounding
/// noise around zero does not count).
pub fn negative_count(eigenvalues: &[f64]) -> usize {
    let scale = eigenvalues.iter().fold(0.0f64, |a, v| a.max(v.abs())).max(f64::MIN_POSITIVE);
    eigenvalues.iter().filter(|&&v| v < -1e-9 * scale).count()
}

/// Eigenvalues of a symmetric matrix, descending.
pub fn symmetric_eigenvalues(m: &Array2<f64>) -> Result<Vec<f64>> {
    let sym = (m + &m.t()) / 2.0;
    Ok(ssl_analysis::spectrum::eigvalsh_desc(&sym)?)
}

/// A 2-D double tensor as an ndarray matrix.
pub fn to_matrix(t: &Tensor) -> Array2<f64> {
    let t = t.detach().to_kind(Kind::Double).contiguous();
    let (r, c) = (t.size()[0] as usize, t.size()[1] as usize);
    Array2::from_shape_vec((r, c), tensor_vec(&t)).expect("the shape matches the element count")
}

/// A tensor's elements as `f64`s (row-major).
pub fn tensor_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).contiguous().flatten(0, -1)).expect("a double tensor converts")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For one linear layer, the autograd gradient of the reference loss is `−W (Σ̂₀ − Σ̂₁ − R) / (Nτ)`
    /// — for each run of an ensemble, whose runs do not interact.
    #[test]
    fn the_theory_matrix_is_the_exact_gradient_of_the_reference_loss() {
        tch::manual_seed(3);
        let net = LinearStack::new(6, 1, &[false, false], Init::Default).unwrap();
        let x = Tensor::randn([2, 32, 6], (Kind::Float, Device::Cpu));
        let noise = Tensor::from_slice(&[0.7f32, 2.0]).view([2, 1, 1]);
        let (x1, x2) = views(&x, &noise, &Tensor::ones([6], (Kind::Float, Device::Cpu)));
        let (z1, z2) = (net.forward(&x1), net.forward(&x2));
        let loss = info_nce(&z1, &z2, TEMPERATURE).sum(Kind::Float);
        let grad = Tensor::run_backward(&[loss], &[&net.weights[0]], false, false).remove(0);
        for r in 0..2 {
            let (x_paper, rest) = theory_matrix(&x1.get(r), &x2.get(r), &z1.get(r), &z2.get(r), TEMPERATURE);
            let predicted = -net.weight(r, 0).dot(&(&x_paper - &rest)) / (32.0 * TEMPERATURE);
            let got = to_matrix(&grad.get(r));
            let scale = got.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let worst = (&predicted - &got).iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(worst < 1e-4 * scale.max(1e-3), "run {r}: max |Δ| = {worst} (gradient scale {scale})");
        }
    }

    /// The ensemble's ReLU flag acts per run: run 0 is linear (W₂W₁x), run 1 has ReLU.
    #[test]
    fn each_run_of_an_ensemble_has_its_own_nonlinearity() {
        tch::manual_seed(4);
        let net = LinearStack::new(4, 2, &[false, true], Init::Default).unwrap();
        let x = Tensor::randn([2, 5, 4], (Kind::Float, Device::Cpu));
        let z = net.forward(&x);
        for r in 0..2 {
            let (w1, w2) = (net.weight(r, 0), net.weight(r, 1));
            let xr = to_matrix(&x.get(r));
            let mut h = xr.dot(&w1.t());
            if r == 1 {
                h.mapv_inplace(|v| v.max(0.0));
            }
            let want = h.dot(&w2.t());
            let worst = (&want - &to_matrix(&z.get(r))).iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(worst < 1e-5, "run {r}: {worst}");
        }
    }

    /// A hand-made X = Q diag(3, 2, 0.5, −1, −2) Qᵀ (Q a rotation) has two collapsing directions.
    #[test]
    fn a_hand_made_theory_matrix_has_its_known_number_of_negative_eigenvalues() {
        tch::manual_seed(5);
        let (q, _) = Tensor::linalg_qr(&Tensor::randn([5, 5], (Kind::Double, Device::Cpu)), "reduced");
        let d = Tensor::from_slice(&[3.0f64, 2.0, 0.5, -1.0, -2.0]);
        let x = to_matrix(&(&q * d.unsqueeze(0)).matmul(&q.tr()));
        let eig = symmetric_eigenvalues(&x).unwrap();
        for (got, want) in eig.iter().zip([3.0, 2.0, 0.5, -1.0, -2.0]) {
            assert!((got - want).abs() < 1e-9, "{eig:?}");
        }
        assert_eq!(negative_count(&eig), 2);
        assert_eq!(negative_count(&[1.0, 1e-13, -1e-13]), 0, "rounding around zero is not collapse");
    }

    #[test]
    fn the_decaying_init_has_the_reference_singular_values() {
        tch::manual_seed(0);
        let net = LinearStack::new(16, 2, &[false], Init::Decaying).unwrap();
        for l in 0..2 {
            let s = net.singular_values(0, l);
            for (k, v) in s.iter().enumerate() {
                assert!((v - (-0.35 * k as f64).exp()).abs() < 1e-5, "layer {l}, σ_{k} = {v}");
            }
        }
    }
}
