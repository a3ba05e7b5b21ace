//! The character classes of NLTK's Punkt regular expressions. NLTK compiles them with the
//! third-party `regex` engine (older NLTK: the standard `re`); with the engine's own tables
//! installed (`crate::unicode`, from the Python face) `\w \s \d` are exactly the engine's,
//! otherwise the built-in approximations below: `\s` = Unicode White_Space, `\d` = Nd, `\w` =
//! UTS #18's word class over Rust's (possibly older) Alphabetic property.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::unicode::tables;

/// `\s` of the regex engine.
#[inline]
pub(super) fn is_re_space(c: char) -> bool {
    tables().re_space(c, char::is_whitespace)
}

/// `\d` of the regex engine.
#[inline]
pub(super) fn is_re_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    tables().re_digit(c, |c| c.general_category() == GeneralCategory::DecimalNumber)
}

/// `\w` of the regex engine.
#[inline]
pub(super) fn is_re_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    tables().re_word(c, builtin_re_word)
}

/// UTS #18 `\w`: Alphabetic, marks, Nd, Pc, Join_Control.
fn builtin_re_word(c: char) -> bool {
    c.is_alphabetic()
        || matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::DecimalNumber
                | GeneralCategory::ConnectorPunctuation
        )
        || c == '\u{200C}'
        || c == '\u{200D}'
}

/// `PunktLanguageVars._re_non_word_chars`: characters that cannot appear within words.
#[inline]
pub(super) fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"' | ';' | '}' | ']' | '*' | ':' | '@' | '\'' | '(' | '{' | '[' | '?' | '!'
            | '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}'
    )
}

/// `PunktLanguageVars._re_word_start`: characters a word token may start with.
#[inline]
pub(super) fn is_word_start(c: char) -> bool {
    !matches!(c, '(' | '"' | '`' | '{' | '[' | ':' | ';' | '&' | '#' | '*' | '@' | ')' | '}' | ']' | '-' | ',')
}

/// Closing punctuation of `PunktLanguageVars.re_boundary_realignment`.
#[inline]
pub(super) fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{ab}' | '\u{bb}')
}

#[inline]
pub(super) fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|t| t.chars().next())
}
