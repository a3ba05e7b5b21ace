//! The seeded random stream of create-data.
//!
//! The reference mixes a seeded `random.Random` with NumPy's *unseeded* global RNG (quirk Q6),
//! so its output cannot be reproduced. albert_fast draws everything from one ChaCha8 stream per
//! shard: the 32-byte key is `random_seed` (u64, little-endian) followed by zeros and the
//! ChaCha stream number is `2 * shard_index + is_eval`. Work units are therefore independent of
//! each other and of the number of threads that process them.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A ChaCha8 stream with the three draws the reference uses: `random()`, `randint(a, b)` and
/// `shuffle(list)`.
pub struct DataRng {
    inner: ChaCha8Rng,
}

impl DataRng {
    /// The stream for one shard (see the module documentation for the derivation).
    pub fn for_shard(random_seed: u64, shard_index: u64, is_eval: bool) -> Self {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&random_seed.to_le_bytes());
        let mut inner = ChaCha8Rng::from_seed(key);
        inner.set_stream(shard_index.wrapping_mul(2).wrapping_add(is_eval as u64));
        DataRng { inner }
    }

    /// A stream from a plain seed (tests).
    pub fn from_seed(seed: u64) -> Self {
        Self::for_shard(seed, 0, false)
    }

    /// Uniform float in [0, 1) with 53 random bits, like Python's `random.random()`.
    #[inline]
    pub fn random(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` without modulo bias (Lemire's multiply-and-reject); `n > 0`.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = (self.inner.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.inner.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform integer in `[a, b]`, both ends included, like Python's `random.randint`.
    #[inline]
    pub fn randint(&mut self, a: usize, b: usize) -> usize {
        debug_assert!(a <= b);
        a + self.below((b - a) as u64 + 1) as usize
    }

    /// Fisher–Yates shuffle in the same direction as Python's `random.shuffle`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_shard_and_split_and_repeat_exactly() {
        let a: Vec<u64> = (0..4).map(|_| DataRng::for_shard(1, 0, false).below(1 << 40)).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "same stream, same draws");
        let mut x = DataRng::for_shard(1, 0, false);
        let mut y = DataRng::for_shard(1, 1, false);
        let mut z = DataRng::for_shard(1, 0, true);
        let (vx, vy, vz) = (x.below(u64::MAX), y.below(u64::MAX), z.below(u64::MAX));
        assert!(vx != vy && vx != vz && vy != vz);
    }

    #[test]
    fn randint_covers_inclusive_range_uniformly() {
        let mut rng = DataRng::from_seed(7);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[rng.randint(2, 6) - 2] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn random_is_in_unit_interval_with_mean_half() {
        let mut rng = DataRng::from_seed(3);
        let xs: Vec<f64> = (0..20_000).map(|_| rng.random()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = DataRng::from_seed(5);
        let mut v: Vec<u32> = (0..100).collect();
        rng.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
