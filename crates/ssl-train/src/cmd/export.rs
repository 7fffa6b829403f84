//! `cargo xtask export --run runs/X --split test`: a run's embeddings and labels as `.npy`, for
//! `cargo xtask analyze` or any other tool.
//!
//! * Plain: `<split>_backbone.npy`, `<split>_projector.npy` (if the run has a projector) and
//!   `<split>_labels.npy`, every image of the split through the evaluation transform. With
//!   `--layers L1,L2,…` one `<split>_<layer>.npy` per named layer instead of the first two.
//! * Augmentation manifolds: `--views K --images N` draws K views of each of the first N images
//!   of the split with the run's training pipelines (or `--pipeline simclr|mmcr|byol`), exactly as
//!   the trainer draws them at `--epoch E` (default 0: the same seed gives the same pixels), and
//!   writes `<split>_views_<layer>.npy` per layer (rows image-major: row = image·K + view),
//!   `<split>_views_manifold_ids.npy` (the image of each row), `<split>_views_labels.npy` and
//!   `<split>_views.json` (what each file holds, and how it was made).
//!
//! Layers: `input` (the view's pixels, flattened), `stem`, `layer1` … `layer4` (feature maps,
//! average-pooled over H × W to one vector of C), `pool` (the representation) and `projector`.
//! Only pooled vectors are kept: memory grows with rows × the layers' channels, never with the
//! feature maps.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use ssl_data::pipeline::Pipeline;
use ssl_data::{make_batch, Dataset, Split, ViewTransform};
use ssl_models::DeviceChoice;
use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use crate::dataset::{load_split, load_toy, toy_factor_matrix, DatasetKind};
use crate::network::{embed_shown, embed_with, Network};
use crate::run::load_network;
use ssl_io::progress::Progress;

/// A layer whose embeddings an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The view's pixels, flattened (C·H·W).
    Input,
    /// After the stem (conv, BN, ReLU and, for the ImageNet stem, max-pool), pooled.
    Stem,
    /// After residual stage 1, pooled.
    Layer1,
    /// After residual stage 2, pooled.
    Layer2,
    /// After residual stage 3, pooled.
    Layer3,
    /// After residual stage 4, pooled.
    Layer4,
    /// The representation (global average pool of stage 4).
    Pool,
    /// The projector's output.
    Projector,
}

impl Layer {
    /// Every layer, input to output.
    pub const ALL: [Layer; 8] = [Layer::Input, Layer::Stem, Layer::Layer1, Layer::Layer2, Layer::Layer3, Layer::Layer4, Layer::Pool, Layer::Projector];

    /// Its name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Input => "input",
            Layer::Stem => "stem",
            Layer::Layer1 => "layer1",
            Layer::Layer2 => "layer2",
            Layer::Layer3 => "layer3",
            Layer::Layer4 => "layer4",
            Layer::Pool => "pool",
            Layer::Projector => "projector",
        }
    }

    /// How a row of this layer was made from the network's output.
    pub fn reduction(self) -> &'static str {
        match self {
            Layer::Input => "the view's pixels (normalised as the network sees them), flattened C*H*W",
            Layer::Stem | Layer::Layer1 | Layer::Layer2 | Layer::Layer3 | Layer::Layer4 => {
                "the C x H x W feature map averaged over H x W (one value per channel)"
            }
            Layer::Pool => "the representation (global average pool of layer4)",
            Layer::Projector => "the projector's output on the representation",
        }
    }

    /// The stage index of `ResNet::forward_stages` for stem … layer4.
    fn stage(self) -> Option<usize> {
        [Layer::Stem, Layer::Layer1, Layer::Layer2, Layer::Layer3, Layer::Layer4].iter().position(|&l| l == self)
    }
}

impl FromStr for Layer {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown layer `{s}`: expected one of {}", Layer::ALL.map(Layer::name).join(", ")))
    }
}

/// Which view pipeline draws the augmentation manifolds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewPipeline {
    /// The run's own training pipelines (`[[views.train]]`).
    Train,
    /// SimCLR's (`ssl_data::pipeline::simclr`, strength 1) at the run's image size.
    Simclr,
    /// MMCR's (`ssl_data::pipeline::mmcr`).
    Mmcr,
    /// BYOL's asymmetric pair (`ssl_data::pipeline::byol`), cycled over the views.
    Byol,
}

impl FromStr for ViewPipeline {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "train" => Ok(ViewPipeline::Train),
            "simclr" => Ok(ViewPipeline::Simclr),
            "mmcr" => Ok(ViewPipeline::Mmcr),
            "byol" => Ok(ViewPipeline::Byol),
            other => bail!("unknown pipeline `{other}`: expected train, simclr, mmcr or byol"),
        }
    }
}

/// The augmentation-manifold part of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewsExport {
    /// Views per image (K ≥ 1).
    pub views: usize,
    /// Images: the first N of the split (N ≥ 1).
    pub images: usize,
    /// Which pipeline draws the views.
    pub pipeline: ViewPipeline,
    /// The training epoch whose views are reproduced.
    pub epoch: u64,
}

/// What `export` writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportOptions {
    /// Which split.
    pub split: Split,
    /// Output folder (default `<run>/export`).
    pub out: Option<PathBuf>,
    /// Where the network runs.
    pub device: DeviceChoice,
    /// Layers (default: the representation and, if any, the projector).
    pub layers: Option<Vec<Layer>>,
    /// K views of N images instead of one evaluation view of every image.
    pub views: Option<ViewsExport>,
}

impl ExportOptions {
    /// The plain export of `split`.
    pub fn plain(split: Split) -> Self {
        ExportOptions { split, out: None, device: DeviceChoice::Auto, layers: None, views: None }
    }
}

/// One layer's file in `<split>_views.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerFile {
    /// The layer.
    pub layer: Layer,
    /// The file name.
    pub file: String,
    /// Columns.
    pub dim: usize,
    /// How a row was made.
    pub reduction: String,
}

/// `<split>_views.json`: how an augmentation-manifold export was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewsMeta {
    /// The run folder.
    pub run: String,
    /// `train` or `test`.
    pub split: String,
    /// Views per image.
    pub views: usize,
    /// Images (the first `images` of the split).
    pub images: usize,
    /// The pipeline.
    pub pipeline: ViewPipeline,
    /// The run's seed, which with `epoch` fixes every view.
    pub seed: u64,
    /// The training epoch whose views these are.
    pub epoch: u64,
    /// Row order.
    pub rows: String,
    /// One per layer.
    pub layers: Vec<LayerFile>,
    /// The manifold id (image index) of each row.
    pub manifold_ids: String,
    /// The class label of each row.
    pub labels: String,
}

/// The augmentation manifolds of one network: per layer an `[N·K, d]` matrix (rows image-major),
/// the image index and the label of every row.
pub struct LayerViews {
    /// `(layer, embeddings)` in the order asked.
    pub layers: Vec<(Layer, Array2<f32>)>,
    /// Image index per row.
    pub manifold_ids: Vec<u32>,
    /// Class label per row (empty when the dataset has none).
    pub labels: Vec<u32>,
}

/// The view transform of `pipeline` for images of `ds`.
pub fn view_transform(cfg: &crate::config::RunConfig, ds: &dyn Dataset, pipeline: ViewPipeline) -> Result<std::sync::Arc<dyn ViewTransform>> {
    use std::sync::Arc;
    if let Some(split) = &cfg.model.split {
        anyhow::bail!(
            "--views: this run's views are the channel groups {:?} of one drawn image (model.split), not images its encoder takes one by one; export the representation (without --views) instead",
            split.groups
        );
    }
    let shape = ds.shape();
    let size = shape.height;
    let (mean, std) =
        cfg.views.eval_normalization().map(|(m, s)| (m.to_vec(), s.to_vec())).unwrap_or_else(|| (vec![0.0; shape.channels], vec![1.0; shape.channels]));
    let one = |p: Pipeline| -> Result<Arc<dyn ViewTransform>> {
        p.checked_shape(shape).map_err(|e| anyhow::anyhow!("--pipeline: {e}"))?;
        Ok(Arc::new(p))
    };
    match pipeline {
        ViewPipeline::Train => Ok(cfg.views.train_view()),
        ViewPipeline::Simclr => one(ssl_data::pipeline::simclr(size, 1.0, false, mean, std)),
        ViewPipeline::Mmcr => one(ssl_data::pipeline::mmcr(size, mean, std)),
        ViewPipeline::Byol => {
            let pair = ssl_data::pipeline::byol(size, false, mean, std);
            for p in &pair {
                p.checked_shape(shape).map_err(|e| anyhow::anyhow!("--pipeline: {e}"))?;
            }
            Ok(Arc::new(ssl_data::PerView { transforms: pair.into_iter().map(|p| Arc::new(p) as Arc<dyn ViewTransform>).collect() }))
        }
    }
}

/// The embeddings of `layers` for the batch `x` (eval mode, no gradient), each `[B, d]` on the CPU.
fn layer_outputs(net: &Network, x: &Tensor, layers: &[Layer]) -> Vec<Tensor> {
    tch::no_grad(|| {
        let mut out: Vec<Option<Tensor>> = layers.iter().map(|_| None).collect();
        let mut put = |layer: Layer, t: &Tensor| {
            for (slot, &l) in out.iter_mut().zip(layers) {
                if l == layer {
                    *slot = Some(t.to_kind(Kind::Float).to_device(tch::Device::Cpu));
                }
            }
        };
        put(Layer::Input, &x.flatten(1, -1));
        let pooled = net.backbone.forward_stages(x, false, |stage, h| {
            if let Some(&layer) = layers.iter().find(|l| l.stage() == Some(stage)) {
                put(layer, &h.mean_dim([2i64, 3].as_slice(), false, Kind::Float));
            }
        });
        if layers.contains(&Layer::Projector) {
            if let Some(head) = &net.projector {
                put(Layer::Projector, &head.forward_t(&pooled, false));
            }
        }
        put(Layer::Pool, &pooled);
        out.into_iter().map(|t| t.expect("every asked layer is computed")).collect()
    })
}

/// K views of each of the first N images of `ds` through `net`, for each of `layers`; each batch
/// counts one on `progress`.
#[allow(clippy::too_many_arguments)]
pub fn layer_views(
    net: &Network,
    seed: u64,
    ds: &dyn Dataset,
    transform: &dyn ViewTransform,
    layers: &[Layer],
    v: ViewsExport,
    batch: usize,
    progress: &Progress,
) -> Result<LayerViews> {
    if v.views == 0 || v.images == 0 {
        bail!("--views {} --images {}: expected at least 1 view of at least 1 image", v.views, v.images);
    }
    if v.images > ds.len() {
        bail!("--images {}: the split has only {} images (after the run's data limit)", v.images, ds.len());
    }
    if layers.contains(&Layer::Projector) && net.projector.is_none() {
        bail!("--layers projector: the run has no projector");
    }
    let device = net.vs.device();
    let mut rows: Vec<Vec<f32>> = layers.iter().map(|_| Vec::new()).collect();
    let mut dims = vec![0usize; layers.len()];
    let indices: Vec<usize> = (0..v.images).collect();
    let per_batch = (batch / v.views).max(1);
    progress.set_length(v.images.div_ceil(per_batch) as u64);
    for chunk in indices.chunks(per_batch) {
        progress.inc(1);
        let b = make_batch(ds, transform, chunk, v.views, seed, v.epoch);
        let [k, n, c, h, w] = b.dims().map(|d| d as i64);
        let x = Tensor::from_slice(&b.data).view([k * n, c, h, w]).to_device(device);
        for (i, t) in layer_outputs(net, &x, layers).into_iter().enumerate() {
            let d = t.size()[1];
            dims[i] = d as usize;
            // Rows come view-major ([K, B]); the files are image-major ([B, K]).
            let image_major = t.view([k, n, d]).transpose(0, 1).contiguous().view([k * n, d]);
            rows[i].extend(Vec::<f32>::try_from(image_major.flatten(0, -1))?);
        }
    }
    let total = v.images * v.views;
    let mut out = Vec::with_capacity(layers.len());
    for ((&layer, data), d) in layers.iter().zip(rows).zip(dims) {
        out.push((layer, Array2::from_shape_vec((total, d), data)?));
    }
    let manifold_ids: Vec<u32> = (0..total).map(|r| (r / v.views) as u32).collect();
    let labels: Vec<u32> = (0..total).filter_map(|r| ds.label(r / v.views)).collect();
    Ok(LayerViews { layers: out, manifold_ids, labels })
}

/// Whether `name` is a file some export writes.
fn is_export_output(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("train_").or_else(|| name.strip_prefix("test_")) else { return false };
    if rest == "views.json" {
        return true;
    }
    let Some(stem) = rest.strip_suffix(".npy") else { return false };
    let stem = stem.strip_prefix("views_").unwrap_or(stem);
    ["backbone", "labels", "manifold_ids", "factors"].contains(&stem) || Layer::ALL.iter().any(|l| l.name() == stem)
}

/// Writes the export described by `opts` (see the module page) into `opts.out` (default
/// `<run>/export`): a new or empty folder, or one holding only earlier exports; never overwrites
/// a file. Returns the files written.
pub fn export(run: &Path, opts: &ExportOptions) -> Result<Vec<PathBuf>> {
    let out = opts.out.clone().unwrap_or_else(|| run.join("export"));
    let split = opts.split.name();
    let file = |stem: &str| out.join(format!("{split}_{stem}"));
    // The files this export will write, known before any work.
    let (cfg, net) = load_network(run, opts.device)?;
    let layers: Vec<Layer> = match &opts.layers {
        Some(l) if l.is_empty() => bail!("--layers: name at least one layer ({})", Layer::ALL.map(Layer::name).join(", ")),
        Some(l) => l.clone(),
        None if opts.views.is_some() => std::iter::once(Layer::Pool).chain(net.projector.as_ref().map(|_| Layer::Projector)).collect(),
        None => Vec::new(),
    };
    if layers.contains(&Layer::Projector) && net.projector.is_none() {
        bail!("--layers projector: the run {} has no projector", run.display());
    }
    let names: Vec<PathBuf> = match (&opts.views, layers.is_empty()) {
        (Some(_), _) => layers
            .iter()
            .map(|l| file(&format!("views_{}.npy", l.name())))
            .chain(["views_manifold_ids.npy", "views_labels.npy", "views.json"].map(file))
            .collect(),
        (None, true) => {
            let mut n = vec![file("backbone.npy")];
            if net.projector.is_some() {
                n.push(file("projector.npy"));
            }
            n.push(file("labels.npy"));
            n
        }
        (None, false) => layers.iter().map(|l| file(&format!("{}.npy", l.name()))).chain([file("labels.npy")]).collect(),
    };
    let limit = match opts.split {
        Split::Train => cfg.data.train_limit,
        Split::Test => cfg.data.test_limit,
    };
    // The toy dataset's factors beside the labels, row for row (object class, background class, x, y).
    let factors_path = (cfg.data.dataset == DatasetKind::Toy).then(|| file(if opts.views.is_some() { "views_factors.npy" } else { "factors.npy" }));
    // Before any work: a folder of the user's files is refused, an earlier export's kept.
    ssl_io::check_output_folder(&out, &names.iter().chain(&factors_path).cloned().collect::<Vec<_>>(), is_export_output)?;
    let write_factors = |images: &dyn Fn(usize) -> usize, rows: usize| -> Result<Option<PathBuf>> {
        let Some(path) = &factors_path else { return Ok(None) };
        let toy = load_toy(&cfg, opts.split, limit)?;
        ssl_analysis::npy::write_matrix(path, &toy_factor_matrix(&toy, rows, images))?;
        Ok(Some(path.clone()))
    };
    let ds = load_split(&cfg, opts.split, limit)?;
    if let Some(v) = opts.views {
        if v.images > ds.len() {
            bail!("--images {}: the {split} split has only {} images (data.{split}_limit = {limit})", v.images, ds.len());
        }
        let transform = view_transform(&cfg, &ds, v.pipeline)?;
        let progress = Progress::new("export", 0);
        progress.stage(&format!("{} views of {} images through {} layer(s)", v.views, v.images, layers.len()), 0);
        let got = layer_views(&net, cfg.seed, &ds, transform.as_ref(), &layers, v, cfg.eval.batch_size, &progress)?;
        progress.finish();
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let mut files = Vec::new();
        for ((layer, x), path) in got.layers.iter().zip(&names) {
            ssl_analysis::npy::write_matrix(path, x)?;
            files.push(LayerFile { layer: *layer, file: file_name(path), dim: x.ncols(), reduction: layer.reduction().into() });
        }
        let n = layers.len();
        ssl_analysis::npy::write_labels(&names[n], &got.manifold_ids)?;
        ssl_analysis::npy::write_labels(&names[n + 1], &got.labels)?;
        let meta = ViewsMeta {
            run: run.display().to_string(),
            split: split.into(),
            views: v.views,
            images: v.images,
            pipeline: v.pipeline,
            seed: cfg.seed,
            epoch: v.epoch,
            rows: format!("image-major: row = image * {} + view; images are the first {} of the split", v.views, v.images),
            layers: files,
            manifold_ids: file_name(&names[n]),
            labels: file_name(&names[n + 1]),
        };
        crate::run::write_json_new(&names[n + 2], &meta)?;
        let views = v.views;
        let mut names = names;
        names.extend(write_factors(&|r| r / views, v.images * views)?);
        return Ok(names);
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let view = cfg.views.eval_view();
    let device = net.vs.device();
    if layers.is_empty() {
        let mut written = Vec::new();
        let progress = Progress::new("export", 0);
        let backbone = embed_shown(&net.backbone, &ds, view, cfg.eval.batch_size, device, (&progress, "backbone"))?;
        ssl_analysis::npy::write_matrix(&names[0], &backbone)?;
        written.push(names[0].clone());
        if let Some(head) = &net.projector {
            progress.stage("projector", ds.len().div_ceil(cfg.eval.batch_size.max(1)) as u64);
            let z = embed_with(&ds, view, cfg.eval.batch_size, device, &progress, |x| head.forward_t(&net.backbone.forward_t(x, false), false))?;
            ssl_analysis::npy::write_matrix(&names[1], &z)?;
            written.push(names[1].clone());
        }
        let labels = names.last().expect("labels");
        ssl_analysis::npy::write_labels(labels, ds.labels().unwrap_or_default())?;
        written.push(labels.clone());
        written.extend(write_factors(&|r| r, ds.len())?);
        progress.finish();
        return Ok(written);
    }
    // One evaluation view of every image, per layer.
    let all = ViewsExport { views: 1, images: ds.len(), pipeline: ViewPipeline::Train, epoch: 0 };
    let eval: std::sync::Arc<dyn ViewTransform> = std::sync::Arc::new(view.clone());
    let progress = Progress::new("export", 0);
    progress.stage(&format!("{} images through {} layer(s)", ds.len(), layers.len()), 0);
    let got = layer_views(&net, 0, &ds, eval.as_ref(), &layers, all, cfg.eval.batch_size, &progress)?;
    progress.finish();
    for ((_, x), path) in got.layers.iter().zip(&names) {
        ssl_analysis::npy::write_matrix(path, x)?;
    }
    ssl_analysis::npy::write_labels(names.last().expect("labels"), ds.labels().unwrap_or_default())?;
    let mut names = names;
    names.extend(write_factors(&|r| r, ds.len())?);
    Ok(names)
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_round_trip_and_unknown_names_list_the_choices() {
        for l in Layer::ALL {
            assert_eq!(l.name().parse::<Layer>().unwrap(), l);
        }
        let e = "layer5".parse::<Layer>().unwrap_err().to_string();
        assert!(e.contains("unknown layer `layer5`") && e.contains("input, stem, layer1"), "{e}");
    }

    #[test]
    fn export_outputs_are_recognised() {
        for n in ["test_backbone.npy", "train_labels.npy", "test_views_layer3.npy", "test_views_manifold_ids.npy", "test_views.json", "test_pool.npy"] {
            assert!(is_export_output(n), "{n}");
        }
        for n in ["notes.txt", "test_other.npy", "val_backbone.npy"] {
            assert!(!is_export_output(n), "{n}");
        }
    }
}
