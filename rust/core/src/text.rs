//! The text preprocessing that runs before SentencePiece (spec §2, steps 1–3): whitespace
//! collapsing with Python's notion of whitespace, optional accent stripping, optional
//! lower-casing, and Hugging Face's quote replacement (quirk Q3).
//!
//! One `Normalization` value is used everywhere text is turned into pieces — tokenizer training,
//! data creation, and (through the recorded settings) the exported HF tokenizer — so the three
//! can never disagree (quirk Q1).

use std::borrow::Cow;

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;

/// How raw text is normalized before SentencePiece sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// `" ".join(s.strip().split())`.
pub fn collapse_whitespace(s: &str) -> Cow<'_, str> {
    let mut prev_space = true; // a leading space is dropped
    let clean = s.chars().all(|c| {
        let ok = if is_python_whitespace(c) { c == ' ' && !prev_space } else { true };
        prev_space = is_python_whitespace(c);
        ok
    }) && !s.ends_with(is_python_whitespace);
    if clean {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split(is_python_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    Cow::Owned(out)
}

/// NFKD followed by dropping combining marks: "Bäume" -> "Baume".
pub fn strip_accents(s: &str) -> String {
    s.nfkd().filter(|&c| canonical_combining_class(c) == 0).collect()
}

/// Lower-cases one character at a time, without the context-dependent final-sigma rule of
/// [`str::to_lowercase`]: what Hugging Face's `PreTrainedTokenizer.tokenize` does with
/// `do_lower_case` (a regex substitution lower-casing each character on its own), so
/// "ΣΟΦΟΣ" becomes "σοφοσ" there but "σοφος" in the original `FullTokenizer`.
pub fn lowercase_chars(s: &str) -> Cow<'_, str> {
    let unchanged = |c: char| {
        if c.is_ascii() {
            !c.is_ascii_uppercase()
        } else {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        }
    };
    if s.chars().all(unchanged) {
        return Cow::Borrowed(s);
    }
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

impl Normalization {
    /// Applies the normalization to one line of text.
    pub fn apply(&self, text: &str) -> String {
        let mut out = collapse_whitespace(text).into_owned();
        if self.replace_quotes && (out.contains("``") || out.contains("''")) {
            out = out.replace("``", "\"").replace("''", "\"");
        }
        if self.strip_accents {
            out = strip_accents(&out);
        }
        if self.lowercase {
            out = out.to_lowercase();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn quotes_replaced_only_in_hf_mode() {
        assert_eq!(norm(false, false, true).apply("``hi''"), "\"hi\"");
        assert_eq!(norm(false, false, false).apply("``hi''"), "``hi''");
    }
}
