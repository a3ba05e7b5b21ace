//! What a plain-text file looks like, from statistics of its first lines: one sentence per line
//! (the reference format), one document per line, one paragraph per line, hard-wrapped
//! paragraphs, or paragraphs between blank lines. prepare-corpus's `auto` boundary mode decides
//! from it, per file, what a document is; create-data warns from it when its input is not one
//! sentence per line (docs/prepare-corpus.md, "What a document is").
//!
//! The thresholds were read off real files (the literature corpus, rendered man pages and POD,
//! reStructuredText, prepare-corpus output; `tests/fixtures/layout/`): the classes are far apart
//! on these measures, so the exact cut-offs matter little.

use serde::{Deserialize, Serialize};

use crate::text::is_python_whitespace;

/// Non-blank lines of a file's head that are profiled.
pub const HEAD_LINES: u64 = 2000;
/// Text bytes of a file's head that are profiled (whichever limit comes first).
pub const HEAD_BYTES: u64 = 1 << 20;
/// Fewer non-blank lines than this tell nothing: [`Layout::Short`].
pub const MIN_LINES: u64 = 20;

/// The layout of a plain-text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One sentence per line; blank lines separate documents (the reference's input format).
    Sentences,
    /// One document per (long) line, as web-crawl dumps come.
    DocumentLines,
    /// One paragraph per line, with or without blank lines between (books stored that way).
    ParagraphLines,
    /// Paragraphs hard-wrapped at a fixed width, blank lines between them (books, man pages).
    Wrapped,
    /// Paragraphs of unwrapped lines between blank lines (other prose, technical text).
    Paragraphs,
    /// Too little text to tell.
    Short,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Sentences => "sentences",
            Layout::DocumentLines => "document-lines",
            Layout::ParagraphLines => "paragraph-lines",
            Layout::Wrapped => "wrapped",
            Layout::Paragraphs => "paragraphs",
            Layout::Short => "short",
        }
    }

    /// What the layout means in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Sentences => "one sentence per line",
            Layout::DocumentLines => "one document per line",
            Layout::ParagraphLines => "one paragraph per line",
            Layout::Wrapped => "hard-wrapped paragraphs between blank lines",
            Layout::Paragraphs => "paragraphs between blank lines",
            Layout::Short => "too short to tell",
        }
    }

    /// True when each line is a paragraph (or more) rather than a piece of one.
    pub fn lines_are_paragraphs(self) -> bool {
        matches!(self, Layout::ParagraphLines | Layout::DocumentLines)
    }
}

/// Closing quotes and brackets that may follow a sentence's final punctuation.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '»' | '«' | '“' | '”' | '’' | '‘' | ')' | ']' | '›' | '‹')
}

fn is_opener(c: char) -> bool {
    matches!(c, '"' | '\'' | '»' | '«' | '“' | '„' | '‘' | '(' | '[' | '¿' | '¡' | '‹' | '›' | '—' | '-')
}

fn is_final(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// The line ends like a sentence: final punctuation (or a colon or semicolon), then closers.
fn ends_sentence(line: &str) -> bool {
    let t = line.trim_end_matches(is_python_whitespace).trim_end_matches(is_closer);
    t.ends_with(|c: char| is_final(c) || c == ':' || c == ';')
}

/// Sentence ends inside the line: final punctuation, closers, whitespace, openers, then an
/// upper-case letter.
fn inner_sentence_ends(line: &str) -> u64 {
    let mut n = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if !is_final(c) {
            continue;
        }
        let mut rest = chars.clone().map(|(_, c)| c);
        let mut next = rest.next();
        while next.is_some_and(|c| is_closer(c) || is_final(c)) {
            next = rest.next();
        }
        if !next.is_some_and(is_python_whitespace) {
            continue;
        }
        while next.is_some_and(is_python_whitespace) {
            next = rest.next();
        }
        while next.is_some_and(is_opener) {
            next = rest.next();
        }
        if next.is_some_and(char::is_uppercase) {
            n += 1;
        }
    }
    n
}

/// Line statistics of (the head of) a file, added line by line.
#[derive(Debug, Clone, Default)]
pub struct LineProfile {
    /// Non-blank lines.
    pub lines: u64,
    pub blank_lines: u64,
    /// Runs of non-blank lines.
    pub blocks: u64,
    /// Bytes of the non-blank lines.
    pub bytes: u64,
    /// Non-blank lines that end like a sentence.
    pub line_ends: u64,
    /// Sentence ends inside lines.
    pub inner_ends: u64,
    /// Non-blank lines followed by another non-blank line (not the last of their block).
    pub inner_lines: u64,
    /// Of those, the ones that end like a sentence.
    pub inner_line_ends: u64,
    /// Length in characters of each non-blank line (for the wrap width).
    lengths: Vec<u32>,
    /// Whether the previous line was non-blank, and if so whether it ended like a sentence.
    previous: Option<bool>,
}

impl LineProfile {
    /// True once the head is large enough to decide.
    pub fn is_full(&self) -> bool {
        self.lines >= HEAD_LINES || self.bytes >= HEAD_BYTES
    }

    pub fn add(&mut self, line: &str) {
        if line.chars().all(is_python_whitespace) {
            self.blank_lines += 1;
            self.previous = None;
            return;
        }
        let ends = ends_sentence(line);
        match self.previous {
            None => self.blocks += 1,
            Some(previous_ends) => {
                self.inner_lines += 1;
                self.inner_line_ends += previous_ends as u64;
            }
        }
        self.previous = Some(ends);
        self.lines += 1;
        self.bytes += line.len() as u64;
        self.line_ends += ends as u64;
        self.inner_ends += inner_sentence_ends(line);
        let chars = line.trim_end_matches(is_python_whitespace).chars().count();
        self.lengths.push(chars.min(u32::MAX as usize) as u32);
    }

    /// Adds another file's profile (create-data looks at several files together).
    pub fn merge(&mut self, other: &LineProfile) {
        self.lines += other.lines;
        self.blank_lines += other.blank_lines;
        self.blocks += other.blocks;
        self.bytes += other.bytes;
        self.line_ends += other.line_ends;
        self.inner_ends += other.inner_ends;
        self.inner_lines += other.inner_lines;
        self.inner_line_ends += other.inner_line_ends;
        self.lengths.extend_from_slice(&other.lengths);
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }

    /// The measures the layout is decided on.
    pub fn summary(&self) -> ProfileSummary {
        let mut lengths = self.lengths.clone();
        lengths.sort_unstable();
        let p95 = lengths.get(((lengths.len().max(1) - 1) * 95) / 100).copied().unwrap_or(0);
        ProfileSummary {
            lines: self.lines,
            blank_lines: self.blank_lines,
            mean_line_bytes: Self::ratio(self.bytes, self.lines),
            p95_line_chars: p95,
            lines_per_block: Self::ratio(self.lines, self.blocks),
            line_end_rate: Self::ratio(self.line_ends, self.lines),
            inner_ends_per_line: Self::ratio(self.inner_ends, self.lines),
            inner_line_end_rate: Self::ratio(self.inner_line_ends, self.inner_lines),
        }
    }

    pub fn layout(&self) -> Layout {
        self.summary().layout()
    }
}

/// The measures of a [`LineProfile`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    pub lines: u64,
    pub blank_lines: u64,
    pub mean_line_bytes: f64,
    /// The 95th percentile of line lengths: the wrap width of hard-wrapped text.
    pub p95_line_chars: u32,
    pub lines_per_block: f64,
    /// Share of lines that end like a sentence.
    pub line_end_rate: f64,
    /// Sentence ends inside lines, per line: ~0 for one sentence per line, ~1 or more for one
    /// paragraph per line.
    pub inner_ends_per_line: f64,
    /// Share of the lines inside a block (not its last) that end like a sentence: low for
    /// wrapped paragraphs (their lines stop mid-sentence), high when each line is a sentence or
    /// paragraph.
    pub inner_line_end_rate: f64,
}

impl ProfileSummary {
    pub fn layout(&self) -> Layout {
        if self.lines < MIN_LINES {
            Layout::Short
        } else if self.inner_ends_per_line < 0.1 && self.line_end_rate >= 0.6 {
            Layout::Sentences
        } else if self.mean_line_bytes >= 2000.0 {
            // Longer than the paragraphs of any book or manual measured: whole documents.
            Layout::DocumentLines
        } else if self.p95_line_chars <= 100 && self.lines_per_block >= 1.5 && self.inner_line_end_rate <= 0.4 {
            Layout::Wrapped
        } else if self.inner_ends_per_line >= 0.3 && (self.lines_per_block < 1.5 || self.inner_line_end_rate >= 0.5) {
            Layout::ParagraphLines
        } else {
            Layout::Paragraphs
        }
    }

    /// True when the head held (almost) no blank lines (fewer than one per 50 lines): no
    /// paragraph or document boundaries.
    pub fn without_blank_lines(&self) -> bool {
        self.lines >= MIN_LINES && self.blank_lines * 50 < self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> LineProfile {
        let mut p = LineProfile::default();
        text.split('\n').for_each(|l| p.add(l));
        p
    }

    #[test]
    fn sentence_ends_inside_and_at_the_end_of_lines() {
        assert_eq!(inner_sentence_ends("Er kam. Sie ging! »Wer?« fragte er. (Ja.) Nein"), 4);
        assert_eq!(inner_sentence_ends("e.g. this and 3.14 and Mr. Smith"), 1);
        assert!(ends_sentence("He said so.»  "));
        assert!(ends_sentence("rief ihr jemand zu: "));
        assert!(!ends_sentence("Da er Raat hieß, nannte die ganze Schule ihn Unrat. Nichts konnte"));
    }

    #[test]
    fn layouts_of_made_up_text() {
        let sentences: String = (0..30).map(|i| format!("Sentence number {i} is here.\n{}", if i % 3 == 2 { "\n" } else { "" })).collect();
        assert_eq!(profile(&sentences).layout(), Layout::Sentences);
        let paragraphs: String = (0..30).map(|i| format!("First of {i}. Second one here. Third as well.\n\n")).collect();
        assert_eq!(profile(&paragraphs).layout(), Layout::ParagraphLines);
        let wrapped: String = (0..10).map(|_| "The quick brown fox jumps over the lazy dog and then\nruns away into the forest where nobody can see it\nanymore. Then it sleeps.\n\n").collect();
        assert_eq!(profile(&wrapped).layout(), Layout::Wrapped);
        let docs: String = (0..25).map(|i| format!("{} End.\n", format!("Word {i}. Another sentence follows here. ").repeat(60))).collect();
        assert_eq!(profile(&docs).layout(), Layout::DocumentLines);
        assert_eq!(profile("One. Two.\n\nThree.\n").layout(), Layout::Short);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;
    use std::path::PathBuf;

    /// The real files of `tests/fixtures/layout/` (see its README) get the layouts they have.
    #[test]
    fn layouts_of_real_files() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/layout");
        for (file, expected) in [
            ("grimm-paragraph-lines.txt", Layout::ParagraphLines),
            ("twain-paragraph-lines-blank.txt", Layout::ParagraphLines),
            ("hmann-wrapped.txt", Layout::Wrapped),
            ("twain-sentences.txt", Layout::Sentences),
            ("man-pipe.txt", Layout::Wrapped),
            ("pod-perlgit.txt", Layout::Wrapped),
            ("rst-controlflow.txt", Layout::Wrapped),
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            let mut p = LineProfile::default();
            text.lines().for_each(|l| p.add(l));
            assert_eq!(p.layout(), expected, "{file}: {:?}", p.summary());
        }
    }
}
