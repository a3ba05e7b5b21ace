//! Opening one input file (a local path, or a URL read through [`super::remote`]),
//! decompressing `.gz` (multi-member), `.zst` and `.bz2` by extension or, failing that, by
//! magic bytes.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::remote;
use crate::error::{DescribedIo, Error, Result};
use crate::progress::Progress;

const IO_BUFFER: usize = 256 << 10;
/// Compressed bytes a decoder gets per call (see [`Tracked`]).
const TRACK_CHUNK: usize = 16 << 10;

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
            Progress::add(&p.bytes_read, n as u64);
        }
        Ok(n)
    }
}

/// Opens a file for reading, decompressing `.gz` (multi-member, as `gzip` writes concatenated
/// files), `.zst` and `.bz2` by extension, and gzip/zstd/bzip2 by magic bytes as a fallback.
/// Adds the bytes read from disk to `progress`; starts `offset` bytes into the (decompressed)
/// text: a seek (or, for a URL, a ranged read) for plain files, decompressing and dropping the
/// bytes before it otherwise.
pub fn open_reader(path: &Path, progress: Option<Arc<Progress>>, offset: u64) -> Result<Box<dyn BufRead + Send>> {
    let known = match Compression::from_extension(path) {
        Some(c) => Some(c),
        // Past the start, the head is read on its own so that a plain file is still entered
        // at the offset rather than read from its start.
        None if offset > 0 => Some(Compression::sniff(&read_head(path)?)),
        None => None,
    };
    let start = if known == Some(Compression::None) { offset } else { 0 };
    let mut raw = BufReader::with_capacity(IO_BUFFER, CountingReader { inner: open_raw(path, start)?, counter: progress });
    let compression = match known {
        Some(c) => c,
        // A fresh BufReader fills up to its capacity on the first call, so a regular file's
        // magic bytes are all there.
        None => Compression::sniff(raw.fill_buf().map_err(|e| Error::io(path, e))?),
    };
    if compression == Compression::None {
        return Ok(Box::new(raw)); // entered at the offset by open_raw
    }
    let size = super::inputs::file_size(path).unwrap_or(0);
    let seen = Arc::new(AtomicU64::new(0));
    let raw = Tracked { inner: raw, consumed: 0, seen: seen.clone() };
    let checked = |decoder: Box<dyn Read + Send>, format: &'static str| -> Box<dyn BufRead + Send> {
        let decoded = Decoded { inner: decoder, format, path: path.to_path_buf(), seen: seen.clone(), size };
        Box::new(BufReader::with_capacity(IO_BUFFER, decoded))
    };
    let mut reader = match compression {
        Compression::None => unreachable!("returned above"),
        Compression::Gzip => checked(Box::new(flate2::bufread::MultiGzDecoder::new(raw)), "gzip"),
        Compression::Bzip2 => checked(Box::new(bzip2::bufread::MultiBzDecoder::new(raw)), "bzip2"),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| Error::io(path, e))?;
            checked(Box::new(decoder), "zstd")
        }
    };
    if offset > 0 {
        let skipped = io::copy(&mut (&mut reader).take(offset), &mut io::sink()).map_err(|e| Error::io(path, e))?;
        if skipped < offset {
            return Err(Error::InvalidInput(format!("{}: shorter than {offset} bytes: the file changed", path.display())));
        }
    }
    Ok(reader)
}

/// The file's raw bytes from `offset` on: a seek into a local file, a ranged read of a URL.
pub fn open_raw(path: &Path, offset: u64) -> Result<Box<dyn Read + Send>> {
    if remote::is_url(path) {
        return remote::open(path, offset).map_err(|e| Error::io(path, e));
    }
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::InvalidInput(format!("{}: is a directory, expected a file", path.display())));
    }
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    if offset > 0 {
        file.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(path, e))?;
    }
    Ok(Box::new(file))
}

/// The first bytes of a file, enough for [`Compression::sniff`].
fn read_head(path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(16);
    open_raw(path, 0)?.take(16).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
    Ok(head)
}

/// The compressed stream under a decoder, recording how far into it the decoder has seen (the
/// bytes it took plus those it was shown): where it stopped when the data turned out corrupt.
/// It shows at most [`TRACK_CHUNK`] bytes at a time, so a decoder cannot look far past the point
/// it has checked.
struct Tracked<R> {
    inner: R,
    consumed: u64,
    seen: Arc<AtomicU64>,
}

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        self.seen.store(self.consumed, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        let shown = buf.len().min(TRACK_CHUNK);
        self.seen.store(self.consumed + shown as u64, Ordering::Relaxed);
        Ok(&buf[..shown])
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.consumed += n as u64;
    }
}

/// A decoder whose failures say what they mean: "corrupt zstd data in FILE at byte N" (N: where
/// the decoder found the damage, which lies at or before it, within one compressed block) or
/// "truncated", instead of the library's words ("Destination buffer is too small", "incomplete
/// frame"). Errors of the disk itself pass through unchanged.
struct Decoded {
    inner: Box<dyn Read + Send>,
    format: &'static str,
    path: PathBuf,
    seen: Arc<AtomicU64>,
    size: u64,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted || e.raw_os_error().is_some() {
                return e;
            }
            let at = self.seen.load(Ordering::Relaxed);
            // Every decoder says "the input ended early" with UnexpectedEof.
            let message = if e.kind() == io::ErrorKind::UnexpectedEof {
                format!(
                    "truncated {} data in {}: the file ends inside compressed data ({} bytes); it was cut short, e.g. by an interrupted copy",
                    self.format,
                    self.path.display(),
                    self.size
                )
            } else {
                format!(
                    "corrupt {} data in {} at byte {at} (of {}): the file is damaged; recompress it from the original",
                    self.format,
                    self.path.display(),
                    self.size
                )
            };
            io::Error::new(io::ErrorKind::InvalidData, DescribedIo(message))
        })
    }
}



#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::LineReader;
    use crate::test_util::TempDir;

    fn read_error(path: &Path) -> String {
        match LineReader::open(path) {
            Ok(mut lines) => lines.find_map(|l| l.err()).expect("an error").to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn corrupt_and_truncated_compressed_input_are_named_in_plain_words() {
        let d = TempDir::new("corrupt");
        let text: Vec<u8> = (0..40000).flat_map(|i| format!("This is sentence {i} of the corpus.\n").into_bytes()).collect();
        let mut zstd_enc = zstd::stream::Encoder::new(Vec::new(), 19).unwrap();
        zstd_enc.include_checksum(true).unwrap();
        io::Write::write_all(&mut zstd_enc, &text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        io::Write::write_all(&mut gz, &text).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        io::Write::write_all(&mut bz, &text).unwrap();
        for (ext, name, data) in [("zst", "zstd", zstd_enc.finish().unwrap()), ("gz", "gzip", gz.finish().unwrap()), ("bz2", "bzip2", bz.finish().unwrap())] {
            let size = data.len();
            let cut = d.write(&format!("cut.txt.{ext}"), &data[..size - 50]);
            assert_eq!(
                read_error(&cut),
                format!(
                    "truncated {name} data in {}: the file ends inside compressed data ({} bytes); it was cut short, e.g. by an interrupted copy",
                    cut.display(),
                    size - 50
                )
            );
            // Damage a tenth into the file: found within a block or a chunk of it (never
            // the library's words, e.g. zstd's "Destination buffer is too small").
            let mut bad = data.clone();
            let at = size / 10;
            bad[at..at + 64].iter_mut().for_each(|b| *b ^= 0x5a);
            let bad = d.write(&format!("bad.txt.{ext}"), &bad);
            let err = read_error(&bad);
            let prefix = format!("corrupt {name} data in {} at byte ", bad.display());
            let n: usize = err.strip_prefix(&prefix).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{err}"));
            assert!(err.ends_with(&format!("(of {size}): the file is damaged; recompress it from the original")), "{err}");
            assert!(n >= at && (ext == "gz" || n <= at + (160 << 10)), "{err}");
        }
    }
}
