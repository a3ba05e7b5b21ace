//! The hashes of the core, each specified and stable across Rust releases and platforms: what
//! is hashed into a file name, a split decision or a resume fingerprint must give the same value
//! after a toolchain update (std's `DefaultHasher` promises neither).

use sha2::{Digest, Sha256};

/// FNV-1a (64-bit) offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a (64-bit) of `bytes`, continuing from `h` (start with [`FNV_OFFSET`]).
#[inline]
pub fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// SplitMix64's finalizer: spreads weak low bits (FNV's) over the whole word.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One full SplitMix64 step (golden-ratio increment, then [`mix`]): a cheap, well-mixed hash
/// of a 64-bit value.
#[inline]
pub fn splitmix64(z: u64) -> u64 {
    mix(z.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// SHA-256 of `parts` fed one after another, as lower-case hex.
pub fn sha256_hex<I, P>(parts: I) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_ref());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An incremental SHA-256 whose first 128 bits identify a text (de-duplication keys).
#[derive(Default, Clone)]
pub struct Digest128(Sha256);

impl Digest128 {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub fn finish(self) -> u128 {
        let d = self.0.finalize();
        u128::from_le_bytes(d[..16].try_into().expect("SHA-256 has 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Published test vectors.
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x85944171f73967e8);
        assert_eq!(splitmix64(0), 0xe220a8397b1dcdaf);
        assert_eq!(sha256_hex([b"ab".as_slice(), b"c"]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let mut d = Digest128::default();
        d.update(b"abc");
        assert_eq!(d.finish().to_le_bytes()[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
