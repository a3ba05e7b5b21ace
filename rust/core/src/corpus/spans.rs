//! Where documents lie, without their text: what create-data's pass 1 needs of them. The same
//! documents [`read_documents`] finds; for blank-line documents (create-data's input) each line
//! of a text file is looked at in the read buffer and never copied, which takes a third off pass
//! 1's CPU (benches/bench_plan.py); other boundary modes go through [`read_documents`].

use std::path::PathBuf;

use super::documents::{is_blank, read_documents, DocBoundary, DocumentOptions, FileReport, Flow, RawDocument, ReaderStats, Source};
use super::lines::Position;
use crate::error::Result;
use crate::hashing::{fnv1a, FNV_OFFSET};

/// A document's place in the input and what is known of it without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSpan {
    /// The start of its first line.
    pub start: Position,
    /// Just after its last line.
    pub end: Position,
    /// Its text bytes, as [`RawDocument::bytes`].
    pub bytes: u64,
    /// With `hashed`: FNV-1a of each line followed by `\n` ([`hash_lines`]); 0 otherwise.
    pub hash: u64,
}

/// The hash [`DocumentSpan::hash`] holds, of `lines`.
pub fn hash_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> u64 {
    lines.into_iter().fold(FNV_OFFSET, |h, line| fnv1a(fnv1a(h, line.as_bytes()), b"\n"))
}

/// [`read_documents`] of `files`, as spans (`hashed`: with [`DocumentSpan::hash`]).
pub fn read_document_spans(
    files: &[PathBuf],
    opts: &DocumentOptions,
    stats: &mut ReaderStats,
    hashed: bool,
    mut sink: impl FnMut(DocumentSpan) -> Result<()>,
) -> Result<()> {
    let lean = opts.boundary == DocBoundary::BlankLine && !opts.profile_layouts && opts.max_document_bytes == u64::MAX;
    if !lean {
        return read_documents(files, opts, stats, |doc| {
            sink(span_of(&doc, hashed))?;
            Ok(Flow::Continue)
        });
    }
    let mut doc = Open { span: None, hashed };
    for (index, path) in files.iter().enumerate() {
        let mut source = Source::open(path, opts, 0, 0)?;
        stats.add_file(FileReport::new(index, path, DocBoundary::BlankLine));
        let mut in_file = 0;
        loop {
            let at = source.position(index);
            let Some(added) = source.next_with(|line| doc.add(line, at)) else { break };
            if added? {
                doc.extend_to(source.position(index));
            } else if let Some(span) = doc.take() {
                in_file += 1;
                sink(span)?;
            }
        }
        if let Source::Rows(rows) = &source {
            stats.rows_without_text += rows.nulls;
        }
        stats.input.merge(source.stats());
        // (a document continuing into the next file counts for neither, as in read_documents)
        if !opts.merge_across_files {
            if let Some(span) = doc.take() {
                in_file += 1;
                sink(span)?;
            }
        }
        stats.files.last_mut().expect("pushed above").documents_read = in_file;
        stats.documents_read += in_file;
    }
    if let Some(span) = doc.take() {
        stats.documents_read += 1;
        sink(span)?;
    }
    Ok(())
}

fn span_of(doc: &RawDocument, hashed: bool) -> DocumentSpan {
    let hash = if hashed { hash_lines(doc.text_lines().map(|(line, _)| line)) } else { 0 };
    DocumentSpan { start: doc.start, end: doc.end, bytes: doc.bytes, hash }
}

/// The document being read.
struct Open {
    span: Option<DocumentSpan>,
    hashed: bool,
}

impl Open {
    /// Adds `line`, read at `at`; false for a blank line, which ends the document.
    fn add(&mut self, line: &str, at: Position) -> bool {
        if is_blank(line) {
            return false;
        }
        let hash = if self.hashed { FNV_OFFSET } else { 0 };
        let span = self.span.get_or_insert(DocumentSpan { start: at, end: at, bytes: 0, hash });
        span.bytes += line.len() as u64 + 1;
        if self.hashed {
            span.hash = fnv1a(fnv1a(span.hash, line.as_bytes()), b"\n");
        }
        true
    }

    /// The document now ends at `end` (just after the line added last).
    fn extend_to(&mut self, end: Position) {
        if let Some(span) = &mut self.span {
            span.end = end;
        }
    }

    fn take(&mut self) -> Option<DocumentSpan> {
        self.span.take()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::corpus::lines::{LineReaderOptions, TextPolicy};
    use crate::test_util::TempDir;

    /// The lean read and read_documents' documents, as spans, with their stats.
    fn both(files: &[PathBuf], opts: &DocumentOptions) -> [(Vec<DocumentSpan>, ReaderStats); 2] {
        let mut lean = (Vec::new(), ReaderStats::default());
        read_document_spans(files, opts, &mut lean.1, true, |s| {
            lean.0.push(s);
            Ok(())
        })
        .unwrap();
        let mut full = (Vec::new(), ReaderStats::default());
        read_documents(files, opts, &mut full.1, |d| {
            full.0.push(span_of(&d, true));
            Ok(Flow::Continue)
        })
        .unwrap();
        [lean, full]
    }

    #[test]
    fn lean_spans_are_read_documents_spans() {
        let d = TempDir::new("spans");
        // A line longer than the read buffer (256 KiB) crosses its end; CRLF and CR runs;
        // blank lines of Python whitespace (form feed, U+3000, U+00A0); a BOM; no final newline.
        let long = "wörter ".repeat(60_000);
        let a = d.write("a.txt", format!("\u{feff}Erste Zeile.\r\nZweite.\r\r\n\r\n{long}\nnach lang\n\x0c\nDrei\u{3000}\n\u{3000}\u{a0}\n\n\nvier").as_bytes());
        let b = d.write("b.txt", "fünf\n\nsechs\nsieben\n".as_bytes());
        let empty = d.write("c.txt", b"");
        let blanks = d.write("d.txt", b"\n \n\t\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(format!("acht\n{long}\n\nneun\n").as_bytes()).unwrap();
        let gz = d.write("e.txt.gz", &gz.finish().unwrap());
        let files = vec![a, b, empty, blanks, gz];
        for merge in [false, true] {
            let opts = DocumentOptions {
                boundary: DocBoundary::BlankLine,
                merge_across_files: merge,
                lines: LineReaderOptions { policy: TextPolicy::Strict, max_line_bytes: usize::MAX, ..Default::default() },
                ..Default::default()
            };
            let [(lean, lean_stats), (full, full_stats)] = both(&files, &opts);
            assert_eq!(lean, full, "merge {merge}");
            assert_eq!(lean_stats, full_stats, "merge {merge}");
            assert_eq!(lean.len(), if merge { 7 } else { 8 }, "{lean:?}");
            assert!(lean.iter().all(|s| s.hash != 0 && s.hash != FNV_OFFSET && s.bytes > 0));
        }
    }

    #[test]
    fn lean_spans_fail_as_read_documents_does() {
        let d = TempDir::new("spans-bad");
        let strict = |max_line_bytes| DocumentOptions {
            boundary: DocBoundary::BlankLine,
            lines: LineReaderOptions { policy: TextPolicy::Strict, max_line_bytes, ..Default::default() },
            ..Default::default()
        };
        for (name, text, max, want) in [
            ("utf8.txt", &b"gut\n\nschlecht \xff hier\n"[..], usize::MAX, "utf8.txt:3: invalid UTF-8 at byte 9"),
            ("nul.txt", &b"eins\nzwei\0\n"[..], usize::MAX, "nul.txt:2: NUL byte"),
            ("long.txt", &b"kurz\nviel zu lang hier\n"[..], 16, "long.txt:2: line longer than 16 bytes"),
        ] {
            let f = d.write(name, text);
            let lean = read_document_spans(std::slice::from_ref(&f), &strict(max), &mut ReaderStats::default(), false, |_| Ok(())).unwrap_err();
            let full = read_documents(&[f], &strict(max), &mut ReaderStats::default(), |_| Ok(Flow::Continue)).unwrap_err();
            assert_eq!(lean.to_string(), full.to_string());
            assert!(lean.to_string().contains(want), "{lean}");
        }
    }

    #[test]
    fn unhashed_spans_leave_the_hash_out() {
        let d = TempDir::new("spans-nohash");
        let f = d.write("a.txt", b"eins\nzwei\n\ndrei\n");
        let opts = DocumentOptions { boundary: DocBoundary::BlankLine, ..Default::default() };
        let mut spans = Vec::new();
        read_document_spans(&[f], &opts, &mut ReaderStats::default(), false, |s| {
            spans.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(spans.iter().map(|s| (s.bytes, s.hash)).collect::<Vec<_>>(), [(10, 0), (5, 0)]);
        assert_eq!(spans[1].start.line, 3);
    }
}
