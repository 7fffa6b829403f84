//! A colourful Moving-MNIST-style toy dataset (InfoMin, Tian et al. 2020, §3.1; the authors
//! never released theirs).
//!
//! Each sample is a 64 × 64 RGB canvas: a background of one of 10 classes, and an object (a
//! Fashion-MNIST or MNIST item, 28 × 28) moving with constant velocity and bouncing off the
//! canvas edges, pasted on top (its grey level is its opacity, drawn in white). Three factors
//! are exposed: the object's class, its position (top-left corner, each coordinate in 0..=36) and
//! the background class. Backgrounds are procedural unless the user gives a dataset of 64 × 64
//! RGB images: class `c` is a sinusoidal grating with orientation `c·18°`, with a colour, phase
//! and noise drawn per sample — the class is the texture's orientation alone (a colour per class
//! made the class linearly readable from any encoder, even at initialisation).
//!
//! [`ToyDataset::pair`] renders two views that share exactly the chosen factors (the others are
//! redrawn), the experiment that shows what shared information a contrastive view pair teaches;
//! [`ToyDataset::sequence`] makes the paper's own setting, v1 a sequence of past frames and v2 a
//! frame at the sample's time.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Dataset, InMemoryDataset, ViewSource};
use crate::error::DataError;
use crate::image::Shape;
use crate::rng::derive_key;

/// Canvas side.
pub const CANVAS: usize = 64;
/// Number of background classes.
pub const BACKGROUND_CLASSES: u32 = 10;

/// The factors of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Factors {
    /// Index of the object image in the object dataset.
    pub object: usize,
    /// Its class (the object dataset's label).
    pub object_class: u32,
    /// Top-left corner of the object, (y, x).
    pub position: (usize, usize),
    /// Background class.
    pub background: u32,
    /// Seed of the background's phase and noise.
    pub background_seed: u64,
    /// The motion the position comes from (earlier frames of the sample replay it).
    pub motion: Motion,
}

/// Constant-velocity bouncing motion: the object's corner is `bounce(start, velocity, time)` per
/// axis (y, x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Motion {
    /// Corner at time 0.
    pub start: (i64, i64),
    /// Pixels per time step.
    pub velocity: (i64, i64),
    /// The sample's time step.
    pub time: i64,
}

impl Motion {
    /// The corner `dt` steps before the sample's time.
    pub fn position_before(&self, dt: i64) -> (usize, usize) {
        let max = (CANVAS - 28) as i64;
        let t = self.time - dt;
        (bounce(self.start.0, self.velocity.0, t, max), bounce(self.start.1, self.velocity.1, t, max))
    }
}

/// Which factors two views share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    /// Same object (so the same object class).
    pub object: bool,
    /// Same position.
    pub position: bool,
    /// Same background class (the texture's phase and noise still differ).
    pub background: bool,
}

/// The toy dataset: `len` samples drawn from `objects`, rendered once.
pub struct ToyDataset {
    objects: InMemoryDataset,
    backgrounds: Option<InMemoryDataset>,
    factors: Vec<Factors>,
    rendered: InMemoryDataset,
    seed: u64,
}

/// Bouncing motion: the position after `t` steps from `start` with velocity `v` in `0..=max`.
pub fn bounce(start: i64, v: i64, t: i64, max: i64) -> usize {
    if max == 0 {
        return 0;
    }
    let period = 2 * max;
    let p = (start + v * t).rem_euclid(period);
    (if p > max { period - p } else { p }) as usize
}

const PALETTE: [[f32; 3]; 10] = [
    [0.9, 0.2, 0.2],
    [0.2, 0.8, 0.2],
    [0.2, 0.3, 0.9],
    [0.9, 0.8, 0.2],
    [0.8, 0.2, 0.8],
    [0.2, 0.8, 0.8],
    [0.9, 0.5, 0.1],
    [0.5, 0.3, 0.1],
    [0.6, 0.6, 0.6],
    [0.4, 0.1, 0.5],
];

impl ToyDataset {
    /// Draws `len` samples (object, start, velocity, time step, background) from `seed` and
    /// renders them. `objects` must hold labelled 28 × 28 one-channel images; `backgrounds`, if
    /// given, 64 × 64 three-channel images whose labels (< 10) are the background classes.
    pub fn new(objects: InMemoryDataset, backgrounds: Option<InMemoryDataset>, len: usize, seed: u64) -> Result<Self, DataError> {
        let s = objects.shape();
        if s.channels != 1 || s.height != 28 || s.width != 28 || objects.is_empty() || objects.labels().is_none() {
            return Err(DataError::param("objects", format!("need labelled 28x28 grey images, got {} images of {s:?}", objects.len())));
        }
        if let Some(b) = &backgrounds {
            let bs = b.shape();
            if bs != (Shape { channels: 3, height: CANVAS, width: CANVAS }) || b.is_empty() {
                return Err(DataError::param("backgrounds", format!("need 64x64 RGB images, got {} of {bs:?}", b.len())));
            }
            if b.labels().is_none_or(|l| l.iter().any(|&c| c >= BACKGROUND_CLASSES)) {
                return Err(DataError::param("backgrounds", "need labels below 10 (the background classes)".to_string()));
            }
        }
        if len == 0 {
            return Err(DataError::param("len", "0: expected at least one sample".to_string()));
        }
        let mut ds = ToyDataset {
            objects,
            backgrounds,
            factors: Vec::with_capacity(len),
            rendered: InMemoryDataset::new(Shape { channels: 3, height: CANVAS, width: CANVAS }, vec![0; CANVAS * CANVAS * 3], None)?,
            seed,
        };
        for i in 0..len {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_key(&[seed, i as u64, 0x70e]));
            let f = ds.draw(&mut rng);
            ds.factors.push(f);
        }
        let mut pixels = Vec::with_capacity(len * CANVAS * CANVAS * 3);
        for f in &ds.factors {
            pixels.extend(ds.render(f));
        }
        let labels = ds.factors.iter().map(|f| f.object_class).collect();
        ds.rendered = InMemoryDataset::new(Shape { channels: 3, height: CANVAS, width: CANVAS }, pixels, Some(labels))?;
        Ok(ds)
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Factors {
        let object = rng.random_range(0..self.objects.len());
        let max = (CANVAS - 28) as i64;
        let (sy, sx) = (rng.random_range(0..=max), rng.random_range(0..=max));
        let (vy, vx) = (rng.random_range(-3..=3i64), rng.random_range(-3..=3i64));
        let t = rng.random_range(0..20i64);
        let motion = Motion { start: (sy, sx), velocity: (vy, vx), time: t };
        let background = match &self.backgrounds {
            Some(b) => b.label(rng.random_range(0..b.len())).unwrap_or(0),
            None => rng.random_range(0..BACKGROUND_CLASSES),
        };
        Factors {
            object,
            object_class: self.objects.label(object).unwrap_or(0),
            position: (bounce(sy, vy, t, max), bounce(sx, vx, t, max)),
            background,
            background_seed: rng.random(),
            motion,
        }
    }

    /// Renders one sample (HWC RGB bytes).
    pub fn render(&self, f: &Factors) -> Vec<u8> {
        let mut canvas = vec![0f32; CANVAS * CANVAS * 3];
        match &self.backgrounds {
            Some(b) => {
                // The background image of that class picked by the sample's seed.
                let members: Vec<usize> = (0..b.len()).filter(|&i| b.label(i) == Some(f.background)).collect();
                let pick = members[(f.background_seed % members.len().max(1) as u64) as usize % members.len().max(1)];
                for (c, &p) in canvas.iter_mut().zip(b.image(pick).data) {
                    *c = f32::from(p) / 255.0;
                }
            }
            None => {
                let mut rng = ChaCha8Rng::seed_from_u64(f.background_seed);
                let angle = f.background as f32 * std::f32::consts::PI / 10.0;
                let (dy, dx) = (angle.sin(), angle.cos());
                let phase: f32 = rng.random::<f32>() * std::f32::consts::TAU;
                let colour = PALETTE[rng.random_range(0..PALETTE.len())];
                for y in 0..CANVAS {
                    for x in 0..CANVAS {
                        let g = 0.5 + 0.5 * ((y as f32 * dy + x as f32 * dx) * 0.5 + phase).sin();
                        for c in 0..3 {
                            let noise: f32 = rng.random::<f32>() * 0.1;
                            canvas[(y * CANVAS + x) * 3 + c] = (colour[c] * (0.35 + 0.5 * g) + noise).min(1.0);
                        }
                    }
                }
            }
        }
        self.paste_object(&mut canvas, f.object, f.position);
        canvas.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect()
    }

    /// The `frames` frames before sample `i`'s (oldest first): the same object and background,
    /// the object where its motion put it 1..=frames steps earlier (HWC RGB bytes each).
    pub fn past_frames(&self, i: usize, frames: usize) -> Vec<Vec<u8>> {
        let f = self.factors[i];
        (1..=frames as i64).rev().map(|dt| self.render(&Factors { position: f.motion.position_before(dt), ..f })).collect()
    }

    /// InfoMin §3.1's view pair of sample `i` in one image: its `frames` past frames (v1, oldest
    /// first) and the rendering of `later` (v2, a frame at the sample's time), stacked along the
    /// channels — HWC bytes with `3·(frames + 1)` channels.
    pub fn sequence(&self, i: usize, frames: usize, later: &Factors) -> Vec<u8> {
        let mut parts = self.past_frames(i, frames);
        parts.push(self.render(later));
        let c = 3 * parts.len();
        let mut out = vec![0u8; CANVAS * CANVAS * c];
        for (k, part) in parts.iter().enumerate() {
            for (p, rgb) in part.chunks_exact(3).enumerate() {
                out[p * c + 3 * k..p * c + 3 * k + 3].copy_from_slice(rgb);
            }
        }
        out
    }

    /// Every sample as [`ToyDataset::sequence`] with its own frame as the later one (label =
    /// object class): what an encoder of sequences is evaluated on.
    pub fn sequences(&self, frames: usize) -> Result<InMemoryDataset, DataError> {
        let mut pixels = Vec::with_capacity(self.factors.len() * CANVAS * CANVAS * 3 * (frames + 1));
        for (i, f) in self.factors.iter().enumerate() {
            pixels.extend(self.sequence(i, frames, f));
        }
        let labels = self.factors.iter().map(|f| f.object_class).collect();
        InMemoryDataset::new(Shape { channels: 3 * (frames + 1), height: CANVAS, width: CANVAS }, pixels, Some(labels))
    }

    fn paste_object(&self, canvas: &mut [f32], object: usize, position: (usize, usize)) {
        let obj = self.objects.image(object).data;
        let (py, px) = position;
        for y in 0..28 {
            for x in 0..28 {
                let a = f32::from(obj[y * 28 + x]) / 255.0;
                for c in 0..3 {
                    let i = ((py + y) * CANVAS + px + x) * 3 + c;
                    canvas[i] = canvas[i] * (1.0 - a) + a;
                }
            }
        }
    }

    /// The rendered samples (label = object class), for training.
    pub fn images(&self) -> &InMemoryDataset {
        &self.rendered
    }

    /// The factors of sample `i`.
    pub fn factors(&self, i: usize) -> Factors {
        self.factors[i]
    }

    /// Object classes, positions (y, x) and background classes of every sample.
    pub fn factor_table(&self) -> (Vec<u32>, Vec<(usize, usize)>, Vec<u32>) {
        (
            self.factors.iter().map(|f| f.object_class).collect(),
            self.factors.iter().map(|f| f.position).collect(),
            self.factors.iter().map(|f| f.background).collect(),
        )
    }

    /// The factors of a second view of sample `i` that shares exactly the factors in `share` with
    /// it; the others are redrawn until each differs (a different object class, position and
    /// background class), seeded by the dataset seed, `i` and `draw`.
    pub fn partner(&self, i: usize, share: Shared, draw: u64) -> Factors {
        let a = self.factors[i];
        let mut rng = ChaCha8Rng::seed_from_u64(derive_key(&[self.seed, i as u64, draw, 0xba1]));
        let mut b = self.draw(&mut rng);
        for _ in 0..1000 {
            let differs = (share.object || b.object_class != a.object_class)
                && (share.position || b.position != a.position)
                && (share.background || b.background != a.background);
            if differs {
                break;
            }
            b = self.draw(&mut rng);
        }
        if share.object {
            b.object = a.object;
            b.object_class = a.object_class;
        }
        if share.position {
            b.position = a.position;
        }
        if share.background {
            b.background = a.background;
        }
        b
    }

    /// Two renderings of sample `i` that share exactly the factors in `share` (the sample itself
    /// and [`ToyDataset::partner`]). Returns the images and their factors.
    pub fn pair(&self, i: usize, share: Shared, draw: u64) -> ((Vec<u8>, Factors), (Vec<u8>, Factors)) {
        let (a, b) = (self.factors[i], self.partner(i, share, draw));
        ((self.render(&a), a), (self.render(&b), b))
    }
}

/// One factor of a toy sample, as recipes name it (`views.shared = ["object", "background"]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToyFactor {
    /// The object (its image, so its class).
    Object,
    /// The object's position.
    Position,
    /// The background class.
    Background,
}

impl Shared {
    /// The set of `factors`.
    pub fn of(factors: &[ToyFactor]) -> Shared {
        Shared {
            object: factors.contains(&ToyFactor::Object),
            position: factors.contains(&ToyFactor::Position),
            background: factors.contains(&ToyFactor::Background),
        }
    }

    /// The shared factors, in the order object, position, background.
    pub fn factors(&self) -> Vec<ToyFactor> {
        [(self.object, ToyFactor::Object), (self.position, ToyFactor::Position), (self.background, ToyFactor::Background)]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f)
            .collect()
    }
}

/// The toy dataset as a training set whose views share exactly `share` (InMemory's images and
/// labels, the object class): view 0 of sample `i` is the sample; every further view is a
/// [`ToyDataset::partner`] rendered afresh each epoch (the draw is keyed by the epoch and view).
///
/// With `frames` (InfoMin's setting, [`ToyPairs::with_frames`]) a sample is one image holding both
/// views: its `frames` past frames (v1) and the partner frame (v2) stacked along the channels
/// ([`ToyDataset::sequence`]); a channel-split encoder takes the two apart.
pub struct ToyPairs {
    toy: std::sync::Arc<ToyDataset>,
    share: Shared,
    /// `(frames, the sequences with each sample's own frame as v2)`.
    frames: Option<(usize, InMemoryDataset)>,
}

impl ToyPairs {
    /// Pairs over `toy` sharing `share`.
    pub fn new(toy: std::sync::Arc<ToyDataset>, share: Shared) -> Self {
        ToyPairs { toy, share, frames: None }
    }

    /// Pairs whose v1 is the sample's `frames` past frames and v2 a partner frame sharing
    /// `share` with the sample's own (redrawn each epoch), stacked in one image of
    /// `3·(frames + 1)` channels.
    pub fn with_frames(toy: std::sync::Arc<ToyDataset>, share: Shared, frames: usize) -> Result<Self, DataError> {
        if frames == 0 {
            return Err(DataError::param("frames", "0: expected at least one past frame"));
        }
        let stacked = toy.sequences(frames)?;
        Ok(ToyPairs { toy, share, frames: Some((frames, stacked)) })
    }

    /// The factors of view `view` of sample `index` in the epoch keyed `epoch_key` (what
    /// [`Dataset::view_source`] renders).
    pub fn view_factors(&self, index: usize, view: usize, epoch_key: u64) -> Factors {
        if view == 0 {
            self.toy.factors(index)
        } else {
            self.toy.partner(index, self.share, derive_key(&[epoch_key, view as u64]))
        }
    }
}

impl ToyPairs {
    /// The images a sample is evaluated on: the renderings, or with frames the stacked sequences
    /// (each sample's own frame as v2).
    pub fn images(&self) -> &InMemoryDataset {
        self.frames.as_ref().map_or(self.toy.images(), |(_, stacked)| stacked)
    }
}

impl Dataset for ToyPairs {
    fn len(&self) -> usize {
        self.toy.images().len()
    }
    fn shape(&self) -> Shape {
        self.images().shape()
    }
    fn image(&self, index: usize) -> crate::image::ImageRef<'_> {
        self.images().image(index)
    }
    fn label(&self, index: usize) -> Option<u32> {
        self.toy.images().label(index)
    }
    fn num_classes(&self) -> Option<usize> {
        self.toy.images().num_classes()
    }
    fn view_source(&self, index: usize, view: usize, epoch_key: u64) -> ViewSource<'_> {
        if let Some((frames, stacked)) = &self.frames {
            // One image holds both views: v1's past frames (kept from `stacked`), then v2 (the
            // partner of view 1, rendered for this epoch) in place of the sample's own frame.
            let later = self.toy.render(&self.view_factors(index, 1, epoch_key));
            let mut data = stacked.image(index).data.to_vec();
            let c = 3 * (frames + 1);
            for (p, rgb) in later.chunks_exact(3).enumerate() {
                data[p * c + 3 * frames..p * c + c].copy_from_slice(rgb);
            }
            return ViewSource::Owned(self.shape(), data);
        }
        if view == 0 {
            return ViewSource::Borrowed(self.image(index));
        }
        ViewSource::Owned(self.shape(), self.toy.render(&self.view_factors(index, view, epoch_key)))
    }
}
