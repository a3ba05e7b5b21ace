//! The text preprocessing that runs before SentencePiece (docs/tokenizer.md, steps 1–3):
//! whitespace collapsing with Python's notion of whitespace (also prepare-corpus's cleaning),
//! optional accent stripping, optional lower-casing, and Hugging Face's quote replacement (Q3).
//!
//! One `Normalization` value is used everywhere text is turned into pieces — tokenizer training,
//! data creation, and (through the recorded settings) the exported HF tokenizer — so the three
//! can never disagree (quirk Q1).

use std::borrow::Cow;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::unicode;

/// How raw text is normalized before SentencePiece sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(default)]
pub struct Normalization {
    /// Python `str.lower()` (full Unicode mapping, final sigma included).
    pub lowercase: bool,
    /// NFKD, then drop every character with a non-zero canonical combining class.
    pub strip_accents: bool,
    /// Replace "``" and "''" by '"' as Hugging Face's `AlbertTokenizer` does (Q3); the original
    /// `FullTokenizer` does not.
    pub replace_quotes: bool,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization { lowercase: true, strip_accents: false, replace_quotes: true }
    }
}

/// Python's `str.isspace()` / `str.split()` whitespace. Rust's `char::is_whitespace` lacks the
/// information separators U+001C–U+001F, which Python splits on.
#[inline]
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `" ".join(s.split())`: strip, and collapse each whitespace run to one space. Borrowed when
/// there is nothing to change, which is most lines.
pub fn collapse_whitespace(s: &str) -> Cow<'_, str> {
    if is_collapsed(s.as_bytes()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(clean_pass(s, false, true).0)
    }
}

/// True when `b` has no whitespace but single inner spaces: nothing for [`collapse_whitespace`]
/// to change.
#[inline]
fn is_collapsed(b: &[u8]) -> bool {
    let mut prev_space = true; // a leading space is not collapsed
    for (i, &c) in b.iter().enumerate() {
        if c == b' ' {
            if prev_space {
                return false;
            }
            prev_space = true;
        } else if matches!(c, b'\t'..=b'\r' | 0x1c..=0x1f) || (matches!(c, 0xC2 | 0xE1 | 0xE2 | 0xE3) && ws_len_at(b, i) > 0) {
            return false;
        } else {
            prev_space = false;
        }
    }
    !prev_space || b.is_empty()
}

/// True when `b` has no byte [`clean_pass`] may change (whitespace, controls, U+FEFF) but single
/// inner spaces (conservative: a false negative only costs the full pass).
#[inline]
fn is_clean(b: &[u8]) -> bool {
    if b.is_empty() || b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    let mut prev_space = false;
    b.iter().all(|&c| {
        let ok = !SPECIAL[c as usize] || (c == b' ' && !prev_space);
        prev_space = c == b' ';
        ok
    })
}

/// Control characters that prepare-corpus removes: category Cc except those Python counts as whitespace
/// (tab, line/form feed, CR, U+001C-U+001F, U+0085: they become spaces when whitespace is
/// collapsed), and U+FEFF (a byte-order mark / zero-width no-break space).
#[cfg(test)]
fn is_removed_control(c: char) -> bool {
    (c.is_control() && !is_python_whitespace(c)) || c == '\u{feff}'
}

/// Byte length of the Python-whitespace character (`str.isspace()`) starting at `b[i]`, or 0.
#[inline(always)]
fn ws_len_at(b: &[u8], i: usize) -> usize {
    match b[i] {
        0x21..=0x7e | 0x80..=0xC1 | 0xC3..=0xE0 | 0xE4..=0xFF => 0,
        b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f => 1,
        0xC2 => matches!(b.get(i + 1), Some(0x85) | Some(0xA0)) as usize * 2,
        0xE1 => b[i + 1..].starts_with(&[0x9A, 0x80]) as usize * 3,
        0xE2 => match (b.get(i + 1), b.get(i + 2)) {
            (Some(0x80), Some(&c)) if (0x80..=0x8A).contains(&c) || matches!(c, 0xA8 | 0xA9 | 0xAF) => 3,
            (Some(0x81), Some(0x9F)) => 3,
            _ => 0,
        },
        0xE3 => b[i + 1..].starts_with(&[0x80, 0x80]) as usize * 3,
        _ => 0,
    }
}

/// Bytes that need a closer look in [`clean_pass`]: ASCII whitespace and controls, and the lead
/// bytes of every non-ASCII whitespace or removed control character (C2: U+0080–U+00A0,
/// E1: U+1680, E2: U+2000–U+205F, E3: U+3000, EF: U+FEFF). Everything else is copied as is.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x21 {
        t[i] = true;
        i += 1;
    }
    t[0x7f] = true;
    t[0xC2] = true;
    t[0xE1] = true;
    t[0xE2] = true;
    t[0xE3] = true;
    t[0xEF] = true;
    t
};

/// Byte length of a removed control character (see [`is_removed_control`]) at `b[i]`, or 0.
#[inline(always)]
fn control_len_at(b: &[u8], i: usize) -> usize {
    match b[i] {
        0x00..=0x08 | 0x0e..=0x1b | 0x7f => 1,
        0xC2 => matches!(b.get(i + 1), Some(&c) if (0x80..=0x9F).contains(&c) && c != 0x85) as usize * 2,
        0xEF => b[i + 1..].starts_with(&[0xBB, 0xBF]) as usize * 3,
        _ => 0,
    }
}

/// One pass over a line: removes control characters (if `remove_control`; returns how many)
/// and collapses whitespace (if `collapse`: strip, runs -> one space, like `" ".join(s.split())`).
pub fn clean_pass(s: &str, remove_control: bool, collapse: bool) -> (String, u64) {
    let b = s.as_bytes();
    // Most lines are already clean: copy them whole.
    if collapse && is_clean(b) {
        return (s.to_string(), 0);
    }
    let mut out = String::with_capacity(s.len());
    let mut removed = 0u64;
    let mut pending_space = false;
    let mut i = 0;
    while i < b.len() {
        // A run of ordinary bytes is copied at once; runs start and end on character boundaries
        // because every special byte is ASCII or the lead byte of a character.
        let start = i;
        while i < b.len() && !SPECIAL[b[i] as usize] {
            i += 1;
        }
        if i > start {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push_str(&s[start..i]);
            continue;
        }
        if remove_control {
            let c = control_len_at(b, i);
            if c > 0 {
                removed += 1;
                i += c;
                continue;
            }
        }
        if collapse {
            let w = ws_len_at(b, i);
            if w > 0 {
                pending_space = !out.is_empty();
                i += w;
                continue;
            }
        }
        // A special byte that is neither here: copy its whole character.
        let len = s[i..].chars().next().map_or(1, char::len_utf8);
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push_str(&s[i..i + len]);
        i += len;
    }
    (out, removed)
}

/// NFKD followed by dropping combining marks: "Bäume" -> "Baume". As the interpreter's
/// `unicodedata` does it: characters it does not assign are kept (`crate::unicode`).
pub fn strip_accents(s: &str) -> String {
    let strip = |part: &str, out: &mut String| out.extend(part.nfkd().filter(|&c| canonical_combining_class(c) == 0));
    let tables = unicode::tables();
    if tables.has_unassigned(s) {
        return tables.map_assigned(s, strip);
    }
    let mut out = String::with_capacity(s.len());
    strip(s, &mut out);
    out
}

/// `unicodedata.normalize("NFC", s)` of the interpreter (`crate::unicode`); `Borrowed` when `s`
/// is NFC already.
pub fn nfc(s: &str) -> Cow<'_, str> {
    let tables = unicode::tables();
    if tables.has_unassigned(s) {
        let n = tables.map_assigned(s, |part, out| out.extend(part.nfc()));
        return if n == s { Cow::Borrowed(s) } else { Cow::Owned(n) };
    }
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return Cow::Borrowed(s);
    }
    let n: String = s.nfc().collect();
    if n == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(n)
    }
}

/// Lower-cases one character at a time, without the context-dependent final-sigma rule of
/// [`str::to_lowercase`]: what Hugging Face's `PreTrainedTokenizer.tokenize` does with
/// `do_lower_case` (a regex substitution lower-casing each character on its own), so
/// "ΣΟΦΟΣ" becomes "σοφοσ" there but "σοφος" in the original `FullTokenizer`.
pub fn lowercase_chars(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) };
    }
    lowercase_chars_unicode(s)
}

/// [`lowercase_chars`] for any text, one `char` at a time; characters the interpreter does not
/// assign stay as they are (`crate::unicode`).
fn lowercase_chars_unicode(s: &str) -> Cow<'_, str> {
    let tables = unicode::tables();
    // Only a character that lower-casing changes can be one the interpreter leaves alone.
    let mut changes = s.char_indices().filter(|&(_, c)| {
        if c.is_ascii() {
            c.is_ascii_uppercase()
        } else {
            let mut lower = c.to_lowercase();
            !(lower.next() == Some(c) && lower.next().is_none())
        }
    });
    let Some((first, _)) = changes.next() else { return Cow::Borrowed(s) };
    if tables.has_unassigned(&s[first..]) {
        return Cow::Owned(tables.map_assigned(s, |part, out| out.push_str(&lowercase_chars_assigned(part))));
    }
    lowercase_chars_assigned(s)
}

/// [`lowercase_chars_unicode`] for text without unassigned characters.
fn lowercase_chars_assigned(s: &str) -> Cow<'_, str> {
    // `str::to_lowercase` maps every character on its own except capital sigma (final-sigma
    // rule), and is much faster than collecting `char::to_lowercase` one by one.
    if !s.contains('\u{3a3}') {
        return Cow::Owned(s.to_lowercase());
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.extend(c.to_lowercase());
    }
    Cow::Owned(out)
}

/// Python's `str.lower()` (final-sigma rule included), in place for ASCII text.
fn lowercase_full(s: String) -> String {
    if s.is_ascii() {
        let mut s = s;
        s.make_ascii_lowercase();
        s
    } else {
        lower(&s)
    }
}

/// Python's `str.lower()` of the running interpreter (`crate::unicode`): [`str::to_lowercase`]
/// with unassigned characters kept (splitting at them is exact: for the final-sigma context they
/// are neither cased nor case-ignorable), and the final-sigma rule decided with the
/// interpreter's cased and case-ignorable characters.
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let tables = unicode::tables();
    if s.contains('\u{3a3}') {
        if let Some(lower) = tables.lower_with_sigma(s) {
            return lower;
        }
    }
    if tables.has_unassigned(s) {
        return tables.map_assigned(s, |part, out| out.push_str(&part.to_lowercase()));
    }
    s.to_lowercase()
}

impl Normalization {
    /// The original `preprocess_text` step by step: whitespace, quotes (Q3, when
    /// `replace_quotes`), accents, `str.lower()`. [`Normalization::preprocess`] is what
    /// SentencePiece is fed; this is its reference-pipeline half.
    pub fn apply(&self, text: &str) -> String {
        let mut out = collapse_whitespace(text).into_owned();
        if self.replace_quotes && (out.contains("``") || out.contains("''")) {
            out = out.replace("``", "\"").replace("''", "\"");
        }
        // NFKD leaves ASCII alone and ASCII has no combining marks.
        if self.strip_accents && !out.is_ascii() {
            out = strip_accents(&out);
        }
        if self.lowercase {
            out = lowercase_full(out);
        }
        out
    }

    /// The text SentencePiece sees for `text` (docs/tokenizer.md, steps 1–3), in the pipeline the settings
    /// select: the same for tokenizer training, data creation and encoding (Q1).
    ///
    /// With `replace_quotes` (Q3) it is Hugging Face's `AlbertTokenizer`: `tokenize` first
    /// lower-cases character by character — no final-sigma rule, so "ΟΔΟΣ" becomes "οδοσ" — and
    /// `preprocess_text` then collapses whitespace, replaces quotes, strips accents and calls
    /// `str.lower()`. Lower-casing commutes with whitespace collapsing and quote replacement,
    /// and the second `str.lower()` changes nothing unless accent stripping (NFKD) produced new
    /// characters ("ℌ" -> "H"), so each step runs once. Without it, the original
    /// `FullTokenizer`'s `preprocess_text` ([`Normalization::apply`]).
    pub fn preprocess(&self, text: &str) -> String {
        if !(self.lowercase && self.replace_quotes) || text.is_ascii() {
            // ASCII: both pipelines' lower-casing is ASCII lower-casing (the rules differ on Σ only).
            return self.apply(text);
        }
        let mut out = collapse_whitespace(text).into_owned();
        if out.contains("``") || out.contains("''") {
            out = out.replace("``", "\"").replace("''", "\"");
        }
        if let Cow::Owned(lower) = lowercase_chars(&out) {
            out = lower;
        }
        if self.strip_accents && !out.is_ascii() {
            out = lowercase_full(strip_accents(&out));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious `" ".join(s.split())`: the oracle of the byte scanner.
    fn collapse_reference(s: &str) -> String {
        s.split(is_python_whitespace).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn byte_scanner_equals_the_obvious_collapse() {
        let cases = [
            "", " ", "a", "  a  b  ", "a\u{a0}b\u{2009}\u{3000}c\u{85}d", "x\u{1c}y\u{205f}z\u{2028}",
            "\u{e2}\u{80}\u{8b}zero-width space is not whitespace", "ä ö\tü\r\nß", "\u{1680}\u{202f}end ",
        ];
        for c in cases {
            assert_eq!(collapse_whitespace(c), collapse_reference(c), "{c:?}");
        }
        // Every character that might be whitespace, between letters.
        for cp in 0..0x3100u32 {
            let Some(ch) = char::from_u32(cp) else { continue };
            let t = format!("a{ch}b {ch}");
            assert_eq!(collapse_whitespace(&t), collapse_reference(&t), "U+{cp:04X}");
        }
    }

    #[test]
    fn one_pass_cleaning_equals_removal_then_collapse() {
        for cp in 0..0x3100u32 {
            let Some(ch) = char::from_u32(cp) else { continue };
            for t in [format!("a{ch}b {ch}"), format!("{ch}\u{feff}x\u{7}y{ch}")] {
                let removed: String = t.chars().filter(|&c| !is_removed_control(c)).collect();
                let expect = collapse_reference(&removed);
                let n = (t.chars().count() - removed.chars().count()) as u64;
                assert_eq!(clean_pass(&t, true, true), (expect, n), "U+{cp:04X}");
                assert_eq!(clean_pass(&t, true, false), (removed, n), "U+{cp:04X}");
            }
        }
    }

    fn norm(lowercase: bool, strip_accents: bool, replace_quotes: bool) -> Normalization {
        Normalization { lowercase, strip_accents, replace_quotes }
    }

    #[test]
    fn whitespace_matches_python_split() {
        assert_eq!(collapse_whitespace("  a \t b\n"), "a b");
        assert_eq!(collapse_whitespace("a\u{1c}b\u{1f}c"), "a b c");
        assert_eq!(collapse_whitespace("a\u{a0}\u{3000}b"), "a b");
        assert_eq!(collapse_whitespace("a\u{200b}b"), "a\u{200b}b"); // ZWSP is not whitespace
        assert!(matches!(collapse_whitespace("already clean"), Cow::Borrowed(_)));
        assert!(matches!(collapse_whitespace("„Ja“ – sagte er… «non» ½"), Cow::Borrowed(_)), "typography is not whitespace");
        assert_eq!(collapse_whitespace(""), "");
        assert_eq!(collapse_whitespace(" \t "), "");
    }

    #[test]
    fn accents_are_stripped_only_when_asked() {
        assert_eq!(norm(false, true, false).apply("Bäume Öl café"), "Baume Ol cafe");
        assert_eq!(norm(false, false, false).apply("Bäume"), "Bäume");
        // NFKD also folds compatibility characters, as Python's unicodedata does.
        assert_eq!(strip_accents("ﬁ"), "fi");
    }

    #[test]
    fn lowercase_is_full_unicode() {
        assert_eq!(norm(true, false, false).apply("ΣΟΦΟΣ ÄPFEL"), "σοφος äpfel");
        assert_eq!(norm(true, false, false).apply("İ"), "i\u{307}");
    }

    #[test]
    fn per_char_lowercase_has_no_final_sigma() {
        assert_eq!(lowercase_chars("ΣΟΦΟΣ Äpfel"), "σοφοσ äpfel");
        assert_eq!(lowercase_chars("İ"), "i\u{307}");
        assert!(matches!(lowercase_chars("already lower"), Cow::Borrowed(_)));
    }

    #[test]
    fn preprocess_follows_each_pipelines_lowercasing() {
        let hf = norm(true, false, true);
        let original = norm(true, false, false);
        assert_eq!(hf.preprocess("  ΟΔΟΣ  ``Bäume''"), "οδοσ \"bäume\"");
        assert_eq!(original.preprocess("  ΟΔΟΣ  ``Bäume''"), "οδος ``bäume''");
        assert_eq!(norm(false, true, true).preprocess("ΟΔΟΣ Bäume"), "ΟΔΟΣ Baume");
        // NFKD makes an upper-case letter of "ℌ", which the final str.lower() catches.
        assert_eq!(norm(true, true, true).preprocess("ℌ Ä"), "h a");
    }

    /// What `preprocess` computed before the ASCII fast paths and the single-pass HF order:
    /// per-character lower-casing of the raw text, then the steps of `apply` with the Unicode
    /// lower-casing and accent stripping only.
    fn slow_preprocess(n: &Normalization, text: &str) -> String {
        let text: String =
            if n.lowercase && n.replace_quotes { lowercase_chars_unicode(text).into_owned() } else { text.to_string() };
        let mut out = collapse_whitespace(&text).into_owned();
        if n.replace_quotes {
            out = out.replace("``", "\"").replace("''", "\"");
        }
        if n.strip_accents {
            out = strip_accents(&out);
        }
        if n.lowercase {
            out = out.to_lowercase();
        }
        out
    }

    #[test]
    fn ascii_fast_paths_agree_with_the_unicode_paths_on_random_text() {
        // ASCII letters, every ASCII whitespace incl. U+001C–U+001F, quotes, and non-ASCII
        // letters, marks and whitespace (NBSP, U+0085, U+2028, ideographic space).
        const ALPHABET: &[&str] = &[
            "a", "Z", "q", "T", "7", ",", "'", "`", "''", "``", " ", " ", "  ", "\t", "\n", "\r", "\u{b}",
            "\u{c}", "\u{1c}", "\u{1d}", "\u{1e}", "\u{1f}", "\u{7f}", "Σ", "ΟΣ", "İ", "ä", "Ä", "é", "ß", "ẞ",
            "ℌ", "ﬁ", "\u{301}", "\u{a0}", "\u{85}", "\u{2028}", "\u{3000}", "\u{200b}", "日",
        ];
        let mut rng = crate::create_data::rng::DataRng::from_seed(17);
        for round in 0..20_000 {
            let len = rng.below(12) as usize;
            // Half the strings ASCII only, to exercise the fast paths.
            let ascii_only = round % 2 == 0;
            let text: String = (0..len)
                .map(|_| loop {
                    let piece = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
                    if !ascii_only || piece.is_ascii() {
                        break piece;
                    }
                })
                .collect();
            assert_eq!(lowercase_chars(&text), lowercase_chars_unicode(&text), "{text:?}");
            for bits in 0..8 {
                let n = norm(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                assert_eq!(n.preprocess(&text), slow_preprocess(&n, &text), "{n:?} {text:?}");
            }
        }
    }

    #[test]
    fn fast_paths_agree_on_the_bundled_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/corpus");
        let mut text = String::new();
        for name in ["de-grimm2.txt", "en-twain4.txt"] {
            text += &std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_default();
        }
        assert!(text.len() > 10_000, "examples/corpus is missing");
        text += "ΟΔΟΣ İstanbul ǅ ǈ ß ẞ ﬁ ℌ Ω K Å ΐ ᾈ ᾼ ῼ ﬀ Ⅻ ⓐ Ⓐ 𐐀 𞤀";
        for line in text.lines() {
            for bits in 0..8 {
                let n = norm(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                assert_eq!(n.preprocess(line), slow_preprocess(&n, line), "{n:?} {line}");
            }
        }
    }

    #[test]
    fn quotes_replaced_only_in_hf_mode() {
        assert_eq!(norm(false, false, true).apply("``hi''"), "\"hi\"");
        assert_eq!(norm(false, false, false).apply("``hi''"), "``hi''");
    }
}
