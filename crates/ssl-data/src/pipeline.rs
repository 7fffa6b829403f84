//! View pipelines described as data (TOML / JSON, like solo-learn's augmentation YAML), and the
//! published view recipes built from them.
//!
//! A [`Pipeline`] is a list of [`Op`]s applied in order to one image; it is a
//! [`ViewTransform`], so batches draw it per view. In a run's TOML:
//!
//! ```toml
//! [[views.train]]              # one table per view (cycled over the k views)
//! ops = [
//!   { op = "random_resized_crop", size = 32, scale = [0.08, 1.0] },
//!   { op = "horizontal_flip", p = 0.5 },
//!   { op = "color_jitter", brightness = 0.4, contrast = 0.4, saturation = 0.2, hue = 0.1, p = 0.8 },
//!   { op = "grayscale", p = 0.2 },
//!   { op = "gaussian_blur", kernel_size = 23, sigma = [0.1, 2.0], p = 1.0 },
//!   { op = "solarize", threshold = 0.5, p = 0.0 },
//!   { op = "normalize", mean = [0.4914, 0.4822, 0.4465], std = [0.247, 0.2435, 0.2616] },
//! ]
//! ```
//!
//! Other ops: `erase` (RandomErasing), `rot90` (random multiple of 90°), `sobel`, `color_space`
//! (convert and keep some channels, e.g. `{ op = "color_space", space = "lab", keep = [0] }`),
//! `patch_pair` (two patches at a set distance stacked along the channels, for a channel-split
//! encoder: `{ op = "patch_pair", size = 14, distance = 7 }`).
//!
//! Recipes ([`simclr`], [`byol`], [`mmcr`]) return the pipelines the papers use.

use std::cell::RefCell;

use rand::Rng;

use crate::augment::blur::check_p;
use crate::augment::crop::resized_crop_u8_into;
use crate::augment::{
    check_normalization, grayscale, hflip, normalize, normalize_into, resized_crop, rot90, sobel, ColorJitter, RandomErasing, RandomGaussianBlur,
    RandomPatchPair, RandomResizedCrop, RandomSolarize,
};
use crate::colorspace::ColorSpace;
use crate::error::DataError;
use crate::image::{ImageF32, ImageRef, Shape};
use crate::rng::ViewRng;
use crate::view::ViewTransform;

fn default_scale() -> (f64, f64) {
    (0.08, 1.0)
}
fn default_ratio() -> (f64, f64) {
    (3.0 / 4.0, 4.0 / 3.0)
}
fn one() -> f64 {
    1.0
}

/// One step of a view pipeline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// torchvision `RandomResizedCrop(size, scale, ratio)` (bilinear, antialiased).
    RandomResizedCrop {
        /// Output side.
        size: usize,
        /// Area range.
        #[serde(default = "default_scale")]
        scale: (f64, f64),
        /// Aspect-ratio range.
        #[serde(default = "default_ratio")]
        ratio: (f64, f64),
    },
    /// Horizontal flip with probability `p`.
    HorizontalFlip {
        /// Probability.
        #[serde(default = "one")]
        p: f64,
    },
    /// `ColorJitter` applied with probability `p` (`RandomApply`).
    ColorJitter {
        /// Brightness strength.
        #[serde(default)]
        brightness: f32,
        /// Contrast strength.
        #[serde(default)]
        contrast: f32,
        /// Saturation strength.
        #[serde(default)]
        saturation: f32,
        /// Hue strength (≤ 0.5).
        #[serde(default)]
        hue: f32,
        /// Probability.
        #[serde(default = "one")]
        p: f64,
    },
    /// `RandomGrayscale(p)`.
    Grayscale {
        /// Probability.
        #[serde(default = "one")]
        p: f64,
    },
    /// `GaussianBlur(kernel_size, sigma)` with probability `p`.
    GaussianBlur {
        /// Odd kernel side.
        kernel_size: usize,
        /// σ range.
        sigma: (f32, f32),
        /// Probability.
        #[serde(default = "one")]
        p: f64,
    },
    /// `RandomSolarize(threshold, p)`.
    Solarize {
        /// Threshold in [0, 1].
        threshold: f32,
        /// Probability.
        #[serde(default = "one")]
        p: f64,
    },
    /// `RandomErasing` (cutout).
    Erase {
        /// Probability.
        #[serde(default = "one")]
        p: f64,
        /// Area range.
        #[serde(default = "erase_scale")]
        scale: (f64, f64),
        /// Aspect-ratio range.
        #[serde(default = "erase_ratio")]
        ratio: (f64, f64),
        /// Fill value.
        #[serde(default)]
        value: f32,
    },
    /// A random multiple of 90° (counter-clockwise).
    Rot90,
    /// The 2-channel Sobel gradients of the grayscale image.
    Sobel,
    /// Converts RGB to `space`, keeping the channels in `keep` (others set to 0).
    ColorSpace {
        /// The space.
        space: ColorSpace,
        /// Channels kept (all when empty).
        #[serde(default)]
        keep: Vec<usize>,
    },
    /// Two `size × size` patches at `distance` pixels, stacked along the channels (`[2C, size,
    /// size]`: InfoMin's spatial sweep; only `normalize` may follow).
    PatchPair {
        /// Patch side.
        size: usize,
        /// Distance between the patches, in pixels.
        distance: f32,
    },
    /// Per-channel `(x − mean) / std`.
    Normalize {
        /// Means (one, or one per channel).
        mean: Vec<f32>,
        /// Standard deviations.
        std: Vec<f32>,
    },
}

fn erase_scale() -> (f64, f64) {
    (0.02, 0.33)
}
fn erase_ratio() -> (f64, f64) {
    (0.3, 3.3)
}

/// A view pipeline: ops applied in order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The ops.
    pub ops: Vec<Op>,
}

impl Pipeline {
    /// Checks every op's parameters (probabilities, ranges, sizes) without an input shape; the
    /// error names the op by index and name. [`Pipeline::checked_shape`] also checks the ops
    /// against an image shape.
    pub fn validate(&self) -> Result<(), DataError> {
        for (i, op) in self.ops.iter().enumerate() {
            let at = |e: DataError| DataError::param("ops", format!("op {i} ({}): {e}", op_name(op)));
            match op {
                Op::RandomResizedCrop { size, scale, ratio } => RandomResizedCrop { size: *size, scale: *scale, ratio: *ratio }.validate().map_err(at)?,
                Op::HorizontalFlip { p } | Op::Grayscale { p } => check_p("p", *p).map_err(at)?,
                Op::ColorJitter { brightness, contrast, saturation, hue, p } => {
                    ColorJitter { brightness: *brightness, contrast: *contrast, saturation: *saturation, hue: *hue }.validate().map_err(at)?;
                    check_p("p", *p).map_err(at)?;
                }
                Op::GaussianBlur { kernel_size, sigma, p } => RandomGaussianBlur { kernel_size: *kernel_size, sigma: *sigma, p: *p }.validate().map_err(at)?,
                Op::Solarize { threshold, p } => RandomSolarize { threshold: *threshold, p: *p }.validate().map_err(at)?,
                Op::Erase { p, scale, ratio, value } => RandomErasing { p: *p, scale: *scale, ratio: *ratio, value: *value }.validate().map_err(at)?,
                Op::ColorSpace { keep, .. } if keep.iter().any(|&c| c >= 3) => {
                    return Err(at(DataError::param("keep", format!("{keep:?}: channel indices must be < 3"))));
                }
                Op::Normalize { mean, std } => check_normalization(mean, std, mean.len().max(1)).map_err(at)?,
                Op::PatchPair { size, distance } => RandomPatchPair { size: *size, distance: *distance }.validate().map_err(at)?,
                Op::Rot90 | Op::Sobel | Op::ColorSpace { .. } => {}
            }
        }
        Ok(())
    }

    /// The shape of a view of an image of shape `input`, or an error naming the first op that
    /// cannot take its input (e.g. a colour space on a grey image, a mean per wrong channel count).
    pub fn checked_shape(&self, input: Shape) -> Result<Shape, DataError> {
        self.validate()?;
        let mut s = input;
        for (i, op) in self.ops.iter().enumerate() {
            let at = |e: DataError| DataError::param("ops", format!("op {i} ({}): {e}", op_name(op)));
            match op {
                Op::RandomResizedCrop { size, .. } => s = Shape { channels: s.channels, height: *size, width: *size },
                Op::Rot90 if s.height != s.width => {
                    return Err(at(DataError::param("rot90", format!("needs square views to keep one batch shape, got {}x{}", s.height, s.width))));
                }
                Op::Sobel => s = Shape { channels: 2, ..s },
                Op::ColorSpace { space, .. } if s.channels != 3 => {
                    return Err(at(DataError::param("space", format!("{space:?} needs 3 channels, the view has {}", s.channels))));
                }
                Op::Normalize { mean, std } => check_normalization(mean, std, s.channels).map_err(at)?,
                Op::PatchPair { size, distance } => {
                    s = RandomPatchPair { size: *size, distance: *distance }.output_shape(s).map_err(at)?;
                    if let Some(j) = self.ops[i + 1..].iter().position(|o| !matches!(o, Op::Normalize { .. })) {
                        let later = &self.ops[i + 1 + j];
                        return Err(DataError::param(
                            "ops",
                            format!(
                                "op {} ({}): only normalize may follow patch_pair (its output stacks two patches along the channels)",
                                i + 1 + j,
                                op_name(later)
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Runs the ops on one image.
    pub fn run(&self, img: ImageRef<'_>, rng: &mut impl Rng) -> ImageF32 {
        let mut x = ImageF32 { shape: img.shape, data: Vec::new() };
        run_ops(&self.ops, img, rng, &mut x, &mut Vec::new());
        x
    }
}

/// Runs `ops` on `img` into `x` (its buffer reused), `tmp` as scratch. A leading crop resizes
/// straight from the `u8` source and takes a flip that follows it along (the same draws, in the
/// same order, as running the ops one by one).
fn run_ops(ops: &[Op], img: ImageRef<'_>, rng: &mut impl Rng, x: &mut ImageF32, tmp: &mut Vec<f32>) {
    let rest = if let Some(Op::RandomResizedCrop { size, scale, ratio }) = ops.first() {
        let bx = RandomResizedCrop { size: *size, scale: *scale, ratio: *ratio }.sample(img.shape.height, img.shape.width, rng);
        let (mirror, rest) = match &ops[1..] {
            [Op::HorizontalFlip { p }, rest @ ..] => (rng.random::<f64>() < *p, rest),
            rest => (false, rest),
        };
        x.shape = Shape { channels: img.shape.channels, height: *size, width: *size };
        resized_crop_u8_into(img, bx, mirror, x, tmp);
        rest
    } else {
        img.to_f32_into(x);
        ops
    };
    for op in rest {
        match op {
            Op::RandomResizedCrop { size, scale, ratio } => {
                let t = RandomResizedCrop { size: *size, scale: *scale, ratio: *ratio };
                let bx = t.sample(x.shape.height, x.shape.width, rng);
                *x = resized_crop(x, bx, *size, *size);
            }
            Op::HorizontalFlip { p } => {
                if rng.random::<f64>() < *p {
                    hflip(x);
                }
            }
            Op::ColorJitter { brightness, contrast, saturation, hue, p } => {
                if rng.random::<f64>() < *p {
                    ColorJitter { brightness: *brightness, contrast: *contrast, saturation: *saturation, hue: *hue }.apply(x, rng);
                }
            }
            Op::Grayscale { p } => {
                if rng.random::<f64>() < *p {
                    grayscale(x);
                }
            }
            Op::GaussianBlur { kernel_size, sigma, p } => RandomGaussianBlur { kernel_size: *kernel_size, sigma: *sigma, p: *p }.apply(x, rng),
            Op::Solarize { threshold, p } => RandomSolarize { threshold: *threshold, p: *p }.apply(x, rng),
            Op::Erase { p, scale, ratio, value } => RandomErasing { p: *p, scale: *scale, ratio: *ratio, value: *value }.apply(x, rng),
            Op::Rot90 => *x = rot90(x, rng.random_range(0..4)),
            Op::Sobel => *x = sobel(x),
            Op::ColorSpace { space, keep } => {
                if let Ok(mut y) = space.from_rgb(x) {
                    if !keep.is_empty() {
                        for c in 0..3 {
                            if !keep.contains(&c) {
                                y.channel_mut(c).fill(0.0);
                            }
                        }
                    }
                    *x = y;
                }
            }
            Op::PatchPair { size, distance } => *x = RandomPatchPair { size: *size, distance: *distance }.apply(x, rng),
            Op::Normalize { mean, std } => normalize(x, mean, std),
        }
    }
}

/// Per-thread buffers that [`Pipeline`]'s views reuse: the working image and the resize rows.
struct Scratch {
    x: ImageF32,
    tmp: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> =
        const { RefCell::new(Scratch { x: ImageF32 { shape: Shape { channels: 0, height: 0, width: 0 }, data: Vec::new() }, tmp: Vec::new() }) };
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::RandomResizedCrop { .. } => "random_resized_crop",
        Op::HorizontalFlip { .. } => "horizontal_flip",
        Op::ColorJitter { .. } => "color_jitter",
        Op::Grayscale { .. } => "grayscale",
        Op::GaussianBlur { .. } => "gaussian_blur",
        Op::Solarize { .. } => "solarize",
        Op::Erase { .. } => "erase",
        Op::Rot90 => "rot90",
        Op::Sobel => "sobel",
        Op::ColorSpace { .. } => "color_space",
        Op::PatchPair { .. } => "patch_pair",
        Op::Normalize { .. } => "normalize",
    }
}

impl ViewTransform for Pipeline {
    fn output_shape(&self, input: Shape) -> Shape {
        self.checked_shape(input).unwrap_or(input)
    }

    fn apply(&self, img: ImageRef<'_>, rng: &mut ViewRng, out: &mut [f32]) {
        // A closing `normalize` writes straight into `out`.
        let (body, last) = match self.ops.split_last() {
            Some((Op::Normalize { mean, std }, body)) => (body, Some((mean, std))),
            _ => (&self.ops[..], None),
        };
        let finish = |x: &ImageF32, out: &mut [f32]| match last {
            Some((mean, std)) => normalize_into(x, mean, std, out),
            None => out.copy_from_slice(&x.data),
        };
        // Ops never draw a view themselves, so this borrow is never nested.
        SCRATCH.with_borrow_mut(|Scratch { x, tmp }| {
            run_ops(body, img, rng, x, tmp);
            finish(x, out);
        })
    }
}

/// SimCLR's view for grey 28 × 28 images (the Fashion-MNIST CPU recipes' family): crop scale
/// (0.2, 1), flip 0.5, brightness/contrast jitter 0.4 with p 0.8, no grayscale (already grey),
/// normalised with Fashion-MNIST's mean 0.2860 and std 0.3530.
pub fn fashion_mnist(size: usize) -> Pipeline {
    Pipeline {
        ops: vec![
            Op::RandomResizedCrop { size, scale: (0.2, 1.0), ratio: default_ratio() },
            Op::HorizontalFlip { p: 0.5 },
            Op::ColorJitter { brightness: 0.4, contrast: 0.4, saturation: 0.0, hue: 0.0, p: 0.8 },
            Op::Normalize { mean: vec![0.2860], std: vec![0.3530] },
        ],
    }
}

/// SimCLR's view (Chen et al. 2020, appendix A) at colour strength `s`: crop (0.08, 1), flip,
/// jitter (0.8s, 0.8s, 0.8s, 0.2s) with p 0.8, grayscale p 0.2, and for ImageNet-size images a
/// Gaussian blur (kernel 10 % of the side, σ ∈ [0.1, 2]) with p 0.5; then `normalize`.
pub fn simclr(size: usize, s: f32, imagenet: bool, mean: Vec<f32>, std: Vec<f32>) -> Pipeline {
    let mut ops = vec![
        Op::RandomResizedCrop { size, scale: default_scale(), ratio: default_ratio() },
        Op::HorizontalFlip { p: 0.5 },
        Op::ColorJitter { brightness: 0.8 * s, contrast: 0.8 * s, saturation: 0.8 * s, hue: 0.2 * s, p: 0.8 },
        Op::Grayscale { p: 0.2 },
    ];
    if imagenet {
        ops.push(Op::GaussianBlur { kernel_size: (size / 10) | 1, sigma: (0.1, 2.0), p: 0.5 });
    }
    ops.push(Op::Normalize { mean, std });
    Pipeline { ops }
}

/// BYOL's (and Barlow Twins') asymmetric pair (Grill et al. 2020, table 6): jitter
/// (0.4, 0.4, 0.2, 0.1) p 0.8, grayscale p 0.2, blur p 1.0 / 0.1, solarize p 0 / 0.2. With
/// `blur = false` (CIFAR-size images, as solo-learn) the blur is left out.
pub fn byol(size: usize, blur: bool, mean: Vec<f32>, std: Vec<f32>) -> [Pipeline; 2] {
    let view = |blur_p: f64, solarize_p: f64| {
        let mut ops = vec![
            Op::RandomResizedCrop { size, scale: default_scale(), ratio: default_ratio() },
            Op::HorizontalFlip { p: 0.5 },
            Op::ColorJitter { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 0.8 },
            Op::Grayscale { p: 0.2 },
        ];
        if blur {
            ops.push(Op::GaussianBlur { kernel_size: (size / 10) | 1, sigma: (0.1, 2.0), p: blur_p });
        }
        ops.push(Op::Solarize { threshold: 0.5, p: solarize_p });
        ops.push(Op::Normalize { mean: mean.clone(), std: std.clone() });
        Pipeline { ops }
    };
    [view(1.0, 0.0), view(0.1, 0.2)]
}

/// MMCR's CIFAR view (Yerxa et al. 2023, following the SimCLR/BYOL family): the BYOL view
/// without blur and with solarize p 0.2 on every view.
pub fn mmcr(size: usize, mean: Vec<f32>, std: Vec<f32>) -> Pipeline {
    byol(size, false, mean, std)[1].clone()
}
