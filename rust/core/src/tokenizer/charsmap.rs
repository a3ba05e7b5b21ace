//! A model's precompiled normalization rules (`normalizer_spec.precompiled_charsmap`): a
//! darts-clone double array mapping byte sequences to offsets into NUL-terminated replacement
//! strings, as SentencePiece's `normalizer.cc` reads them.

/// The rules of one model.
#[derive(Debug, Clone)]
pub(super) struct CharsMap {
    trie: DoubleArray,
    /// The replacement strings, validated as UTF-8 once at load time.
    normalized: String,
}

impl CharsMap {
    /// Parses `precompiled_charsmap`: a little-endian u32 trie size, the trie, then the strings.
    pub(super) fn parse(blob: &[u8]) -> Result<CharsMap, String> {
        if blob.len() <= 4 {
            return Err("normalizer_spec.precompiled_charsmap is truncated".into());
        }
        let trie_size = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        if trie_size > blob.len() - 4 || trie_size == 0 {
            return Err(format!(
                "normalizer_spec.precompiled_charsmap: trie size {trie_size} exceeds the blob ({} bytes)",
                blob.len()
            ));
        }
        let trie = DoubleArray::from_bytes(&blob[4..4 + trie_size])
            .ok_or("normalizer_spec.precompiled_charsmap: trie size is not a multiple of 4")?;
        let normalized = String::from_utf8(blob[4 + trie_size..].to_vec())
            .map_err(|_| "normalizer_spec.precompiled_charsmap: replacement strings are not UTF-8")?;
        Ok(CharsMap { trie, normalized })
    }

    /// The longest rule matching a prefix of `input`: (replacement, consumed bytes).
    #[inline]
    pub(super) fn longest(&self, input: &str) -> Option<(&str, usize)> {
        let mut best: Option<(usize, u32)> = None;
        self.trie.common_prefix_search(input.as_bytes(), |len, value| {
            // A rule ending inside a UTF-8 sequence cannot come from a real model; skipping it
            // keeps every slice valid.
            if input.is_char_boundary(len) {
                best = Some((len, value));
            }
        });
        let (len, value) = best?;
        let rest = self.normalized.get(value as usize..)?;
        let end = rest.find('\0').unwrap_or(rest.len());
        Some((&rest[..end], len))
    }

    /// Whether some rule starts with byte `b`.
    pub(super) fn has_first_byte(&self, b: u8) -> bool {
        self.trie.has_first_byte(b)
    }
}

/// A read-only darts-clone double array; only the common-prefix search is needed.
#[derive(Debug, Clone, Default)]
struct DoubleArray {
    units: Vec<u32>,
}

impl DoubleArray {
    /// Reads little-endian 32-bit units; `None` if the length is not a multiple of 4 or empty.
    fn from_bytes(bytes: &[u8]) -> Option<DoubleArray> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
            return None;
        }
        let units = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Some(DoubleArray { units })
    }

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

    /// Whether some key starts with byte `b`.
    fn has_first_byte(&self, b: u8) -> bool {
        let Some(&root) = self.units.first() else { return false };
        let pos = Self::offset(root) ^ b as usize;
        self.units.get(pos).is_some_and(|&u| Self::label(u) == b as u32)
    }

    /// darts-clone's `commonPrefixSearch`: calls `f(length, value)` for every key that is a
    /// prefix of `key`, shortest first. An out-of-range index (a corrupt array) ends the search.
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

    #[test]
    fn corrupt_double_array_does_not_panic() {
        let da = DoubleArray::from_bytes(&[0xff; 16]).unwrap();
        let mut n = 0;
        da.common_prefix_search(b"abc", |_, _| n += 1);
        assert!(DoubleArray::from_bytes(&[1, 2, 3]).is_none());
    }
}
