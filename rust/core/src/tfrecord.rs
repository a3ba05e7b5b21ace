//! TFRecord files of `tf.train.Example` protos, as the original `create_pretraining_data.py`
//! writes them and `run_pretraining.py` reads them (spec §7).
//!
//! * Framing: every record is `u64 LE length`, `masked_crc32c(length bytes)`, `data`,
//!   `masked_crc32c(data)`, where the mask is `rotr(crc, 15) + 0xa282ead8`. Optional GZIP wraps
//!   the whole stream (TensorFlow's `compression_type="GZIP"`).
//! * `tf.train.Example` is a tiny protobuf schema, so it is encoded by hand: sizes are computed
//!   first and the bytes written straight into one reused buffer, with no per-feature allocation.
//!   Int64 and float lists are written *packed*, as TensorFlow's own serializer does; the decoder
//!   accepts packed and unpacked encodings, unknown fields and repeated (merged) fields, as the
//!   protobuf rules and TensorFlow's parser do.
//! * The reader verifies both checksums of every record; a truncated or corrupt file is reported
//!   as [`Error::CorruptRecord`] naming the path and the byte offset of the bad record.
//!
//! Proto schema (tensorflow/core/example/{example,feature}.proto):
//! ```text
//! Example  { Features features = 1; }
//! Features { map<string, Feature> feature = 1; }     // entry: { string key = 1; Feature value = 2; }
//! Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
//! BytesList { repeated bytes value = 1; }
//! FloatList { repeated float value = 1 [packed = true]; }
//! Int64List { repeated int64 value = 1 [packed = true]; }
//! ```

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------------
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
    pub fn open_with(path: impl AsRef<Path>, compression: Option<Compression>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            return Err(Error::InvalidInput(format!("{}: is a directory, not a TFRecord file", path.display())));
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
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

// ---------------------------------------------------------------------------------------------
// tf.train.Example encoding

/// The values of one feature, borrowed from the caller (no copy when encoding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValues<'a> {
    Int64(&'a [i64]),
    Float(&'a [f32]),
    Bytes(&'a [&'a [u8]]),
    /// An int64 list: `values`, then zeros up to `len` values in all (none when `values` is
    /// longer). Ids kept as `u32` are written without widening or padding copies.
    UInt32 { values: &'a [u32], len: usize },
    /// As [`FeatureValues::UInt32`] for `u8` values (0/1 masks, labels).
    UInt8 { values: &'a [u8], len: usize },
}

// Field keys (field number << 3 | wire type); wire type 2 = length-delimited.
const KEY_FEATURES: u8 = 0x0a; // Example.features = 1
const KEY_ENTRY: u8 = 0x0a; // Features.feature = 1 (map entry)
const KEY_MAP_KEY: u8 = 0x0a; // entry.key = 1
const KEY_MAP_VALUE: u8 = 0x12; // entry.value = 2
const KEY_BYTES_LIST: u8 = 0x0a; // Feature.bytes_list = 1
const KEY_FLOAT_LIST: u8 = 0x12; // Feature.float_list = 2
const KEY_INT64_LIST: u8 = 0x1a; // Feature.int64_list = 3
const KEY_VALUE_LEN: u8 = 0x0a; // XxxList.value = 1, packed or bytes

#[inline]
fn varint_len(v: u64) -> usize {
    // 7 payload bits per byte: ceil(bits / 7) computed as (bits * 9 + 64) / 64, which is exact
    // for 1..=64 bits and branch-free (so sums over lists vectorize); `| 1` makes 0 one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

#[cfg(test)]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Size of a length-delimited field holding `len` bytes (key + length varint + payload).
#[inline]
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Writes into a buffer already sized to the exact message length.
struct Enc<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Enc<'_> {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    /// A varint, with the one-byte case (most ids, every 0/1 flag) first.
    #[inline]
    fn small_varint(&mut self, v: u64) {
        if v < 0x80 {
            self.byte(v as u8);
        } else {
            self.varint(v);
        }
    }

    /// `n` zero bytes: the buffer is zero-filled before writing, so they are already there.
    #[inline]
    fn zeros(&mut self, n: usize) {
        debug_assert!(self.buf[self.pos..self.pos + n].iter().all(|&b| b == 0));
        self.pos += n;
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
}

impl FeatureValues<'_> {
    /// Bytes inside the XxxList message before its own framing: the packed payload for int64
    /// and float lists (0 when empty), the sum of the value fields for bytes lists.
    fn payload_len(&self) -> usize {
        match *self {
            FeatureValues::Int64(v) => v.iter().map(|&x| varint_len(x as u64)).sum(),
            FeatureValues::Float(v) => 4 * v.len(),
            FeatureValues::Bytes(v) => v.iter().map(|b| field_len(b.len())).sum(),
            // Each padding zero is a one-byte varint.
            FeatureValues::UInt32 { values, len } => {
                values.iter().map(|&x| varint_len(u64::from(x))).sum::<usize>() + len.saturating_sub(values.len())
            }
            FeatureValues::UInt8 { values, len } => {
                values.iter().map(|&x| 1 + usize::from(x >= 0x80)).sum::<usize>() + len.saturating_sub(values.len())
            }
        }
    }

    /// Size of the XxxList message, given `payload_len()`. An empty int64/float list writes no
    /// packed field at all, as protobuf does.
    fn list_len(&self, payload: usize) -> usize {
        match self {
            FeatureValues::Bytes(_) => payload,
            _ if payload == 0 => 0,
            _ => field_len(payload),
        }
    }

    fn write_list(&self, payload: usize, e: &mut Enc<'_>) {
        match *self {
            FeatureValues::Int64([]) | FeatureValues::Float([]) => {}
            FeatureValues::Int64(v) => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in v {
                    // Negative int64 values are 10-byte two's-complement varints (not zigzag).
                    e.small_varint(x as u64);
                }
            }
            FeatureValues::Float(v) => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in v {
                    e.bytes(&x.to_le_bytes());
                }
            }
            FeatureValues::Bytes(v) => {
                for b in v {
                    e.byte(KEY_VALUE_LEN);
                    e.varint(b.len() as u64);
                    e.bytes(b);
                }
            }
            _ if payload == 0 => {}
            FeatureValues::UInt32 { values, len } => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in values {
                    e.small_varint(u64::from(x));
                }
                e.zeros(len.saturating_sub(values.len()));
            }
            FeatureValues::UInt8 { values, len } => {
                e.byte(KEY_VALUE_LEN);
                e.varint(payload as u64);
                for &x in values {
                    e.small_varint(u64::from(x));
                }
                e.zeros(len.saturating_sub(values.len()));
            }
        }
    }

    fn kind_key(&self) -> u8 {
        match self {
            FeatureValues::Int64(_) | FeatureValues::UInt32 { .. } | FeatureValues::UInt8 { .. } => KEY_INT64_LIST,
            FeatureValues::Float(_) => KEY_FLOAT_LIST,
            FeatureValues::Bytes(_) => KEY_BYTES_LIST,
        }
    }
}

/// Payload sizes of up to this many features are kept on the stack between the sizing and the
/// writing pass; more are recomputed.
const CACHED_FEATURES: usize = 16;

/// Serializes a `tf.train.Example` whose feature map holds `features` (written in the given
/// order) into `out`, which is cleared first. The output parses with TensorFlow's
/// `tf.train.Example.FromString` and `tf.io.parse_single_example`. Sizes are computed first,
/// then the bytes are written into `out` in one pass with no allocation beyond `out`'s growth.
pub fn encode_example(features: &[(&str, FeatureValues<'_>)], out: &mut Vec<u8>) {
    let mut cached = [0usize; CACHED_FEATURES];
    let mut features_len = 0usize;
    for (i, (name, values)) in features.iter().enumerate() {
        let payload = values.payload_len();
        if i < CACHED_FEATURES {
            cached[i] = payload;
        }
        features_len += field_len(entry_len(name, values.list_len(payload)));
    }
    let total = field_len(features_len);
    out.clear();
    out.resize(total, 0);
    let mut e = Enc { buf: out.as_mut_slice(), pos: 0 };
    e.byte(KEY_FEATURES);
    e.varint(features_len as u64);
    for (i, (name, values)) in features.iter().enumerate() {
        let payload = if i < CACHED_FEATURES { cached[i] } else { values.payload_len() };
        let list_len = values.list_len(payload);
        e.byte(KEY_ENTRY);
        e.varint(entry_len(name, list_len) as u64);
        e.byte(KEY_MAP_KEY);
        e.varint(name.len() as u64);
        e.bytes(name.as_bytes());
        e.byte(KEY_MAP_VALUE);
        e.varint(field_len(list_len) as u64);
        e.byte(values.kind_key());
        e.varint(list_len as u64);
        values.write_list(payload, &mut e);
    }
    debug_assert_eq!(e.pos, total);
}

/// Size of one map entry (key field + value field) whose Feature holds a list of `list_len`.
fn entry_len(name: &str, list_len: usize) -> usize {
    field_len(name.len()) + field_len(field_len(list_len))
}

// ---------------------------------------------------------------------------------------------
// tf.train.Example decoding

/// One decoded feature (owned).
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

impl Feature {
    pub fn len(&self) -> usize {
        match self {
            Feature::Int64(v) => v.len(),
            Feature::Float(v) => v.len(),
            Feature::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The TensorFlow dtype name of this feature's list: "int64", "float" or "bytes".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Feature::Int64(_) => "int64",
            Feature::Float(_) => "float",
            Feature::Bytes(_) => "bytes",
        }
    }

    pub fn as_borrowed<'a>(&'a self, scratch: &'a mut Vec<&'a [u8]>) -> FeatureValues<'a> {
        match self {
            Feature::Int64(v) => FeatureValues::Int64(v),
            Feature::Float(v) => FeatureValues::Float(v),
            Feature::Bytes(v) => {
                scratch.clear();
                scratch.extend(v.iter().map(|b| b.as_slice()));
                FeatureValues::Bytes(scratch)
            }
        }
    }
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A protobuf reader over one message; `base` is the message's offset in the whole record, so
/// errors point at the exact byte.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

type DecodeResult<T> = std::result::Result<T, (usize, String)>;

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Cursor { buf, pos: 0, base }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err<T>(&self, msg: impl Into<String>) -> DecodeResult<T> {
        Err((self.base + self.pos, msg.into()))
    }

    fn varint(&mut self) -> DecodeResult<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return self.err("truncated varint");
            };
            self.pos += 1;
            // The 10th byte may only hold the top bit of a u64.
            if i == 9 && b > 1 {
                return self.err("varint longer than 64 bits");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        self.err("varint longer than 10 bytes")
    }

    /// Reads a field key; returns (field number, wire type).
    fn key(&mut self) -> DecodeResult<(u64, u8)> {
        let k = self.varint()?;
        let field = k >> 3;
        if field == 0 {
            return self.err("field number 0");
        }
        Ok((field, (k & 7) as u8))
    }

    /// Reads a length-delimited payload; returns it with its offset.
    fn bytes(&mut self) -> DecodeResult<(&'a [u8], usize)> {
        let field_start = self.base + self.pos;
        let len = self.varint()?;
        let start = self.pos;
        let remaining = self.buf.len() - start;
        if len > remaining as u64 {
            return Err((
                field_start,
                format!("length-delimited field of {len} bytes overruns its message ({remaining} bytes left)"),
            ));
        }
        self.pos += len as usize;
        Ok((&self.buf[start..self.pos], self.base + start))
    }

    fn fixed<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        match self.buf.get(self.pos..self.pos + N) {
            Some(s) => {
                self.pos += N;
                let mut a = [0u8; N];
                a.copy_from_slice(s);
                Ok(a)
            }
            None => self.err(format!("truncated {}-byte fixed field", N)),
        }
    }

    fn skip(&mut self, wire: u8) -> DecodeResult<()> {
        match wire {
            WIRE_VARINT => self.varint().map(|_| ()),
            WIRE_FIXED64 => self.fixed::<8>().map(|_| ()),
            WIRE_LEN => self.bytes().map(|_| ()),
            WIRE_FIXED32 => self.fixed::<4>().map(|_| ()),
            other => self.err(format!("unsupported wire type {other}")),
        }
    }
}

/// Parses a serialized `tf.train.Example` into its features, in the order they appear. A key
/// that occurs twice keeps its last value (protobuf map semantics) at its first position.
/// Malformed input gives [`Error::InvalidInput`] naming the problem and its byte offset.
pub fn decode_example(bytes: &[u8]) -> Result<Vec<(String, Feature)>> {
    let mut out: Vec<(String, Feature)> = Vec::new();
    decode_example_into(bytes, &mut out)?;
    Ok(out)
}

/// Like [`decode_example`], into `out`, reusing the allocations of the features already in it
/// (the names and lists of the previous record): decoding a stream of records with one schema
/// allocates nothing after the first.
pub fn decode_example_into(bytes: &[u8], out: &mut Vec<(String, Feature)>) -> Result<()> {
    let mut spare = std::mem::take(out);
    spare.reverse(); // popped from the end, so reused in their previous order
    decode_into(bytes, out, &mut spare).map_err(|(offset, msg)| {
        out.clear();
        Error::InvalidInput(format!("malformed tf.train.Example at byte {offset} of {}: {msg}", bytes.len()))
    })
}

fn decode_into(bytes: &[u8], out: &mut Vec<(String, Feature)>, spare: &mut Vec<(String, Feature)>) -> DecodeResult<()> {
    let mut ex = Cursor::new(bytes, 0);
    while !ex.at_end() {
        match ex.key()? {
            // Repeated occurrences of a message field merge, so each one adds entries.
            (1, WIRE_LEN) => {
                let (features, base) = ex.bytes()?;
                decode_features(features, base, out, spare)?;
            }
            (1, w) => return ex.err(format!("Example.features has wire type {w}, expected 2")),
            (_, w) => ex.skip(w)?,
        }
    }
    Ok(())
}

fn decode_features(
    buf: &[u8],
    base: usize,
    out: &mut Vec<(String, Feature)>,
    spare: &mut Vec<(String, Feature)>,
) -> DecodeResult<()> {
    let mut c = Cursor::new(buf, base);
    while !c.at_end() {
        match c.key()? {
            (1, WIRE_LEN) => {
                let (entry, base) = c.bytes()?;
                let (name, feature) = decode_entry(entry, base, spare.pop())?;
                match out.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = feature,
                    None => out.push((name, feature)),
                }
            }
            (1, w) => return c.err(format!("Features.feature has wire type {w}, expected 2")),
            (_, w) => c.skip(w)?,
        }
    }
    Ok(())
}

fn decode_entry(buf: &[u8], base: usize, recycled: Option<(String, Feature)>) -> DecodeResult<(String, Feature)> {
    let (mut name, mut spare) = match recycled {
        Some((mut n, f)) => {
            n.clear();
            (n, Some(f))
        }
        None => (String::new(), None),
    };
    let mut c = Cursor::new(buf, base);
    let mut feature: Option<Feature> = None;
    while !c.at_end() {
        match c.key()? {
            (1, WIRE_LEN) => {
                let (key, at) = c.bytes()?;
                match std::str::from_utf8(key) {
                    Ok(s) => {
                        name.clear();
                        name.push_str(s);
                    }
                    Err(_) => return Err((at, format!("feature name is not UTF-8: {:?}", String::from_utf8_lossy(key)))),
                }
            }
            (2, WIRE_LEN) => {
                let (value, at) = c.bytes()?;
                decode_feature(value, at, &mut feature, &mut spare)?;
            }
            (1 | 2, w) => return c.err(format!("map entry field has wire type {w}, expected 2")),
            (_, w) => c.skip(w)?,
        }
    }
    match feature {
        Some(f) => Ok((name, f)),
        // TensorFlow treats a Feature with no list as empty of any type; we cannot give it a
        // type, so say so rather than guess.
        None => Err((base, format!("feature {name:?} has no value list (Feature.kind is not set)"))),
    }
}

/// An empty list of the kind `field` (1 bytes, 2 float, 3 int64), reusing `spare`'s
/// allocation when it is of that kind.
fn empty_list(field: u64, spare: &mut Option<Feature>) -> Feature {
    match (field, spare.take()) {
        (1, Some(Feature::Bytes(mut v))) => {
            v.clear();
            Feature::Bytes(v)
        }
        (2, Some(Feature::Float(mut v))) => {
            v.clear();
            Feature::Float(v)
        }
        (3, Some(Feature::Int64(mut v))) => {
            v.clear();
            Feature::Int64(v)
        }
        (field, other) => {
            *spare = other;
            match field {
                1 => Feature::Bytes(Vec::new()),
                2 => Feature::Float(Vec::new()),
                _ => Feature::Int64(Vec::new()),
            }
        }
    }
}

/// Decodes a `Feature` message, merging into `slot` as protobuf does: a list of the same kind
/// extends the previous one, a different kind replaces it (oneof).
fn decode_feature(buf: &[u8], base: usize, slot: &mut Option<Feature>, spare: &mut Option<Feature>) -> DecodeResult<()> {
    let mut c = Cursor::new(buf, base);
    while !c.at_end() {
        match c.key()? {
            (field @ 1..=3, WIRE_LEN) => {
                let (list, at) = c.bytes()?;
                let mut cur = match (field, slot.take()) {
                    (1, Some(Feature::Bytes(v))) => Feature::Bytes(v),
                    (2, Some(Feature::Float(v))) => Feature::Float(v),
                    (3, Some(Feature::Int64(v))) => Feature::Int64(v),
                    (field, _) => empty_list(field, spare),
                };
                decode_list(list, at, &mut cur)?;
                *slot = Some(cur);
            }
            (1..=3, w) => return c.err(format!("Feature list has wire type {w}, expected 2")),
            (_, w) => c.skip(w)?,
        }
    }
    Ok(())
}

/// Appends the varints of a packed field to `v`.
fn decode_packed_varints(packed: &[u8], at: usize, v: &mut Vec<i64>) -> DecodeResult<()> {
    // Every varint ends in exactly one byte < 0x80, so this counts the values.
    v.reserve(packed.iter().filter(|&&b| b < 0x80).count());
    let mut i = 0;
    while i < packed.len() {
        let start = i;
        let mut b = packed[i];
        let mut value = u64::from(b & 0x7f);
        let mut shift = 0;
        i += 1;
        while b >= 0x80 {
            shift += 7;
            match packed.get(i) {
                // The 10th byte may only hold the top bit of a u64.
                Some(&next) if shift < 63 || (shift == 63 && next <= 1) => b = next,
                Some(_) => return Err((at + start, "varint longer than 64 bits in a packed int64 list".into())),
                None => return Err((at + start, "truncated varint at the end of a packed int64 list".into())),
            }
            value |= u64::from(b & 0x7f) << shift;
            i += 1;
        }
        v.push(value as i64);
    }
    Ok(())
}

fn decode_list(buf: &[u8], base: usize, feature: &mut Feature) -> DecodeResult<()> {
    let mut c = Cursor::new(buf, base);
    while !c.at_end() {
        let (field, wire) = c.key()?;
        if field != 1 {
            c.skip(wire)?;
            continue;
        }
        match (feature as &mut Feature, wire) {
            (Feature::Int64(v), WIRE_LEN) => {
                let (packed, at) = c.bytes()?;
                decode_packed_varints(packed, at, v)?;
            }
            (Feature::Int64(v), WIRE_VARINT) => v.push(c.varint()? as i64),
            (Feature::Float(v), WIRE_LEN) => {
                let (packed, at) = c.bytes()?;
                if packed.len() % 4 != 0 {
                    return Err((at, format!("packed float list of {} bytes is not a multiple of 4", packed.len())));
                }
                v.extend(packed.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            }
            (Feature::Float(v), WIRE_FIXED32) => v.push(f32::from_le_bytes(c.fixed::<4>()?)),
            (Feature::Bytes(v), WIRE_LEN) => v.push(c.bytes()?.0.to_vec()),
            (f, w) => return c.err(format!("{} list value has wire type {w}", f.kind_name())),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

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
    #[allow(clippy::manual_rotate)] // spelled as the spec (and TensorFlow) write the mask
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
    fn example_round_trip() {
        let ids = [2i64, 13, 0, -1, i64::MIN, i64::MAX, 300];
        let w = [1.0f32, 0.0, -2.5, f32::MAX];
        let b: [&[u8]; 3] = [b"", b"abc", &[0xff, 0x00]];
        let features = [
            ("input_ids", FeatureValues::Int64(&ids)),
            ("empty_int", FeatureValues::Int64(&[])),
            ("masked_lm_weights", FeatureValues::Float(&w)),
            ("empty_float", FeatureValues::Float(&[])),
            ("bytes", FeatureValues::Bytes(&b)),
            ("empty_bytes", FeatureValues::Bytes(&[])),
            ("", FeatureValues::Int64(&[1])),
        ];
        let mut out = vec![9, 9, 9];
        encode_example(&features, &mut out);
        let decoded = decode_example(&out).unwrap();
        let expect: Vec<(String, Feature)> = vec![
            ("input_ids".into(), Feature::Int64(ids.to_vec())),
            ("empty_int".into(), Feature::Int64(vec![])),
            ("masked_lm_weights".into(), Feature::Float(w.to_vec())),
            ("empty_float".into(), Feature::Float(vec![])),
            ("bytes".into(), Feature::Bytes(b.iter().map(|x| x.to_vec()).collect())),
            ("empty_bytes".into(), Feature::Bytes(vec![])),
            ("".into(), Feature::Int64(vec![1])),
        ];
        assert_eq!(decoded, expect);
        // Re-encoding the decoded features gives the same bytes.
        let mut scratch: Vec<Vec<&[u8]>> = vec![Vec::new(); decoded.len()];
        let borrowed: Vec<(&str, FeatureValues)> = decoded
            .iter()
            .zip(scratch.iter_mut())
            .map(|((n, f), s)| (n.as_str(), f.as_borrowed(s)))
            .collect();
        let mut again = Vec::new();
        encode_example(&borrowed, &mut again);
        assert_eq!(again, out);
    }

    #[test]
    fn example_bytes_match_protobuf_serialization() {
        // tf.train.Example(features=tf.train.Features(feature={"a": Feature(int64_list=
        // Int64List(value=[1, -1])), "f": Feature(float_list=FloatList(value=[1.0]))}))
        // .SerializeToString(), written out by hand from the protobuf wire format.
        let mut out = Vec::new();
        encode_example(&[("a", FeatureValues::Int64(&[1, -1])), ("f", FeatureValues::Float(&[1.0]))], &mut out);
        let neg1 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut a_entry = vec![0x0a, 0x01, b'a', 0x12, 0x0f, 0x1a, 0x0d, 0x0a, 0x0b, 0x01];
        a_entry.extend_from_slice(&neg1);
        let f_entry = vec![0x0a, 0x01, b'f', 0x12, 0x08, 0x12, 0x06, 0x0a, 0x04, 0x00, 0x00, 0x80, 0x3f];
        let mut features = vec![0x0a, a_entry.len() as u8];
        features.extend_from_slice(&a_entry);
        features.push(0x0a);
        features.push(f_entry.len() as u8);
        features.extend_from_slice(&f_entry);
        let mut expect = vec![0x0a, features.len() as u8];
        expect.extend_from_slice(&features);
        assert_eq!(out, expect);
    }

    #[test]
    fn decoder_accepts_unpacked_and_merged_fields() {
        // Feature "x": int64_list with unpacked values 5 and 300 then a packed [7];
        // feature "y": float_list with an unpacked 2.0; an unknown field 9 (varint) in Example.
        let int_list = [0x08, 0x05, 0x08, 0xac, 0x02, 0x0a, 0x01, 0x07];
        let mut x_feature = vec![0x1a, int_list.len() as u8];
        x_feature.extend_from_slice(&int_list);
        let mut x_entry = vec![0x0a, 0x01, b'x', 0x12, x_feature.len() as u8];
        x_entry.extend_from_slice(&x_feature);
        let y_entry = [0x0a, 0x01, b'y', 0x12, 0x07, 0x12, 0x05, 0x0d, 0x00, 0x00, 0x00, 0x40];
        let mut features = vec![0x0a, x_entry.len() as u8];
        features.extend_from_slice(&x_entry);
        features.push(0x0a);
        features.push(y_entry.len() as u8);
        features.extend_from_slice(&y_entry);
        let mut ex = vec![0x48, 0x01, 0x0a, features.len() as u8];
        ex.extend_from_slice(&features);
        let decoded = decode_example(&ex).unwrap();
        assert_eq!(
            decoded,
            vec![("x".to_string(), Feature::Int64(vec![5, 300, 7])), ("y".to_string(), Feature::Float(vec![2.0]))]
        );
    }

    #[test]
    fn narrow_padded_values_encode_as_the_padded_int64_list() {
        let cases: &[(&[u32], usize)] = &[(&[], 0), (&[], 3), (&[0, 1, 127, 128, 30_000, u32::MAX], 6), (&[5, 300], 9), (&[7, 8, 9], 2)];
        for &(values, len) in cases {
            let mut wide: Vec<i64> = values.iter().map(|&x| i64::from(x)).collect();
            wide.resize(len.max(values.len()), 0);
            let bytes: Vec<u8> = values.iter().map(|&x| x as u8).collect();
            let mut wide8: Vec<i64> = bytes.iter().map(|&x| i64::from(x)).collect();
            wide8.resize(len.max(values.len()), 0);
            let (mut want, mut got) = (Vec::new(), Vec::new());
            encode_example(&[("a", FeatureValues::Int64(&wide)), ("b", FeatureValues::Int64(&wide8))], &mut want);
            encode_example(
                &[("a", FeatureValues::UInt32 { values, len }), ("b", FeatureValues::UInt8 { values: &bytes, len })],
                &mut got,
            );
            assert_eq!(got, want, "{values:?} padded to {len}");
        }
    }

    #[test]
    fn malformed_examples_give_clear_errors() {
        let mut good = Vec::new();
        encode_example(&[("input_ids", FeatureValues::Int64(&[1, 2, 3]))], &mut good);
        for cut in 1..good.len() {
            let err = decode_example(&good[..cut]).unwrap_err().to_string();
            assert!(err.starts_with("malformed tf.train.Example at byte"), "{err}");
        }
        let err = decode_example(&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]).unwrap_err().to_string();
        assert!(err.contains("no value list") || err.contains("UTF-8"), "{err}");
        let err = decode_example(b"\x0b").unwrap_err().to_string();
        assert!(err.contains("wire type"), "{err}");
        let err = decode_example(&[0xff; 12]).unwrap_err().to_string();
        assert!(err.contains("varint"), "{err}");
        // An empty message is a valid, empty Example.
        assert!(decode_example(b"").unwrap().is_empty());
    }

    #[test]
    fn decode_into_reuses_and_resets() {
        let mut a = Vec::new();
        encode_example(&[("x", FeatureValues::Int64(&[1, 2, 3])), ("y", FeatureValues::Float(&[1.5]))], &mut a);
        let mut b = Vec::new();
        encode_example(&[("y", FeatureValues::Int64(&[-7])), ("z", FeatureValues::Bytes(&[b"q"]))], &mut b);
        let mut out = Vec::new();
        for bytes in [&a, &b, &a, &b] {
            decode_example_into(bytes, &mut out).unwrap();
            assert_eq!(out, decode_example(bytes).unwrap());
        }
        assert!(decode_example_into(&b[..b.len() - 1], &mut out).is_err());
        assert!(out.is_empty());
        // Packed varints of every length, including the 10-byte ones of negative values.
        let vals = [0i64, 1, 127, 128, 300, 1 << 40, -1, i64::MIN, i64::MAX];
        encode_example(&[("v", FeatureValues::Int64(&vals))], &mut a);
        assert_eq!(decode_example(&a).unwrap()[0].1, Feature::Int64(vals.to_vec()));
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

    #[test]
    fn repeated_map_key_keeps_the_last_value() {
        let mut a = Vec::new();
        encode_example(&[("k", FeatureValues::Int64(&[1])), ("j", FeatureValues::Int64(&[2]))], &mut a);
        let mut b = Vec::new();
        encode_example(&[("k", FeatureValues::Float(&[3.0]))], &mut b);
        // Two Example.features fields merge; "k" appears twice.
        a.extend_from_slice(&b);
        assert_eq!(
            decode_example(&a).unwrap(),
            vec![("k".to_string(), Feature::Float(vec![3.0])), ("j".to_string(), Feature::Int64(vec![2]))]
        );
    }

    #[test]
    fn many_features_round_trip() {
        let names: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
        let vals: Vec<Vec<i64>> = (0..40).map(|i| (0..i).map(|x| x * 1000 - 7).collect()).collect();
        let features: Vec<(&str, FeatureValues)> =
            names.iter().zip(&vals).map(|(n, v)| (n.as_str(), FeatureValues::Int64(v))).collect();
        let mut out = Vec::new();
        encode_example(&features, &mut out);
        let back = decode_example(&out).unwrap();
        assert_eq!(back.len(), 40);
        for ((n, f), (en, ev)) in back.iter().zip(names.iter().zip(&vals)) {
            assert_eq!((n, f), (en, &Feature::Int64(ev.clone())));
        }
    }

    #[test]
    fn varint_lengths() {
        let mut all = vec![0u64, 1, 127, 128, 16383, 16384, u64::MAX, (-1i64) as u64];
        all.extend((0..64).flat_map(|b| [1u64 << b, (1u64 << b) - 1, (1u64 << b) + 1]));
        for v in all {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut c = Cursor::new(&out, 0);
            assert_eq!(c.varint().unwrap(), v);
        }
    }
}
