//! Documents from lines: the one assembly that prepare-corpus (every boundary mode) and
//! create-data (blank-line documents, optionally continuing across files, Q7) both use.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::columnar::{ColumnarFormat, RowLines, RowReader};
use super::layout::{Layout, LineProfile, ProfileSummary, HEAD_BYTES};
use super::lines::{InputStats, LineReader, LineReaderOptions, Position};
use crate::error::{Error, Result};
use crate::text::is_python_whitespace;

/// How the input is cut into documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocBoundary {
    /// Per file: `.jsonl`/`.ndjson`/`.json` files (before any compression suffix) are JSON Lines,
    /// files whose first non-blank line starts with `<doc` are WikiExtractor output; other files
    /// by their [`Layout`]: one sentence per line (or too short to tell) -> blank-line, one
    /// document per line -> line, paragraph layouts -> group.
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
    /// One document per row of a Parquet/Arrow file (a text file's rows are its lines).
    Row,
    /// Consecutive paragraphs grouped into documents of about
    /// [`DocumentOptions::target_document_bytes`] (a document ends after the paragraph that
    /// reaches it; never across files). A paragraph is a line in files laid out one paragraph
    /// (or document) per line, a block between blank lines otherwise.
    Group,
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
            "group" => DocBoundary::Group,
            "row" => DocBoundary::Row,
            _ => {
                return Err(Error::invalid_arg(
                    "doc_boundary",
                    format!("{s:?} is not one of auto, file, line, blank-line, group, row, jsonl, doc"),
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
            DocBoundary::Group => "group",
            DocBoundary::Row => "row",
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
    /// Group mode (and auto on paragraph layouts): the size paragraphs are grouped to; 0 makes
    /// every paragraph a document.
    pub target_document_bytes: u64,
    /// Profile every plain-text file's layout (for the per-file report and its warnings), not
    /// only where auto and group need it.
    pub profile_layouts: bool,
    pub lines: LineReaderOptions,
}

impl Default for DocumentOptions {
    fn default() -> Self {
        DocumentOptions {
            boundary: DocBoundary::Auto,
            jsonl_field: "text".into(),
            max_document_bytes: u64::MAX,
            merge_across_files: false,
            target_document_bytes: 0,
            profile_layouts: false,
            lines: LineReaderOptions::default(),
        }
    }
}

/// Where a line was read, for error messages (`path:line`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReaderStats {
    pub input: super::InputStats,
    pub documents_read: u64,
    pub json_errors: u64,
    pub json_missing_field: u64,
    pub lines_outside_docs: u64,
    pub unclosed_docs: u64,
    pub split_documents: u64,
    /// Rows of Parquet/Arrow files whose text column is null.
    pub rows_without_text: u64,
    pub files_by_mode: BTreeMap<String, u64>,
    /// Up to five example problems ("path:line: message") for warnings.
    pub examples: Vec<String>,
    /// Each file read, in input order: its layout and mode and the documents found in it.
    pub files: Vec<FileReport>,
    /// What the layouts of the files mean for their documents, where that is likely not what
    /// the user wants: message -> (files, the first few of them).
    pub layout_notes: BTreeMap<String, (u64, Vec<String>)>,
}

/// One input file as the reader found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// Index in the input list (travels with a planned run's index; `stats.json` lists the
    /// files in input order without it).
    pub index: usize,
    pub file: String,
    /// The layout of its head (plain-text files that were profiled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSummary>,
    /// The boundary mode its documents were read with.
    pub mode: DocBoundary,
    pub documents_read: u64,
}

impl FileReport {
    /// Input file `index`, `path`, read in `mode` (no layout profiled, no document yet).
    pub(super) fn new(index: usize, path: &Path, mode: DocBoundary) -> Self {
        FileReport { index, file: path.display().to_string(), layout: None, profile: None, mode, documents_read: 0 }
    }
}

impl ReaderStats {
    const MAX_EXAMPLES: usize = 5;

    /// Starts the report of the next file read (and counts its mode).
    pub(super) fn add_file(&mut self, report: FileReport) {
        *self.files_by_mode.entry(report.mode.name().to_string()).or_default() += 1;
        self.files.push(report);
    }

    fn example(&mut self, msg: String) {
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(msg);
        }
    }

    /// Adds the counts of a read that followed this one (examples stay the first five, layout
    /// notes name the first three files): the planned run's index steps, merged in input order,
    /// count what the single read counts.
    pub fn merge(&mut self, o: &ReaderStats) {
        self.input.merge(&o.input);
        self.documents_read += o.documents_read;
        self.json_errors += o.json_errors;
        self.json_missing_field += o.json_missing_field;
        self.lines_outside_docs += o.lines_outside_docs;
        self.unclosed_docs += o.unclosed_docs;
        self.split_documents += o.split_documents;
        self.rows_without_text += o.rows_without_text;
        for (mode, n) in &o.files_by_mode {
            *self.files_by_mode.entry(mode.clone()).or_default() += n;
        }
        for e in &o.examples {
            self.example(e.clone());
        }
        self.files.extend(o.files.iter().cloned());
        for (message, (n, paths)) in &o.layout_notes {
            let (total, kept) = self.layout_notes.entry(message.clone()).or_default();
            *total += n;
            kept.extend(paths.iter().take(3usize.saturating_sub(kept.len())).cloned());
        }
    }

    fn note(&mut self, message: String, path: &Path) {
        let (n, paths) = self.layout_notes.entry(message).or_default();
        *n += 1;
        if paths.len() < 3 {
            paths.push(path.display().to_string());
        }
    }

    /// The layout notes as one line each: "N file(s) (a, b, ...): message".
    pub fn layout_warnings(&self) -> Vec<String> {
        self.layout_notes
            .iter()
            .map(|(message, (n, paths))| {
                let more = if *n as usize > paths.len() { ", ..." } else { "" };
                let files = if *n == 1 { "1 file".to_string() } else { format!("{n} files") };
                format!("{files} ({}{more}): {message}", paths.join(", "))
            })
            .collect()
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

/// `.jsonl`/`.ndjson`/`.json`, before any compression suffix.
fn is_jsonl_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let stem = ["gz", "gzip", "zst", "zstd", "bz2"]
        .iter()
        .find_map(|ext| name.strip_suffix(&format!(".{ext}")))
        .unwrap_or(&name);
    [".jsonl", ".ndjson", ".json"].iter().any(|e| stem.ends_with(e))
}

/// What auto makes of a plain-text file of this layout.
fn auto_mode(layout: Layout, target_document_bytes: u64) -> DocBoundary {
    match layout {
        Layout::Sentences | Layout::Short => DocBoundary::BlankLine,
        Layout::DocumentLines => DocBoundary::Line,
        Layout::ParagraphLines | Layout::Wrapped | Layout::Paragraphs if target_document_bytes > 0 => DocBoundary::Group,
        Layout::ParagraphLines => DocBoundary::Line,
        Layout::Wrapped | Layout::Paragraphs => DocBoundary::BlankLine,
    }
}

/// Why `mode` on a file of this layout likely gives documents the user does not want, if so.
fn layout_note(requested: DocBoundary, mode: DocBoundary, layout: Layout, summary: &ProfileSummary) -> Option<String> {
    let no_blanks = summary.without_blank_lines();
    let what = layout.describe();
    match (mode, layout) {
        (DocBoundary::Group, Layout::Wrapped | Layout::Paragraphs) if no_blanks => Some(format!(
            "{what}, but without blank lines: no paragraph boundaries, so each file is one document (cut at max_document_mb)"
        )),
        (DocBoundary::BlankLine, Layout::ParagraphLines | Layout::Wrapped | Layout::Paragraphs | Layout::DocumentLines) if no_blanks => {
            Some(format!("{what} without blank lines: blank-line makes each file one document; doc boundary auto finds its paragraphs"))
        }
        (DocBoundary::BlankLine, Layout::ParagraphLines | Layout::Wrapped | Layout::Paragraphs) => Some(format!(
            "{what}: blank lines separate paragraphs there, and blank-line makes every paragraph a document; \
             doc boundary auto groups them into documents of target_document_kb"
        )),
        (DocBoundary::Line, Layout::Wrapped) => {
            Some(format!("{what}: line makes every wrapped line a document; doc boundary auto groups the paragraphs"))
        }
        (DocBoundary::Group, Layout::Sentences) if requested == DocBoundary::Group => Some(format!(
            "{what}: blank lines there usually separate documents, which group merges up to target_document_kb"
        )),
        _ => None,
    }
}

/// The layout of a set of text files, from the heads of up to `max_files` of them (spread
/// evenly over the list), and their first lines up to `sample_bytes` (blank lines included):
/// what create-data looks at before a long run. Memory stays bounded for any line length:
/// lines are read in pieces of at most a head's size ([`HEAD_BYTES`]), and a line that would
/// overfill the sample is cut to fit it (a prefix still gives its tokens per byte).
pub fn profile_inputs(files: &[PathBuf], max_files: usize, sample_bytes: usize, lines: &LineReaderOptions) -> Result<(LineProfile, Vec<String>)> {
    let n = files.len().min(max_files.max(1));
    let mut profile = LineProfile::default();
    let mut sample = Vec::new();
    let mut sampled = 0;
    for k in 0..n {
        let path = &files[k * files.len() / n];
        let max_line_bytes = lines.max_line_bytes.min(HEAD_BYTES as usize);
        let opts = LineReaderOptions { progress: None, max_line_bytes, ..lines.clone() };
        let mut reader = LineReader::open_with(path, opts)?;
        let mut head = LineProfile::default();
        let share = sample_bytes / n;
        let mut taken = 0;
        while !head.is_full() {
            let Some(line) = reader.next() else { break };
            let mut line = line?;
            head.add(&line);
            let room = share.saturating_sub(taken).min(sample_bytes - sampled);
            if room > 0 {
                if line.len() >= room {
                    let mut end = room - 1; // and its line end
                    while !line.is_char_boundary(end) {
                        end -= 1;
                    }
                    line.truncate(end);
                }
                taken += line.len() + 1;
                sampled += line.len() + 1;
                sample.push(line);
            }
        }
        profile.merge(&head);
        sample.push(String::new()); // a file ends its last document
    }
    Ok((profile, sample))
}

/// The layout profile of the head of `path` (read on its own, without progress counting) and
/// whether its first non-blank line opens a WikiExtractor `<doc>` element.
pub fn profile_head(path: &Path, lines: &LineReaderOptions) -> Result<(LineProfile, bool)> {
    let opts = LineReaderOptions { progress: None, ..lines.clone() };
    let mut reader = LineReader::open_with(path, opts)?;
    let mut profile = LineProfile::default();
    let mut doc_tag = None;
    while !profile.is_full() {
        let Some(line) = reader.next() else { break };
        let line = line?;
        if doc_tag.is_none() && !is_blank(&line) {
            doc_tag = Some(is_doc_open(&line));
        }
        profile.add(&line);
    }
    Ok((profile, doc_tag.unwrap_or(false)))
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
        let mut source = Source::open(path, opts, offset, line)?;
        let stop_at = end.filter(|e| e.file == index).map(|e| e.offset);
        let mut file = FileReader { index, path, source: &mut source, opts, stats, sink: &mut sink, stop_at };
        let flow = file.read(&mut doc);
        if let Source::Rows(rows) = &source {
            stats.rows_without_text += rows.nulls;
        }
        stats.input.merge(source.stats());
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

/// Where one file's lines come from: a text file, or the rows of a Parquet/Arrow file.
pub enum Source {
    Text(LineReader),
    Rows(RowLines),
}

impl Source {
    /// Opens `path` at `offset` (a text file's byte offset; columnar files are read whole).
    pub fn open(path: &Path, opts: &DocumentOptions, offset: u64, line: u64) -> Result<Source> {
        match ColumnarFormat::of(path) {
            None => Ok(Source::Text(LineReader::open_at(path, opts.lines.clone(), offset, line)?)),
            Some(format) => {
                if offset > 0 {
                    return Err(Error::InvalidInput(format!("{}: a {} file is read from its start only", path.display(), format.name())));
                }
                let rows = RowReader::open(path, format, &opts.jsonl_field, opts.lines.progress.clone())?;
                Ok(Source::Rows(RowLines::new(rows)))
            }
        }
    }

    fn offset(&self) -> u64 {
        match self {
            Source::Text(r) => r.offset(),
            Source::Rows(r) => r.row(),
        }
    }

    fn line_number(&self) -> u64 {
        match self {
            Source::Text(r) => r.line_number(),
            Source::Rows(r) => r.row_number(),
        }
    }

    pub fn stats(&self) -> &InputStats {
        match self {
            Source::Text(r) => r.stats(),
            Source::Rows(r) => &r.stats,
        }
    }

    /// Where the next line starts: in file `index` of the input.
    pub(super) fn position(&self, index: usize) -> Position {
        Position { file: index, offset: self.offset(), line: self.line_number() }
    }

    /// The next line handed to `f`, borrowed (see [`LineReader::next_with`]).
    pub(super) fn next_with<T>(&mut self, f: impl FnOnce(&str) -> T) -> Option<Result<T>> {
        match self {
            Source::Text(r) => r.next_with(f),
            Source::Rows(r) => r.next_line().map(|l| l.map(|(l, _)| f(&l))),
        }
    }

    /// The next line and whether it ends a row (always false for text files).
    fn next_line(&mut self) -> Option<Result<(String, bool)>> {
        match self {
            Source::Text(r) => r.next().map(|l| l.map(|l| (l, false))),
            Source::Rows(r) => r.next_line(),
        }
    }
}

/// A line as read: the positions before and after it, and whether it ends a row.
type Item = (Position, String, bool, Position);

/// One file's documents; the document being built is the caller's, so that it can continue
/// into the next file (Q7).
struct FileReader<'a, S> {
    index: usize,
    path: &'a Path,
    source: &'a mut Source,
    opts: &'a DocumentOptions,
    stats: &'a mut ReaderStats,
    sink: &'a mut S,
    /// Offset where the span ends in this file.
    stop_at: Option<u64>,
}

impl<S: FnMut(RawDocument) -> Result<Flow>> FileReader<'_, S> {
    fn position(&self) -> Position {
        self.source.position(self.index)
    }

    /// The next line with the positions before and after it.
    fn next_line(&mut self) -> Result<Option<Item>> {
        let at = self.position();
        if self.stop_at.is_some_and(|s| at.offset >= s) {
            return Ok(None);
        }
        match self.source.next_line() {
            None => Ok(None),
            Some(item) => {
                let (line, row_end) = item?;
                Ok(Some((at, line, row_end, self.position())))
            }
        }
    }

    /// Hands `doc` (if not empty) to the sink; `Some(flow)` when the consumer wants to stop.
    fn emit(&mut self, doc: &mut RawDocument) -> Result<Option<Flow>> {
        let d = std::mem::take(doc);
        if d.is_empty() {
            return Ok(None);
        }
        self.stats.documents_read += 1;
        if let Some(report) = self.stats.files.last_mut().filter(|r| r.index == self.index) {
            report.documents_read += 1;
        }
        Ok(match (self.sink)(d)? {
            Flow::Continue => None,
            other => Some(other),
        })
    }

    /// How this file is read: its mode (auto and group decided from the layout of its head)
    /// and whether a paragraph is a line (group mode). Lines read to profile the head are
    /// returned to be read as usual.
    #[allow(clippy::type_complexity)]
    fn choose_mode(&mut self) -> Result<(DocBoundary, bool, Vec<Item>)> {
        let requested = self.opts.boundary;
        let mut report = FileReport::new(self.index, self.path, requested);
        let mut head = Vec::new();
        let mut mode = requested;
        let mut lines_are_paragraphs = false;
        let columnar = matches!(self.source, Source::Rows(_));
        let plain_text = match requested {
            DocBoundary::Auto => columnar || !is_jsonl_name(self.path),
            DocBoundary::Group => true,
            DocBoundary::Jsonl | DocBoundary::DocTag => false,
            DocBoundary::BlankLine | DocBoundary::File | DocBoundary::Line | DocBoundary::Row => self.opts.profile_layouts,
        };
        if requested == DocBoundary::Auto && !plain_text {
            mode = DocBoundary::Jsonl;
        }
        if plain_text {
            // From the file's start the head is read once and replayed; a span starting later
            // (or ending inside the head) profiles the head on its own, so that a span sees
            // the documents a full read finds.
            let (profile, doc_tag) = if columnar || (self.source.line_number() == 0 && self.stop_at.is_none()) {
                let mut profile = LineProfile::default();
                while !profile.is_full() {
                    let Some(item) = self.next_line()? else { break };
                    profile.add(&item.1);
                    head.push(item);
                }
                let first = head.iter().map(|(_, l, _, _)| l.as_str()).find(|l| !is_blank(l));
                (profile, !columnar && first.is_some_and(is_doc_open))
            } else {
                profile_head(self.path, &self.opts.lines)?
            };
            if requested == DocBoundary::Auto && doc_tag {
                mode = DocBoundary::DocTag;
            } else {
                let layout = profile.layout();
                let summary = profile.summary();
                if requested == DocBoundary::Auto {
                    mode = match &self.source {
                        // A row is a document unless the rows read like the lines of a text file.
                        Source::Rows(rows) if !rows.rows_look_like_lines(layout) => DocBoundary::Row,
                        _ => auto_mode(layout, self.opts.target_document_bytes),
                    };
                }
                lines_are_paragraphs = layout.lines_are_paragraphs();
                if let Some(message) = layout_note(requested, mode, layout, &summary) {
                    self.stats.note(message, self.path);
                }
                report.layout = Some(layout);
                report.profile = Some(summary);
            }
        }
        report.mode = mode;
        self.stats.add_file(report);
        Ok((mode, lines_are_paragraphs, head))
    }

    fn read(&mut self, doc: &mut RawDocument) -> Result<Flow> {
        // A span starts at a document's start ([`read_span`]): inside a file of WikiExtractor
        // elements, that is inside an element.
        let starts_inside = self.source.line_number() > 0;
        let (mode, lines_are_paragraphs, head) = self.choose_mode()?;
        let columnar = matches!(self.source, Source::Rows(_));
        let target = self.opts.target_document_bytes;
        // Group mode: a paragraph break is owed before the next line of the document.
        let mut pending_break = false;
        let mut head = head.into_iter();
        let mut in_doc = starts_inside && mode == DocBoundary::DocTag;
        macro_rules! emit {
            () => {
                if let Some(flow) = self.emit(doc)? {
                    return Ok(flow);
                }
            };
        }
        while let Some((at, line, row_end, after)) = match head.next() {
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
                DocBoundary::Row => {
                    // A text file's rows are its lines.
                    let row_end = row_end || !columnar;
                    if !blank {
                        doc.push(line, at, after);
                    } else if !row_end {
                        doc.push_break();
                    }
                    if row_end {
                        emit!();
                    }
                }
                DocBoundary::Group => {
                    let paragraph_ends = if blank {
                        !lines_are_paragraphs && !doc.is_empty() && !pending_break
                    } else {
                        if pending_break {
                            doc.push_break();
                            pending_break = false;
                        }
                        doc.push(line, at, after);
                        lines_are_paragraphs
                    };
                    if paragraph_ends {
                        if doc.bytes >= target {
                            emit!();
                        } else {
                            pending_break = true;
                        }
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
                pending_break = false;
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

    /// The documents of one file (their lines, `None` for paragraph breaks) and the stats.
    pub(super) fn read_with(path: &str, opts: &DocumentOptions) -> (Vec<Vec<Option<String>>>, ReaderStats) {
        let mut out = Vec::new();
        let mut stats = ReaderStats::default();
        read_documents(&[PathBuf::from(path)], opts, &mut stats, |d| {
            out.push(d.lines);
            Ok(Flow::Continue)
        })
        .unwrap();
        (out, stats)
    }

    fn docs_of(path: &str, mode: DocBoundary) -> Vec<Vec<Option<String>>> {
        read_with(path, &DocumentOptions { boundary: mode, ..Default::default() }).0
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn profile_sample_is_bounded_for_any_line_length() {
        // An unsplit book: its 3 MiB line is read in head-sized pieces and cut to the sample.
        let d = TempDir::new("profile");
        let book = "One sentence of a book é. ".repeat(3 << 20 >> 5);
        let f = d.write_string("book.txt", &format!("Short one.\n{book}\nLast words.\n"));
        let (profile, sample) = profile_inputs(&[PathBuf::from(&f)], 8, 4096, &LineReaderOptions::default()).unwrap();
        assert_eq!(sample[0], "Short one.");
        assert!(book.starts_with(&sample[1]) && sample[1].len() > 4000, "{}", sample[1].len());
        assert!(sample.iter().map(|l| l.len() + 1).sum::<usize>() <= 4096 + 1); // + the file's end
        assert_eq!(sample.last().map(String::as_str), Some(""));
        assert!(profile.summary().mean_line_bytes >= 1e5, "{:?}", profile.summary());
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
    #[test]
    fn a_span_inside_a_file_reads_it_in_the_mode_its_head_gives() {
        // Auto mode: WikiExtractor elements (a span starts inside an element) and hard-wrapped
        // paragraphs grouped to a target (the layout comes from the file's head).
        let d = TempDir::new("span-modes");
        let wiki: String = (0..30).map(|i| format!("<doc id=\"{i}\">\nTitle {i}\n\nBody {i}.\n</doc>\n")).collect();
        let wrapped: String = (0..60).map(|i| format!("Para {i:02} line one goes\non and ends here.\n\n")).collect();
        let files = vec![d.write("w.txt", &wiki), d.write("p.txt", &wrapped)];
        let opts = DocumentOptions { target_document_bytes: 100, ..Default::default() };
        let mut all = Vec::new();
        read_documents(&files, &opts, &mut ReaderStats::default(), |doc| {
            all.push(doc);
            Ok(Flow::Continue)
        })
        .unwrap();
        assert!(all.len() > 40, "{}", all.len());
        for i in (0..all.len()).step_by(7) {
            let mut got = Vec::new();
            read_span(&files, &opts, all[i].start, Some(all[all.len() - 1].end), &mut ReaderStats::default(), |doc| {
                got.push(doc);
                Ok(Flow::Continue)
            })
            .unwrap();
            assert_eq!(got, all[i..], "from document {i}");
        }
    }
}


#[cfg(test)]
mod group_tests {
    use super::tests::read_with;
    use super::*;
    use crate::test_util::TempDir;

    fn read(path: &str, boundary: DocBoundary, target: u64) -> (Vec<Vec<Option<String>>>, ReaderStats) {
        read_with(path, &DocumentOptions { boundary, target_document_bytes: target, profile_layouts: true, ..Default::default() })
    }

    #[test]
    fn group_mode_joins_paragraphs_up_to_the_target_with_breaks_between() {
        let d = TempDir::new("group");
        // Paragraphs of two wrapped lines (30 bytes each with line ends), blank lines between.
        let text: String = (0..25).map(|i| format!("Para {i:02} line one goes\non and ends here.\n\n")).collect();
        let f = d.write_string("wrapped.txt", &text);
        let (docs, stats) = read(&f, DocBoundary::Group, 100);
        // 45 bytes per paragraph: a document ends after the paragraph that reaches 100.
        assert_eq!(docs.len(), 9);
        assert_eq!(docs[0].len(), 3 * 2 + 2, "3 paragraphs of 2 lines, 2 breaks: {:?}", docs[0]);
        assert_eq!(docs[0][2], None);
        assert!(docs.iter().all(|d| d.last().unwrap().is_some()), "no trailing break");
        assert_eq!(stats.files[0].mode.name(), "group");
        // Target 0: a paragraph per document, as blank-line.
        let (per_para, _) = read(&f, DocBoundary::Group, 0);
        assert_eq!(per_para.len(), 25);
        assert_eq!(per_para, read(&f, DocBoundary::BlankLine, 0).0);
    }

    #[test]
    fn auto_picks_the_mode_per_file_and_notes_explicit_choices_that_misfit() {
        let d = TempDir::new("auto");
        let paragraphs: String = (0..40).map(|i| format!("Paragraph {i}. It has two sentences here.\n")).collect();
        let f = d.write_string("paragraph-lines.txt", &paragraphs);
        let (docs, stats) = read(&f, DocBoundary::Auto, 400);
        assert_eq!(stats.files[0].layout, Some(Layout::ParagraphLines));
        assert_eq!(stats.files[0].mode.name(), "group");
        assert!(docs.len() > 2 && docs.len() < 40, "{}", docs.len());
        assert_eq!(docs[0][1], None, "each line is a paragraph");
        assert!(stats.layout_notes.is_empty());
        // The same file with blank-line: one document, and a note saying so.
        let (one, stats) = read(&f, DocBoundary::BlankLine, 400);
        assert_eq!(one.len(), 1);
        let notes = stats.layout_warnings();
        assert!(notes[0].starts_with("1 file (") && notes[0].contains("blank-line makes each file one document"), "{notes:?}");
        // One sentence per line: blank lines stay document boundaries.
        let sentences: String = (0..30).map(|i| format!("Sentence {i} is here.\n{}", if i % 3 == 2 { "\n" } else { "" })).collect();
        let s = d.write_string("sentences.txt", &sentences);
        let (docs, stats) = read(&s, DocBoundary::Auto, 400);
        assert_eq!((docs.len(), stats.files[0].mode.name()), (10, "blank-line"));
    }
}
