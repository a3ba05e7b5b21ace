//! Cleaning (NFC, control characters, whitespace, short lines) and rendering (one sentence per
//! line, a blank line after each document) of prepare-corpus's documents.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::corpus::documents::LineOrigin;
use crate::corpus::RawDocument;
use crate::hashing::Digest128;
use crate::sentences::PunktSentenceTokenizer;
use crate::text::{clean_pass, collapse_whitespace, is_python_whitespace, nfc};

/// Text cleaning. `enabled = false` (`--no-clean`) turns every rule off: only sentence
/// splitting and document boundaries remain (line breaks inside a sentence become spaces so
/// that each sentence stays on one line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CleanOptions {
    #[serde(rename = "clean")]
    pub enabled: bool,
    /// Unicode NFC.
    pub nfc: bool,
    /// Remove control characters (category Cc other than tab) and U+FEFF.
    pub remove_control: bool,
    /// Strip lines and collapse whitespace runs to one space (Python's `str.split()` whitespace).
    pub collapse_whitespace: bool,
    /// Drop (non-blank) lines shorter than this many characters after cleaning; 0 keeps all.
    pub min_line_chars: usize,
    /// Drop documents whose cleaned text exactly equals an earlier document's (128-bit hash).
    pub dedup: bool,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions { enabled: true, nfc: true, remove_control: true, collapse_whitespace: true, min_line_chars: 2, dedup: true }
    }
}

/// A cleaned document: its paragraphs (lines joined by '\n') and where it was read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CleanDoc {
    pub paragraphs: Vec<String>,
    pub origin: LineOrigin,
}

impl CleanDoc {
    pub fn bytes(&self) -> u64 {
        self.paragraphs.iter().map(|p| p.len() as u64 + 1).sum()
    }

    /// The de-duplication key: 128 bits of SHA-256 over the paragraphs, each ended by a byte
    /// that UTF-8 text never holds.
    pub fn hash128(&self) -> u128 {
        let mut h = Digest128::default();
        for p in &self.paragraphs {
            h.update(p.as_bytes());
            h.update(&[0xff]);
        }
        h.finish()
    }
}

/// Per-document cleaning counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanStats {
    pub lines_too_short: u64,
    pub control_chars_removed: u64,
    pub lines_normalized_nfc: u64,
}

impl CleanStats {
    pub fn add(&mut self, o: &CleanStats) {
        self.lines_too_short += o.lines_too_short;
        self.control_chars_removed += o.control_chars_removed;
        self.lines_normalized_nfc += o.lines_normalized_nfc;
    }
}

/// Cleans one line; `None` if it is dropped as too short (or became empty).
pub fn clean_line(line: &str, opts: &CleanOptions, stats: &mut CleanStats) -> Option<String> {
    if !opts.enabled {
        return Some(line.to_string());
    }
    let ascii = line.is_ascii();
    let mut s: Cow<str> = Cow::Borrowed(line);
    if opts.nfc && !ascii {
        if let Cow::Owned(n) = nfc(line) {
            stats.lines_normalized_nfc += 1;
            s = Cow::Owned(n);
        }
    }
    let s = if opts.remove_control || opts.collapse_whitespace {
        let (c, removed) = clean_pass(&s, opts.remove_control, opts.collapse_whitespace);
        stats.control_chars_removed += removed;
        c
    } else {
        s.into_owned()
    };
    let blank = if opts.collapse_whitespace { s.is_empty() } else { s.chars().all(is_python_whitespace) };
    if blank {
        return None;
    }
    if opts.min_line_chars > 0 && s.chars().take(opts.min_line_chars).count() < opts.min_line_chars {
        stats.lines_too_short += 1;
        return None;
    }
    Some(s)
}

/// Cleans a document into paragraphs (a dropped line does not break a paragraph).
pub fn clean_document(doc: &RawDocument, opts: &CleanOptions) -> (CleanDoc, CleanStats) {
    let mut stats = CleanStats::default();
    let mut out = CleanDoc { origin: doc.origins.first().copied().unwrap_or_default(), ..Default::default() };
    let mut current: Vec<String> = Vec::new();
    for line in &doc.lines {
        match line {
            None => {
                if !current.is_empty() {
                    out.paragraphs.push(current.join("\n"));
                    current.clear();
                }
            }
            Some(l) => {
                if let Some(c) = clean_line(l, opts, &mut stats) {
                    current.push(c);
                }
            }
        }
    }
    if !current.is_empty() {
        out.paragraphs.push(current.join("\n"));
    }
    (out, stats)
}

/// Splits a cleaned document into output text: one sentence per line, then a blank line.
/// Returns the text and the number of sentences.
pub fn render_document(doc: &CleanDoc, splitter: &PunktSentenceTokenizer, clean: &CleanOptions) -> (String, u64) {
    let mut out = String::with_capacity(doc.bytes() as usize + 16);
    let mut n = 0;
    for para in &doc.paragraphs {
        for sent in splitter.tokenize(para) {
            if sent.chars().all(is_python_whitespace) {
                continue;
            }
            // One sentence per line whatever the input: line breaks inside become spaces. With
            // collapsed lines that is all collapsing the sentence needs (lines are trimmed and
            // sentences start and end on non-whitespace); the check keeps that honest.
            let sent = if clean.enabled && clean.collapse_whitespace { sent } else { sent.trim_matches(['\n', '\r']) };
            let start = out.len();
            let mut last = 0;
            for pos in memchr::memchr2_iter(b'\n', b'\r', sent.as_bytes()) {
                out.push_str(&sent[last..pos]);
                out.push(' ');
                last = pos + 1;
            }
            out.push_str(&sent[last..]);
            if clean.enabled && clean.collapse_whitespace && (out[start..].starts_with(is_python_whitespace) || out[start..].ends_with(is_python_whitespace)) {
                let c = collapse_whitespace(&out[start..]).into_owned();
                out.truncate(start);
                out.push_str(&c);
            }
            out.push('\n');
            n += 1;
        }
    }
    if n > 0 {
        out.push('\n');
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::splitter;

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn cleaning_rules() {
        let o = CleanOptions::default();
        let mut st = CleanStats::default();
        // NFC: "e" + combining acute -> "é".
        assert_eq!(clean_line("Cafe\u{301}  ok", &o, &mut st), s("Café ok"));
        assert_eq!(st.lines_normalized_nfc, 1);
        // Control characters removed, whitespace collapsed.
        assert_eq!(clean_line("\u{feff}a\u{7}b\t\tc ", &o, &mut st), s("ab c"));
        assert_eq!(st.control_chars_removed, 2);
        // Short lines dropped and counted.
        assert_eq!(clean_line(" 7 ", &o, &mut st), None);
        assert_eq!(st.lines_too_short, 1);
        // min_line_chars counts characters, not bytes.
        assert_eq!(clean_line("äß", &o, &mut st), s("äß"));
        // --no-clean keeps everything.
        let off = CleanOptions { enabled: false, ..Default::default() };
        assert_eq!(clean_line(" 7\u{7} ", &off, &mut st), s(" 7\u{7} "));
    }

    #[test]
    fn render_puts_one_sentence_per_line_and_a_blank_line_after_the_document() {
        let doc = CleanDoc { paragraphs: vec!["Dr. Who came.\nHe left.".into(), "New paragraph".into()], ..Default::default() };
        let (text, n) = render_document(&doc, &splitter(), &CleanOptions::default());
        assert_eq!(text, "Dr. Who came.\nHe left.\nNew paragraph\n\n");
        assert_eq!(n, 3);
        let off = CleanOptions { enabled: false, ..Default::default() };
        let doc = CleanDoc { paragraphs: vec!["A  b\ncat. Dog e.".into()], ..Default::default() };
        assert_eq!(render_document(&doc, &splitter(), &off).0, "A  b cat.\nDog e.\n\n");
    }
}
