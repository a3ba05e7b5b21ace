//! SentencePiece's own normalizer (`normalizer.cc`), run inside `EncodeAsPieces` after the
//! ALBERT preprocessing: user-defined symbols pass through untouched, every other position is
//! rewritten by the longest matching rule of the precompiled char map (for the default
//! `nmt_nfkc`: NFKC plus a few extra folds), runs of spaces collapse, a dummy "▁" prefix is added
//! and spaces become "▁".

use super::model_proto::NormalizerSpec;
use super::trie::{DoubleArray, PieceTrie};

/// "▁" (U+2581), SentencePiece's visible space.
pub const SPACE_SYMBOL: &str = "\u{2581}";

/// The precompiled rules: a double array mapping byte sequences to offsets into a blob of
/// NUL-terminated replacement strings.
#[derive(Debug, Clone)]
struct CharsMap {
    trie: DoubleArray,
    /// The replacement strings, validated as UTF-8 once at load time.
    normalized: String,
}

impl CharsMap {
    /// Parses `precompiled_charsmap`: a little-endian u32 trie size, the trie, then the strings.
    fn parse(blob: &[u8]) -> Result<CharsMap, String> {
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
    fn longest(&self, input: &str) -> Option<(&str, usize)> {
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
}

/// SentencePiece's `Normalizer` for one model.
#[derive(Debug, Clone)]
pub struct SpmNormalizer {
    charsmap: Option<CharsMap>,
    /// User-defined symbols: matched first, longest wins, and never normalized.
    user_defined: PieceTrie,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
    /// ASCII bytes (other than space) that no user-defined symbol and no rule starts with:
    /// they normalize to themselves, so runs of them are copied at once.
    passthrough: [bool; 128],
    /// Whether a space, too, normalizes to itself (no symbol or rule starts with it).
    plain_space: bool,
}

impl SpmNormalizer {
    pub fn new(spec: &NormalizerSpec, user_defined: PieceTrie) -> Result<SpmNormalizer, String> {
        let blob = spec.precompiled_charsmap();
        let charsmap = if blob.is_empty() { None } else { Some(CharsMap::parse(blob)?) };
        let mut passthrough = [false; 128];
        for (b, slot) in passthrough.iter_mut().enumerate() {
            let b = b as u8;
            *slot = b != b' '
                && !user_defined.has_first_byte(b)
                && !charsmap.as_ref().is_some_and(|m| m.trie.has_first_byte(b));
        }
        let plain_space = !user_defined.has_first_byte(b' ') && !charsmap.as_ref().is_some_and(|m| m.trie.has_first_byte(b' '));
        Ok(SpmNormalizer {
            passthrough,
            plain_space,
            charsmap,
            user_defined,
            add_dummy_prefix: spec.add_dummy_prefix(),
            remove_extra_whitespaces: spec.remove_extra_whitespaces(),
            escape_whitespaces: spec.escape_whitespaces(),
        })
    }

    /// `NormalizePrefix`: the normalized form of the first unit of `input` and how many bytes
    /// of `input` it consumes. `input` must not be empty.
    #[inline]
    fn normalize_prefix<'a>(&'a self, input: &'a str) -> (&'a str, usize) {
        if !self.user_defined.is_empty() {
            if let Some((len, _)) = self.user_defined.longest_prefix(input.as_bytes()) {
                return (&input[..len], len);
            }
        }
        if let Some(map) = &self.charsmap {
            if let Some(found) = map.longest(input) {
                return found;
            }
        }
        let len = input.chars().next().map_or(input.len(), char::len_utf8);
        (&input[..len], len)
    }

    /// `Normalizer::Normalize`: appends the normalized form of `input` to `out` (cleared first).
    pub fn normalize(&self, input: &str, out: &mut String) {
        out.clear();
        let mut input = input;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (rep, n) = self.normalize_prefix(input);
                if rep != " " {
                    break;
                }
                input = &input[n..];
            }
        }
        if input.is_empty() {
            return;
        }
        let space = if self.escape_whitespaces { SPACE_SYMBOL } else { " " };
        if self.add_dummy_prefix {
            out.push_str(space);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let run = input.bytes().take_while(|&b| b < 128 && self.passthrough[b as usize]).count();
            if run > 0 {
                out.push_str(&input[..run]);
                input = &input[run..];
                is_prev_space = false;
                continue;
            }
            if self.plain_space && input.as_bytes()[0] == b' ' {
                if !is_prev_space {
                    out.push_str(space);
                    is_prev_space = self.remove_extra_whitespaces;
                }
                input = &input[1..];
                continue;
            }
            let (mut rep, n) = self.normalize_prefix(input);
            if is_prev_space {
                rep = rep.trim_start_matches(' ');
            }
            if !rep.is_empty() {
                if self.escape_whitespaces && rep.contains(' ') {
                    for (i, part) in rep.split(' ').enumerate() {
                        if i > 0 {
                            out.push_str(SPACE_SYMBOL);
                        }
                        out.push_str(part);
                    }
                } else {
                    out.push_str(rep);
                }
                is_prev_space = rep.ends_with(' ');
            }
            input = &input[n..];
            if !self.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
    }
}
