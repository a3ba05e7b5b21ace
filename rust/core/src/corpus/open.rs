//! Opening one input file (a local path, or a URL read through [`super::remote`]),
//! decompressing `.gz` (multi-member), `.zst` and `.bz2` by extension or, failing that, by
//! magic bytes.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::remote;
use crate::error::{Error, Result};
use crate::progress::Progress;

const IO_BUFFER: usize = 256 << 10;

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
    let mut reader: Box<dyn BufRead + Send> = match compression {
        Compression::None => return Ok(Box::new(raw)),
        Compression::Gzip => Box::new(BufReader::with_capacity(IO_BUFFER, flate2::bufread::MultiGzDecoder::new(raw))),
        Compression::Bzip2 => Box::new(BufReader::with_capacity(IO_BUFFER, bzip2::bufread::MultiBzDecoder::new(raw))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| Error::io(path, e))?;
            Box::new(BufReader::with_capacity(IO_BUFFER, decoder))
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
