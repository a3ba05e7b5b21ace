//! Parquet files and Arrow IPC files/streams (what Hugging Face `datasets` writes with
//! `save_to_disk`, and how published corpora ship as Parquet shards) as corpus input: the text
//! of one string column, row by row, streamed a record batch at a time (bounded memory: one
//! batch of at most [`BATCH_ROWS`] rows and the pages behind it).
//!
//! Read with the `parquet` and `arrow-ipc` crates rather than pyarrow feeding Rust from Python:
//! the reader then lives where every other input is read ([`super::documents`]), runs without
//! the GIL, and needs no Python dependency (pyarrow and `datasets` are only needed to write
//! such files).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray, StructArray};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use super::remote;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Rows per record batch read.
pub const BATCH_ROWS: usize = 256;

/// A columnar input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnarFormat {
    Parquet,
    /// Arrow IPC file (`ARROW1` magic; `.arrow`/`.feather`).
    ArrowFile,
    /// Arrow IPC stream (`datasets`' `data-NNNNN-of-NNNNN.arrow`).
    ArrowStream,
}

impl ColumnarFormat {
    /// By content (magic bytes), else by extension (`.parquet`, `.arrow`, `.feather`, `.ipc`):
    /// `None` for anything else. A file too short for its magic is not columnar. A URL is
    /// looked into only when its name is columnar (one request less per text object).
    pub fn of(path: &Path) -> Option<ColumnarFormat> {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let columnar_name = matches!(ext.as_str(), "parquet" | "arrow" | "feather" | "ipc" | "arrows");
        let mut head = [0u8; 8];
        let n = if remote::is_url(path) {
            if !columnar_name {
                return None;
            }
            remote::open(path, 0).and_then(|mut r| read_up_to(&mut r, &mut head)).unwrap_or(0)
        } else {
            File::open(path).and_then(|mut f| read_up_to(&mut f, &mut head)).unwrap_or(0)
        };
        let head = &head[..n];
        if head.starts_with(b"PAR1") {
            Some(ColumnarFormat::Parquet)
        } else if head.starts_with(b"ARROW1") {
            Some(ColumnarFormat::ArrowFile)
        } else if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) && matches!(ext.as_str(), "arrow" | "ipc" | "arrows" | "feather") {
            Some(ColumnarFormat::ArrowStream)
        } else if columnar_name && n > 0 {
            // Named like a columnar file but not one: the reader's error says why.
            Some(if ext == "parquet" { ColumnarFormat::Parquet } else { ColumnarFormat::ArrowStream })
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnarFormat::Parquet => "Parquet",
            ColumnarFormat::ArrowFile => "Arrow IPC file",
            ColumnarFormat::ArrowStream => "Arrow IPC stream",
        }
    }
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>> + Send>;

/// The text of one column of a columnar file, row by row.
pub struct RowReader {
    path: PathBuf,
    format: ColumnarFormat,
    /// The column's path: the top-level field, then struct fields.
    column: Vec<String>,
    batches: Batches,
    batch: Option<ArrayRef>,
    row_in_batch: usize,
    /// Rows yielded so far.
    rows: u64,
    /// Rows in the file, when the format says (Parquet), for progress.
    total_rows: Option<u64>,
    file_bytes: u64,
    progress: Option<Arc<Progress>>,
    reported_bytes: u64,
}

impl RowReader {
    /// Opens `path` to read `column` (dots reach into struct columns: `meta.text`). A missing
    /// column, or one that holds no strings, is an error naming the file and listing the
    /// string columns there are.
    pub fn open(path: &Path, format: ColumnarFormat, column: &str, progress: Option<Arc<Progress>>) -> Result<RowReader> {
        let column: Vec<String> = column.split('.').map(str::to_string).collect();
        let bad = |e: &dyn std::fmt::Display| Error::InvalidInput(format!("{}: not a readable {} file: {e}", path.display(), format.name()));
        let url = remote::is_url(path);
        let open = || File::open(path).map_err(|e| Error::io(path, e));
        let file_bytes = if url { remote::size(path) } else { std::fs::metadata(path).map(|m| m.len()) }.map_err(|e| Error::io(path, e))?;
        let (schema, batches, total_rows): (Arc<Schema>, Batches, Option<u64>) = match format {
            ColumnarFormat::Parquet if url => parquet_batches(RemoteObject { path: path.to_path_buf(), len: file_bytes }, path, &column)?,
            ColumnarFormat::Parquet => parquet_batches(open()?, path, &column)?,
            ColumnarFormat::ArrowFile | ColumnarFormat::ArrowStream => {
                // The schema comes first; the reader is opened again with only the column.
                let reopen = || -> Result<Box<dyn SeekRead>> {
                    Ok(if url { Box::new(RemoteCursor::new(path, file_bytes)) } else { Box::new(open()?) })
                };
                let schema = ipc_reader(reopen()?, format, None).map_err(|e| bad(&e))?.1;
                check_column(path, &schema, &column)?;
                let index = schema.index_of(&column[0]).map_err(|e| bad(&e))?;
                (schema, ipc_reader(reopen()?, format, Some(vec![index])).map_err(|e| bad(&e))?.0, None)
            }
        };
        drop(schema);
        Ok(RowReader {
            path: path.to_path_buf(),
            format,
            column,
            batches,
            batch: None,
            row_in_batch: 0,
            rows: 0,
            total_rows,
            file_bytes,
            progress,
            reported_bytes: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The column of one batch, reached through its struct fields.
    fn column_of(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let mut array = batch
            .column_by_name(&self.column[0])
            .or_else(|| (batch.num_columns() == 1).then(|| batch.column(0)))
            .cloned()
            .ok_or_else(|| Error::InvalidInput(format!("{}: a record batch lacks column {:?}", self.path.display(), self.column[0])))?;
        for name in &self.column[1..] {
            let inner = array.as_any().downcast_ref::<StructArray>().and_then(|s| s.column_by_name(name)).cloned();
            array = inner.ok_or_else(|| Error::InvalidInput(format!("{}: no field {name:?} in a record batch", self.path.display())))?;
        }
        Ok(array)
    }

    fn report_progress(&mut self, done: bool) {
        let Some(p) = &self.progress else { return };
        let bytes = if done {
            self.file_bytes
        } else {
            match self.total_rows {
                Some(total) if total > 0 => self.file_bytes * self.rows.min(total) / total,
                _ => self.reported_bytes,
            }
        };
        if bytes > self.reported_bytes {
            Progress::add(&p.bytes_read, bytes - self.reported_bytes);
            self.reported_bytes = bytes;
        }
    }

    /// The next row's text: `Some(None)` for a null.
    pub fn next_row(&mut self) -> Option<Result<Option<String>>> {
        loop {
            if let Some(array) = &self.batch {
                if self.row_in_batch < array.len() {
                    let i = self.row_in_batch;
                    self.row_in_batch += 1;
                    self.rows += 1;
                    return Some(Ok(string_at(array, i)));
                }
                self.batch = None;
                self.report_progress(false);
                if let Some(p) = &self.progress {
                    if let Err(e) = p.check() {
                        return Some(Err(e));
                    }
                }
            }
            match self.batches.next() {
                None => {
                    self.report_progress(true);
                    return None;
                }
                Some(Err(e)) => {
                    return Some(Err(Error::InvalidInput(format!(
                        "{}: corrupt {} data after row {}: {e}",
                        self.path.display(),
                        self.format.name(),
                        self.rows
                    ))))
                }
                Some(Ok(batch)) => match self.column_of(&batch) {
                    Ok(array) => {
                        self.batch = Some(array);
                        self.row_in_batch = 0;
                    }
                    Err(e) => return Some(Err(e)),
                },
            }
        }
    }
}

fn ipc_reader(file: Box<dyn SeekRead>, format: ColumnarFormat, projection: Option<Vec<usize>>) -> std::result::Result<(Batches, Arc<Schema>), arrow_schema::ArrowError> {
    Ok(match format {
        ColumnarFormat::ArrowFile => {
            let r = arrow_ipc::reader::FileReader::try_new(BufReader::new(file), projection)?;
            let schema = r.schema();
            (Box::new(r), schema)
        }
        _ => {
            let r = arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), projection)?;
            let schema = r.schema();
            (Box::new(r), schema)
        }
    })
}

/// The record batches of `column` of a Parquet file (local or in a bucket), with the file's
/// schema and row count.
fn parquet_batches<T: ChunkReader + 'static>(input: T, path: &Path, column: &[String]) -> Result<(Arc<Schema>, Batches, Option<u64>)> {
    let bad = |e: &dyn std::fmt::Display| Error::InvalidInput(format!("{}: not a readable Parquet file: {e}", path.display()));
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| bad(&e))?;
    let schema = builder.schema().clone();
    check_column(path, &schema, column)?;
    let parquet_schema = builder.parquet_schema();
    let wanted = column.join(".");
    let leaves: Vec<usize> = (0..parquet_schema.num_columns()).filter(|&i| parquet_schema.column(i).path().string() == wanted).collect();
    let mask = ProjectionMask::leaves(parquet_schema, leaves);
    let total = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let reader = builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| bad(&e))?;
    Ok((schema, Box::new(reader), Some(total)))
}

/// What an Arrow IPC reader reads from: a local file or an object in a bucket.
trait SeekRead: Read + Seek + Send {}
impl<T: Read + Seek + Send> SeekRead for T {}

/// An object in a bucket as Parquet's reader needs it: each chunk (the footer, then the
/// column's pages) one ranged read, so only the column asked for is fetched.
struct RemoteObject {
    path: PathBuf,
    len: u64,
}

impl Length for RemoteObject {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for RemoteObject {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(remote::open(&self.path, start)?)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut buf = Vec::with_capacity(length);
        remote::open(&self.path, start)?.take(length as u64).read_to_end(&mut buf)?;
        if buf.len() != length {
            return Err(ParquetError::EOF(format!("{} bytes at offset {start}, the object has {}", length, self.len)));
        }
        Ok(buf.into())
    }
}

/// An object in a bucket read as a seekable file (an Arrow IPC file's footer first): a seek
/// ends the current ranged read, the next read starts one at the new position.
struct RemoteCursor {
    path: PathBuf,
    len: u64,
    pos: u64,
    reader: Option<Box<dyn Read + Send>>,
}

impl RemoteCursor {
    fn new(path: &Path, len: u64) -> RemoteCursor {
        RemoteCursor { path: path.to_path_buf(), len, pos: 0, reader: None }
    }
}

impl Read for RemoteCursor {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = match &mut self.reader {
            Some(r) => r,
            None => self.reader.insert(remote::open(&self.path, self.pos)?),
        };
        let n = reader.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteCursor {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the object"))?;
        if pos != self.pos {
            self.reader = None;
            self.pos = pos;
        }
        Ok(pos)
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The string columns of a schema, dotted through structs.
fn string_columns(fields: &arrow_schema::Fields, prefix: &str, out: &mut Vec<String>) {
    for f in fields.iter() {
        let name = format!("{prefix}{}", f.name());
        match f.data_type() {
            t if is_string(t) => out.push(name),
            DataType::Struct(inner) => string_columns(inner, &format!("{name}."), out),
            _ => {}
        }
    }
}

fn check_column(path: &Path, schema: &Schema, column: &[String]) -> Result<()> {
    let mut fields = schema.fields().clone();
    let mut found: Option<DataType> = None;
    for (i, name) in column.iter().enumerate() {
        let Some(f) = fields.iter().find(|f| f.name() == name).cloned() else {
            found = None;
            break;
        };
        if i + 1 < column.len() {
            match f.data_type() {
                DataType::Struct(inner) => fields = inner.clone(),
                _ => break,
            }
        } else {
            found = Some(f.data_type().clone());
        }
    }
    let mut strings = Vec::new();
    string_columns(schema.fields(), "", &mut strings);
    let have = if strings.is_empty() { "none".to_string() } else { strings.join(", ") };
    match found {
        Some(t) if is_string(&t) => Ok(()),
        Some(t) => Err(Error::InvalidInput(format!(
            "{}: column {:?} holds {t}, not text; string columns: {have} (choose one with --text-column)",
            path.display(),
            column.join(".")
        ))),
        None => Err(Error::InvalidInput(format!(
            "{}: no column {:?}; string columns: {have} (choose one with --text-column)",
            path.display(),
            column.join(".")
        ))),
    }
}

fn string_at(array: &ArrayRef, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        Some(a.value(i).to_string())
    } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        Some(a.value(i).to_string())
    } else {
        any.downcast_ref::<StringViewArray>().map(|a| a.value(i).to_string())
    }
}

/// The data files of a Hugging Face `datasets` directory written by `save_to_disk`
/// (`state.json` lists them), or `None` when `dir` is not one. A `DatasetDict` directory
/// (`dataset_dict.json`) is refused with the splits to choose from: training on every split
/// would mix the test split into the corpus.
pub fn dataset_dir_files(dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))
    };
    let dict = if dir.join("dataset_dict.json").is_file() { Some(read("dataset_dict.json")?) } else { None };
    let state = if dir.join("state.json").is_file() && dir.join("dataset_info.json").is_file() { Some(read("state.json")?) } else { None };
    let Some(names) = dataset_files(&dir.display().to_string(), dict.as_deref(), state.as_deref())? else { return Ok(None) };
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(name);
            if path.is_file() { Ok(path) } else { Err(Error::NotFound(path)) }
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// What a directory's `dataset_dict.json` and `state.json` (their texts; `state` only when
/// `dataset_info.json` is there too) make of it: the data file names of a `datasets`
/// `save_to_disk` directory, or `None` when it is not one. One rule for local directories
/// ([`dataset_dir_files`]) and those in a bucket (`python/albert_fast/storage.py`).
pub fn dataset_files(dir: &str, dataset_dict: Option<&str>, state: Option<&str>) -> Result<Option<Vec<String>>> {
    if let Some(dict) = dataset_dict {
        let splits = serde_json::from_str::<serde_json::Value>(dict)
            .ok()
            .and_then(|v| v.get("splits").and_then(|s| s.as_array()).cloned())
            .unwrap_or_default();
        let names: Vec<String> = splits.iter().filter_map(|s| s.as_str()).map(|s| format!("{}/{s}", dir.trim_end_matches('/'))).collect();
        return Err(Error::InvalidInput(format!(
            "{dir}: a datasets DatasetDict with splits; give the split to read: {}",
            if names.is_empty() { "(none listed)".into() } else { names.join(", ") }
        )));
    }
    let Some(text) = state else { return Ok(None) };
    let state = format!("{}/state.json", dir.trim_end_matches('/'));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::InvalidInput(format!("{state}: invalid JSON: {e}")))?;
    let files = value
        .get("_data_files")
        .and_then(|v| v.as_array())
        .ok_or_else(|| Error::InvalidInput(format!("{state}: no _data_files list (not a datasets save_to_disk directory?)")))?;
    files
        .iter()
        .map(|f| {
            f.get("filename")
                .and_then(|n| n.as_str())
                .filter(|n| !n.contains('/') && !n.contains(".."))
                .map(str::to_string)
                .ok_or_else(|| Error::InvalidInput(format!("{state}: a _data_files entry without a plain filename: {f}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A columnar file's rows as lines: each row's text split at `\n` (a `\r` before it removed),
/// the last line of a row marked. A null is counted and yields nothing; an empty row one blank
/// line. Counts what the layout decision needs (see [`RowLines::rows_look_like_lines`]).
pub struct RowLines {
    rows: RowReader,
    pending: std::collections::VecDeque<String>,
    /// Row index of the lines in `pending`.
    row_of_pending: u64,
    pub stats: super::InputStats,
    pub nulls: u64,
    pub multiline_rows: u64,
    pub blank_rows: u64,
    /// The 1-based number of the row of the last line returned: a row's "line number".
    row_number: u64,
}

impl RowLines {
    pub fn new(rows: RowReader) -> RowLines {
        RowLines {
            rows,
            pending: Default::default(),
            row_of_pending: 0,
            stats: super::InputStats { files: 1, ..Default::default() },
            nulls: 0,
            multiline_rows: 0,
            blank_rows: 0,
            row_number: 0,
        }
    }

    /// The row the next line belongs to (the offset of a [`super::Position`] in such a file).
    pub fn row(&self) -> u64 {
        if self.pending.is_empty() {
            self.rows.rows()
        } else {
            self.row_of_pending
        }
    }

    /// Where [`super::documents`] counts lines, a columnar file counts rows: the 1-based row
    /// of the last line read (messages and `largest_documents` say `file:row`).
    pub fn row_number(&self) -> u64 {
        self.row_number
    }

    /// The next line and whether it ends its row.
    pub fn next_line(&mut self) -> Option<Result<(String, bool)>> {
        while self.pending.is_empty() {
            let row = self.rows.rows();
            match self.rows.next_row()? {
                Err(e) => return Some(Err(e)),
                Ok(None) => self.nulls += 1,
                Ok(Some(text)) => {
                    self.row_of_pending = row;
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    let mut n = 0;
                    for l in text.split('\n') {
                        self.pending.push_back(l.strip_suffix('\r').unwrap_or(l).to_string());
                        n += 1;
                    }
                    self.multiline_rows += (n > 1) as u64;
                    self.blank_rows += super::documents::is_blank(text) as u64;
                }
            }
        }
        let line = self.pending.pop_front()?;
        self.row_number = self.row_of_pending + 1;
        self.stats.lines += 1;
        self.stats.bytes += line.len() as u64 + 1;
        Some(Ok((line, self.pending.is_empty())))
    }

    /// Rows read so far read like the lines of a text file (a `datasets` "text" dataset, one
    /// row per line, blank rows between paragraphs or documents) rather than like documents:
    /// (almost) no row spans several lines, and some rows are blank or each is one sentence.
    pub fn rows_look_like_lines(&self, layout: super::Layout) -> bool {
        let rows = self.rows.rows().saturating_sub(self.nulls).max(1);
        self.multiline_rows * 20 <= rows && (self.blank_rows * 50 >= rows || layout == super::Layout::Sentences)
    }
}
