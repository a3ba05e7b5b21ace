//! Documents from lines: the one assembly that prepare-corpus (every boundary mode) and
//! create-data (blank-line documents, optionally continuing across files, Q7) both use.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::lines::{LineReader, LineReaderOptions, Position};
use crate::error::{Error, Result};
use crate::text::is_python_whitespace;

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
    /// One document per JSON line (the text field, see [`DocumentOptions::jsonl_field`]).
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

impl Serialize for DocBoundary {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for DocBoundary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How documents are read.
#[derive(Debug, Clone)]
pub struct DocumentOptions {
    pub boundary: DocBoundary,
    /// Field holding the text in JSON Lines input; dots address nested objects (`meta.text`).
    pub jsonl_field: String,
    /// A document reaching this size is cut at the line boundary (counted as `split_documents`).
    pub max_document_bytes: u64,
    /// Blank-line mode: the end of a file does not end its last document (the reference's
    /// behaviour, Q7); otherwise it does.
    pub merge_across_files: bool,
    /// For a span that starts inside a file (a shard of a plan): that file's mode as the full
    /// read found it, since auto-detection needs the file's first line; a span of a
    /// WikiExtractor file starts inside a `<doc>` element.
    pub span_start_mode: Option<DocBoundary>,
    pub lines: LineReaderOptions,
}

impl Default for DocumentOptions {
    fn default() -> Self {
        DocumentOptions {
            boundary: DocBoundary::Auto,
            jsonl_field: "text".into(),
            max_document_bytes: u64::MAX,
            merge_across_files: false,
            span_start_mode: None,
            lines: LineReaderOptions::default(),
        }
    }
}

/// Where a line was read, for error messages (`path:line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineOrigin {
    pub file: u32,
    pub line: u64,
}

/// A document as read: its lines, with `None` for a paragraph break (a blank line inside a
/// document of the file, jsonl and doc modes), and where it lies in the input.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawDocument {
    pub lines: Vec<Option<String>>,
    /// One per entry of `lines`.
    pub origins: Vec<LineOrigin>,
    /// Text bytes: each line's length plus one for its line end.
    pub bytes: u64,
    /// The start of its first line.
    pub start: Position,
    /// Just after its last line.
    pub end: Position,
}

impl RawDocument {
    fn push(&mut self, line: String, at: Position, after: Position) {
        if self.lines.is_empty() {
            self.start = at;
        }
        self.bytes += line.len() as u64 + 1;
        self.lines.push(Some(line));
        self.origins.push(LineOrigin { file: after.file as u32, line: after.line });
        self.end = after;
    }
    fn push_break(&mut self) {
        if let (Some(Some(_)), Some(&o)) = (self.lines.last(), self.origins.last()) {
            self.lines.push(None);
            self.origins.push(o);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }
    /// The text lines (paragraph breaks skipped) with where each was read.
    pub fn text_lines(&self) -> impl Iterator<Item = (&str, LineOrigin)> {
        self.lines.iter().zip(&self.origins).filter_map(|(l, o)| l.as_deref().map(|l| (l, *o)))
    }
}

/// What the reader counted besides [`super::InputStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderStats {
    pub input: super::InputStats,
    pub documents_read: u64,
    pub json_errors: u64,
    pub json_missing_field: u64,
    pub lines_outside_docs: u64,
    pub unclosed_docs: u64,
    pub split_documents: u64,
    pub files_by_mode: std::collections::BTreeMap<String, u64>,
    /// Up to five example problems ("path:line: message") for warnings.
    pub examples: Vec<String>,
}

impl ReaderStats {
    const MAX_EXAMPLES: usize = 5;

    fn example(&mut self, msg: String) {
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(msg);
        }
    }

    /// Adds the counts of a read that followed this one (examples stay the first five).
    pub fn merge(&mut self, o: &ReaderStats) {
        self.input.merge(&o.input);
        self.documents_read += o.documents_read;
        self.json_errors += o.json_errors;
        self.json_missing_field += o.json_missing_field;
        self.lines_outside_docs += o.lines_outside_docs;
        self.unclosed_docs += o.unclosed_docs;
        self.split_documents += o.split_documents;
        for (mode, n) in &o.files_by_mode {
            *self.files_by_mode.entry(mode.clone()).or_default() += n;
        }
        for e in &o.examples {
            self.example(e.clone());
        }
    }
}

/// What a consumer wants next from [`read_documents`].
pub enum Flow {
    Continue,
    NextFile,
    Stop,
}

/// Python's `str.isspace()` for a whole line (empty included).
pub fn is_blank(line: &str) -> bool {
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

/// Reads `files` in order and hands each document to `sink`.
pub fn read_documents(
    files: &[PathBuf],
    opts: &DocumentOptions,
    stats: &mut ReaderStats,
    sink: impl FnMut(RawDocument) -> Result<Flow>,
) -> Result<()> {
    read_span(files, opts, Position::default(), None, stats, sink)
}

/// [`read_documents`] from `start` (the start of a document) up to `end` (just after one; the
/// end of the input when `None`): the documents of that span, exactly as a full read finds them.
pub fn read_span(
    files: &[PathBuf],
    opts: &DocumentOptions,
    start: Position,
    end: Option<Position>,
    stats: &mut ReaderStats,
    mut sink: impl FnMut(RawDocument) -> Result<Flow>,
) -> Result<()> {
    let last = end.map_or(files.len(), |e| (e.file + 1).min(files.len()));
    let mut doc = RawDocument::default();
    for (index, path) in files.iter().enumerate().take(last).skip(start.file) {
        let (offset, line) = if index == start.file { (start.offset, start.line) } else { (0, 0) };
        let mut reader = LineReader::open_at(path, opts.lines.clone(), offset, line)?;
        let stop_at = end.filter(|e| e.file == index).map(|e| e.offset);
        let resumed_mode = if offset > 0 { opts.span_start_mode } else { None };
        let mut file = FileReader { index, path, reader: &mut reader, opts, stats, sink: &mut sink, stop_at, resumed_mode };
        let flow = file.read(&mut doc);
        stats.input.merge(reader.stats());
        match flow? {
            Flow::Stop => return Ok(()),
            Flow::Continue | Flow::NextFile => {}
        }
    }
    if !doc.is_empty() {
        stats.documents_read += 1;
        sink(doc)?;
    }
    Ok(())
}

/// One file's documents; the document being built is the caller's, so that it can continue
/// into the next file (Q7).
struct FileReader<'a, S> {
    index: usize,
    path: &'a Path,
    reader: &'a mut LineReader,
    opts: &'a DocumentOptions,
    stats: &'a mut ReaderStats,
    sink: &'a mut S,
    /// Offset where the span ends in this file.
    stop_at: Option<u64>,
    /// The file's mode when the read starts inside it ([`DocumentOptions::span_start_mode`]).
    resumed_mode: Option<DocBoundary>,
}

impl<S: FnMut(RawDocument) -> Result<Flow>> FileReader<'_, S> {
    fn position(&self) -> Position {
        Position { file: self.index, offset: self.reader.offset(), line: self.reader.line_number() }
    }

    /// The next line with the positions before and after it.
    fn next_line(&mut self) -> Result<Option<(Position, String, Position)>> {
        let at = self.position();
        if self.stop_at.is_some_and(|s| at.offset >= s) {
            return Ok(None);
        }
        match self.reader.next() {
            None => Ok(None),
            Some(line) => Ok(Some((at, line?, self.position()))),
        }
    }

    /// Hands `doc` (if not empty) to the sink; `Some(flow)` when the consumer wants to stop.
    fn emit(&mut self, doc: &mut RawDocument) -> Result<Option<Flow>> {
        let d = std::mem::take(doc);
        if d.is_empty() {
            return Ok(None);
        }
        self.stats.documents_read += 1;
        Ok(match (self.sink)(d)? {
            Flow::Continue => None,
            other => Some(other),
        })
    }

    fn read(&mut self, doc: &mut RawDocument) -> Result<Flow> {
        // Auto-detection looks at the first non-blank line: buffer up to it.
        let mut head = Vec::new();
        let mut mode = self.opts.boundary;
        if let Some(m) = self.resumed_mode {
            mode = m;
        } else if mode == DocBoundary::Auto {
            while let Some(item) = self.next_line()? {
                let blank = is_blank(&item.1);
                head.push(item);
                if !blank {
                    break;
                }
            }
            let first = head.iter().map(|(_, l, _)| l.as_str()).find(|l| !is_blank(l));
            mode = detect_mode(self.path, first);
        }
        *self.stats.files_by_mode.entry(mode.name().to_string()).or_default() += 1;
        let mut head = head.into_iter();
        // A document of a WikiExtractor file starts inside its element.
        let mut in_doc = self.resumed_mode == Some(DocBoundary::DocTag);
        macro_rules! emit {
            () => {
                if let Some(flow) = self.emit(doc)? {
                    return Ok(flow);
                }
            };
        }
        while let Some((at, line, after)) = match head.next() {
            Some(item) => Some(item),
            None => self.next_line()?,
        } {
            let blank = is_blank(&line);
            match mode {
                DocBoundary::Auto | DocBoundary::BlankLine => {
                    if blank {
                        emit!();
                    } else {
                        doc.push(line, at, after);
                    }
                }
                DocBoundary::File => {
                    if blank {
                        doc.push_break();
                    } else {
                        doc.push(line, at, after);
                    }
                }
                DocBoundary::Line => {
                    if !blank {
                        doc.push(line, at, after);
                        emit!();
                    }
                }
                DocBoundary::Jsonl => {
                    if blank {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&line) {
                        Err(e) => {
                            self.stats.json_errors += 1;
                            self.stats.example(format!("{}:{}: invalid JSON: {e}", self.path.display(), after.line));
                        }
                        Ok(v) => match json_field(&v, &self.opts.jsonl_field) {
                            Some(Value::String(text)) => {
                                for l in text.split('\n') {
                                    let l = l.strip_suffix('\r').unwrap_or(l);
                                    if is_blank(l) {
                                        doc.push_break();
                                    } else {
                                        doc.push(l.to_string(), at, after);
                                    }
                                }
                                emit!();
                            }
                            _ => {
                                self.stats.json_missing_field += 1;
                                let msg = format!("{}:{}: no string field {:?}", self.path.display(), after.line, self.opts.jsonl_field);
                                self.stats.example(msg);
                            }
                        },
                    }
                }
                DocBoundary::DocTag => {
                    if is_doc_open(&line) {
                        if in_doc {
                            self.stats.unclosed_docs += 1;
                            emit!();
                        }
                        in_doc = true;
                    } else if line.trim() == "</doc>" {
                        if in_doc {
                            emit!();
                        }
                        in_doc = false;
                    } else if in_doc {
                        if blank {
                            doc.push_break();
                        } else {
                            doc.push(line, at, after);
                        }
                    } else if !blank {
                        self.stats.lines_outside_docs += 1;
                    }
                }
            }
            if doc.bytes >= self.opts.max_document_bytes {
                self.stats.split_documents += 1;
                emit!();
            }
        }
        if mode == DocBoundary::DocTag && in_doc {
            self.stats.unclosed_docs += 1;
        }
        if !(self.opts.merge_across_files && mode == DocBoundary::BlankLine) {
            emit!();
        }
        Ok(Flow::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    fn docs_of(path: &str, mode: DocBoundary) -> Vec<Vec<Option<String>>> {
        let opts = DocumentOptions { boundary: mode, ..Default::default() };
        let mut out = Vec::new();
        let mut stats = ReaderStats::default();
        read_documents(&[PathBuf::from(path)], &opts, &mut stats, |d| {
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
        let f = d.write_string("a.txt", "One.\nTwo.\n\n\n  \nThree.\n");
        assert_eq!(docs_of(&f, DocBoundary::BlankLine), vec![vec![s("One."), s("Two.")], vec![s("Three.")]]);
        assert_eq!(docs_of(&f, DocBoundary::Auto), docs_of(&f, DocBoundary::BlankLine));
    }

    #[test]
    fn file_mode_keeps_paragraph_breaks_inside_one_document() {
        let d = TempDir::new("file");
        let f = d.write_string("a.txt", "\nOne.\n\nTwo.\n");
        assert_eq!(docs_of(&f, DocBoundary::File), vec![vec![s("One."), None, s("Two.")]]);
    }

    #[test]
    fn line_mode_makes_one_document_per_line() {
        let d = TempDir::new("line");
        let f = d.write_string("a.txt", "One.\n\nTwo.\n");
        assert_eq!(docs_of(&f, DocBoundary::Line), vec![vec![s("One.")], vec![s("Two.")]]);
    }

    #[test]
    fn jsonl_mode_reads_the_text_field_and_counts_bad_lines() {
        let d = TempDir::new("jsonl");
        let f = d.write_string(
            "a.jsonl",
            "{\"text\": \"A b.\\n\\nC d.\"}\nnot json\n{\"other\": 1}\n\n{\"meta\": {\"text\": \"x\"}, \"text\": \"E.\"}\n",
        );
        assert_eq!(docs_of(&f, DocBoundary::Auto), vec![vec![s("A b."), None, s("C d.")], vec![s("E.")]]);
        let opts = DocumentOptions { boundary: DocBoundary::Jsonl, jsonl_field: "meta.text".into(), ..Default::default() };
        let mut stats = ReaderStats::default();
        let mut n = 0;
        read_documents(&[PathBuf::from(&f)], &opts, &mut stats, |_| {
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
        let f = d.write_string(
            "wiki_00",
            "<doc id=\"1\" url=\"u\" title=\"Anarchism\">\nAnarchism\n\nAnarchism is a philosophy.\n</doc>\nstray\n<doc id=\"2\">\nB.\n</doc>\n",
        );
        assert_eq!(
            docs_of(&f, DocBoundary::Auto),
            vec![vec![s("Anarchism"), None, s("Anarchism is a philosophy.")], vec![s("B.")]]
        );
    }

    #[test]
    fn a_span_yields_the_documents_a_full_read_finds_there() {
        let d = TempDir::new("span");
        let a = d.write("a.txt", "A1\nA2\n\n\nB1\n\nC1\nC2\n");
        let b = d.write("b.txt", "D1\n\nE1\n");
        for merge in [false, true] {
            let opts = DocumentOptions { boundary: DocBoundary::BlankLine, merge_across_files: merge, ..Default::default() };
            let mut all = Vec::new();
            read_documents(&[a.clone(), b.clone()], &opts, &mut ReaderStats::default(), |doc| {
                all.push(doc);
                Ok(Flow::Continue)
            })
            .unwrap();
            assert_eq!(all.len(), if merge { 4 } else { 5 });
            for i in 0..all.len() {
                for j in i..all.len() {
                    let mut got = Vec::new();
                    read_span(&[a.clone(), b.clone()], &opts, all[i].start, Some(all[j].end), &mut ReaderStats::default(), |doc| {
                        got.push(doc);
                        Ok(Flow::Continue)
                    })
                    .unwrap();
                    assert_eq!(got, all[i..=j], "merge={merge} {i}..={j}");
                }
            }
        }
    }
}
