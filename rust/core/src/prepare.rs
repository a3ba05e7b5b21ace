//! prepare-corpus: raw text -> one sentence per line, a blank line between documents, in shards.
//!
//! Pipeline: a reader thread walks the input files in order ([`crate::corpus::LineReader`]:
//! decompression, lossy UTF-8, binary refusal, bounded lines) and cuts them into documents by
//! the chosen [`DocBoundary`]; batches of documents are cleaned in parallel ([`CleanOptions`]),
//! de-duplicated in input order, assigned to shards by size, sentence-split in parallel with
//! Punkt ([`crate::sentences`]) paragraph by paragraph, and written in input order by one
//! writer. Memory is bounded by the batch size times the (small) channel depth.
//!
//! Output: `OUT/corpus-NNNNN.txt` (each appears atomically), a journal `OUT/.prepare-state.json`
//! rewritten after each finished shard (and kept), and `OUT/stats.json` written last. A re-run with the
//! same inputs and settings skips the shards the journal lists as finished (their documents are
//! still read and cleaned, which de-duplication needs, but not split or written again).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{json, Value};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::atomic::AtomicFile;
use crate::corpus::{expand_inputs_detailed, InputStats, LineReader, LineReaderOptions, Progress, DEFAULT_MAX_LINE_BYTES};
use crate::error::{Error, Result};
use crate::sentences::PunktSentenceTokenizer;
use crate::text::{collapse_whitespace, is_python_whitespace};

/// Name of the statistics file; its presence marks a finished run.
pub const STATS_FILE: &str = "stats.json";
/// Name of the resume journal.
pub const STATE_FILE: &str = ".prepare-state.json";

/// How the input is cut into documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocBoundary {
    /// Per file: `.jsonl`/`.ndjson`/`.json` files (before any compression suffix) are JSON Lines,
    /// files whose first non-blank line starts with `<doc` are WikiExtractor output, all others
    /// are blank-line separated.
    Auto,
    /// One document per file.
    File,
    /// One document per non-blank line.
    Line,
    /// One document per block of non-blank lines (paragraph); blank lines separate documents.
    BlankLine,
    /// One document per JSON line (the text field, see [`PrepareOptions::jsonl_field`]).
    Jsonl,
    /// One document per WikiExtractor `<doc ...> ... </doc>` element.
    DocTag,
}

impl FromStr for DocBoundary {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => DocBoundary::Auto,
            "file" => DocBoundary::File,
            "line" => DocBoundary::Line,
            "blank-line" | "paragraph" => DocBoundary::BlankLine,
            "jsonl" => DocBoundary::Jsonl,
            "doc" | "doc-tag" | "wiki" => DocBoundary::DocTag,
            _ => {
                return Err(Error::invalid_arg(
                    "doc_boundary",
                    format!("{s:?} is not one of auto, file, line, blank-line, jsonl, doc"),
                ))
            }
        })
    }
}

impl DocBoundary {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DocBoundary::Auto => "auto",
            DocBoundary::File => "file",
            DocBoundary::Line => "line",
            DocBoundary::BlankLine => "blank-line",
            DocBoundary::Jsonl => "jsonl",
            DocBoundary::DocTag => "doc",
        }
    }
}

/// Text cleaning. `enabled = false` (`--no-clean`) turns every rule off: only sentence
/// splitting and document boundaries remain (line breaks inside a sentence become spaces so
/// that each sentence stays on one line).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanOptions {
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

/// Everything that shapes the output of [`prepare_corpus`].
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub doc_boundary: DocBoundary,
    /// Field holding the text in JSON Lines input; dots address nested objects (`meta.text`).
    pub jsonl_field: String,
    pub clean: CleanOptions,
    /// A shard is closed after the first document that brings its cleaned text to this size.
    pub shard_bytes: u64,
    /// Documents longer than this are cut at a line boundary (counted as `split_documents`).
    pub max_document_bytes: usize,
    /// Lines longer than this are split by the reader (counted as `split_lines`).
    pub max_line_bytes: usize,
    /// Text per parallel batch.
    pub batch_bytes: usize,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            doc_boundary: DocBoundary::Auto,
            jsonl_field: "text".into(),
            clean: CleanOptions::default(),
            shard_bytes: 64 << 20,
            max_document_bytes: 64 << 20,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            batch_bytes: 8 << 20,
        }
    }
}

impl PrepareOptions {
    fn validate(&self) -> Result<()> {
        if self.shard_bytes == 0 {
            return Err(Error::invalid_arg("shard_size", "must be positive"));
        }
        if self.max_document_bytes < 1024 {
            return Err(Error::invalid_arg("max_document_bytes", "must be at least 1024"));
        }
        if self.jsonl_field.is_empty() || self.jsonl_field.split('.').any(str::is_empty) {
            return Err(Error::invalid_arg("jsonl_field", format!("{:?} is not a field name or dotted path", self.jsonl_field)));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------------
// Reading documents
// ----------------------------------------------------------------------------------------------

/// A document as read: its lines, with `None` for a paragraph break (a blank line).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawDoc {
    pub lines: Vec<Option<String>>,
    bytes: usize,
}

impl RawDoc {
    fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push(Some(line));
    }
    fn push_break(&mut self) {
        if matches!(self.lines.last(), Some(Some(_))) {
            self.lines.push(None);
        }
    }
    fn is_empty(&self) -> bool {
        self.bytes == 0
    }
}

/// What the reader counted besides [`InputStats`].
#[derive(Debug, Clone, Default)]
pub struct ReaderStats {
    pub input: InputStats,
    pub documents_read: u64,
    pub json_errors: u64,
    pub json_missing_field: u64,
    pub lines_outside_docs: u64,
    pub unclosed_docs: u64,
    pub split_documents: u64,
    pub files_by_mode: std::collections::BTreeMap<&'static str, u64>,
    /// Up to five example problems ("path:line: message") for warnings.
    pub examples: Vec<String>,
}

impl ReaderStats {
    fn example(&mut self, msg: String) {
        if self.examples.len() < 5 {
            self.examples.push(msg);
        }
    }
}

/// What a consumer wants next from [`read_documents`].
pub enum Flow {
    Continue,
    NextFile,
    Stop,
}

fn is_blank(line: &str) -> bool {
    line.chars().all(is_python_whitespace)
}

fn detect_mode(path: &Path, first_nonblank: Option<&str>) -> DocBoundary {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let stem = ["gz", "gzip", "zst", "zstd", "bz2"]
        .iter()
        .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
        .unwrap_or(&name);
    if [".jsonl", ".ndjson", ".json"].iter().any(|e| stem.ends_with(e)) {
        DocBoundary::Jsonl
    } else if first_nonblank.is_some_and(is_doc_open) {
        DocBoundary::DocTag
    } else {
        DocBoundary::BlankLine
    }
}

fn is_doc_open(line: &str) -> bool {
    let t = line.trim_start();
    t.strip_prefix("<doc").is_some_and(|rest| rest.starts_with([' ', '>', '\t']))
}

fn json_field<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Reads `files` in order and hands each document to `sink` with the index of its file.
pub fn read_documents(
    files: &[PathBuf],
    opts: &PrepareOptions,
    progress: Option<Arc<Progress>>,
    stats: &mut ReaderStats,
    mut sink: impl FnMut(usize, RawDoc) -> Result<Flow>,
) -> Result<()> {
    for (index, path) in files.iter().enumerate() {
        let mut reader = LineReader::open_with(
            path,
            LineReaderOptions { max_line_bytes: opts.max_line_bytes, progress: progress.clone() },
        )?;
        let flow = read_file(index, path, &mut reader, opts, stats, &mut sink);
        stats.input.merge(reader.stats());
        match flow? {
            Flow::Stop => break,
            Flow::Continue | Flow::NextFile => {}
        }
    }
    Ok(())
}

fn read_file(
    index: usize,
    path: &Path,
    reader: &mut LineReader,
    opts: &PrepareOptions,
    stats: &mut ReaderStats,
    sink: &mut impl FnMut(usize, RawDoc) -> Result<Flow>,
) -> Result<Flow> {
    // Auto-detection looks at the first non-blank line: buffer up to it.
    let mut head: Vec<String> = Vec::new();
    let mut mode = opts.doc_boundary;
    if mode == DocBoundary::Auto {
        for line in reader.by_ref() {
            let line = line?;
            let blank = is_blank(&line);
            head.push(line);
            if !blank {
                break;
            }
        }
        mode = detect_mode(path, head.iter().find(|l| !is_blank(l)).map(String::as_str));
    }
    *stats.files_by_mode.entry(mode.name()).or_default() += 1;
    let lines = head.into_iter().map(Ok).chain(reader.by_ref());

    let mut doc = RawDoc::default();
    let mut in_doc = false;
    // Emits `doc` (if not empty) and propagates the consumer's wish.
    macro_rules! emit {
        () => {{
            let d = std::mem::take(&mut doc);
            if !d.is_empty() {
                stats.documents_read += 1;
                match sink(index, d)? {
                    Flow::Continue => {}
                    other => return Ok(other),
                }
            }
        }};
    }
    for (lineno, line) in lines.enumerate() {
        let line = line?;
        let blank = is_blank(&line);
        match mode {
            DocBoundary::Auto | DocBoundary::BlankLine => {
                if blank {
                    emit!();
                } else {
                    doc.push(line);
                }
            }
            DocBoundary::File => {
                if blank {
                    doc.push_break();
                } else {
                    doc.push(line);
                }
            }
            DocBoundary::Line => {
                if !blank {
                    doc.push(line);
                    emit!();
                }
            }
            DocBoundary::Jsonl => {
                if blank {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Err(e) => {
                        stats.json_errors += 1;
                        stats.example(format!("{}:{}: invalid JSON: {e}", path.display(), lineno + 1));
                    }
                    Ok(v) => match json_field(&v, &opts.jsonl_field) {
                        Some(Value::String(text)) => {
                            for l in text.split('\n') {
                                let l = l.strip_suffix('\r').unwrap_or(l);
                                if is_blank(l) {
                                    doc.push_break();
                                } else {
                                    doc.push(l.to_string());
                                }
                            }
                            emit!();
                        }
                        _ => {
                            stats.json_missing_field += 1;
                            stats.example(format!(
                                "{}:{}: no string field {:?}",
                                path.display(),
                                lineno + 1,
                                opts.jsonl_field
                            ));
                        }
                    },
                }
            }
            DocBoundary::DocTag => {
                let t = line.trim();
                if is_doc_open(&line) {
                    if in_doc {
                        stats.unclosed_docs += 1;
                        emit!();
                    }
                    in_doc = true;
                } else if t == "</doc>" {
                    if in_doc {
                        emit!();
                    }
                    in_doc = false;
                } else if in_doc {
                    if blank {
                        doc.push_break();
                    } else {
                        doc.push(line);
                    }
                } else if !blank {
                    stats.lines_outside_docs += 1;
                }
            }
        }
        if doc.bytes >= opts.max_document_bytes {
            stats.split_documents += 1;
            emit!();
        }
    }
    if mode == DocBoundary::DocTag && in_doc {
        stats.unclosed_docs += 1;
    }
    emit!();
    Ok(Flow::Continue)
}

// ----------------------------------------------------------------------------------------------
// Cleaning
// ----------------------------------------------------------------------------------------------

/// A cleaned document: its paragraphs (lines joined by '\n').
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CleanDoc {
    pub paragraphs: Vec<String>,
}

impl CleanDoc {
    fn bytes(&self) -> u64 {
        self.paragraphs.iter().map(|p| p.len() as u64 + 1).sum()
    }

    fn hash128(&self) -> u128 {
        let mut lo = DefaultHasher::new();
        let mut hi = DefaultHasher::new();
        0xA1B2u16.hash(&mut hi);
        for p in &self.paragraphs {
            p.hash(&mut lo);
            p.hash(&mut hi);
        }
        (u128::from(hi.finish()) << 64) | u128::from(lo.finish())
    }
}

/// Per-document cleaning counts.
#[derive(Debug, Default, Clone, Copy)]
pub struct CleanStats {
    pub lines_too_short: u64,
    pub control_chars_removed: u64,
    pub lines_normalized_nfc: u64,
}

impl CleanStats {
    fn add(&mut self, o: &CleanStats) {
        self.lines_too_short += o.lines_too_short;
        self.control_chars_removed += o.control_chars_removed;
        self.lines_normalized_nfc += o.lines_normalized_nfc;
    }
}

/// Control characters that are removed: category Cc except those Python counts as whitespace
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
    // Most lines are already clean: only single inner spaces are special. Check that in one
    // tight loop and copy the line whole.
    if collapse && !b.is_empty() && b[0] != b' ' && b[b.len() - 1] != b' ' {
        let mut prev_space = false;
        let clean = b.iter().all(|&c| {
            let ok = !SPECIAL[c as usize] || (c == b' ' && !prev_space);
            prev_space = c == b' ';
            ok
        });
        if clean {
            return (s.to_string(), 0);
        }
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

/// `" ".join(s.split())` in one pass over the bytes (same result as
/// [`crate::text::collapse_whitespace`], several times faster on the hot path).
pub fn collapse_whitespace_fast(s: &str) -> String {
    clean_pass(s, false, true).0
}

/// Cleans one line; `None` if it is dropped as too short (or became empty).
pub fn clean_line(line: &str, opts: &CleanOptions, stats: &mut CleanStats) -> Option<String> {
    if !opts.enabled {
        return Some(line.to_string());
    }
    let ascii = line.is_ascii();
    let mut s: std::borrow::Cow<str> = std::borrow::Cow::Borrowed(line);
    if opts.nfc && !ascii && is_nfc_quick(line.chars()) != IsNormalized::Yes {
        let n: String = line.nfc().collect();
        if n != line {
            stats.lines_normalized_nfc += 1;
        }
        s = std::borrow::Cow::Owned(n);
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
pub fn clean_document(doc: &RawDoc, opts: &CleanOptions) -> (CleanDoc, CleanStats) {
    let mut stats = CleanStats::default();
    let mut out = CleanDoc::default();
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

// ----------------------------------------------------------------------------------------------
// The run
// ----------------------------------------------------------------------------------------------

/// Name of shard `i`.
pub fn shard_name(i: usize) -> String {
    format!("corpus-{i:05}.txt")
}

/// True for a file named like a shard (`corpus-NNNNN.txt`). Directory walks take only these
/// from a prepare-corpus output directory (see [`crate::corpus::expand_inputs`]).
pub fn is_shard_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.strip_prefix("corpus-").and_then(|r| r.strip_suffix(".txt")).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    })
}

#[derive(Debug, Clone, Default)]
struct ShardRecord {
    documents: u64,
    sentences: u64,
    bytes: u64,
}

fn fingerprint(files: &[PathBuf], opts: &PrepareOptions, splitter: &PunktSentenceTokenizer, extra: &str) -> String {
    let mut h = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    for f in files {
        f.hash(&mut h);
        if let Ok(m) = fs::metadata(f) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    format!("{:?}|{:?}|{}|{}|{}", opts.doc_boundary, opts.clean, opts.jsonl_field, opts.shard_bytes, opts.max_document_bytes)
        .hash(&mut h);
    let p = splitter.params();
    let mut items: Vec<String> = p.abbrev_types.iter().map(|a| format!("a{a}")).collect();
    items.extend(p.sent_starters.iter().map(|s| format!("s{s}")));
    items.extend(p.collocations.iter().flat_map(|(a, bs)| bs.iter().map(move |b| format!("c{a}\t{b}"))));
    items.extend(p.ortho_context.iter().map(|(t, f)| format!("o{t}\t{f}")));
    items.sort();
    items.hash(&mut h);
    extra.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn read_json(path: &Path) -> Option<Value> {
    let text = fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_json_atomic(path: &Path, value: &Value) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::InvalidInput(e.to_string()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.write_all(b"\n")).map_err(|e| Error::io(path, e))?;
    f.commit()
}

/// Checks every input before any output is written: binary files fail the run here (naming
/// the file), not hours later.
fn precheck(files: &[PathBuf], opts: &PrepareOptions) -> Result<()> {
    files.par_iter().try_for_each(|f| {
        LineReader::open_with(f, LineReaderOptions { max_line_bytes: opts.max_line_bytes, progress: None }).map(|_| ())
    })
}

/// Reads a bounded, deterministic sample of cleaned documents for Punkt training: up to
/// `max_bytes / n_files` from the start of each file (at least one document per file), in
/// input order. Returns the documents' paragraphs joined as NLTK expects (blank lines between).
pub fn sample_text(inputs: &[String], opts: &PrepareOptions, max_bytes: usize) -> Result<String> {
    opts.validate()?;
    let files = expand_inputs_detailed(inputs)?.files;
    precheck(&files, opts)?;
    let per_file = (max_bytes / files.len().max(1)).max(1);
    let mut out = String::new();
    let mut taken_in_file = 0usize;
    let mut last_file = usize::MAX;
    let mut stats = ReaderStats::default();
    read_documents(&files, opts, None, &mut stats, |file, doc| {
        if file != last_file {
            last_file = file;
            taken_in_file = 0;
        }
        let (clean, _) = clean_document(&doc, &opts.clean);
        for p in &clean.paragraphs {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(p);
            taken_in_file += p.len() + 2;
        }
        Ok(if out.len() >= max_bytes {
            Flow::Stop
        } else if taken_in_file >= per_file {
            Flow::NextFile
        } else {
            Flow::Continue
        })
    })?;
    Ok(out)
}

/// A batch of documents from the reader.
struct Batch {
    docs: Vec<RawDoc>,
}

/// Runs prepare-corpus. `extra_fingerprint` lets the caller add settings that shape the output
/// (e.g. where the Punkt parameters came from); `extra_stats` is merged into `stats.json`.
/// Returns the statistics (also written to `OUT/stats.json`).
pub fn prepare_corpus(
    inputs: &[String],
    out_dir: &Path,
    splitter: &PunktSentenceTokenizer,
    opts: &PrepareOptions,
    progress: Option<Arc<Progress>>,
    extra_fingerprint: &str,
    extra_stats: Value,
) -> Result<Value> {
    opts.validate()?;
    let input_set = expand_inputs_detailed(inputs)?;
    let files = input_set.files;
    precheck(&files, opts)?;
    fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let fp = fingerprint(&files, opts, splitter, extra_fingerprint);

    // A finished run with the same fingerprint is returned as is; any other earlier output is
    // refused rather than mixed with this run's.
    let stats_path = out_dir.join(STATS_FILE);
    let state_path = out_dir.join(STATE_FILE);
    if let Some(prev) = read_json(&stats_path) {
        if prev.get("fingerprint").and_then(Value::as_str) == Some(fp.as_str()) {
            let mut prev = prev;
            prev["resumed"] = json!("already complete");
            return Ok(prev);
        }
        return Err(Error::InvalidInput(format!(
            "{}: holds the output of an earlier prepare-corpus run with other inputs or settings; \
             choose another output directory or remove it",
            out_dir.display()
        )));
    }
    let mut finished: Vec<ShardRecord> = Vec::new();
    if let Some(state) = read_json(&state_path) {
        if state.get("fingerprint").and_then(Value::as_str) != Some(fp.as_str()) {
            return Err(Error::InvalidInput(format!(
                "{}: holds an unfinished prepare-corpus run with other inputs or settings; \
                 choose another output directory or remove it",
                out_dir.display()
            )));
        }
        for (i, s) in state["shards"].as_array().into_iter().flatten().enumerate() {
            let rec = ShardRecord {
                documents: s["documents"].as_u64().unwrap_or(0),
                sentences: s["sentences"].as_u64().unwrap_or(0),
                bytes: s["bytes"].as_u64().unwrap_or(0),
            };
            // Only a shard whose file is there with the recorded size counts as finished.
            let ok = fs::metadata(out_dir.join(shard_name(i))).is_ok_and(|m| m.len() == rec.bytes);
            if !ok {
                break;
            }
            finished.push(rec);
        }
    } else {
        // Shards without a journal entry belong to no finished run of ours.
        for entry in fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("corpus-") && name.ends_with(".txt") {
                return Err(Error::InvalidInput(format!(
                    "{}: already holds {name} from another run; choose another output directory or remove it",
                    out_dir.display()
                )));
            }
        }
    }
    // Temp files of an interrupted run (other pids) are garbage now.
    for entry in fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".corpus-") && name.contains(".tmp-") {
            let _ = fs::remove_file(entry.path());
        }
    }
    let resumed_shards = finished.len();

    // Reader thread -> bounded channel -> this thread (parallel cleaning/splitting, writing).
    let (tx, rx) = sync_channel::<Result<Batch>>(2);
    let reader_files = files.clone();
    let reader_opts = opts.clone();
    let reader_progress = progress.clone();
    let reader = std::thread::spawn(move || -> ReaderStats {
        let mut stats = ReaderStats::default();
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        let res = read_documents(&reader_files, &reader_opts, reader_progress, &mut stats, |_, doc| {
            bytes += doc.bytes;
            batch.push(doc);
            if bytes >= reader_opts.batch_bytes {
                bytes = 0;
                if tx.send(Ok(Batch { docs: std::mem::take(&mut batch) })).is_err() {
                    return Ok(Flow::Stop);
                }
            }
            Ok(Flow::Continue)
        });
        let last = match res {
            Ok(()) => Ok(Batch { docs: batch }),
            Err(e) => Err(e),
        };
        let _ = tx.send(last);
        stats
    });

    let mut seen: HashSet<u128> = HashSet::new();
    let mut clean_stats = CleanStats::default();
    let (mut duplicates, mut empty_docs, mut docs_written, mut sentences) = (0u64, 0u64, 0u64, 0u64);
    let mut shard_index = 0usize;
    let mut shard_fill = 0u64;
    let mut shards: Vec<ShardRecord> = finished.clone();
    let mut current: Option<(AtomicFile, ShardRecord)> = None;
    let mut result: Result<()> = Ok(());

    let commit_shard = |cur: &mut Option<(AtomicFile, ShardRecord)>, shards: &mut Vec<ShardRecord>| -> Result<()> {
        if let Some((file, rec)) = cur.take() {
            file.commit()?;
            shards.push(rec);
            let list: Vec<Value> = shards
                .iter()
                .enumerate()
                .map(|(i, r)| json!({"file": shard_name(i), "documents": r.documents, "sentences": r.sentences, "bytes": r.bytes}))
                .collect();
            write_json_atomic(&state_path, &json!({"fingerprint": fp, "shards": list}))?;
        }
        Ok(())
    };

    for msg in rx.iter() {
        let batch = match msg {
            Ok(b) => b,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        if progress.as_ref().is_some_and(|p| p.is_cancelled()) {
            result = Err(Error::Interrupted);
            break;
        }
        let cleaned: Vec<(CleanDoc, CleanStats, u128)> = batch
            .docs
            .par_iter()
            .map(|d| {
                let (c, s) = clean_document(d, &opts.clean);
                let h = if opts.clean.enabled && opts.clean.dedup { c.hash128() } else { 0 };
                (c, s, h)
            })
            .collect();
        drop(batch);
        // In input order: dedup, then shard assignment.
        let mut assigned: Vec<(usize, CleanDoc)> = Vec::with_capacity(cleaned.len());
        for (doc, s, h) in cleaned {
            clean_stats.add(&s);
            if doc.paragraphs.is_empty() {
                empty_docs += 1;
                continue;
            }
            if opts.clean.enabled && opts.clean.dedup && !seen.insert(h) {
                duplicates += 1;
                continue;
            }
            let b = doc.bytes();
            assigned.push((shard_index, doc));
            shard_fill += b;
            if shard_fill >= opts.shard_bytes {
                shard_index += 1;
                shard_fill = 0;
            }
        }
        // Shards the journal lists as finished are not split or written again.
        assigned.retain(|(s, _)| *s >= resumed_shards);
        let rendered: Vec<(usize, String, u64)> = assigned
            .par_iter()
            .map(|(s, d)| {
                let (text, n) = render_document(d, splitter, &opts.clean);
                (*s, text, n)
            })
            .collect();
        let step = (|| -> Result<()> {
            for (s, text, n) in rendered {
                if current.as_ref().is_some_and(|_| shards.len() < s) {
                    commit_shard(&mut current, &mut shards)?;
                }
                if current.is_none() {
                    let path = out_dir.join(shard_name(s));
                    current = Some((AtomicFile::create(&path)?, ShardRecord::default()));
                }
                if let Some((file, rec)) = current.as_mut() {
                    if n > 0 {
                        file.write_all(text.as_bytes()).map_err(|e| Error::io(out_dir.join(shard_name(s)), e))?;
                        rec.documents += 1;
                        rec.sentences += n;
                        rec.bytes += text.len() as u64;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = step {
            result = Err(e);
            break;
        }
    }
    drop(rx);
    let rstats = reader.join().map_err(|_| Error::InvalidInput("reader thread panicked".into()))?;
    result?;
    commit_shard(&mut current, &mut shards)?;

    for r in &shards {
        docs_written += r.documents;
        sentences += r.sentences;
    }
    if docs_written == 0 {
        return Err(Error::InvalidInput(format!(
            "no text to write: the {} input file(s) hold no document with a sentence after cleaning",
            files.len()
        )));
    }
    let docs_no_sentences = rstats.documents_read.saturating_sub(duplicates + empty_docs + docs_written);
    let bytes_out: u64 = shards.iter().map(|r| r.bytes).sum();
    let mut stats = json!({
        "fingerprint": fp,
        "output": out_dir.display().to_string(),
        "shards": shards.iter().enumerate().map(|(i, r)| json!({
            "file": shard_name(i), "documents": r.documents, "sentences": r.sentences, "bytes": r.bytes,
        })).collect::<Vec<_>>(),
        "documents": docs_written,
        "sentences": sentences,
        "bytes": bytes_out,
        "input": {
            "files": files.len(),
            "bytes": rstats.input.bytes,
            "lines": rstats.input.lines,
            "files_by_mode": rstats.files_by_mode,
            "hidden_files_skipped": input_set.skipped_hidden,
            "invalid_utf8_sequences": rstats.input.invalid_utf8,
            "long_lines_split": rstats.input.split_lines,
            "documents_read": rstats.documents_read,
            "long_documents_split": rstats.split_documents,
        },
        "dropped": {
            "duplicate_documents": duplicates,
            "empty_documents": empty_docs,
            "documents_without_sentences": docs_no_sentences,
            "short_lines": clean_stats.lines_too_short,
            "control_chars": clean_stats.control_chars_removed,
            "json_invalid_lines": rstats.json_errors,
            "json_missing_field": rstats.json_missing_field,
            "lines_outside_doc_elements": rstats.lines_outside_docs,
        },
        "changed": {
            "lines_normalized_nfc": clean_stats.lines_normalized_nfc,
            "unclosed_doc_elements": rstats.unclosed_docs,
        },
        "warnings": rstats.examples,
        "settings": {
            "doc_boundary": opts.doc_boundary.name(),
            "jsonl_field": opts.jsonl_field,
            "clean": opts.clean.enabled,
            "nfc": opts.clean.nfc,
            "remove_control": opts.clean.remove_control,
            "collapse_whitespace": opts.clean.collapse_whitespace,
            "min_line_chars": opts.clean.min_line_chars,
            "dedup": opts.clean.dedup,
            "shard_bytes": opts.shard_bytes,
        },
        "resumed_shards": resumed_shards,
    });
    if let (Some(obj), Value::Object(extra)) = (stats.as_object_mut(), extra_stats) {
        for (k, v) in extra {
            obj.insert(k, v);
        }
    }
    // The journal stays: should stats.json be lost, a re-run finds every shard finished.
    write_json_atomic(&stats_path, &stats)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentences::PunktParameters;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!("albert-fast-prepare-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
        fn write(&self, name: &str, data: &str) -> String {
            let p = self.0.join(name);
            fs::write(&p, data).unwrap();
            p.to_string_lossy().into_owned()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn splitter() -> PunktSentenceTokenizer {
        let mut p = PunktParameters::default();
        p.abbrev_types.insert("dr".into());
        PunktSentenceTokenizer::new(p)
    }

    fn docs_of(path: &str, mode: DocBoundary) -> Vec<Vec<Option<String>>> {
        let opts = PrepareOptions { doc_boundary: mode, ..Default::default() };
        let mut out = Vec::new();
        let mut stats = ReaderStats::default();
        read_documents(&[PathBuf::from(path)], &opts, None, &mut stats, |_, d| {
            out.push(d.lines);
            Ok(Flow::Continue)
        })
        .unwrap();
        out
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn blank_line_mode_makes_one_document_per_paragraph() {
        let d = TempDir::new("blank");
        let f = d.write("a.txt", "One.\nTwo.\n\n\n  \nThree.\n");
        assert_eq!(docs_of(&f, DocBoundary::BlankLine), vec![vec![s("One."), s("Two.")], vec![s("Three.")]]);
        assert_eq!(docs_of(&f, DocBoundary::Auto), docs_of(&f, DocBoundary::BlankLine));
    }

    #[test]
    fn file_mode_keeps_paragraph_breaks_inside_one_document() {
        let d = TempDir::new("file");
        let f = d.write("a.txt", "\nOne.\n\nTwo.\n");
        assert_eq!(docs_of(&f, DocBoundary::File), vec![vec![s("One."), None, s("Two.")]]);
    }

    #[test]
    fn line_mode_makes_one_document_per_line() {
        let d = TempDir::new("line");
        let f = d.write("a.txt", "One.\n\nTwo.\n");
        assert_eq!(docs_of(&f, DocBoundary::Line), vec![vec![s("One.")], vec![s("Two.")]]);
    }

    #[test]
    fn jsonl_mode_reads_the_text_field_and_counts_bad_lines() {
        let d = TempDir::new("jsonl");
        let f = d.write(
            "a.jsonl",
            "{\"text\": \"A b.\\n\\nC d.\"}\nnot json\n{\"other\": 1}\n\n{\"meta\": {\"text\": \"x\"}, \"text\": \"E.\"}\n",
        );
        assert_eq!(docs_of(&f, DocBoundary::Auto), vec![vec![s("A b."), None, s("C d.")], vec![s("E.")]]);
        let opts = PrepareOptions { doc_boundary: DocBoundary::Jsonl, jsonl_field: "meta.text".into(), ..Default::default() };
        let mut stats = ReaderStats::default();
        let mut n = 0;
        read_documents(&[PathBuf::from(&f)], &opts, None, &mut stats, |_, _| {
            n += 1;
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!((n, stats.json_errors, stats.json_missing_field), (1, 1, 2));
        assert!(stats.examples.iter().any(|e| e.contains("a.jsonl:2: invalid JSON")), "{:?}", stats.examples);
    }

    #[test]
    fn doc_mode_reads_wikiextractor_elements() {
        let d = TempDir::new("doc");
        let f = d.write(
            "wiki_00",
            "<doc id=\"1\" url=\"u\" title=\"Anarchism\">\nAnarchism\n\nAnarchism is a philosophy.\n</doc>\nstray\n<doc id=\"2\">\nB.\n</doc>\n",
        );
        assert_eq!(
            docs_of(&f, DocBoundary::Auto),
            vec![vec![s("Anarchism"), None, s("Anarchism is a philosophy.")], vec![s("B.")]]
        );
    }

    #[test]
    fn fast_collapse_equals_the_reference_collapse() {
        let cases = [
            "", " ", "a", "  a  b  ", "a\u{a0}b\u{2009}\u{3000}c\u{85}d", "x\u{1c}y\u{205f}z\u{2028}",
            "\u{e2}\u{80}\u{8b}zero-width space is not whitespace", "ä ö\tü\r\nß", "\u{1680}\u{202f}end ",
        ];
        for c in cases {
            assert_eq!(collapse_whitespace_fast(c), collapse_whitespace(c), "{c:?}");
        }
        // Every character that might be whitespace, between letters.
        for cp in 0..0x3100u32 {
            let Some(ch) = char::from_u32(cp) else { continue };
            let t = format!("a{ch}b {ch}");
            assert_eq!(collapse_whitespace_fast(&t), collapse_whitespace(&t), "U+{cp:04X}");
        }
    }

    #[test]
    fn one_pass_cleaning_equals_removal_then_collapse() {
        for cp in 0..0x3100u32 {
            let Some(ch) = char::from_u32(cp) else { continue };
            for t in [format!("a{ch}b {ch}"), format!("{ch}\u{feff}x\u{7}y{ch}")] {
                let removed: String = t.chars().filter(|&c| !is_removed_control(c)).collect();
                let expect = collapse_whitespace(&removed).into_owned();
                let n = (t.chars().count() - removed.chars().count()) as u64;
                assert_eq!(clean_pass(&t, true, true), (expect, n), "U+{cp:04X}");
                assert_eq!(clean_pass(&t, true, false), (removed, n), "U+{cp:04X}");
            }
        }
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
        let doc = CleanDoc { paragraphs: vec!["Dr. Who came.\nHe left.".into(), "New paragraph".into()] };
        let (text, n) = render_document(&doc, &splitter(), &CleanOptions::default());
        assert_eq!(text, "Dr. Who came.\nHe left.\nNew paragraph\n\n");
        assert_eq!(n, 3);
        let off = CleanOptions { enabled: false, ..Default::default() };
        let doc = CleanDoc { paragraphs: vec!["A  b\ncat. Dog e.".into()] };
        assert_eq!(render_document(&doc, &splitter(), &off).0, "A  b cat.\nDog e.\n\n");
    }

    #[test]
    fn run_dedups_shards_and_resumes() {
        let d = TempDir::new("run");
        let input = d.write("in.txt", "Alpha beta. Gamma delta.\n\nAlpha beta. Gamma delta.\n\nSecond doc here.\n\nThird one.\n");
        let out = d.0.join("out");
        let opts = PrepareOptions { shard_bytes: 12, ..Default::default() };
        let stats = prepare_corpus(&[input.clone()], &out, &splitter(), &opts, None, "", json!({})).unwrap();
        assert_eq!(stats["documents"], 3);
        assert_eq!(stats["dropped"]["duplicate_documents"], 1);
        assert_eq!(stats["sentences"], 4);
        assert_eq!(fs::read_to_string(out.join("corpus-00000.txt")).unwrap(), "Alpha beta.\nGamma delta.\n\n");
        assert_eq!(fs::read_to_string(out.join("corpus-00002.txt")).unwrap(), "Third one.\n\n");
        // Re-run: already complete.
        let again = prepare_corpus(&[input.clone()], &out, &splitter(), &opts, None, "", json!({})).unwrap();
        assert_eq!(again["resumed"], "already complete");
        // Interrupted run: journal lists shard 0, stats missing -> shard 0 is kept, the rest redone.
        let first = fs::read_to_string(out.join("corpus-00000.txt")).unwrap();
        fs::remove_file(out.join(STATS_FILE)).unwrap();
        fs::remove_file(out.join("corpus-00002.txt")).unwrap();
        write_json_atomic(
            &out.join(STATE_FILE),
            &json!({"fingerprint": stats["fingerprint"], "shards": [stats["shards"][0]]}),
        )
        .unwrap();
        let resumed = prepare_corpus(&[input.clone()], &out, &splitter(), &opts, None, "", json!({})).unwrap();
        assert_eq!(resumed["resumed_shards"], 1);
        assert_eq!(resumed["sentences"], 4);
        assert_eq!(fs::read_to_string(out.join("corpus-00000.txt")).unwrap(), first);
        assert!(out.join("corpus-00002.txt").exists());
        // Given as input to a later stage, the directory yields its shards only.
        fs::create_dir_all(out.join("punkt")).unwrap();
        fs::write(out.join("punkt").join("abbrev_types.txt"), "dr").unwrap();
        let files = crate::corpus::expand_inputs(&[out.to_string_lossy().into_owned()]).unwrap();
        let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["corpus-00000.txt", "corpus-00001.txt", "corpus-00002.txt"]);
        // Other settings into the same directory are refused.
        let other = PrepareOptions { shard_bytes: 1 << 20, ..Default::default() };
        let err = prepare_corpus(&[input], &out, &splitter(), &other, None, "", json!({})).unwrap_err();
        assert!(err.to_string().contains("earlier prepare-corpus run"), "{err}");
    }

    #[test]
    fn binary_input_fails_before_any_output() {
        let d = TempDir::new("binary");
        let good = d.write("a.txt", "Fine text.\n");
        let p = d.0.join("b.bin");
        fs::write(&p, b"\x00\x01\x02binary").unwrap();
        let out = d.0.join("out");
        let err = prepare_corpus(&[good, p.to_string_lossy().into_owned()], &out, &splitter(), &PrepareOptions::default(), None, "", json!({}))
            .unwrap_err();
        assert!(err.to_string().contains("b.bin"), "{err}");
        assert!(!out.exists());
    }
}
