//! Byte tries used by the encoder.
//!
//! [`PieceTrie`] holds our own vocabulary trie: a flat, cache-friendly layout (nodes with sorted
//! edge ranges, a 256-entry table at the root where the fan-out is widest) built once per model.
//! [`DoubleArray`] reads the darts-clone double array that SentencePiece stores inside
//! `precompiled_charsmap`; we only need its common-prefix search.

/// A trie over byte strings with an `i32` value per key (`-1` = no key ends here).
#[derive(Debug, Clone, Default)]
pub struct PieceTrie {
    /// Per node: value, first edge index, edge count.
    nodes: Vec<Node>,
    /// Edges of all nodes, grouped by parent, sorted by label within a group.
    edges: Vec<(u8, u32)>,
    /// Child of the root for every first byte (`u32::MAX` = none).
    root: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    value: i32,
    first: u32,
    count: u32,
}

impl PieceTrie {
    /// Builds the trie from `(key, value)` pairs; a later duplicate key overwrites an earlier one.
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a [u8], i32)>) -> PieceTrie {
        // A pointer trie first, then flattened breadth-first so siblings sit together.
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
        let mut order = vec![0usize];
        let mut new_index = vec![u32::MAX; values.len()];
        new_index[0] = 0;
        let mut head = 0;
        while head < order.len() {
            let n = order[head];
            head += 1;
            for &(_, c) in &children[n] {
                new_index[c] = order.len() as u32;
                order.push(c);
            }
        }
        let mut nodes = Vec::with_capacity(order.len());
        let mut edges = Vec::with_capacity(order.len());
        for &n in &order {
            nodes.push(Node { value: values[n], first: edges.len() as u32, count: children[n].len() as u32 });
            edges.extend(children[n].iter().map(|&(l, c)| (l, new_index[c])));
        }
        let mut root = vec![u32::MAX; 256];
        for &(l, c) in &children[0] {
            root[l as usize] = new_index[c];
        }
        PieceTrie { nodes, edges, root }
    }

    #[inline]
    fn child(&self, node: u32, label: u8) -> Option<u32> {
        if node == 0 {
            let c = self.root[label as usize];
            return (c != u32::MAX).then_some(c);
        }
        let n = self.nodes[node as usize];
        let edges = &self.edges[n.first as usize..(n.first + n.count) as usize];
        if edges.len() <= 8 {
            edges.iter().find(|&&(l, _)| l == label).map(|&(_, c)| c)
        } else {
            edges.binary_search_by_key(&label, |&(l, _)| l).ok().map(|i| edges[i].1)
        }
    }

    /// Calls `f(length, value)` for every key that is a prefix of `text`, shortest first.
    #[inline]
    pub fn common_prefix_search(&self, text: &[u8], mut f: impl FnMut(usize, i32)) {
        let mut node = 0u32;
        for (i, &b) in text.iter().enumerate() {
            match self.child(node, b) {
                Some(c) => node = c,
                None => return,
            }
            let value = self.nodes[node as usize].value;
            if value >= 0 {
                f(i + 1, value);
            }
        }
    }

    /// The length and value of the longest key that is a prefix of `text`.
    pub fn longest_prefix(&self, text: &[u8]) -> Option<(usize, i32)> {
        let mut best = None;
        self.common_prefix_search(text, |len, value| best = Some((len, value)));
        best
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
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
