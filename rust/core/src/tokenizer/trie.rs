//! [`PieceTrie`]: the vocabulary trie of the Viterbi lattice and of the user-defined symbols,
//! built once per model. Kept over the `yada` crate (darts-clone compatible): encoding speed is
//! the same, a lookup here is 10% faster, and yada refuses pieces holding a NUL byte.

/// A trie over byte strings with a non-negative `i32` value per key, stored as a double array:
/// the child of node `n` for byte `b` is slot `base(n) + b` when that slot is occupied and
/// labelled `b`. Bases are unique, so the label identifies the parent; each step of a search is
/// one 8-byte load (base, label, occupied bit and value packed in a `u64`).
#[derive(Debug, Clone)]
pub struct PieceTrie {
    units: Vec<u64>,
}

const LABEL_SHIFT: u32 = 32;
const OCCUPIED: u64 = 1 << 40;
const VALUE_SHIFT: u32 = 41;
/// Values are stored plus one in the top 23 bits (0 = no key ends here).
pub const MAX_VALUE: i32 = (1 << 23) - 2;

#[inline]
fn unit_base(u: u64) -> usize {
    (u & 0xffff_ffff) as usize
}

#[inline]
fn unit_label(u: u64) -> u8 {
    (u >> LABEL_SHIFT) as u8
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    base: u32,
    check: u32,
    value: i32,
}

const FREE: u32 = u32::MAX;
const NIL: u32 = u32::MAX;
/// A free slot that failed this many times as a node's first-child slot leaves the candidate
/// list (it stays free for other children): the search for a base no longer rescans every hole
/// of the dense start of the array for each node. A 25k-piece model's trie builds in a third of
/// the time (`examples/startup_bench`) and its array grows 1.2%.
const MAX_TRIES: u8 = 200;
const UNLISTED: u8 = u8::MAX;

/// The free slots of a double array under construction, as a doubly linked list in slot order.
#[derive(Default)]
struct FreeList {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Failed tries of each listed slot as a first child's slot; `UNLISTED` once off the list.
    tries: Vec<u8>,
    head: u32,
    tail: u32,
    initialized: bool,
}

impl FreeList {
    fn first(&self) -> u32 {
        if self.initialized {
            self.head
        } else {
            NIL
        }
    }

    /// Appends the new slots `from..to` (all free) at the end of the list.
    fn grow(&mut self, from: usize, to: usize) {
        if !self.initialized {
            self.head = NIL;
            self.tail = NIL;
            self.initialized = true;
        }
        self.next.resize(to, NIL);
        self.prev.resize(to, NIL);
        self.tries.resize(to, 0);
        for s in from..to {
            let s32 = s as u32;
            self.prev[s] = self.tail;
            self.next[s] = NIL;
            if self.tail == NIL {
                self.head = s32;
            } else {
                self.next[self.tail as usize] = s32;
            }
            self.tail = s32;
        }
    }

    /// Takes slot `s` (occupied now, or given up as a candidate) off the list; a no-op when it
    /// is off already.
    fn remove(&mut self, s: usize) {
        if self.tries[s] == UNLISTED {
            return;
        }
        self.tries[s] = UNLISTED;
        let (p, n) = (self.prev[s], self.next[s]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
    }
}

impl PieceTrie {
    /// Builds the trie from `(key, value)` pairs with `0 <= value <= MAX_VALUE`; a later duplicate
    /// key overwrites an earlier one.
    pub fn build<'a>(entries: impl IntoIterator<Item = (&'a [u8], i32)>) -> PieceTrie {
        // The keys sorted (stably: of duplicates the last wins): a node is then a run of keys
        // sharing its prefix and its children are the sub-runs by the next byte, found by one
        // scan of the run, with no pointer trie to allocate. Nodes are placed into the double
        // array breadth-first, each at the lowest base where all its children's slots are free.
        let mut keys: Vec<(&[u8], i32)> = entries.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        keys.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = later.1;
            }
            same
        });
        let root_value = match keys.first() {
            Some(&([], v)) => v,
            _ => -1,
        };
        let mut units = vec![Unit { base: 0, check: 0, value: root_value }];
        let mut used_base: Vec<bool> = Vec::new();
        let mut free = FreeList::default();
        // (first key, end of its run, depth, slot)
        let mut queue = std::collections::VecDeque::from([(0usize, keys.len(), 0usize, 0usize)]);
        // The children of the node being placed: (label, first key, end of its run).
        let mut kids: Vec<(u8, usize, usize)> = Vec::new();
        while let Some((first, end, depth, slot)) = queue.pop_front() {
            kids.clear();
            // A key ending at this node sorts first in its run.
            let mut i = first;
            if i < end && keys[i].0.len() == depth {
                i += 1;
            }
            while i < end {
                let label = keys[i].0[depth];
                let start = i;
                while i < end && keys[i].0[depth] == label {
                    i += 1;
                }
                kids.push((label, start, i));
            }
            if kids.is_empty() {
                continue;
            }
            let lo = kids[0].0 as usize;
            let hi = kids[kids.len() - 1].0 as usize;
            // Candidate bases come from free slots only (the slot of the first child must be
            // free), walked in increasing order through the free list.
            let mut pos = free.first();
            let base = loop {
                if pos == NIL {
                    // Nothing fits below the end: grow and place right after the used area.
                    let mut base = units.len().saturating_sub(lo).max(1);
                    while used_base.get(base).copied().unwrap_or(false) {
                        base += 1;
                    }
                    break base;
                }
                let p = pos as usize;
                if p > lo && !used_base.get(p - lo).copied().unwrap_or(false) {
                    let base = p - lo;
                    if kids.iter().all(|&(l, _, _)| {
                        let s = base + l as usize;
                        s >= units.len() || units[s].check == FREE
                    }) {
                        break base;
                    }
                }
                pos = free.next[p];
                free.tries[p] += 1;
                if free.tries[p] >= MAX_TRIES {
                    free.remove(p);
                }
            };
            if base + hi >= units.len() {
                let old = units.len();
                units.resize(base + hi + 1, Unit { base: 0, check: FREE, value: -1 });
                free.grow(old, units.len());
            }
            units[slot].base = base as u32;
            if used_base.len() <= base {
                used_base.resize(base + 1, false);
            }
            used_base[base] = true;
            for &(l, start, stop) in &kids {
                let s = base + l as usize;
                let value = if keys[start].0.len() == depth + 1 { keys[start].1 } else { -1 };
                units[s] = Unit { base: 0, check: slot as u32, value };
                free.remove(s);
                queue.push_back((start, stop, depth + 1, s));
            }
        }
        let packed: Vec<u64> = units
            .iter()
            .enumerate()
            .map(|(i, u)| {
                if u.check == FREE && i != 0 {
                    return 0;
                }
                // The label of a slot is its offset from the parent's base.
                let label = if i == 0 { 0 } else { (i - units[u.check as usize].base as usize) as u64 };
                let value = if u.value >= 0 { (u.value.min(MAX_VALUE) as u64 + 1) << VALUE_SHIFT } else { 0 };
                u.base as u64 | label << LABEL_SHIFT | OCCUPIED | value
            })
            .collect();
        PieceTrie { units: packed }
    }

    /// Calls `f(length, value)` for every key that is a prefix of `text`, shortest first.
    #[inline]
    pub fn common_prefix_search(&self, text: &[u8], mut f: impl FnMut(usize, i32)) {
        let units = &self.units[..];
        let Some(&root) = units.first() else { return };
        let mut base = unit_base(root);
        for (i, &b) in text.iter().enumerate() {
            match units.get(base + b as usize) {
                Some(&u) if u & OCCUPIED != 0 && unit_label(u) == b && base != 0 => {
                    base = unit_base(u);
                    let value = u >> VALUE_SHIFT;
                    if value != 0 {
                        f(i + 1, value as i32 - 1);
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
        let Some(&root) = self.units.first() else { return false };
        let base = unit_base(root);
        base != 0 && self.units.get(base + b as usize).is_some_and(|&u| u & OCCUPIED != 0 && unit_label(u) == b)
    }

    pub fn is_empty(&self) -> bool {
        self.units.first().is_none_or(|&u| unit_base(u) == 0)
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
    fn leaves_and_zero_bytes_do_not_alias_other_slots() {
        let keys: Vec<(&[u8], i32)> = vec![(b"a", 0), (b"\0", 1), (b"b\0c", 2), (b"zz", 3)];
        let trie = PieceTrie::build(keys);
        let mut found = Vec::new();
        trie.common_prefix_search(b"a\0\0", |l, v| found.push((l, v)));
        assert_eq!(found, vec![(1, 0)]);
        assert_eq!(trie.longest_prefix(b"\0a"), Some((1, 1)));
        assert_eq!(trie.longest_prefix(b"b\0c"), Some((3, 2)));
        assert_eq!(trie.longest_prefix(b"zza"), Some((2, 3)));
        assert!(trie.has_first_byte(b'z') && !trie.has_first_byte(b'y'));
    }

    #[test]
    fn random_keys_match_a_naive_search() {
        // A deterministic pseudo-random key set; every prefix query is checked against a scan.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let keys: Vec<Vec<u8>> = (0..3000).map(|_| (0..1 + next() % 6).map(|_| b"abc\xe2\x96\x81xyz"[(next() % 9) as usize]).collect()).collect();
        let mut dedup: Vec<(Vec<u8>, i32)> = Vec::new();
        for k in keys {
            if !dedup.iter().any(|(d, _)| *d == k) {
                let id = dedup.len() as i32;
                dedup.push((k, id));
            }
        }
        let trie = PieceTrie::build(dedup.iter().map(|(k, v)| (k.as_slice(), *v)));
        for probe in dedup.iter().map(|(k, _)| k.repeat(2)) {
            let mut got = Vec::new();
            trie.common_prefix_search(&probe, |l, v| got.push((l, v)));
            let mut want: Vec<(usize, i32)> =
                dedup.iter().filter(|(k, _)| probe.starts_with(k)).map(|(k, v)| (k.len(), *v)).collect();
            want.sort();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_later_duplicate_wins_and_the_empty_key_is_the_root() {
        let keys: Vec<(&[u8], i32)> = vec![(b"ab", 1), (b"a", 2), (b"ab", 3), (b"", 4), (b"a", 5), (b"ab", 6)];
        let trie = PieceTrie::build(keys);
        let mut found = Vec::new();
        trie.common_prefix_search(b"abc", |l, v| found.push((l, v)));
        assert_eq!(found, vec![(1, 5), (2, 6)]); // the root's value is never reported (length 0)
    }

    #[test]
    fn many_wide_nodes_match_a_naive_search() {
        // Enough keys over all 256 byte values that free slots fail often as anchors and leave
        // the candidate list (MAX_TRIES): every key must still be found with its value.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut keys: Vec<Vec<u8>> = (0..20000).map(|_| (0..1 + next() % 4).map(|_| (next() % 256) as u8).collect()).collect();
        keys.sort();
        keys.dedup();
        let trie = PieceTrie::build(keys.iter().enumerate().map(|(i, k)| (k.as_slice(), i as i32)));
        for (i, k) in keys.iter().enumerate() {
            let mut got = Vec::new();
            trie.common_prefix_search(k, |l, v| got.push((l, v)));
            let want: Vec<(usize, i32)> = (1..=k.len())
                .filter_map(|l| keys.binary_search(&k[..l].to_vec()).ok().map(|j| (l, j as i32)))
                .collect();
            assert_eq!(got, want);
            assert_eq!(got.last(), Some(&(k.len(), i as i32)));
        }
    }

    #[test]
    fn a_node_with_256_children() {
        let keys: Vec<Vec<u8>> = (0u8..=255).map(|b| vec![b'q', b]).collect();
        let trie = PieceTrie::build(keys.iter().enumerate().map(|(i, k)| (k.as_slice(), i as i32)));
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(trie.longest_prefix(k), Some((2, i as i32)));
        }
    }
}
