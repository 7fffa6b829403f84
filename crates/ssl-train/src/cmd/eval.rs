//! `cargo xtask eval --run <run>`: the evaluation protocols on a finished (or checkpointed) run.
//!
//! * `knn` — weighted cosine kNN of the frozen backbone (bank = training set, queries = test set).
//! * `linear` — the standard linear probe: frozen backbone in eval mode, a linear layer trained by
//!   SGD (momentum 0.9, cosine LR from 0.1·B/256, no weight decay) on augmented views (the
//!   recipe's random resized crop and flip, no colour jitter), test accuracy on plain images.
//! * `finetune` — semi-supervised fine-tuning on 1 % and 10 % of the labels (SimCLR v2 protocol:
//!   a class-balanced, seeded subset; backbone, optionally the first `--from-head-layer` projector
//!   layers, and a new linear layer all trained by SGD with the same augmentations).
//! * `distill` — SimCLR v2 self-distillation (Chen et al. 2020b, eq. 3): the model fine-tuned on
//!   the largest fraction is the teacher; a student ResNet of `--student-width` learns
//!   `L = −(1 − α)·Σ_{labelled} log P_S(y|x) − α·Σ_x Σ_y P_T(y|x; τ) log P_S(y|x; τ)` over the
//!   training images, τ = `--distill-temperature` (1), α = 1 − `--distill-label-weight` (label
//!   weight 0: pure distillation, the paper's main setting); the labelled images are the
//!   teacher's fine-tuning subset. Reported: the student's and the teacher's test accuracy.
//!
//! Results go to `<run>/eval.json` (or `--out`), never over an existing file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use ssl_analysis::knn::knn_accuracy;
use ssl_analysis::report::KnnSummary;
use ssl_data::{Dataset, InMemoryDataset, Loader, LoaderConfig, Split};
use ssl_models::schedule::{lr_at, scaled_lr};
use ssl_models::{DeviceChoice, Optimizer, OptimizerConfig, OptimizerKind};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

use crate::config::Config;
use crate::dataset::{load_split, DatasetKind};
use crate::network::{embed_shown, ModelConfig, Network};
use crate::run::{load_network, DistillResult, EvalReport, FinetuneResult, FractionResult, KnnResult, LinearResult};
use ssl_io::progress::Progress;

/// An evaluation protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Weighted cosine kNN of the frozen backbone.
    Knn,
    /// Linear probe on the frozen backbone.
    Linear,
    /// Fine-tuning on label fractions.
    Finetune,
    /// Self-distillation of the fine-tuned model (implies fine-tuning).
    Distill,
    /// Factor probes of the frozen backbone (toy dataset: object / background class, position).
    Factors,
}

impl Protocol {
    /// Every protocol, by name.
    pub const ALL: [(&'static str, Protocol); 5] = [
        ("knn", Protocol::Knn),
        ("linear", Protocol::Linear),
        ("finetune", Protocol::Finetune),
        ("distill", Protocol::Distill),
        ("factors", Protocol::Factors),
    ];
}

impl std::str::FromStr for Protocol {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Protocol::ALL.iter().find(|(n, _)| *n == s.trim()).map(|(_, p)| *p).ok_or_else(|| {
            let names: Vec<&str> = Protocol::ALL.iter().map(|(n, _)| *n).collect();
            anyhow!("unknown protocol `{s}`; expected any of {}", names.join(", "))
        })
    }
}

/// What `eval` runs and how long.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Which protocols.
    pub protocols: Vec<Protocol>,
    /// Linear-probe epochs.
    pub linear_epochs: usize,
    /// Fine-tuning epochs (per fraction).
    pub finetune_epochs: usize,
    /// Label fractions for fine-tuning.
    pub fractions: Vec<f64>,
    /// Fine-tune from the output of this many projector layers (0 = the backbone's output).
    pub from_head_layer: usize,
    /// Distillation epochs.
    pub distill_epochs: usize,
    /// Student width (first-stage channels); default half the teacher's.
    pub student_width: Option<i64>,
    /// Softmax temperature τ of the distillation term.
    pub distill_temperature: f64,
    /// Weight 1 − α of the label term on the labelled images (0: pure distillation).
    pub distill_label_weight: f64,
    /// Supervised batch size.
    pub batch_size: usize,
    /// Where to write the results (default `<run>/eval.json`).
    pub out: Option<PathBuf>,
    /// cpu | cuda | auto.
    pub device: DeviceChoice,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            protocols: vec![Protocol::Knn, Protocol::Linear],
            linear_epochs: 5,
            finetune_epochs: 10,
            fractions: vec![0.01, 0.1],
            from_head_layer: 0,
            distill_epochs: 2,
            student_width: None,
            distill_temperature: 1.0,
            distill_label_weight: 0.0,
            batch_size: 256,
            out: None,
            device: DeviceChoice::Auto,
        }
    }
}

fn labels_tensor(labels: &[u32], device: Device) -> Tensor {
    Tensor::from_slice(&labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>()).to_device(device)
}

impl EvalOptions {
    /// Checks every option the chosen protocols use, before any work; the error names the flag.
    pub fn check(&self) -> Result<()> {
        let wants = |p: Protocol| self.protocols.contains(&p);
        if self.protocols.is_empty() {
            bail!("--protocols: give at least one of knn, linear, finetune, distill");
        }
        let supervised = wants(Protocol::Linear) || wants(Protocol::Finetune) || wants(Protocol::Distill);
        if supervised && self.batch_size == 0 {
            bail!("--batch-size 0: expected at least 1");
        }
        if wants(Protocol::Linear) && self.linear_epochs == 0 {
            bail!("--linear-epochs 0: expected at least 1");
        }
        if wants(Protocol::Finetune) || wants(Protocol::Distill) {
            if self.finetune_epochs == 0 {
                bail!("--finetune-epochs 0: expected at least 1");
            }
            if self.fractions.is_empty() {
                bail!("--fractions: give at least one label fraction");
            }
            if let Some(f) = self.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
                bail!("--fractions: {f} is not a label fraction (expected 0 < f <= 1)");
            }
        }
        if wants(Protocol::Distill) {
            if self.distill_epochs == 0 {
                bail!("--distill-epochs 0: expected at least 1");
            }
            if !(self.distill_temperature > 0.0 && self.distill_temperature.is_finite()) {
                bail!("--distill-temperature {}: expected a finite value > 0", self.distill_temperature);
            }
            if !(0.0..=1.0).contains(&self.distill_label_weight) {
                bail!("--distill-label-weight {}: expected 0 <= w <= 1", self.distill_label_weight);
            }
            if self.student_width.is_some_and(|w| w < 1) {
                bail!("--student-width {}: expected at least 1", self.student_width.unwrap_or(0));
            }
        }
        Ok(())
    }
}

/// A class-balanced subset: ⌈fraction·n_c⌉ images of each class, drawn by a seeded shuffle.
pub fn balanced_subset(ds: &InMemoryDataset, fraction: f64, seed: u64) -> Result<Vec<usize>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if !(fraction > 0.0 && fraction <= 1.0) {
        bail!("label fraction {fraction}: expected 0 < f <= 1");
    }
    let labels = ds.labels().ok_or_else(|| anyhow!("fine-tuning needs a labelled training set"))?;
    let classes = ds.num_classes().unwrap_or(0);
    let mut order: Vec<usize> = (0..ds.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut out = Vec::new();
    for c in 0..classes as u32 {
        let members: Vec<usize> = order.iter().copied().filter(|&i| labels[i] == c).collect();
        let take = ((members.len() as f64) * fraction).ceil() as usize;
        out.extend(members.into_iter().take(take));
    }
    out.sort_unstable();
    Ok(out)
}

/// A classifier: the run's backbone (+ optional head layers) and a linear layer.
struct Classifier {
    net: Network,
    head_layers: usize,
    linear: nn::Linear,
}

impl Classifier {
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.net.backbone.forward_t(x, train);
        match (&self.net.projector, self.head_layers) {
            (Some(p), l) if l > 0 => p.forward_upto(&h, l, train),
            _ => h,
        }
    }

    fn feature_dim(cfg: &Config, net: &Network, head_layers: usize) -> i64 {
        if head_layers == 0 {
            net.backbone.out_dim()
        } else {
            cfg.model.projector[head_layers - 1]
        }
    }

    fn logits(&self, x: &Tensor, train: bool) -> Tensor {
        self.linear.forward(&self.features(x, train))
    }
}

/// Test accuracy of `f` (logits of a normalised batch) on `test`.
fn accuracy(cfg: &Config, test: &InMemoryDataset, device: Device, progress: (&Progress, &str), f: impl Fn(&Tensor) -> Tensor) -> Result<f64> {
    let view = cfg.views.eval_view();
    let labels = test.labels().ok_or_else(|| anyhow!("the test set has no labels"))?;
    let mut correct = 0i64;
    let idx: Vec<usize> = (0..test.len()).collect();
    progress.0.stage(progress.1, test.len().div_ceil(cfg.eval.batch_size.max(1)) as u64);
    for chunk in idx.chunks(cfg.eval.batch_size.max(1)) {
        progress.0.inc(1);
        let b = ssl_data::make_batch(test, view, chunk, 1, 0, 0);
        let [_, n, c, h, w] = b.dims().map(|v| v as i64);
        let x = Tensor::from_slice(&b.data).view([n, c, h, w]).to_device(device);
        let pred = tch::no_grad(|| f(&x)).argmax(-1, false);
        let y = labels_tensor(&chunk.iter().map(|&i| labels[i]).collect::<Vec<_>>(), device);
        correct += pred.eq_tensor(&y).sum(Kind::Int64).int64_value(&[]);
    }
    Ok(correct as f64 / test.len() as f64)
}

/// The distillation target of a student: the teacher's logits, SimCLR v2's temperature and the
/// weight of the label term on the labelled images (`labelled[i]`: image i of the training set).
struct Distillation<'a> {
    teacher: &'a dyn Fn(&Tensor) -> Tensor,
    temperature: f64,
    label_weight: f64,
    labelled: &'a [bool],
}

impl Distillation<'_> {
    /// SimCLR v2's eq. 3 on one batch: `−(1 − α)·mean_labelled log P_S(y|x) − α·mean_x Σ_y
    /// P_T(y|x; τ) log P_S(y|x; τ)` with 1 − α = `label_weight`.
    fn loss(&self, x: &Tensor, logits: &Tensor, indices: &[usize], labels: Option<&[u32]>, device: Device) -> Result<Tensor> {
        let t = self.temperature;
        let soft = tch::no_grad(|| (self.teacher)(x) / t).softmax(-1, Kind::Float);
        let distill = -(soft * (logits / t).log_softmax(-1, Kind::Float)).sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float);
        if self.label_weight == 0.0 {
            return Ok(distill);
        }
        let rows: Vec<i64> = indices.iter().enumerate().filter(|(_, &i)| self.labelled[i]).map(|(r, _)| r as i64).collect();
        if rows.is_empty() {
            return Ok(distill * (1.0 - self.label_weight));
        }
        let labels = labels.ok_or_else(|| anyhow!("the training set has no labels"))?;
        let y: Vec<u32> = rows.iter().map(|&r| labels[r as usize]).collect();
        let picked = logits.index_select(0, &Tensor::from_slice(&rows).to_device(device));
        let ce = picked.cross_entropy_for_logits(&labels_tensor(&y, device));
        Ok(distill * (1.0 - self.label_weight) + ce * self.label_weight)
    }
}

/// Trains `model` with cross-entropy (or distillation when `teacher` is given) on `train` views.
#[allow(clippy::too_many_arguments)]
fn supervised(
    cfg: &Config,
    train: Arc<InMemoryDataset>,
    epochs: usize,
    batch: usize,
    opt: &mut Optimizer,
    device: Device,
    train_mode: bool,
    step_logits: &dyn Fn(&Tensor, bool) -> Tensor,
    teacher: Option<&Distillation>,
    progress: (&Progress, &str),
) -> Result<f64> {
    let batch = batch.min(train.len()).max(2);
    let lc = LoaderConfig { batch_size: batch, views: 1, seed: cfg.seed + 17, ..Default::default() };
    let loader = Loader::new(train.clone(), Arc::new(cfg.views.supervised_view()), lc)?;
    let total = loader.batches_per_epoch() * epochs;
    progress.0.stage(progress.1, total as u64);
    let peak = scaled_lr(0.1, batch);
    let (mut step, mut last) = (0usize, f64::NAN);
    for epoch in 0..epochs {
        let mut batches = loader.epoch(epoch as u64);
        while let Some(b) = batches.next() {
            let mut b = b?;
            let [_, n, c, h, w] = b.dims().map(|v| v as i64);
            let x = Tensor::from_slice(&b.data).view([n, c, h, w]).to_device(device);
            batches.recycle(std::mem::take(&mut b.data));
            let logits = step_logits(&x, train_mode);
            let loss = match teacher {
                Some(d) => d.loss(&x, &logits, &b.indices, b.labels.as_deref(), device)?,
                None => {
                    let labels = b.labels.as_ref().ok_or_else(|| anyhow!("the training set has no labels"))?;
                    logits.cross_entropy_for_logits(&labels_tensor(labels, device))
                }
            };
            opt.zero_grad();
            loss.backward();
            opt.step(lr_at(step, total, 0, peak));
            last = loss.double_value(&[]);
            if !last.is_finite() {
                bail!("the supervised loss became {last} at step {step}");
            }
            step += 1;
            progress.0.inc(1);
        }
    }
    Ok(last)
}

/// Runs the protocols on `run` and writes the results.
pub fn evaluate_run(run: &Path, opts: &EvalOptions) -> Result<(PathBuf, EvalReport)> {
    let wants = |p: Protocol| opts.protocols.contains(&p);
    opts.check()?;
    let out = opts.out.clone().unwrap_or_else(|| run.join("eval.json"));
    if out.exists() {
        bail!("{} already exists; choose another --out (nothing was written)", out.display());
    }
    let (cfg, net) = load_network(run, opts.device)?;
    if wants(Protocol::Factors) && cfg.data.dataset != DatasetKind::Toy {
        bail!("--protocols factors: the factor probes need the toy dataset (known factors); {} trained on {}", run.display(), cfg.data.dataset);
    }
    let device = net.vs.device();
    if opts.from_head_layer > cfg.model.projector.len() {
        bail!("--from-head-layer {}: the run's projector has {} layers", opts.from_head_layer, cfg.model.projector.len());
    }
    drop(net);
    let train = Arc::new(load_split(&cfg, Split::Train, cfg.data.train_limit)?);
    let test = load_split(&cfg, Split::Test, cfg.data.test_limit)?;
    let classes = train.num_classes().ok_or_else(|| anyhow!("evaluation needs labels; {} has none", cfg.data.dataset))? as i64;
    let mut result = EvalReport::new(run, &cfg.name, cfg.objective.name());
    let fresh = || -> Result<Network> { Ok(load_network(run, opts.device)?.1) };
    let progress = Progress::new("eval", 0);

    if wants(Protocol::Knn) {
        let net = fresh()?;
        let view = cfg.views.eval_view();
        let knn = cfg.eval.knn();
        let tr = embed_shown(&net.backbone, train.as_ref(), view, cfg.eval.batch_size, device, (&progress, "kNN: embedding the training images"))?;
        let te = embed_shown(&net.backbone, &test, view, cfg.eval.batch_size, device, (&progress, "kNN: embedding the test images"))?;
        progress.stage("kNN: voting", 0);
        let acc = knn_accuracy(tr.view(), train.labels().unwrap_or_default(), te.view(), test.labels().unwrap_or_default(), knn)?;
        progress.println(&format!("kNN (k = {}, T = {}): {acc:.4}", knn.k, knn.temperature));
        result.knn = Some(KnnResult { accuracy: acc, settings: KnnSummary::new(knn, train.len(), test.len()) });
    }

    if wants(Protocol::Linear) {
        let mut net = fresh()?;
        net.vs.freeze();
        let dim = Classifier::feature_dim(&cfg, &net, 0);
        let lvs = nn::VarStore::new(device);
        let linear = ssl_models::seeded(cfg.seed.wrapping_add(1), || nn::linear(lvs.root() / "linear", dim, classes, Default::default()));
        let clf = Classifier { net, head_layers: 0, linear };
        // Only the linear layer's variables (in their own store) are optimised.
        let mut opt = Optimizer::new(&lvs, OptimizerConfig::new(OptimizerKind::Sgd))?;
        // Frozen backbone: BatchNorm in eval mode, features without gradient.
        let step = |x: &Tensor, _train: bool| clf.linear.forward(&tch::no_grad(|| clf.features(x, false)));
        let loss =
            supervised(&cfg, train.clone(), opts.linear_epochs, opts.batch_size, &mut opt, device, false, &step, None, (&progress, "linear probe: training"))?;
        let acc = accuracy(&cfg, &test, device, (&progress, "linear probe: testing"), |x| clf.logits(x, false))?;
        progress.println(&format!("linear probe ({} epochs, frozen backbone): {acc:.4}", opts.linear_epochs));
        result.linear = Some(LinearResult {
            accuracy: acc,
            epochs: opts.linear_epochs,
            batch_size: opts.batch_size,
            final_loss: loss,
            optimizer: "SGD momentum 0.9, lr 0.1·B/256, cosine, no weight decay".into(),
            augmentations: "random resized crop + flip (the recipe's)".into(),
        });
    }

    if wants(Protocol::Factors) {
        // The test split's factors, row for row; the probes split them on their own.
        let net = fresh()?;
        let p = crate::evaluate::toy_factor_probes(&cfg, &net, (&progress, "factors: embedding the test images"))?;
        progress.println(&format!(
            "factor probes ({} test images, split {}/{}): object {:.4} (chance {:.4}), background {:.4} (chance {:.4}), position R² {:.3}, error {:.2} px (chance {:.2})",
            p.train + p.test,
            p.train,
            p.test,
            p.object_accuracy,
            p.chance.object_accuracy,
            p.background_accuracy,
            p.chance.background_accuracy,
            p.position_r2,
            p.position_error_px,
            p.chance.position_error_px
        ));
        result.factors = Some(p);
    }

    let mut teacher: Option<(f64, Classifier, Vec<usize>)> = None;
    if wants(Protocol::Finetune) || wants(Protocol::Distill) {
        let mut rows = Vec::new();
        for &f in &opts.fractions {
            let net = fresh()?;
            let dim = Classifier::feature_dim(&cfg, &net, opts.from_head_layer);
            let linear = ssl_models::seeded(cfg.seed.wrapping_add(2), || nn::linear(net.vs.root() / "finetune_linear", dim, classes, Default::default()));
            let clf = Classifier { net, head_layers: opts.from_head_layer, linear };
            let subset = balanced_subset(&train, f, cfg.seed)?;
            let part = Arc::new(train.subset(&subset)?);
            let mut oc = OptimizerConfig::new(OptimizerKind::Sgd);
            oc.weight_decay = 5e-4;
            let mut opt = Optimizer::new(&clf.net.vs, oc)?;
            let step = |x: &Tensor, train: bool| clf.logits(x, train);
            let name = format!("fine-tuning on {:.0}% of the labels", f * 100.0);
            supervised(&cfg, part.clone(), opts.finetune_epochs, opts.batch_size.min(part.len()), &mut opt, device, true, &step, None, (&progress, &name))?;
            let acc = accuracy(&cfg, &test, device, (&progress, &format!("{name}: testing")), |x| clf.logits(x, false))?;
            progress.println(&format!("fine-tuned on {:.0}% of the labels ({} images, {} epochs): {acc:.4}", f * 100.0, part.len(), opts.finetune_epochs));
            rows.push(FractionResult { fraction: f, images: part.len(), accuracy: acc });
            // The teacher is the model fine-tuned on the largest fraction.
            if teacher.as_ref().is_none_or(|(tf, _, _)| f > *tf) {
                teacher = Some((f, clf, subset));
            }
        }
        result.finetune = Some(FinetuneResult {
            epochs: opts.finetune_epochs,
            from_head_layer: opts.from_head_layer,
            results: rows,
            optimizer: "SGD momentum 0.9, lr 0.1·B/256, cosine, weight decay 5e-4".into(),
            subset: "class-balanced, seeded by the run's seed".into(),
        });
    }

    if wants(Protocol::Distill) {
        let (_, t, subset) = teacher.as_ref().ok_or_else(|| anyhow!("distillation needs a fine-tuned teacher (give --fractions)"))?;
        let mut labelled = vec![false; train.len()];
        for &i in subset {
            labelled[i] = true;
        }
        let width = opts.student_width.unwrap_or((cfg.model.width / 2).max(1));
        let model = ModelConfig { width, projector: vec![], predictor: vec![], ..cfg.model.clone() };
        model.check().map_err(|e| anyhow!("--student-width {width}: {e:#}"))?;
        let student_net = Network::new(&model, cfg.seed, device);
        let linear = ssl_models::seeded(cfg.seed.wrapping_add(3), || {
            nn::linear(student_net.vs.root() / "linear", student_net.backbone.out_dim(), classes, Default::default())
        });
        let student = Classifier { net: student_net, head_layers: 0, linear };
        let mut opt = Optimizer::new(&student.net.vs, OptimizerConfig::new(OptimizerKind::Sgd))?;
        let step = |x: &Tensor, train: bool| student.logits(x, train);
        let teach = |x: &Tensor| t.logits(x, false);
        let distillation =
            Distillation { teacher: &teach, temperature: opts.distill_temperature, label_weight: opts.distill_label_weight, labelled: &labelled };
        supervised(&cfg, train.clone(), opts.distill_epochs, opts.batch_size, &mut opt, device, true, &step, Some(&distillation), (&progress, "distillation"))?;
        let acc = accuracy(&cfg, &test, device, (&progress, "distillation: testing the student"), |x| student.logits(x, false))?;
        let teacher_acc = accuracy(&cfg, &test, device, (&progress, "distillation: testing the teacher"), |x| t.logits(x, false))?;
        progress.println(&format!(
            "distilled student (width {width}, {} epochs on {} unlabeled images): {acc:.4} (teacher {teacher_acc:.4})",
            opts.distill_epochs,
            train.len()
        ));
        result.distill = Some(DistillResult {
            student_width: width,
            teacher_width: cfg.model.width,
            epochs: opts.distill_epochs,
            accuracy: acc,
            teacher_accuracy: teacher_acc,
            temperature: opts.distill_temperature,
            label_weight: opts.distill_label_weight,
            labelled_images: subset.len(),
            images: train.len(),
        });
    }

    progress.finish();
    crate::run::write_json_new(&out, &result)?;
    Ok((out, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SimCLR v2 eq. 3 by hand: two images, two classes, τ = 2, label weight ½, only image 7
    /// (row 0) labelled (class 1).
    #[test]
    fn distillation_loss_is_simclr_v2_eq_3() {
        let teacher_logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 4.0]).view([2, 2]);
        let student = Tensor::from_slice(&[1.0f32, 1.0, 3.0, -1.0]).view([2, 2]);
        let teach = |_: &Tensor| teacher_logits.shallow_clone();
        let mut labelled = vec![false; 10];
        labelled[7] = true;
        let d = Distillation { teacher: &teach, temperature: 2.0, label_weight: 0.5, labelled: &labelled };
        let x = Tensor::zeros([2, 1], (Kind::Float, Device::Cpu));
        let got = d.loss(&x, &student, &[7, 3], Some(&[1, 0]), Device::Cpu).unwrap().double_value(&[]);
        let softmax = |a: f64, b: f64| {
            let m = a.max(b);
            let (ea, eb) = ((a - m).exp(), (b - m).exp());
            (ea / (ea + eb), eb / (ea + eb))
        };
        let xent = |t: (f64, f64), s: (f64, f64)| -(t.0 * s.0.ln() + t.1 * s.1.ln());
        let distill = (xent(softmax(1.0, 0.0), softmax(0.5, 0.5)) + xent(softmax(0.0, 2.0), softmax(1.5, -0.5))) / 2.0;
        let label = -softmax(1.0, 1.0).1.ln(); // row 0, class 1, τ = 1
        let want = 0.5 * distill + 0.5 * label;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Label weight 0: the distillation term alone.
        let pure = Distillation { label_weight: 0.0, ..d };
        assert!((pure.loss(&x, &student, &[7, 3], Some(&[1, 0]), Device::Cpu).unwrap().double_value(&[]) - distill).abs() < 1e-6);
    }
}
