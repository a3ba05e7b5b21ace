//! Byte tries used by the encoder.
//!
//! [`PieceTrie`] holds our own vocabulary trie: a flat, cache-friendly layout (nodes with sorted
//! edge ranges, a 256-entry table at the root where the fan-out is widest) built once per model.
//! [`DoubleArray`] reads the darts-clone double array that SentencePiece stores inside
//! `precompiled_charsmap`; we only need its common-prefix search.

/// A trie over byte strings with an `i32` value per key (`-1` = no key ends here), stored as a
/// double array: the child of node `n` for byte `b` is slot `base[n] + b` when that slot's
/// `check` is `n`, so each step of a search is one array access.
#[derive(Debug, Clone)]
pub struct PieceTrie {
    units: Vec<Unit>,
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    base: u32,
    check: u32,
    value: i32,
}

const FREE: u32 = u32::MAX;

impl PieceTrie {
    /// Builds the trie from `(key, value)` pairs; a later duplicate key overwrites an earlier one.
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a [u8], i32)>) -> PieceTrie {
        // A pointer trie first (children sorted by label), then placed into the double array
        // breadth-first, each node at the lowest base where all its children's slots are free.
        let mut children: Vec<Vec<(u8, usize)>> = vec![Vec::new()];
        let mut values: Vec<i32> = vec![-1];
        for (key, value) in entries {
            let mut node = 0usize;
            for &b in key {
                node = match children[node].binary_search_by_key(&b, |&(l, _)| l) {
                    Ok(i) => children[node][i].1,
                    Err(i) => {
                        let new = values.len();
                        children.push(Vec::new());
                        values.push(-1);
                        children[node].insert(i, (b, new));
                        new
                    }
                };
            }
            values[node] = value;
        }
        let mut units = vec![Unit { base: 0, check: FREE, value: -1 }; 256];
        units[0] = Unit { base: 0, check: 0, value: values[0] };
        let mut first_free = 1usize;
        let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
        while let Some((node, slot)) = queue.pop_front() {
            let kids = &children[node];
            if kids.is_empty() {
                continue;
            }
            while first_free < units.len() && units[first_free].check != FREE {
                first_free += 1;
            }
            let lo = kids[0].0 as usize;
            let mut base = first_free.saturating_sub(lo).max(1);
            loop {
                let top = base + kids[kids.len() - 1].0 as usize;
                if top >= units.len() {
                    units.resize(top + 256, Unit { base: 0, check: FREE, value: -1 });
                }
                if kids.iter().all(|&(l, _)| units[base + l as usize].check == FREE) {
                    break;
                }
                base += 1;
            }
            units[slot].base = base as u32;
            for &(l, child) in kids {
                let s = base + l as usize;
                units[s] = Unit { base: 0, check: slot as u32, value: values[child] };
                queue.push_back((child, s));
            }
        }
        PieceTrie { units }
    }

    /// Calls `f(length, value)` for every key that is a prefix of `text`, shortest first.
    #[inline]
    pub fn common_prefix_search(&self, text: &[u8], mut f: impl FnMut(usize, i32)) {
        let units = &self.units[..];
        let mut node = 0usize;
        for (i, &b) in text.iter().enumerate() {
            let next = units[node].base as usize + b as usize;
            match units.get(next) {
                Some(u) if u.check == node as u32 && next != 0 => {
                    node = next;
                    if u.value >= 0 {
                        f(i + 1, u.value);
                    }
                }
                _ => return,
            }
        }
    }

    /// The length and value of the longest key that is a prefix of `text`.
    pub fn longest_prefix(&self, text: &[u8]) -> Option<(usize, i32)> {
        let mut best = None;
        self.common_prefix_search(text, |len, value| best = Some((len, value)));
        best
    }

    /// Whether some key starts with byte `b`.
    pub fn has_first_byte(&self, b: u8) -> bool {
        let next = self.units[0].base as usize + b as usize;
        next != 0 && self.units.get(next).is_some_and(|u| u.check == 0)
    }

    pub fn is_empty(&self) -> bool {
        self.units.first().is_none_or(|u| u.base == 0)
    }
}

/// A read-only darts-clone double array (the trie format of SentencePiece's precompiled
/// normalization rules).
#[derive(Debug, Clone, Default)]
pub struct DoubleArray {
    units: Vec<u32>,
}

impl DoubleArray {
    /// Reads little-endian 32-bit units; `None` if the length is not a multiple of 4 or empty.
    pub fn from_bytes(bytes: &[u8]) -> Option<DoubleArray> {
        if bytes.is_empty() || bytes.len() % 4 != 0 {
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
    pub fn has_first_byte(&self, b: u8) -> bool {
        let Some(&root) = self.units.first() else { return false };
        let pos = Self::offset(root) ^ b as usize;
        self.units.get(pos).is_some_and(|&u| Self::label(u) == b as u32)
    }

    /// darts-clone's `commonPrefixSearch`: calls `f(length, value)` for every key that is a
    /// prefix of `key`, shortest first. An out-of-range index (a corrupt array) ends the search.
    pub fn common_prefix_search(&self, key: &[u8], mut f: impl FnMut(usize, u32)) {
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
    fn prefix_search_finds_all_prefixes() {
        let keys: Vec<(&[u8], i32)> =
            vec![(b"a", 1), (b"ab", 2), (b"abc", 3), (b"b", 4), (b"abd", 5), (b"x", 6)];
        let trie = PieceTrie::build(keys);
        let mut found = Vec::new();
        trie.common_prefix_search(b"abcz", |l, v| found.push((l, v)));
        assert_eq!(found, vec![(1, 1), (2, 2), (3, 3)]);
        assert_eq!(trie.longest_prefix(b"abdd"), Some((3, 5)));
        assert_eq!(trie.longest_prefix(b"zzz"), None);
        assert!(!trie.is_empty());
        assert!(PieceTrie::build(Vec::<(&[u8], i32)>::new()).is_empty());
    }

    #[test]
    fn many_children_use_binary_search() {
        let keys: Vec<Vec<u8>> = (0u8..=255).map(|b| vec![b'q', b]).collect();
        let trie = PieceTrie::build(keys.iter().enumerate().map(|(i, k)| (k.as_slice(), i as i32)));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(trie.longest_prefix(k), Some((2, i as i32)));
        }
    }

    #[test]
    fn corrupt_double_array_does_not_panic() {
        let da = DoubleArray::from_bytes(&[0xff; 16]).unwrap();
        let mut n = 0;
        da.common_prefix_search(b"abc", |_, _| n += 1);
        assert!(DoubleArray::from_bytes(&[1, 2, 3]).is_none());
    }
}
