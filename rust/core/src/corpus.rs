//! Streaming corpus reading, shared by every stage (prepare-corpus, train-tokenizer, create-data).
//!
//! * [`expand_inputs`] turns what the user typed (files, directories, globs) into a sorted,
//!   de-duplicated list of files.
//! * [`open_reader`] opens one file, transparently decompressing `.gz`, `.zst` and `.bz2`.
//! * [`LineReader`] yields the file's lines as `String`s with bounded memory.
//!
//! Decisions (documented in `docs/tokenizer-training.md`, "Reading input"):
//! * **Invalid UTF-8 is decoded lossily** (each invalid sequence becomes U+FFFD) and *counted*
//!   ([`LineReader::invalid_utf8`], [`InputStats::invalid_utf8`]); callers report the count as a
//!   warning. Real corpora scraped from the web nearly always contain a few bad bytes, and
//!   refusing a 10 GB corpus for one of them helps nobody.
//! * **Binary files are refused**: a NUL byte in the first 8 KiB (after decompression) is an
//!   `InvalidInput` error naming the file (UTF-16 files get a hint to convert them).
//! * **Lines are capped at `max_line_bytes`** (default [`DEFAULT_MAX_LINE_BYTES`], 16 MiB). A
//!   longer line is *split*, preferably at the last space or tab before the cap (the space is
//!   dropped, as whitespace collapsing would drop it anyway), otherwise at a UTF-8 character
//!   boundary, and the number of splits is counted ([`InputStats::split_lines`]). Memory per
//!   reader is therefore bounded by `max_line_bytes` plus the I/O buffers, whatever the input.
//! * Line ends are `\n`; one `\r` before it (CRLF files) is removed. A UTF-8 byte-order mark at
//!   the start of a file is removed.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Default cap on the length of one line (see the module docs).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;
/// The smallest accepted `max_line_bytes` (a split must be able to back up to a char boundary).
pub const MIN_MAX_LINE_BYTES: usize = 16;
/// How much of a file (after decompression) is checked for NUL bytes.
pub const BINARY_SNIFF_BYTES: usize = 8192;
const IO_BUFFER: usize = 256 << 10;
/// Lines between updates of the shared [`Progress`] counters (and checks for cancellation).
const PROGRESS_EVERY: u64 = 4096;

// ------------------------------------------------------------------------------------------
// Input expansion

/// The files named by the user, plus what was skipped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSet {
    /// Sorted, de-duplicated files.
    pub files: Vec<PathBuf>,
    /// Hidden files and directories (name starting with `.`) skipped inside directories and globs.
    pub skipped_hidden: u64,
}

/// Files named by the user: plain files, directories (walked recursively, entries sorted, hidden
/// files and directories skipped, symlinks followed once) and glob patterns (the `glob` crate;
/// `*` does not match a leading dot). The result is sorted and de-duplicated (two spellings of
/// one file count once). A missing path is [`Error::NotFound`]; a glob matching nothing, a
/// directory without files or an empty list is [`Error::InvalidInput`] naming it.
pub fn expand_inputs<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<PathBuf>> {
    expand_inputs_detailed(inputs).map(|set| set.files)
}

/// [`expand_inputs`] that also reports how many hidden entries were skipped.
pub fn expand_inputs_detailed<S: AsRef<str>>(inputs: &[S]) -> Result<InputSet> {
    if inputs.is_empty() {
        return Err(Error::InvalidInput("no input files given".into()));
    }
    let mut set = InputSet::default();
    let mut found: Vec<PathBuf> = Vec::new();
    let mut visited_dirs = HashSet::new();
    for input in inputs {
        let input = input.as_ref();
        if input.is_empty() {
            return Err(Error::InvalidInput("an input path is the empty string".into()));
        }
        let path = Path::new(input);
        if !path.exists() && has_glob_meta(input) {
            expand_glob(input, &mut found, &mut set.skipped_hidden, &mut visited_dirs)?;
        } else {
            add_path(path, &mut found, &mut set.skipped_hidden, &mut visited_dirs)?;
        }
    }
    found.sort();
    let mut seen = HashSet::new();
    for file in found {
        // Canonical form only as the de-duplication key; the user's spelling is kept.
        let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        if seen.insert(key) {
            set.files.push(file);
        }
    }
    Ok(set)
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn expand_glob(
    pattern: &str,
    found: &mut Vec<PathBuf>,
    skipped: &mut u64,
    visited: &mut HashSet<PathBuf>,
) -> Result<()> {
    let options = glob::MatchOptions { require_literal_leading_dot: true, ..Default::default() };
    let matches = glob::glob_with(pattern, options)
        .map_err(|e| Error::invalid_arg("input", format!("bad glob pattern {pattern:?}: {e}")))?;
    let before = found.len();
    let mut matched_any = false;
    for entry in matches {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            Error::io(path, io::Error::from(e))
        })?;
        matched_any = true;
        add_path(&path, found, skipped, visited)?;
    }
    if !matched_any {
        return Err(Error::InvalidInput(format!("{pattern}: glob pattern matches no files")));
    }
    if found.len() == before {
        return Err(Error::InvalidInput(format!("{pattern}: glob pattern matches only directories without files")));
    }
    Ok(())
}

fn add_path(path: &Path, found: &mut Vec<PathBuf>, skipped: &mut u64, visited: &mut HashSet<PathBuf>) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let before = found.len();
        walk_dir(path, found, skipped, visited)?;
        if found.len() == before {
            return Err(Error::InvalidInput(format!(
                "{}: directory contains no input files (hidden files are skipped)",
                path.display()
            )));
        }
    } else {
        found.push(path.to_path_buf());
    }
    Ok(())
}

fn walk_dir(dir: &Path, found: &mut Vec<PathBuf>, skipped: &mut u64, visited: &mut HashSet<PathBuf>) -> Result<()> {
    // A symlink loop would otherwise recurse forever.
    let canonical = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let hidden = path.file_name().map(|n| n.to_string_lossy().starts_with('.')).unwrap_or(false);
        if hidden {
            *skipped += 1;
            continue;
        }
        // Follows symlinks; a dangling one is an error naming it rather than a silent gap.
        let meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            walk_dir(&path, found, skipped, visited)?;
        } else if meta.is_file() {
            found.push(path);
        }
        // Sockets, FIFOs and devices inside a directory are not corpus files.
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Opening (with decompression)

/// Compression of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
}

impl Compression {
    /// By file extension (case-insensitive): `.gz`/`.gzip`, `.zst`/`.zstd`, `.bz2`.
    pub fn from_extension(path: &Path) -> Option<Compression> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "gz" | "gzip" => Some(Compression::Gzip),
            "zst" | "zstd" => Some(Compression::Zstd),
            "bz2" => Some(Compression::Bzip2),
            _ => None,
        }
    }

    /// By magic bytes, for compressed files without the usual extension.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.len() >= 10 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59] {
            // "BZh" + level + the block magic (pi): plain text never starts like that.
            Compression::Bzip2
        } else {
            Compression::None
        }
    }
}

/// Counts the bytes read from the file on disk (compressed bytes for compressed files), so a
/// progress bar can be sized by file sizes.
struct CountingReader<R> {
    inner: R,
    counter: Option<Arc<Progress>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &self.counter {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Opens a file for reading, decompressing `.gz` (multi-member, as `gzip` writes concatenated
/// files), `.zst` and `.bz2` by extension, and gzip/zstd/bzip2 by magic bytes as a fallback.
pub fn open_reader(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    open_reader_with_progress(path, None)
}

/// [`open_reader`] that adds the bytes read from disk to `progress`.
pub fn open_reader_with_progress(path: &Path, progress: Option<Arc<Progress>>) -> Result<Box<dyn BufRead + Send>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::InvalidInput(format!("{}: is a directory, expected a file", path.display())));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut raw = BufReader::with_capacity(IO_BUFFER, CountingReader { inner: file, counter: progress });
    let compression = match Compression::from_extension(path) {
        Some(c) => c,
        // A fresh BufReader fills up to its capacity on the first call, so a regular file's
        // magic bytes are all there.
        None => Compression::sniff(raw.fill_buf().map_err(|e| Error::io(path, e))?),
    };
    Ok(match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(BufReader::with_capacity(IO_BUFFER, flate2::bufread::MultiGzDecoder::new(raw))),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(IO_BUFFER, bzip2::bufread::MultiBzDecoder::new(raw))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| Error::io(path, e))?;
            Box::new(BufReader::with_capacity(IO_BUFFER, decoder))
        }
    })
}

// ------------------------------------------------------------------------------------------
// Statistics and progress

/// What reading the input amounted to, for summaries and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Files skipped (hidden entries of directories, see [`InputSet::skipped_hidden`]).
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

/// Live counters shared between readers (possibly on many threads) and whoever shows progress;
/// also carries a cancellation flag (Ctrl-C from Python) that readers check periodically.
#[derive(Debug, Default)]
pub struct Progress {
    bytes: AtomicU64,
    lines: AtomicU64,
    files_done: AtomicU64,
    cancelled: AtomicBool,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }
    /// Bytes read from disk so far (compressed size for compressed files).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// Lines read so far (updated every few thousand lines).
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }
    /// Files read to the end so far.
    pub fn files_done(&self) -> u64 {
        self.files_done.load(Ordering::Relaxed)
    }
    /// Asks every reader using this progress to stop with [`Error::Interrupted`].
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// Total size on disk of `files`, for sizing a progress bar.
pub fn total_size(files: &[PathBuf]) -> u64 {
    files.iter().filter_map(|f| fs::metadata(f).ok()).map(|m| m.len()).sum()
}

// ------------------------------------------------------------------------------------------
// Lines

/// Options of a [`LineReader`].
#[derive(Debug, Clone)]
pub struct LineReaderOptions {
    /// Longest line yielded in one piece; longer lines are split (see the module docs).
    pub max_line_bytes: usize,
    /// Shared counters to update while reading.
    pub progress: Option<Arc<Progress>>,
}

impl Default for LineReaderOptions {
    fn default() -> Self {
        LineReaderOptions { max_line_bytes: DEFAULT_MAX_LINE_BYTES, progress: None }
    }
}

/// Reads a (possibly compressed) text file line by line: lines without their `\n`/`\r\n`,
/// decoded lossily with invalid UTF-8 counted, binary files refused, memory bounded by
/// `max_line_bytes` (see the module docs). Yields `Err` once (an I/O or decompression error
/// naming the file, or [`Error::Interrupted`]) and then ends.
pub struct LineReader {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    max_line_bytes: usize,
    stats: InputStats,
    progress: Option<Arc<Progress>>,
    unreported_lines: u64,
    done: bool,
}

impl LineReader {
    /// Opens `path` with the default options.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, LineReaderOptions::default())
    }

    /// Opens `path`; fails at once on a missing, unreadable or binary file.
    pub fn open_with(path: &Path, options: LineReaderOptions) -> Result<Self> {
        if options.max_line_bytes < MIN_MAX_LINE_BYTES {
            return Err(Error::invalid_arg(
                "max_line_bytes",
                format!("{} is too small (at least {MIN_MAX_LINE_BYTES})", options.max_line_bytes),
            ));
        }
        let mut reader = open_reader_with_progress(path, options.progress.clone())?;
        let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
        (&mut reader)
            .take(BINARY_SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        check_text(path, &head)?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            head.drain(..3);
        }
        let reader: Box<dyn BufRead + Send> = Box::new(Cursor::new(head).chain(reader));
        Ok(LineReader {
            path: path.to_path_buf(),
            reader,
            buf: Vec::new(),
            max_line_bytes: options.max_line_bytes,
            stats: InputStats { files: 1, ..Default::default() },
            progress: options.progress,
            unreported_lines: 0,
            done: false,
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
                p.lines.fetch_add(self.unreported_lines, Ordering::Relaxed);
                self.unreported_lines = 0;
                if p.is_cancelled() {
                    return Err(Error::Interrupted);
                }
            }
        }
        Ok(())
    }
}

impl Iterator for LineReader {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
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
                    p.files_done.fetch_add(1, Ordering::Relaxed);
                }
                self.report_progress(true).err().map(Err)
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(mut line)) => {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.stats.lines += 1;
                self.unreported_lines += 1;
                Some(Ok(decode_lossy(line, &mut self.stats.invalid_utf8)))
            }
        }
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
    use std::io::Write;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!("albert-fast-corpus-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
        fn write(&self, name: &str, data: &[u8]) -> PathBuf {
            let p = self.0.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, data).unwrap();
            p
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

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
        let opts = LineReaderOptions { max_line_bytes: 100, progress: None };
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
        let opts = LineReaderOptions { max_line_bytes: 101, progress: None };
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
        let opts = LineReaderOptions { max_line_bytes: 64, progress: None };
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
    fn expand_dirs_recursively_sorted_without_hidden() {
        let d = TempDir::new("expand");
        d.write("b.txt", b"b");
        d.write("a.txt", b"a");
        d.write("sub/c.txt.gz", b"c");
        d.write("sub/.hidden.txt", b"h");
        d.write(".git/config", b"x");
        let set = expand_inputs_detailed(&[d.0.to_str().unwrap()]).unwrap();
        let names: Vec<_> = set.files.iter().map(|p| p.strip_prefix(&d.0).unwrap().to_path_buf()).collect();
        assert_eq!(names, [PathBuf::from("a.txt"), PathBuf::from("b.txt"), PathBuf::from("sub/c.txt.gz")]);
        assert_eq!(set.skipped_hidden, 2);
    }

    #[test]
    fn expand_globs_and_dedups() {
        let d = TempDir::new("glob");
        d.write("x1.txt", b"1");
        d.write("x2.txt", b"2");
        d.write("y.md", b"3");
        d.write(".x3.txt", b"hidden");
        let dir = d.0.to_str().unwrap();
        let pattern = format!("{dir}/*.txt");
        let explicit = format!("{dir}/x2.txt");
        let dotted = format!("{dir}/./x1.txt");
        let files = expand_inputs(&[pattern.as_str(), explicit.as_str(), dotted.as_str()]).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files[0].ends_with("x1.txt") && files[1].ends_with("x2.txt"));
    }

    #[test]
    fn expand_errors_name_the_input() {
        let d = TempDir::new("experr");
        let missing = d.0.join("missing.txt");
        let err = expand_inputs(&[missing.to_str().unwrap()]).err().unwrap();
        assert!(matches!(err, Error::NotFound(_)) && err.to_string().contains("missing.txt"), "{err}");
        let pattern = format!("{}/*.nothing", d.0.display());
        let err = expand_inputs(&[pattern.as_str()]).err().unwrap();
        assert!(matches!(err, Error::InvalidInput(_)) && err.to_string().contains("*.nothing"), "{err}");
        fs::create_dir_all(d.0.join("emptydir")).unwrap();
        let err = expand_inputs(&[d.0.join("emptydir").to_str().unwrap()]).err().unwrap();
        assert!(err.to_string().contains("emptydir"), "{err}");
        let none: [&str; 0] = [];
        assert!(expand_inputs(&none).is_err());
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
        assert_eq!(progress.bytes(), text.len() as u64);
        assert_eq!(progress.lines(), 10_000);
        assert_eq!(progress.files_done(), 1);
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
}
