//! Image containers: decoded `u8` images (HWC, as stored) and planar `f32` images (CHW, as fed).

/// Channels, height and width of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    /// Number of channels (1 grey, 3 RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl Shape {
    /// Number of values in one image of this shape.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True for a shape without pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A borrowed decoded image: `u8`, interleaved HWC (the layout datasets store).
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    /// Its shape.
    pub shape: Shape,
    /// `height * width * channels` bytes, row-major, channels last.
    pub data: &'a [u8],
}

impl ImageRef<'_> {
    /// Converts to a planar `f32` image with values in `[0, 1]` (`x / 255`).
    pub fn to_f32(&self) -> ImageF32 {
        let mut out = ImageF32 { shape: self.shape, data: Vec::new() };
        self.to_f32_into(&mut out);
        out
    }

    /// [`ImageRef::to_f32`] into `out`, reusing its buffer.
    pub fn to_f32_into(&self, out: &mut ImageF32) {
        let Shape { channels: c, height: h, width: w } = self.shape;
        let n = h * w;
        out.shape = self.shape;
        out.data.clear();
        out.data.resize(c * n, 0.0);
        if c == 3 {
            let (r, rest) = out.data.split_at_mut(n);
            let (g, b) = rest.split_at_mut(n);
            for (((px, r), g), b) in self.data.chunks_exact(3).zip(r).zip(g).zip(b) {
                (*r, *g, *b) = (f32::from(px[0]) / 255.0, f32::from(px[1]) / 255.0, f32::from(px[2]) / 255.0);
            }
        } else if c > 0 {
            for (i, px) in self.data.chunks_exact(c).enumerate().take(n) {
                for (ch, &p) in px.iter().enumerate() {
                    out.data[ch * n + i] = f32::from(p) / 255.0;
                }
            }
        }
    }
}

/// A planar `f32` image (CHW), values nominally in `[0, 1]` until normalised.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageF32 {
    /// Its shape.
    pub shape: Shape,
    /// `channels * height * width` values, channel-major.
    pub data: Vec<f32>,
}

impl ImageF32 {
    /// A zero image of the given shape.
    pub fn zeros(shape: Shape) -> Self {
        ImageF32 { shape, data: vec![0.0; shape.len()] }
    }

    /// The values of channel `c`.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.shape.height * self.shape.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// The values of channel `c`, mutably.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.shape.height * self.shape.width;
        &mut self.data[c * n..(c + 1) * n]
    }

    /// Rounds to `u8` HWC (`round(clamp(x, 0, 1) * 255)`), for saving or comparing with torchvision.
    pub fn to_u8_hwc(&self) -> Vec<u8> {
        let Shape { channels: c, height: h, width: w } = self.shape;
        let mut out = vec![0u8; c * h * w];
        for ch in 0..c {
            for i in 0..h * w {
                out[i * c + ch] = (self.data[ch * h * w + i].clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        out
    }
}
