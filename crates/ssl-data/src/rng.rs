//! Seeded randomness: one independent stream per (seed, epoch, index, view), so results never
//! depend on thread scheduling.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG used for drawing augmentation parameters and permutations.
pub type ViewRng = ChaCha8Rng;

/// SplitMix64 finaliser: a bijective mix of 64 bits (Steele, Lea & Flood 2014).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a 64-bit stream key from a list of integers (order matters).
pub fn derive_key(parts: &[u64]) -> u64 {
    parts.iter().fold(0x005E_ED0F_5511_u64, |acc, &p| splitmix64(acc ^ splitmix64(p)))
}

/// The RNG for view `view` of dataset item `index` in `epoch` of a run seeded with `seed`.
pub fn view_rng(seed: u64, epoch: u64, index: u64, view: u64) -> ViewRng {
    ViewRng::seed_from_u64(derive_key(&[seed, epoch, index, view]))
}

/// The RNG for the sample order of `epoch`.
pub fn epoch_rng(seed: u64, epoch: u64) -> ViewRng {
    ViewRng::seed_from_u64(derive_key(&[seed, epoch, u64::MAX]))
}
