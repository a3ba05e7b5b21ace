//! A model's precompiled normalization rules (`normalizer_spec.precompiled_charsmap`): a
//! darts-clone double array mapping byte sequences to offsets into NUL-terminated replacement
//! strings, read and checked as SentencePiece's `normalizer.cc` reads and checks them.
//!
//! The checks grew with the releases (docs/tokenizer.md): 0.2.1 added the 1024-byte trie size and
//! the NUL terminator, 0.2.2 the size bound and darts-clone's `validate`, 0.2.3 the check that
//! a unit flagged as having a leaf points at a leaf. A charsmap the 0.2.2 checks refuse is
//! refused for every release: 0.2.0 and 0.2.1 load some of them but then read outside the array,
//! which cannot be reproduced.

use super::spm_version::SpmVersion;

/// SentencePiece's `Normalizer::kMaxTrieResultsSize`: only the first (shortest) 32 matches of a
/// position are considered (0.2.2 caps the count; the trainer never builds more).
const MAX_TRIE_RESULTS: usize = 32;

/// The rules of one model.
#[derive(Debug, Clone)]
pub(super) struct CharsMap {
    trie: DoubleArray,
    /// The replacement strings, NUL-terminated. Not necessarily UTF-8: SentencePiece copies
    /// them byte for byte.
    normalized: Vec<u8>,
}

impl CharsMap {
    /// Parses a `precompiled_charsmap` (a little-endian u32 trie size, the trie, then the
    /// strings), refusing what `version` refuses; the error is SentencePiece's reason.
    pub(super) fn parse(blob: &[u8], version: SpmVersion) -> Result<CharsMap, String> {
        if blob.len() <= 4 {
            return Err("Blob for normalization rule is broken (4 bytes or fewer)".into());
        }
        let trie_size = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        if trie_size >= blob.len() - 4 {
            return Err(format!(
                "Trie data size exceeds the input blob size (trie {trie_size} bytes, blob {} bytes)",
                blob.len()
            ));
        }
        if trie_size < 1024 || !trie_size.is_multiple_of(1024) {
            return Err(format!("Trie data size is not divisible by 1024 ({trie_size} bytes)"));
        }
        let units = blob[4..4 + trie_size].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let normalized = blob[4 + trie_size..].to_vec();
        if normalized.last() != Some(&0) {
            return Err("normalized block must be null terminated".into());
        }
        let trie = DoubleArray { units };
        if !trie.validate(normalized.len(), version >= SpmVersion::V0_2_3) {
            return Err("precompiled_charsmap is invalid (its double array fails darts-clone's validate)".into());
        }
        Ok(CharsMap { trie, normalized })
    }

    /// The longest of the first 32 rules matching a prefix of `input`: (replacement, consumed
    /// bytes). `None` when no rule matches, or when the longest one points outside the
    /// replacement strings (possible in a charsmap 0.2.2 accepts; the character is then copied).
    #[inline]
    pub(super) fn longest(&self, input: &[u8]) -> Option<(&[u8], usize)> {
        let mut best: Option<(usize, u32)> = None;
        let mut matches = 0;
        self.trie.common_prefix_search(input, |len, value| {
            if matches < MAX_TRIE_RESULTS {
                best = Some((len, value));
            }
            matches += 1;
        });
        let (len, value) = best?;
        let rest = self.normalized.get(value as usize..)?;
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Some((&rest[..end], len))
    }

    /// Whether some rule starts with byte `b`.
    pub(super) fn has_first_byte(&self, b: u8) -> bool {
        self.trie.has_first_byte(b)
    }

    /// Whether some rule's source starts with `prefix`.
    pub(super) fn has_prefix(&self, prefix: &[u8]) -> bool {
        self.trie.has_prefix(prefix)
    }
}

/// A read-only darts-clone double array; only the common-prefix search is needed.
#[derive(Debug, Clone, Default)]
struct DoubleArray {
    units: Vec<u32>,
}

impl DoubleArray {
    #[inline]
    fn has_leaf(unit: u32) -> bool {
        (unit >> 8) & 1 == 1
    }
    #[inline]
    fn value(unit: u32) -> u32 {
        unit & ((1 << 31) - 1)
    }
    #[inline]
    fn label(unit: u32) -> u32 {
        unit & ((1 << 31) | 0xff)
    }
    #[inline]
    fn offset(unit: u32) -> usize {
        ((unit >> 10) << ((unit & (1 << 9)) >> 6)) as usize
    }

    /// darts-clone's `DoubleArrayImpl::validate(max_value_limit)`: every transition stays inside
    /// the array and every leaf value is below `value_limit`; with `leaf_check` (0.2.3) a unit
    /// flagged as having a leaf must point at a leaf unit.
    fn validate(&self, value_limit: usize, leaf_check: bool) -> bool {
        let size = self.units.len();
        let Some(&root) = self.units.first() else { return false };
        if Self::label(root) != 0 || Self::has_leaf(root) || Self::offset(root) == 0 || (Self::offset(root) | 0xff) >= size {
            return false;
        }
        for (i, &unit) in self.units.iter().enumerate().skip(1) {
            if Self::label(unit) <= 0xff {
                let target = i ^ Self::offset(unit);
                if (target | 0xff) >= size {
                    return false;
                }
                if leaf_check && Self::has_leaf(unit) && Self::label(self.units[target]) <= 0xff {
                    return false;
                }
            } else if Self::value(unit) as usize >= value_limit {
                return false;
            }
        }
        true
    }

    /// Whether some key starts with byte `b`.
    fn has_first_byte(&self, b: u8) -> bool {
        let Some(&root) = self.units.first() else { return false };
        let pos = Self::offset(root) ^ b as usize;
        self.units.get(pos).is_some_and(|&u| Self::label(u) == b as u32)
    }

    /// Whether a key starts with `prefix`: its path is in the array.
    fn has_prefix(&self, prefix: &[u8]) -> bool {
        let Some(&unit) = self.units.first() else { return false };
        let mut node_pos = Self::offset(unit);
        for &b in prefix {
            node_pos ^= b as usize;
            match self.units.get(node_pos) {
                Some(&unit) if Self::label(unit) == b as u32 => node_pos ^= Self::offset(unit),
                _ => return false,
            }
        }
        true
    }

    /// darts-clone's `commonPrefixSearch`: calls `f(length, value)` for every key that is a
    /// prefix of `key`, shortest first. After `validate` every index is in range; `get` keeps
    /// even an unvalidated array from panicking.
    fn common_prefix_search(&self, key: &[u8], mut f: impl FnMut(usize, u32)) {
        let Some(&unit) = self.units.first() else { return };
        let mut node_pos = Self::offset(unit);
        for (i, &b) in key.iter().enumerate() {
            node_pos ^= b as usize;
            let Some(&unit) = self.units.get(node_pos) else { return };
            if Self::label(unit) != b as u32 {
                return;
            }
            node_pos ^= Self::offset(unit);
            if Self::has_leaf(unit) {
                let Some(&leaf) = self.units.get(node_pos) else { return };
                f(i + 1, Self::value(leaf));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A charsmap with the rules `a` -> `x` and `ab` -> `y`, laid out by hand: the root (offset
    /// 256) at 0, `a` at 256 ^ 'a' = 353 with its children at 512 (its leaf there, value 0),
    /// `b` at 512 ^ 'b' = 610 with its children at 768 (its leaf there, value 2).
    fn tiny_charsmap() -> (Vec<u32>, Vec<u8>) {
        let unit = |label: u8, offset: usize, leaf: bool| ((offset as u32) << 10) | (u32::from(leaf) << 8) | label as u32;
        let mut units = vec![0u32; 1024];
        units[0] = unit(0, 256, false);
        units[353] = unit(b'a', 353 ^ 512, true);
        units[512] = 1 << 31;
        units[610] = unit(b'b', 610 ^ 768, true);
        units[768] = (1 << 31) | 2;
        (units, b"x\0y\0".to_vec())
    }

    fn blob(units: &[u32], normalized: &[u8]) -> Vec<u8> {
        let mut b = ((units.len() * 4) as u32).to_le_bytes().to_vec();
        for u in units {
            b.extend_from_slice(&u.to_le_bytes());
        }
        b.extend_from_slice(normalized);
        b
    }

    #[test]
    fn valid_charsmap_finds_the_longest_rule() {
        let (units, normalized) = tiny_charsmap();
        let map = CharsMap::parse(&blob(&units, &normalized), SpmVersion::V0_2_3).unwrap();
        assert_eq!(map.longest(b"abc"), Some((&b"y"[..], 2)));
        assert_eq!(map.longest(b"ac"), Some((&b"x"[..], 1)));
        assert_eq!(map.longest(b"b"), None);
        assert!(map.has_first_byte(b'a') && !map.has_first_byte(b'b'));
    }

    #[test]
    fn sentencepieces_checks_refuse_broken_charsmaps() {
        let (units, normalized) = tiny_charsmap();
        let good = blob(&units, &normalized);
        let err = |b: &[u8]| CharsMap::parse(b, SpmVersion::V0_2_3).unwrap_err();
        assert!(err(&good[..4]).contains("broken"));
        let mut big = good.clone();
        big[..4].copy_from_slice(&(good.len() as u32 - 4).to_le_bytes());
        assert!(err(&big).contains("exceeds"));
        assert!(err(&blob(&units[..1023], &normalized)).contains("1024"));
        assert!(err(&good[..good.len() - 1]).contains("null terminated"));
        // A transition leaving the array.
        let mut out = units.clone();
        out[0] = 2048 << 10;
        assert!(err(&blob(&out, &normalized)).contains("invalid"));
        // A leaf value past the replacement strings.
        let mut far = units.clone();
        far[512] = (1 << 31) | 4;
        assert!(err(&blob(&far, &normalized)).contains("invalid"));
    }

    #[test]
    fn a_has_leaf_flag_on_a_non_leaf_target_is_0_2_3s_check_only() {
        let (mut units, normalized) = tiny_charsmap();
        // "a"'s leaf slot becomes an internal unit (label 'q', offset 0): 0.2.3 refuses the map;
        // 0.2.2 loads it, reads a value outside the strings and copies the character instead.
        units[512] = (1000 << 10) | b'q' as u32;
        let b = blob(&units, &normalized);
        assert!(CharsMap::parse(&b, SpmVersion::V0_2_3).is_err());
        let map = CharsMap::parse(&b, SpmVersion::V0_2_2).unwrap();
        assert_eq!(map.longest(b"ac"), None);
    }

    #[test]
    fn replacement_strings_need_not_be_utf8() {
        let (units, _) = tiny_charsmap();
        let map = CharsMap::parse(&blob(&units, b"\xff\0\xc3\0"), SpmVersion::V0_2_3).unwrap();
        assert_eq!(map.longest(b"ab"), Some((&b"\xc3"[..], 2)));
    }

    #[test]
    fn corrupt_double_array_does_not_panic() {
        let da = DoubleArray { units: vec![u32::MAX; 4] };
        let mut n = 0;
        da.common_prefix_search(b"abc", |_, _| n += 1);
        assert!(!da.validate(10, true));
    }
}
