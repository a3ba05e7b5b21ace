//! SentencePiece's own normalizer (`normalizer.cc`), run inside `EncodeAsPieces` after the
//! ALBERT preprocessing: user-defined symbols pass through untouched, every other position is
//! rewritten by the longest matching rule of the precompiled char map (for the default
//! `nmt_nfkc`: NFKC plus a few extra folds), runs of spaces collapse, a dummy "▁" prefix is added
//! and spaces become "▁". Hand-written: no crate reproduces SentencePiece's normalizer byte for
//! byte (longest match over the char map with user-defined symbols protected, its whitespace
//! rules).

use super::charsmap::CharsMap;
use super::model_proto::NormalizerSpec;
use super::trie::PieceTrie;

/// "▁" (U+2581), SentencePiece's visible space.
pub const SPACE_SYMBOL: &str = "\u{2581}";

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
                && !charsmap.as_ref().is_some_and(|m| m.has_first_byte(b));
        }
        let plain_space = !user_defined.has_first_byte(b' ') && !charsmap.as_ref().is_some_and(|m| m.has_first_byte(b' '));
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
