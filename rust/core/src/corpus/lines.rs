//! Reading one (possibly compressed) text file line by line with bounded memory, under one of
//! two [`TextPolicy`]s: lenient for raw corpora (lossy UTF-8, binary files refused, over-long
//! lines split) and strict for create-data's already-clean input (bad UTF-8, NUL or a line
//! longer than `max_line_bytes` is an error naming the line). docs/prepare-corpus.md and docs/create-data.md list the exact rules.

use std::io::{self, BufRead, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::open::open_reader;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Default cap on the length of one line (split under [`TextPolicy::Lenient`], refused under
/// [`TextPolicy::Strict`]).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;
/// The smallest accepted `max_line_bytes` (a split must be able to back up to a char boundary).
pub const MIN_MAX_LINE_BYTES: usize = 16;
/// How much of a file (after decompression) is checked for NUL bytes (lenient policy).
pub const BINARY_SNIFF_BYTES: usize = 8192;
/// Lines between updates of the shared [`Progress`] counters (and checks for cancellation).
const PROGRESS_EVERY: u64 = 4096;

/// How bytes that are not clean text are treated (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextPolicy {
    #[default]
    Lenient,
    Strict,
}

/// A place in the input: the file's index in the input list, the byte offset in its
/// (decompressed) text and the number of lines before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub file: usize,
    pub offset: u64,
    pub line: u64,
}

/// What reading the input amounted to, for summaries and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStats {
    /// Files read.
    pub files: u64,
    /// Bytes of text read (after decompression, line ends included).
    pub bytes: u64,
    /// Lines yielded (a split long line counts once per piece).
    pub lines: u64,
    /// Invalid UTF-8 sequences replaced by U+FFFD.
    pub invalid_utf8: u64,
    /// Times a line longer than `max_line_bytes` was split.
    pub split_lines: u64,
    /// Files skipped (hidden entries of directories, see [`super::InputSet::skipped_hidden`]).
    pub skipped_files: u64,
}

impl InputStats {
    /// Adds `other` to `self`.
    pub fn merge(&mut self, other: &InputStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.invalid_utf8 += other.invalid_utf8;
        self.split_lines += other.split_lines;
        self.skipped_files += other.skipped_files;
    }
}

/// Options of a [`LineReader`].
#[derive(Debug, Clone)]
pub struct LineReaderOptions {
    /// Longest line yielded in one piece: longer lines are split under the lenient policy and
    /// refused under the strict one, before more of them is held in memory.
    pub max_line_bytes: usize,
    pub policy: TextPolicy,
    /// Appended to the strict policy's "line longer than" error: why the limit is there.
    pub long_line_hint: String,
    /// Shared counters to update while reading (bytes from disk, lines, files) and the cancel
    /// switch, checked every few thousand lines.
    pub progress: Option<Arc<Progress>>,
}

impl Default for LineReaderOptions {
    fn default() -> Self {
        LineReaderOptions { max_line_bytes: DEFAULT_MAX_LINE_BYTES, policy: TextPolicy::Lenient, long_line_hint: String::new(), progress: None }
    }
}

/// A text file's lines, without their line ends (see the module docs). Yields `Err` once (an
/// I/O or decompression error naming the file, bad text under the strict policy, or
/// [`Error::Interrupted`]) and then ends.
pub struct LineReader {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    max_line_bytes: usize,
    policy: TextPolicy,
    long_line_hint: String,
    stats: InputStats,
    progress: Option<Arc<Progress>>,
    unreported_lines: u64,
    done: bool,
    /// Offset and line count where this reader started (after a byte-order mark).
    start_offset: u64,
    start_line: u64,
}

impl LineReader {
    /// Opens `path` with the default options.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, LineReaderOptions::default())
    }

    /// Opens `path`; fails at once on a missing or unreadable file, and on a binary one under
    /// the lenient policy.
    pub fn open_with(path: &Path, options: LineReaderOptions) -> Result<Self> {
        Self::open_at(path, options, 0, 0)
    }

    /// Opens `path` to read from byte `offset` of its text, the start of a line preceded by
    /// `line` lines (a [`Position`] recorded by an earlier read).
    pub fn open_at(path: &Path, options: LineReaderOptions, offset: u64, line: u64) -> Result<Self> {
        let max_line_bytes = options.max_line_bytes;
        if max_line_bytes < MIN_MAX_LINE_BYTES {
            return Err(Error::invalid_arg(
                "max_line_bytes",
                format!("{} is too small (at least {MIN_MAX_LINE_BYTES})", options.max_line_bytes),
            ));
        }
        let mut reader = open_reader(path, options.progress.clone(), offset)?;
        let mut start_offset = offset;
        if options.policy == TextPolicy::Lenient && offset == 0 {
            let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
            (&mut reader)
                .take(BINARY_SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .map_err(|e| Error::io(path, e))?;
            check_text(path, &head)?;
            if head.starts_with(b"\xEF\xBB\xBF") {
                head.drain(..3);
                start_offset = 3;
            }
            reader = Box::new(Cursor::new(head).chain(reader));
        }
        Ok(LineReader {
            path: path.to_path_buf(),
            reader,
            buf: Vec::new(),
            max_line_bytes,
            policy: options.policy,
            long_line_hint: options.long_line_hint,
            stats: InputStats { files: 1, ..Default::default() },
            progress: options.progress,
            unreported_lines: 0,
            done: false,
            start_offset,
            start_line: line,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Invalid UTF-8 sequences replaced so far.
    pub fn invalid_utf8(&self) -> u64 {
        self.stats.invalid_utf8
    }
    /// Statistics so far (complete once the iterator has ended).
    pub fn stats(&self) -> &InputStats {
        &self.stats
    }
    /// Byte offset in the text where the next line starts (after a split long line: where its
    /// remainder, read but not yet yielded, starts).
    pub fn offset(&self) -> u64 {
        self.start_offset + self.stats.bytes - self.buf.len() as u64
    }
    /// Lines before the next one (the number of the line just yielded).
    pub fn line_number(&self) -> u64 {
        self.start_line + self.stats.lines
    }

    /// The next raw line (without its line end), or `None` at end of file.
    fn next_raw(&mut self) -> Option<Result<Vec<u8>>> {
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(Error::io(&self.path, e))),
            };
            if available.is_empty() {
                return if self.buf.is_empty() { None } else { Some(Ok(std::mem::take(&mut self.buf))) };
            }
            if self.buf.len() >= self.max_line_bytes {
                if available[0] == b'\n' {
                    self.reader.consume(1);
                    self.stats.bytes += 1;
                    return Some(Ok(std::mem::take(&mut self.buf)));
                }
                if self.policy == TextPolicy::Strict {
                    return Some(Err(Error::InvalidInput(format!(
                        "{}:{}: line longer than {} bytes{}",
                        self.path.display(),
                        self.line_number() + 1,
                        self.max_line_bytes,
                        self.long_line_hint
                    ))));
                }
                let next_byte = available[0];
                return Some(Ok(self.split_long_line(next_byte)));
            }
            let take = available.len().min(self.max_line_bytes - self.buf.len());
            match memchr::memchr(b'\n', &available[..take]) {
                Some(i) => {
                    self.buf.extend_from_slice(&available[..i]);
                    self.reader.consume(i + 1);
                    self.stats.bytes += i as u64 + 1;
                    return Some(Ok(std::mem::take(&mut self.buf)));
                }
                None => {
                    self.buf.extend_from_slice(&available[..take]);
                    self.reader.consume(take);
                    self.stats.bytes += take as u64;
                }
            }
        }
    }

    /// Cuts the over-long `buf` (followed in the file by `next_byte`) into a line to yield now
    /// and a remainder that starts the next line.
    fn split_long_line(&mut self, next_byte: u8) -> Vec<u8> {
        self.stats.split_lines += 1;
        let buf = &self.buf;
        let (cut, skip) = match buf.iter().rposition(|&b| b == b' ' || b == b'\t') {
            Some(p) if p > 0 => (p, 1),
            _ => {
                // Back up to the start of a UTF-8 character (at most 3 continuation bytes).
                let is_cont = |b: u8| b & 0xC0 == 0x80;
                let byte_at = |i: usize| if i == buf.len() { next_byte } else { buf[i] };
                let mut p = buf.len();
                while p > buf.len() - 3 && is_cont(byte_at(p)) {
                    p -= 1;
                }
                if is_cont(byte_at(p)) {
                    p = buf.len(); // not UTF-8 anyway: any cut is as good as another
                }
                (p, 0)
            }
        };
        let rest = self.buf.split_off(cut + skip);
        self.buf.truncate(cut);
        std::mem::replace(&mut self.buf, rest)
    }

    fn report_progress(&mut self, force: bool) -> Result<()> {
        if let Some(p) = &self.progress {
            if force || self.unreported_lines >= PROGRESS_EVERY {
                Progress::add(&p.lines, self.unreported_lines);
                self.unreported_lines = 0;
                p.check()?;
            }
        }
        Ok(())
    }

    /// The next line handed to `f`, borrowed: straight from the read buffer when it lies there
    /// whole, as nearly every line does (no copy: what a reader that only looks at its lines,
    /// like create-data's pass 1, saves); otherwise as the iterator yields it. `None` at the end.
    pub fn next_with<T>(&mut self, f: impl FnOnce(&str) -> T) -> Option<Result<T>> {
        if !self.done && self.buf.is_empty() {
            if let Err(e) = self.report_progress(false) {
                self.done = true;
                return Some(Err(e));
            }
            let line_no = self.line_number() + 1;
            // (an error is left to the owned path, which retries an interrupted read)
            let available = self.reader.fill_buf().unwrap_or_default();
            let take = available.len().min(self.max_line_bytes);
            if let Some(i) = memchr::memchr(b'\n', &available[..take]) {
                self.stats.lines += 1;
                self.unreported_lines += 1;
                self.stats.bytes += i as u64 + 1;
                let line = &available[..i];
                let text = match self.policy {
                    TextPolicy::Strict => strict_text(line, &self.path, line_no).map(f),
                    TextPolicy::Lenient => {
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        Ok(match std::str::from_utf8(line) {
                            Ok(text) => f(text),
                            Err(_) => f(&decode_lossy(line.to_vec(), &mut self.stats.invalid_utf8)),
                        })
                    }
                };
                self.reader.consume(i + 1);
                self.done = text.is_err();
                return Some(text);
            }
        }
        self.next_owned().map(|line| line.map(|l| f(&l)))
    }

    /// The next line, read into a buffer of its own (a line across the read buffer's end, or
    /// split for being too long).
    fn next_owned(&mut self) -> Option<Result<String>> {
        if self.done {
            return None;
        }
        if let Err(e) = self.report_progress(false) {
            self.done = true;
            return Some(Err(e));
        }
        match self.next_raw() {
            None => {
                self.done = true;
                if let Some(p) = &self.progress {
                    Progress::add(&p.files_done, 1);
                }
                self.report_progress(true).err().map(Err)
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(mut line)) => {
                self.stats.lines += 1;
                self.unreported_lines += 1;
                match self.policy {
                    TextPolicy::Strict => {
                        let r = strict_text(&line, &self.path, self.line_number()).map(str::to_owned);
                        self.done = r.is_err();
                        Some(r)
                    }
                    TextPolicy::Lenient => {
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        Some(Ok(decode_lossy(line, &mut self.stats.invalid_utf8)))
                    }
                }
            }
        }
    }
}

/// A line under the strict policy (see the module docs): its text, or an error naming line
/// `line_no` of `path`.
fn strict_text<'a>(line: &'a [u8], path: &Path, line_no: u64) -> Result<&'a str> {
    if memchr::memchr(0, line).is_some() {
        return Err(Error::InvalidInput(format!(
            "{}:{line_no}: NUL byte: this looks like a binary file, not text (one sentence per line)",
            path.display()
        )));
    }
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    std::str::from_utf8(&line[..end]).map_err(|e| {
        Error::InvalidInput(format!(
            "{}:{line_no}: invalid UTF-8 at byte {} of the line; convert the file to UTF-8 first",
            path.display(),
            e.valid_up_to()
        ))
    })
}

impl Iterator for LineReader {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        self.next_with(str::to_owned)
    }
}

/// UTF-8 decoding that replaces each invalid sequence by U+FFFD and counts it.
pub fn decode_lossy(bytes: Vec<u8>, invalid: &mut u64) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let bytes = e.into_bytes();
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    *invalid += 1;
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            out
        }
    }
}

/// Refuses binary files: a NUL byte in the first bytes of the (decompressed) text.
fn check_text(path: &Path, head: &[u8]) -> Result<()> {
    let Some(pos) = head.iter().position(|&b| b == 0) else { return Ok(()) };
    let hint = if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        " (it looks UTF-16 encoded: convert it to UTF-8, e.g. with iconv)"
    } else {
        ""
    };
    Err(Error::InvalidInput(format!(
        "{}: not a text file: NUL byte at offset {pos} within the first {BINARY_SNIFF_BYTES} bytes{hint}; \
         expected UTF-8 text, optionally .gz/.zst/.bz2 compressed",
        path.display()
    )))
}

/// Reads every line of every file in order (a convenience for tests and small inputs).
pub fn read_all_lines(files: &[PathBuf]) -> Result<(Vec<String>, InputStats)> {
    let mut lines = Vec::new();
    let mut stats = InputStats::default();
    for file in files {
        let mut reader = LineReader::open(file)?;
        for line in &mut reader {
            lines.push(line?);
        }
        stats.merge(reader.stats());
    }
    Ok((lines, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};
    use std::io::Write;

    use crate::test_util::TempDir;

    fn lines_of(path: &Path) -> Vec<String> {
        LineReader::open(path).unwrap().map(|l| l.unwrap()).collect()
    }

    const TEXT: &str = "Erste Zeile.\nZweite Zeile mit Umlauten: äöü ß.\n\nNach der Leerzeile.\n";
    fn expected() -> Vec<String> {
        TEXT.lines().map(String::from).collect()
    }

    #[test]
    fn plain_and_compressed_round_trips() {
        let d = TempDir::new("compress");
        let plain = d.write("a.txt", TEXT.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(TEXT.as_bytes()).unwrap();
        let gz = d.write("a.txt.gz", &gz.finish().unwrap());
        let zst = d.write("a.txt.zst", &zstd::encode_all(TEXT.as_bytes(), 3).unwrap());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(TEXT.as_bytes()).unwrap();
        let bz = d.write("a.txt.bz2", &bz.finish().unwrap());
        for p in [&plain, &gz, &zst, &bz] {
            assert_eq!(lines_of(p), expected(), "{}", p.display());
        }
        // Magic bytes are the fallback when the extension says nothing.
        for (src, name) in [(&gz, "gz-noext"), (&zst, "zst-noext"), (&bz, "bz-noext")] {
            let p = d.write(name, &fs::read(src).unwrap());
            assert_eq!(lines_of(&p), expected(), "{name}");
        }
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let d = TempDir::new("multigz");
        let mut data = Vec::new();
        for part in ["one\n", "two\n"] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part.as_bytes()).unwrap();
            data.extend(gz.finish().unwrap());
        }
        let p = d.write("cat.gz", &data);
        assert_eq!(lines_of(&p), ["one", "two"]);
    }

    #[test]
    fn corrupt_compressed_file_is_an_error_naming_it() {
        let d = TempDir::new("corrupt");
        let p = d.write("bad.gz", b"\x1f\x8b\x08\x00garbage that is not deflate data at all........");
        let err = LineReader::open(&p).err().map(|e| e.to_string()).or_else(|| {
            LineReader::open(&p).unwrap().find_map(|l| l.err()).map(|e| e.to_string())
        });
        let msg = err.expect("an error");
        assert!(msg.contains("bad.gz"), "{msg}");
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        let d = TempDir::new("crlf");
        let p = d.write("crlf.txt", b"a\r\nb\r\n\r\nc");
        assert_eq!(lines_of(&p), ["a", "b", "", "c"]);
        let p = d.write("cr-inside.txt", b"a\rb\n");
        assert_eq!(lines_of(&p), ["a\rb"]);
    }

    #[test]
    fn empty_file_has_no_lines() {
        let d = TempDir::new("empty");
        let p = d.write("empty.txt", b"");
        let mut r = LineReader::open(&p).unwrap();
        assert!(r.next().is_none());
        assert_eq!(r.stats().lines, 0);
        assert_eq!(r.stats().files, 1);
    }

    #[test]
    fn utf8_bom_is_removed() {
        let d = TempDir::new("bom");
        let p = d.write("bom.txt", b"\xEF\xBB\xBFhello\nworld\n");
        assert_eq!(lines_of(&p), ["hello", "world"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_counted() {
        let d = TempDir::new("utf8");
        let p = d.write("bad.txt", b"ok\nbad \xff here \xc3\x28 and \xe2\x82\nfine \xc3\xa4\n");
        let mut r = LineReader::open(&p).unwrap();
        let lines: Vec<String> = (&mut r).map(|l| l.unwrap()).collect();
        assert_eq!(lines, ["ok", "bad \u{fffd} here \u{fffd}( and \u{fffd}", "fine ä"]);
        assert_eq!(r.invalid_utf8(), 3);
        assert_eq!(r.stats().invalid_utf8, 3);
        assert_eq!(r.stats().lines, 3);
    }

    #[test]
    fn binary_file_is_refused_with_its_name() {
        let d = TempDir::new("binary");
        let p = d.write("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
        let msg = LineReader::open(&p).err().unwrap().to_string();
        assert!(msg.contains("image.png") && msg.contains("not a text file"), "{msg}");
        let p = d.write("utf16.txt", b"\xFF\xFEh\x00i\x00");
        let msg = LineReader::open(&p).err().unwrap().to_string();
        assert!(msg.contains("UTF-16"), "{msg}");
        // Compressed binary: the check runs on the decompressed bytes.
        let p = d.write("bin.zst", &zstd::encode_all(&b"abc\x00def"[..], 3).unwrap());
        assert!(LineReader::open(&p).is_err());
    }

    #[test]
    fn long_lines_are_split_at_spaces_within_the_cap() {
        let d = TempDir::new("long");
        let words: Vec<String> = (0..200).map(|i| format!("word{i:03}")).collect();
        let line = words.join(" ");
        let p = d.write("long.txt", format!("{line}\nshort\n").as_bytes());
        let opts = LineReaderOptions { max_line_bytes: 100, ..Default::default() };
        let mut r = LineReader::open_with(&p, opts).unwrap();
        let out: Vec<String> = (&mut r).map(|l| l.unwrap()).collect();
        assert_eq!(out.last().unwrap(), "short");
        let pieces = &out[..out.len() - 1];
        assert!(pieces.iter().all(|l| l.len() <= 100));
        assert_eq!(pieces.join(" "), line, "only the split spaces are lost");
        assert_eq!(r.stats().split_lines as usize, pieces.len() - 1);
    }

    #[test]
    fn long_line_without_spaces_splits_at_char_boundaries() {
        let d = TempDir::new("longutf8");
        let line = "äöü€".repeat(1000); // 2-, 2-, 2- and 3-byte characters
        let p = d.write("long.txt", line.as_bytes());
        let opts = LineReaderOptions { max_line_bytes: 101, ..Default::default() };
        let mut r = LineReader::open_with(&p, opts).unwrap();
        let out: Vec<String> = (&mut r).map(|l| l.unwrap()).collect();
        assert_eq!(r.invalid_utf8(), 0, "no character was cut");
        let (last, full) = out.split_last().unwrap();
        assert!(full.iter().all(|l| l.len() <= 101 && l.len() >= 98), "cut at most 3 bytes early");
        assert!(last.len() <= 101);
        assert_eq!(out.concat(), line);
    }

    #[test]
    fn line_of_exactly_the_cap_is_not_split() {
        let d = TempDir::new("exact");
        let p = d.write("exact.txt", format!("{}\n{}\n", "a".repeat(64), "b".repeat(3)).as_bytes());
        let opts = LineReaderOptions { max_line_bytes: 64, ..Default::default() };
        let mut r = LineReader::open_with(&p, opts).unwrap();
        let out: Vec<String> = (&mut r).map(|l| l.unwrap()).collect();
        assert_eq!(out, ["a".repeat(64), "bbb".to_string()]);
        assert_eq!(r.stats().split_lines, 0);
    }

    #[test]
    fn huge_line_streams_with_bounded_memory() {
        // 40 MB in one line: read in 16 MiB pieces, never the whole line at once.
        let d = TempDir::new("huge");
        let p = d.0.join("huge.txt");
        {
            let mut f = io::BufWriter::new(File::create(&p).unwrap());
            let chunk = "x".repeat(1 << 20);
            for _ in 0..40 {
                f.write_all(chunk.as_bytes()).unwrap();
            }
        }
        let mut r = LineReader::open(&p).unwrap();
        let mut total = 0;
        let mut n = 0;
        for l in &mut r {
            let l = l.unwrap();
            assert!(l.len() <= DEFAULT_MAX_LINE_BYTES);
            total += l.len();
            n += 1;
        }
        assert_eq!(total, 40 << 20);
        assert_eq!(n, 3);
        assert!(r.buf.capacity() <= DEFAULT_MAX_LINE_BYTES * 2);
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = LineReader::open(Path::new("/no/such/corpus.txt")).err().unwrap();
        assert!(matches!(err, Error::NotFound(_)), "{err}");
        assert!(err.to_string().contains("/no/such/corpus.txt"));
    }

    #[test]
    fn progress_counts_bytes_and_lines_and_cancels() {
        let d = TempDir::new("progress");
        let text = "line\n".repeat(10_000);
        let p = d.write("p.txt", text.as_bytes());
        let progress = Progress::new();
        let opts = LineReaderOptions { progress: Some(progress.clone()), ..Default::default() };
        let n = LineReader::open_with(&p, opts.clone()).unwrap().count();
        assert_eq!(n, 10_000);
        let s = progress.snapshot();
        assert_eq!((s.bytes_read, s.lines, s.files_done), (text.len() as u64, 10_000, 1));
        progress.cancel();
        let last = LineReader::open_with(&p, opts).unwrap().last().unwrap();
        assert!(matches!(last, Err(Error::Interrupted)));
    }

    #[test]
    fn read_all_lines_merges_stats() {
        let d = TempDir::new("readall");
        let a = d.write("a.txt", b"1\n2\n");
        let b = d.write("b.txt", b"3\xff\n");
        let (lines, stats) = read_all_lines(&[a, b]).unwrap();
        assert_eq!(lines, ["1", "2", "3\u{fffd}"]);
        assert_eq!((stats.files, stats.lines, stats.invalid_utf8, stats.bytes), (2, 3, 1, 7));
    }

    #[test]
    fn strict_policy_names_bad_lines_and_keeps_text_as_is() {
        let d = TempDir::new("strict");
        let strict = LineReaderOptions { policy: TextPolicy::Strict, ..Default::default() };
        let p = d.write("ok.txt", b"\xEF\xBB\xBFa\r\r\nb\n");
        let lines: Vec<String> = LineReader::open_with(&p, strict.clone()).unwrap().map(|l| l.unwrap()).collect();
        assert_eq!(lines, ["\u{feff}a", "b"]);
        for (content, needle) in [(&b"good\nbad \xff\n"[..], "bad.txt:2: invalid UTF-8 at byte 4"), (b"x\ny\x00\n", "bad.txt:2: NUL byte")] {
            let p = d.write("bad.txt", content);
            let err = LineReader::open_with(&p, strict.clone()).unwrap().find_map(|l| l.err()).unwrap();
            assert!(err.to_string().contains(needle), "{err}");
        }
        // A line over max_line_bytes is refused, not split, and never held whole: the reader
        // stops within one buffer of the limit.
        let limited = LineReaderOptions { max_line_bytes: 64, long_line_hint: ": why".into(), ..strict };
        let p = d.write("long.txt", format!("{}\n{}\n{}\n", "a".repeat(64), "b".repeat(65), "c").as_bytes());
        let mut r = LineReader::open_with(&p, limited).unwrap();
        assert_eq!(r.next().unwrap().unwrap().len(), 64);
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.to_string(), format!("{}:2: line longer than 64 bytes: why", p.display()));
        assert!(r.next().is_none());
    }

    #[test]
    fn open_at_after_a_split_long_line_reads_its_remainder() {
        let d = TempDir::new("splitresume");
        let words: Vec<String> = (0..60).map(|i| format!("w{i:02}")).collect();
        let p = d.write("long.txt", format!("{}\nnext\n", words.join(" ")).as_bytes());
        let opts = LineReaderOptions { max_line_bytes: 50, ..Default::default() };
        let mut full = LineReader::open_with(&p, opts.clone()).unwrap();
        let first = full.next().unwrap().unwrap();
        let (offset, line) = (full.offset(), full.line_number());
        let rest_full: Vec<String> = full.map(|l| l.unwrap()).collect();
        assert_eq!(offset as usize, first.len() + 1, "the remainder starts after the cut space");
        let rest: Vec<String> = LineReader::open_at(&p, opts, offset, line).unwrap().map(|l| l.unwrap()).collect();
        assert_eq!(rest, rest_full);
    }

    #[test]
    fn open_at_resumes_at_a_recorded_position() {
        let d = TempDir::new("openat");
        let text = "one\ntwo\nthree\nfour\n";
        let plain = d.write("p.txt", text.as_bytes());
        let zst = d.write("p.txt.zst", &zstd::encode_all(text.as_bytes(), 3).unwrap());
        for p in [plain, zst] {
            let mut r = LineReader::open(&p).unwrap();
            r.next();
            r.next();
            let (offset, line) = (r.offset(), r.line_number());
            assert_eq!((offset, line), (8, 2));
            let mut rest = LineReader::open_at(&p, LineReaderOptions::default(), offset, line).unwrap();
            assert_eq!(rest.next().unwrap().unwrap(), "three");
            assert_eq!(rest.line_number(), 3);
        }
    }
}
