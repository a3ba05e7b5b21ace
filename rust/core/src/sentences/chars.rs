//! The character classes of NLTK's Punkt regular expressions. They run on the third-party
//! `regex` engine, whose `\s` is Unicode `White_Space` (= [`char::is_whitespace`]) and whose
//! `\w` is the UTS #18 word class; each helper names the pattern it reproduces.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// `\s` of the `regex` engine: Unicode White_Space.
#[inline]
pub(super) fn is_re_space(c: char) -> bool {
    c.is_whitespace()
}

/// `\d` of the `regex` engine: general category Nd.
#[inline]
pub(super) fn is_re_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.general_category() == GeneralCategory::DecimalNumber
}

/// `\w` of the `regex` engine (UTS #18): Alphabetic, marks, Nd, Pc, Join_Control.
#[inline]
pub(super) fn is_re_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
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
