//! TFRecord framing: every record is `u64 LE length`, `masked_crc32c(length bytes)`, `data`,
//! `masked_crc32c(data)`; optional GZIP wraps the whole stream (TensorFlow's
//! `compression_type="GZIP"`). The reader verifies both checksums of every record and reports a
//! truncated or corrupt file as [`Error::CorruptRecord`] naming the path, the record and its
//! byte offset.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::error::{Error, Result};

// Checksums and framing

const MASK_DELTA: u32 = 0xa282_ead8;
/// Bytes before a record's data: u64 length + masked CRC of the length.
pub const HEADER_LEN: usize = 12;
/// Bytes after a record's data: masked CRC of the data.
pub const FOOTER_LEN: usize = 4;

/// TensorFlow's masked CRC32C (Castagnoli): `((crc >> 15) | (crc << 17)) + 0xa282ead8`.
/// Masking keeps a CRC of data that itself contains CRCs well distributed.
#[inline]
pub fn masked_crc32c(data: &[u8]) -> u32 {
    mask_crc(crc32c::crc32c(data))
}

#[inline]
fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Appends one framed record to `out` (it is *not* cleared, so many records can be framed into
/// one buffer): u64 LE length, masked crc32c(length), data, masked crc32c(data).
pub fn frame_record(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(HEADER_LEN + data.len() + FOOTER_LEN);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Writer

/// Whole-stream compression of a TFRecord file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    /// GZIP (TensorFlow's `compression_type="GZIP"`), zlib's default level 6 as TensorFlow uses.
    Gzip,
}

impl Compression {
    /// Parses `"none"`/`""` and `"gzip"` (case-insensitive), the names TensorFlow uses.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            other => Err(Error::invalid_arg("compression", format!("{other:?} (expected \"none\" or \"gzip\")"))),
        }
    }

    /// As [`Compression::parse`], and `"auto"` (any case) for `None`: detect it from the
    /// content, as [`RecordReader::open_with`] does.
    pub fn parse_or_auto(name: &str) -> Result<Option<Self>> {
        if name.eq_ignore_ascii_case("auto") {
            Ok(None)
        } else {
            Self::parse(name).map(Some)
        }
    }
}

// One writer per output file, so the size of the GZIP variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink<W: Write> {
    Plain(W),
    Gzip(GzEncoder<W>),
}

/// Writes framed records to `W`. Give it a buffered writer (e.g. [`crate::atomic::AtomicFile`]);
/// call [`RecordWriter::finish`] to write the GZIP trailer and get `W` back.
pub struct RecordWriter<W: Write> {
    sink: Sink<W>,
    frame: Vec<u8>,
    records: u64,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(w: W, compression: Compression) -> Self {
        let sink = match compression {
            Compression::None => Sink::Plain(w),
            Compression::Gzip => Sink::Gzip(GzEncoder::new(w, flate2::Compression::default())),
        };
        RecordWriter { sink, frame: Vec::new(), records: 0 }
    }

    /// Frames `data` and writes it as one record.
    pub fn write_record(&mut self, data: &[u8]) -> io::Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        frame_record(data, &mut frame);
        let res = self.write_framed_inner(&frame);
        self.frame = frame;
        res?;
        self.records += 1;
        Ok(())
    }

    /// Writes bytes that already hold complete frames (from [`frame_record`]), e.g. framed in
    /// parallel workers and written here in order. `records` is how many frames `framed` holds.
    pub fn write_framed(&mut self, framed: &[u8], records: u64) -> io::Result<()> {
        self.write_framed_inner(framed)?;
        self.records += records;
        Ok(())
    }

    fn write_framed_inner(&mut self, framed: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(w) => w.write_all(framed),
            Sink::Gzip(w) => w.write_all(framed),
        }
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Flushes (and for GZIP writes the trailer), then returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        let mut w = match self.sink {
            Sink::Plain(w) => w,
            Sink::Gzip(gz) => gz.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

// ---------------------------------------------------------------------------------------------
// Reader

/// Reads and verifies the records of one TFRecord file (plain or GZIP).
///
/// Iterating yields each record's data; the first error ends the iteration. Byte offsets in
/// errors count the uncompressed stream (for GZIP files that is the decompressed data).
pub struct RecordReader {
    path: PathBuf,
    inner: Box<dyn BufRead + Send>,
    gzip: bool,
    offset: u64,
    records: u64,
    failed: bool,
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("path", &self.path)
            .field("gzip", &self.gzip)
            .field("offset", &self.offset)
            .field("records", &self.records)
            .finish()
    }
}

const READ_BUFFER: usize = 1 << 20;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl RecordReader {
    /// Opens `path`, detecting GZIP from its content: the gzip magic bytes, unless the first
    /// 12 bytes are a valid plain record header (a plain record whose length happens to start
    /// with 1f 8b); the `.gz`/`.gzip` extension decides only that 2^-32 tie.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, None)
    }

    /// Opens `path` with the given compression, or detects it when `compression` is `None`.
    /// A URL (`gs://...`) is read through the registered [`crate::corpus::remote`] store.
    pub fn open_with(path: impl AsRef<Path>, compression: Option<Compression>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            return Err(Error::InvalidInput(format!("{}: is a directory, not a TFRecord file", path.display())));
        }
        let mut file: Box<dyn Read + Send> = if crate::corpus::remote::is_url(path) {
            crate::corpus::remote::open(path, 0).map_err(|e| Error::io(path, e))?
        } else {
            Box::new(File::open(path).map_err(|e| Error::io(path, e))?)
        };
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&mut file).take(HEADER_LEN as u64).read_to_end(&mut head).map_err(|e| Error::io(path, e))?;
        let compression = compression.unwrap_or_else(|| detect_compression(path, &head));
        let stream = io::Cursor::new(head).chain(file);
        Ok(Self::from_reader(stream, path, compression))
    }

    /// Reads records from any byte stream; `name` is used in error messages.
    pub fn from_reader(r: impl Read + Send + 'static, name: impl Into<PathBuf>, compression: Compression) -> Self {
        let (inner, gzip): (Box<dyn BufRead + Send>, bool) = match compression {
            Compression::None => (Box::new(BufReader::with_capacity(READ_BUFFER, r)), false),
            Compression::Gzip => (
                Box::new(BufReader::with_capacity(
                    READ_BUFFER,
                    MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, r)),
                )),
                true,
            ),
        };
        RecordReader { path: name.into(), inner, gzip, offset: 0, records: 0, failed: false }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Records read (and verified) so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Offset of the next record in the uncompressed stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the next record's data into `buf` (cleared first). `Ok(false)` at a clean end of
    /// file. Reusing one buffer avoids an allocation per record.
    pub fn read_next(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        let res = self.read_next_inner(buf);
        if !matches!(res, Ok(true)) {
            self.failed = true;
        }
        res
    }

    fn read_next_inner(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        buf.clear();
        let start = self.offset;
        let mut header = [0u8; HEADER_LEN];
        let got = self.read_full(&mut header, start)?;
        if got == 0 {
            return Ok(false);
        }
        if got < HEADER_LEN {
            let hint = if self.records == 0 { " (too short to be a TFRecord file)" } else { "" };
            return Err(self.corrupt(
                start,
                format!("truncated record header: the file ends after {got} of its {HEADER_LEN} bytes{hint}"),
            ));
        }
        let (len_bytes, crc_bytes) = header.split_at(8);
        let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let computed = masked_crc32c(len_bytes);
        if stored != computed {
            let what = if self.records == 0 {
                "not a TFRecord file, or its first record header is corrupt"
            } else {
                "corrupt record header"
            };
            return Err(self.corrupt(
                start,
                format!("{what}: length checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
            ));
        }
        let len = u64::from_le_bytes([
            len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3], len_bytes[4], len_bytes[5], len_bytes[6], len_bytes[7],
        ]);
        // Grow with the data actually present, so a corrupt huge length cannot exhaust memory.
        buf.reserve(len.min(1 << 26) as usize);
        let data_start = start + HEADER_LEN as u64;
        let got = match (&mut self.inner).take(len).read_to_end(buf) {
            Ok(n) => n as u64,
            Err(e) => return Err(self.stream_error(data_start, e)),
        };
        if got < len {
            return Err(self.corrupt(start, format!("truncated record: its header announces {len} bytes of data, the file ends after {got}")));
        }
        let mut footer = [0u8; FOOTER_LEN];
        let got = self.read_full(&mut footer, data_start + len)?;
        if got < FOOTER_LEN {
            return Err(self.corrupt(start, format!("truncated record: the file ends inside its data checksum ({got} of {FOOTER_LEN} bytes)")));
        }
        let stored = u32::from_le_bytes(footer);
        let computed = masked_crc32c(buf);
        if stored != computed {
            return Err(self.corrupt(
                start,
                format!("data checksum mismatch ({len} bytes; stored {stored:#010x}, computed {computed:#010x})"),
            ));
        }
        self.offset = data_start + len + FOOTER_LEN as u64;
        self.records += 1;
        Ok(true)
    }

    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn read_full(&mut self, buf: &mut [u8], at: u64) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.stream_error(at + n as u64, e)),
            }
        }
        Ok(n)
    }

    fn stream_error(&self, at: u64, e: io::Error) -> Error {
        // flate2 reports a damaged or cut-off gzip stream as InvalidInput/InvalidData/UnexpectedEof.
        if self.gzip
            && matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof)
        {
            self.corrupt(at, format!("damaged or truncated gzip stream: {e}"))
        } else {
            Error::io(&self.path, e)
        }
    }

    fn corrupt(&self, offset: u64, message: String) -> Error {
        let message =
            if self.gzip { format!("{message} (offsets count decompressed bytes of this gzip file)") } else { message };
        Error::CorruptRecord { path: self.path.clone(), offset, record: self.records, message }
    }
}

impl Iterator for RecordReader {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = Vec::new();
        match self.read_next(&mut buf) {
            Ok(true) => Some(Ok(buf)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl std::iter::FusedIterator for RecordReader {}

fn detect_compression(path: &Path, head: &[u8]) -> Compression {
    let gzip_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("gzip"));
    if !head.starts_with(&GZIP_MAGIC) {
        return Compression::None;
    }
    let valid_plain_header = head.len() >= HEADER_LEN
        && masked_crc32c(&head[..8]).to_le_bytes() == head[8..HEADER_LEN];
    if valid_plain_header && !gzip_ext {
        Compression::None
    } else {
        Compression::Gzip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::TempDir;

    fn write_file(path: &Path, records: &[&[u8]], compression: Compression) {
        let mut w = RecordWriter::new(Vec::new(), compression);
        for r in records {
            w.write_record(r).unwrap();
        }
        std::fs::write(path, w.finish().unwrap()).unwrap();
    }

    fn read_all(path: &Path) -> Result<Vec<Vec<u8>>> {
        RecordReader::open(path)?.collect()
    }

    #[test]
    #[allow(clippy::manual_rotate)] // spelled as TensorFlow writes the mask
    fn crc32c_known_answers() {
        // RFC 3720 B.4 and the classic check value.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c::crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c::crc32c(&inc), 0x46dd_794e);
        // Masked values as TensorFlow computes them (tensorflow/tsl/lib/hash/crc32c.h Mask()).
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
        assert_eq!(masked_crc32c(b"123456789"), 0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8));
        let c = 0xe306_9283u32;
        assert_eq!(masked_crc32c(b"123456789"), ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8));
    }

    #[test]
    fn framing_bytes_are_exact() {
        // An empty record: length 0, masked crc of 8 zero bytes, masked crc of "".
        let mut out = Vec::new();
        frame_record(b"", &mut out);
        assert_eq!(out.len(), 16);
        assert_eq!(&out[..8], &[0u8; 8]);
        assert_eq!(&out[8..12], &masked_crc32c(&[0u8; 8]).to_le_bytes());
        assert_eq!(&out[12..], &0xa282_ead8u32.to_le_bytes());
        // frame_record appends.
        frame_record(b"abc", &mut out);
        assert_eq!(out.len(), 16 + 12 + 3 + 4);
        assert_eq!(&out[16..24], &3u64.to_le_bytes());
        assert_eq!(&out[28..31], b"abc");
    }

    #[test]
    fn framing_round_trip_plain_and_gzip() {
        let dir = TempDir::new("rt");
        let big = vec![7u8; 300_000];
        let records: Vec<&[u8]> = vec![b"", b"a", b"hello world", &big, b"\x1f\x8b"];
        for (name, comp) in [("plain.tfrecord", Compression::None), ("gz.tfrecord", Compression::Gzip)] {
            let path = dir.join(name);
            write_file(&path, &records, comp);
            let reader = RecordReader::open(&path).unwrap();
            assert_eq!(reader.is_gzip(), comp == Compression::Gzip);
            let got = read_all(&path).unwrap();
            assert_eq!(got, records.iter().map(|r| r.to_vec()).collect::<Vec<_>>());
        }
        let raw = std::fs::read(dir.join("gz.tfrecord")).unwrap();
        assert_eq!(&raw[..2], &GZIP_MAGIC);
    }

    #[test]
    fn write_framed_matches_write_record() {
        let mut a = RecordWriter::new(Vec::new(), Compression::None);
        a.write_record(b"x").unwrap();
        a.write_record(b"yz").unwrap();
        let mut framed = Vec::new();
        frame_record(b"x", &mut framed);
        frame_record(b"yz", &mut framed);
        let mut b = RecordWriter::new(Vec::new(), Compression::None);
        b.write_framed(&framed, 2).unwrap();
        assert_eq!(b.records_written(), 2);
        assert_eq!(a.finish().unwrap(), b.finish().unwrap());
    }

    #[test]
    fn plain_record_starting_with_gzip_magic_is_not_mistaken_for_gzip() {
        // Length 0x8b1f = 35615 makes the file start with 1f 8b.
        let dir = TempDir::new("magic");
        let path = dir.join("magic.tfrecord");
        let data = vec![1u8; 0x8b1f];
        write_file(&path, &[&data], Compression::None);
        assert_eq!(&std::fs::read(&path).unwrap()[..2], &GZIP_MAGIC);
        let r = RecordReader::open(&path).unwrap();
        assert!(!r.is_gzip());
        assert_eq!(read_all(&path).unwrap(), vec![data]);
    }

    #[test]
    fn empty_file_has_no_records() {
        let dir = TempDir::new("empty");
        let path = dir.join("empty.tfrecord");
        std::fs::write(&path, b"").unwrap();
        assert!(read_all(&path).unwrap().is_empty());
        let gz = dir.join("empty.tfrecord.gz");
        write_file(&gz, &[], Compression::Gzip);
        assert!(read_all(&gz).unwrap().is_empty());
    }

    fn corrupt_err(path: &Path) -> (u64, String) {
        let mut reader = RecordReader::open(path).unwrap();
        loop {
            match reader.next() {
                Some(Ok(_)) => continue,
                Some(Err(Error::CorruptRecord { path: p, offset, message, .. })) => {
                    assert_eq!(p, path);
                    // Fused: nothing after an error.
                    assert!(reader.next().is_none());
                    return (offset, message);
                }
                Some(Err(e)) => panic!("unexpected error kind: {e}"),
                None => panic!("no error for corrupt file {}", path.display()),
            }
        }
    }

    #[test]
    fn truncated_files_name_the_offset() {
        let dir = TempDir::new("trunc");
        let path = dir.join("t.tfrecord");
        write_file(&path, &[b"first record", b"second record"], Compression::None);
        let full = std::fs::read(&path).unwrap();
        let second = (12 + 12 + 4) as u64;
        // Cut inside the header, the data and the footer of the second record.
        for (cut, needle) in [(second + 5, "header"), (second + 14, "announces 13 bytes"), (full.len() as u64 - 1, "data checksum")] {
            std::fs::write(&path, &full[..cut as usize]).unwrap();
            let (offset, message) = corrupt_err(&path);
            assert_eq!(offset, second, "{message}");
            assert!(message.contains("truncated") && message.contains(needle), "{message}");
            let shown = RecordReader::open(&path).unwrap().nth(1).unwrap().unwrap_err().to_string();
            assert!(shown.contains(&format!("t.tfrecord: record 1 at byte {second}: corrupt TFRecord: truncated")), "{shown}");
        }
    }

    #[test]
    fn bad_crcs_are_detected() {
        let dir = TempDir::new("crc");
        let path = dir.join("c.tfrecord");
        write_file(&path, &[b"first record", b"second record"], Compression::None);
        let full = std::fs::read(&path).unwrap();
        // Flip one data byte of the second record.
        let mut bad = full.clone();
        bad[28 + 12 + 3] ^= 0x20;
        std::fs::write(&path, &bad).unwrap();
        let (offset, message) = corrupt_err(&path);
        assert_eq!(offset, 28);
        assert!(message.contains("data checksum mismatch"), "{message}");
        // Corrupt the second record's length.
        let mut bad = full.clone();
        bad[28] = 200;
        std::fs::write(&path, &bad).unwrap();
        let (offset, message) = corrupt_err(&path);
        assert_eq!(offset, 28);
        assert!(message.contains("length checksum mismatch"), "{message}");
        // A text file is not a TFRecord file.
        std::fs::write(&path, b"this is just some text, not records\n").unwrap();
        let (offset, message) = corrupt_err(&path);
        assert_eq!(offset, 0);
        assert!(message.contains("not a TFRecord file"), "{message}");
        let shown = Error::CorruptRecord { path: path.clone(), offset, record: 0, message }.to_string();
        assert!(shown.contains("c.tfrecord: record 0 at byte 0: corrupt TFRecord: not a TFRecord"), "{shown}");
    }

    #[test]
    fn damaged_gzip_is_a_corrupt_record() {
        let dir = TempDir::new("gzbad");
        let path = dir.join("g.tfrecord.gz");
        let payload: Vec<u8> = (0..100_000u32).flat_map(|i| (i * 2_654_435_761).to_le_bytes()).collect();
        write_file(&path, &[&payload, b"tail"], Compression::Gzip);
        let full = std::fs::read(&path).unwrap();
        // Truncated gzip stream.
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let (_, message) = corrupt_err(&path);
        assert!(message.contains("gzip") || message.contains("truncated"), "{message}");
        // Garbage in the middle of the deflate data.
        let mut bad = full.clone();
        for b in &mut bad[100..140] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bad).unwrap();
        let (_, message) = corrupt_err(&path);
        assert!(message.contains("gzip") || message.contains("checksum") || message.contains("truncated"), "{message}");
    }

    #[test]
    fn missing_file_and_directory() {
        let dir = TempDir::new("missing");
        assert!(matches!(RecordReader::open(dir.join("nope.tfrecord")), Err(Error::NotFound(_))));
        let err = RecordReader::open(&dir).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
    }

    #[test]
    fn concatenated_gzip_members_read_as_one_stream() {
        let dir = TempDir::new("multigz");
        let path = dir.join("cat.tfrecord.gz");
        let mut bytes = Vec::new();
        for rec in [b"one".as_slice(), b"two"] {
            let mut w = RecordWriter::new(Vec::new(), Compression::Gzip);
            w.write_record(rec).unwrap();
            bytes.extend(w.finish().unwrap());
        }
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_all(&path).unwrap(), vec![b"one".to_vec(), b"two".to_vec()]);
    }
}
