//! SentencePiece's own normalizer (`normalizer.cc`), run inside `EncodeAsPieces` after the
//! ALBERT preprocessing: user-defined symbols pass through untouched, every other position is
//! rewritten by the longest matching rule of the precompiled char map (for the default
//! `nmt_nfkc`: NFKC plus a few extra folds), runs of spaces collapse, a dummy "▁" prefix is added
//! and spaces become "▁". Hand-written: no crate reproduces SentencePiece's normalizer byte for
//! byte (longest match over the char map with user-defined symbols protected, its whitespace
//! rules). It works on bytes, as SentencePiece does: a charsmap may hold replacements that are
//! not UTF-8, or rules that end inside a character (whose rest then becomes U+FFFD per byte).

use super::charsmap::CharsMap;
use super::model_proto::NormalizerSpec;
use super::spm_version::SpmVersion;
use super::trie::PieceTrie;

/// "▁" (U+2581), SentencePiece's visible space.
pub const SPACE_SYMBOL: &str = "\u{2581}";
const SPACE: &[u8] = SPACE_SYMBOL.as_bytes();
/// What SentencePiece emits for a byte that does not start a valid UTF-8 character.
const REPLACEMENT_CHARACTER: &[u8] = "\u{fffd}".as_bytes();

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
    /// ASCII bytes whose rules all go on with a non-ASCII byte (NFKC's compositions: "a" +
    /// U+0301), nor a user-defined symbol starts with: before an ASCII byte or at the end they
    /// normalize to themselves too. In nmt_nfkc that is most letters.
    passthrough_before_ascii: [bool; 128],
    /// Whether a space, too, normalizes to itself (no symbol or rule starts with it).
    plain_space: bool,
}

impl SpmNormalizer {
    /// The normalizer of `spec`; an error names what `version` refuses in its charsmap.
    pub fn new(spec: &NormalizerSpec, user_defined: PieceTrie, version: SpmVersion) -> Result<SpmNormalizer, String> {
        let blob = spec.precompiled_charsmap();
        let charsmap = if blob.is_empty() { None } else { Some(CharsMap::parse(blob, version)?) };
        let mut passthrough = [false; 128];
        for (b, slot) in passthrough.iter_mut().enumerate() {
            let b = b as u8;
            *slot = b != b' '
                && !user_defined.has_first_byte(b)
                && !charsmap.as_ref().is_some_and(|m| m.has_first_byte(b));
        }
        let mut passthrough_before_ascii = [false; 128];
        for (b, slot) in passthrough_before_ascii.iter_mut().enumerate() {
            let b = b as u8;
            *slot = b != b' '
                && !user_defined.has_first_byte(b)
                && charsmap.as_ref().is_none_or(|m| m.longest(&[b]).is_none() && (0..128u8).all(|c| !m.has_prefix(&[b, c])));
        }
        let plain_space = !user_defined.has_first_byte(b' ') && !charsmap.as_ref().is_some_and(|m| m.has_first_byte(b' '));
        Ok(SpmNormalizer {
            passthrough,
            passthrough_before_ascii,
            plain_space,
            charsmap,
            user_defined,
            add_dummy_prefix: spec.add_dummy_prefix(),
            remove_extra_whitespaces: spec.remove_extra_whitespaces(),
            escape_whitespaces: spec.escape_whitespaces(),
        })
    }

    /// `NormalizePrefix`: the normalized form of the first unit of `input` and how many bytes
    /// of `input` it consumes. `input` must not be empty; it is UTF-8 from its first character
    /// boundary on (a rule may have consumed part of a character).
    #[inline]
    fn normalize_prefix<'a>(&'a self, input: &'a [u8]) -> (&'a [u8], usize) {
        if !self.user_defined.is_empty() {
            if let Some((len, _)) = self.user_defined.longest_prefix(input) {
                return (&input[..len], len);
            }
        }
        if let Some(map) = &self.charsmap {
            if let Some(found) = map.longest(input) {
                return found;
            }
        }
        let lead = input[0];
        if (0x80..0xc0).contains(&lead) {
            // The rest of a character a rule ended inside: not valid UTF-8 on its own.
            return (REPLACEMENT_CHARACTER, 1);
        }
        let len = utf8_len(lead).min(input.len());
        (&input[..len], len)
    }

    /// How many leading bytes of `input` normalize to themselves, one by one.
    #[inline]
    fn passthrough_run(&self, input: &[u8]) -> usize {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            let itself = b < 128
                && (self.passthrough[b as usize]
                    || (self.passthrough_before_ascii[b as usize] && input.get(i + 1).is_none_or(|&c| c < 128)));
            if !itself {
                break;
            }
            i += 1;
        }
        i
    }

    /// `Normalizer::Normalize`: the normalized form of `input` into `out` (cleared first).
    pub fn normalize(&self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let mut input = input;
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (rep, n) = self.normalize_prefix(input);
                if rep != b" " {
                    break;
                }
                input = &input[n..];
            }
        }
        if input.is_empty() {
            return;
        }
        let space = if self.escape_whitespaces { SPACE } else { b" " };
        if self.add_dummy_prefix {
            out.extend_from_slice(space);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let run = self.passthrough_run(input);
            if run > 0 {
                out.extend_from_slice(&input[..run]);
                input = &input[run..];
                is_prev_space = false;
                continue;
            }
            if self.plain_space && input[0] == b' ' {
                if !is_prev_space {
                    out.extend_from_slice(space);
                    is_prev_space = self.remove_extra_whitespaces;
                }
                input = &input[1..];
                continue;
            }
            let (mut rep, n) = self.normalize_prefix(input);
            if is_prev_space {
                while let [b' ', rest @ ..] = rep {
                    rep = rest;
                }
            }
            if !rep.is_empty() {
                if self.escape_whitespaces && rep.contains(&b' ') {
                    for (i, part) in rep.split(|&b| b == b' ').enumerate() {
                        if i > 0 {
                            out.extend_from_slice(SPACE);
                        }
                        out.extend_from_slice(part);
                    }
                } else {
                    out.extend_from_slice(rep);
                }
                is_prev_space = rep.ends_with(b" ");
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

/// The length of the UTF-8 character a lead byte starts.
#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}
