//! Punkt's word tokens: `PunktLanguageVars.word_tokenize` and the per-token facts
//! (`PunktToken`: type, final period, initial, ellipsis) that the annotation passes read.
//! All offsets are byte offsets into UTF-8 text.

use super::chars::{char_at, is_non_word, is_re_digit, is_re_space, is_re_word, is_word_start};
use crate::unicode::tables;
use crate::text::is_python_whitespace;

/// Byte length of a match of `_re_multi_char_punct` = `(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)` at `i`.
fn multi_char_len(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    match b.get(i) {
        Some(b'-') => {
            let run = b[i..].iter().take_while(|&&x| x == b'-').count();
            (run >= 2).then_some(run)
        }
        Some(b'.') => {
            let run = b[i..].iter().take_while(|&&x| x == b'.').count();
            if run >= 2 {
                return Some(run);
            }
            // Spaced ellipsis ". . .": greedy repetitions of ".\s", then a final ".".
            let mut pair_starts = Vec::new();
            let mut p = i;
            while b.get(p) == Some(&b'.') {
                match char_at(s, p + 1) {
                    Some(c) if is_re_space(c) => {
                        pair_starts.push(p);
                        p += 1 + c.len_utf8();
                    }
                    _ => break,
                }
            }
            let k = pair_starts.len();
            if k >= 2 && b.get(p) == Some(&b'.') {
                Some(p + 1 - i)
            } else if k >= 3 {
                // Backtrack one repetition: its "." is the final one.
                Some(pair_starts[k - 1] + 1 - i)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The lookahead that ends a word token at `j` in `_word_tokenize_fmt`.
#[inline]
fn word_ends_at(s: &str, j: usize) -> bool {
    let Some(c) = char_at(s, j) else { return true };
    if is_re_space(c) || is_non_word(c) || multi_char_len(s, j).is_some() {
        return true;
    }
    if c == ',' {
        return match char_at(s, j + 1) {
            None => true,
            Some(d) => is_re_space(d) || is_non_word(d) || multi_char_len(s, j + 1).is_some(),
        };
    }
    false
}

/// NLTK's `word_tokenize` on one line (no '\n' in it): byte spans of the tokens.
pub(super) fn word_tokenize_line(s: &str, base: usize, out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while let Some(c) = char_at(s, i) {
        if is_re_space(c) {
            i += c.len_utf8();
            continue;
        }
        let end = if let Some(len) = multi_char_len(s, i) {
            i + len
        } else if is_word_start(c) {
            // \S+? up to the first position where the word-end lookahead holds.
            let mut j = i + c.len_utf8();
            while !word_ends_at(s, j) {
                j += char_at(s, j).map_or(1, char::len_utf8);
            }
            j
        } else {
            i + c.len_utf8()
        };
        out.push((base + i, base + end));
        i = end;
    }
}

/// `PunktBaseClass._tokenize_words` without the line/paragraph flags (the tokenizer does not use
/// them): lines split on '\n'; a line that is blank to Python's `str.strip()` yields no tokens.
pub(super) fn tokenize_words(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut base = 0;
    for line in text.split('\n') {
        if !line.chars().all(is_python_whitespace) {
            word_tokenize_line(line, base, out);
        }
        base += line.len() + 1;
    }
}

/// The word tokens NLTK's Punkt sees in `text` (for tests and debugging).
pub fn punkt_word_tokenize(text: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    tokenize_words(text, &mut spans);
    spans.into_iter().map(|(a, b)| &text[a..b]).collect()
}

/// `PunktToken._RE_NUMERIC` = `^-?[\.,]?\d[\d,\.-]*\.?$` on the lower-cased token.
pub(super) fn is_numeric(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    if chars.peek() == Some(&'-') {
        chars.next();
    }
    if matches!(chars.peek(), Some('.') | Some(',')) {
        chars.next();
    }
    match chars.next() {
        Some(c) if is_re_digit(c) => {}
        _ => return false,
    }
    chars.all(|c| is_re_digit(c) || matches!(c, ',' | '.' | '-'))
}

/// One word token and its annotation (`PunktToken`).
pub(super) struct Token<'a> {
    pub(super) tok: &'a str,
    pub(super) typ: String,
    pub(super) period_final: bool,
    pub(super) sentbreak: bool,
    pub(super) abbr: bool,
    pub(super) ellipsis: bool,
}

impl<'a> Token<'a> {
    pub(super) fn new(tok: &'a str) -> Self {
        let lower = crate::text::lower(tok);
        let typ = if is_numeric(&lower) { "##number##".to_string() } else { lower };
        Token { tok, typ, period_final: tok.ends_with('.'), sentbreak: false, abbr: false, ellipsis: false }
    }

    pub(super) fn type_no_period(&self) -> &str {
        if self.typ.ends_with('.') && self.typ.chars().nth(1).is_some() {
            &self.typ[..self.typ.len() - 1]
        } else {
            &self.typ
        }
    }

    pub(super) fn type_no_sentperiod(&self) -> &str {
        if self.sentbreak {
            self.type_no_period()
        } else {
            &self.typ
        }
    }

    /// `self.tok[0].isupper()` (the interpreter's, `crate::unicode`).
    pub(super) fn first_upper(&self) -> bool {
        self.tok.chars().next().is_some_and(|c| if c.is_ascii() { c.is_ascii_uppercase() } else { tables().isupper(c) })
    }

    /// `self.tok[0].islower()`.
    pub(super) fn first_lower(&self) -> bool {
        self.tok.chars().next().is_some_and(|c| if c.is_ascii() { c.is_ascii_lowercase() } else { tables().islower(c) })
    }

    /// `_RE_INITIAL` = `[^\W\d]\.$`: one letter and a period.
    pub(super) fn is_initial(&self) -> bool {
        let mut cs = self.tok.chars();
        matches!((cs.next(), cs.next(), cs.next()), (Some(c), Some('.'), None) if is_re_word(c) && !is_re_digit(c))
    }

    /// `_RE_ELLIPSIS` = `\.\.+$`.
    pub(super) fn is_ellipsis(&self) -> bool {
        self.tok.len() >= 2 && self.tok.bytes().all(|b| b == b'.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tokenizer_splits_punctuation_like_nltk() {
        assert_eq!(punkt_word_tokenize("Hello, world!"), vec!["Hello", ",", "world", "!"]);
        assert_eq!(punkt_word_tokenize("(Sent1.) Sent2."), vec!["(", "Sent1.", ")", "Sent2."]);
        assert_eq!(punkt_word_tokenize("wait... what"), vec!["wait", "...", "what"]);
        assert_eq!(punkt_word_tokenize("so . . . on"), vec!["so", ". . .", "on"]);
        assert_eq!(punkt_word_tokenize("a--b 1,000"), vec!["a", "--", "b", "1,000"]);
    }
}
