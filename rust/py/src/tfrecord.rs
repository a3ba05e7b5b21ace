//! Python face of `albert_fast_core::tfrecord` and `dataset_stats`: a record reader that Python
//! iterates (GIL released while reading and decompressing), an atomic record writer, and
//! `tf.train.Example` encode/decode.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use albert_fast_core::atomic::AtomicFile;
use albert_fast_core::dataset_stats::{DatasetStats, DEFAULT_MASK_ID};
use albert_fast_core::tfrecord::{self as core, Compression, Feature, FeatureValues};
use albert_fast_core::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::errors::Result;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Iterates over the records (as `bytes`) of one TFRecord file, verifying both checksums of
/// each. `compression` is "auto" (default: detected from the content), "none" or "gzip".
/// A truncated or corrupt file raises `InputError` naming the path and the byte offset.
#[pyclass(module = "albert_fast._core", name = "RecordReader", frozen)]
pub struct PyRecordReader {
    reader: Mutex<core::RecordReader>,
    path: PathBuf,
}

#[pymethods]
impl PyRecordReader {
    #[new]
    #[pyo3(signature = (path, compression = None))]
    fn new(py: Python<'_>, path: PathBuf, compression: Option<&str>) -> Result<Self> {
        let compression = compression.map(Compression::parse_or_auto).transpose()?.flatten();
        let reader = py.detach(|| core::RecordReader::open_with(&path, compression))?;
        Ok(PyRecordReader { reader: Mutex::new(reader), path })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> Result<Option<Bound<'py, PyBytes>>> {
        // The lock is taken after the GIL is released, so a second thread using this reader
        // waits without holding the GIL (no deadlock).
        let mut buf = Vec::new();
        let more = py.detach(|| lock(&self.reader).read_next(&mut buf))?;
        Ok(more.then(|| PyBytes::new(py, &buf)))
    }

    /// The file being read.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Records read and verified so far.
    #[getter]
    fn records_read(&self) -> u64 {
        lock(&self.reader).records_read()
    }

    /// Byte offset of the next record (in the decompressed stream for GZIP files).
    #[getter]
    fn offset(&self) -> u64 {
        lock(&self.reader).offset()
    }

    #[getter]
    fn is_gzip(&self) -> bool {
        lock(&self.reader).is_gzip()
    }

    fn __repr__(&self) -> String {
        format!("RecordReader({:?})", self.path.display().to_string())
    }
}

/// Writes records to `path` atomically: the file appears under its name only after `close()`
/// (or leaving a `with` block without an exception); otherwise nothing is left behind.
#[pyclass(module = "albert_fast._core", name = "RecordWriter", frozen)]
pub struct PyRecordWriter {
    writer: Mutex<Option<core::RecordWriter<AtomicFile>>>,
    path: PathBuf,
    written: AtomicU64,
}

impl PyRecordWriter {
    fn with_writer<T>(&self, f: impl FnOnce(&mut core::RecordWriter<AtomicFile>) -> std::io::Result<T>) -> Result<T> {
        let mut guard = lock(&self.writer);
        let w = guard
            .as_mut()
            .ok_or_else(|| PyValueError::new_err(format!("{}: RecordWriter is closed", self.path.display())))?;
        let out = f(w).map_err(|e| Error::io(&self.path, e))?;
        self.written.store(w.records_written(), Ordering::Relaxed);
        Ok(out)
    }
}

#[pymethods]
impl PyRecordWriter {
    #[new]
    #[pyo3(signature = (path, compression = "none"))]
    fn new(path: PathBuf, compression: &str) -> Result<Self> {
        let compression = Compression::parse(compression)?;
        let file = AtomicFile::create(&path)?;
        Ok(PyRecordWriter {
            writer: Mutex::new(Some(core::RecordWriter::new(file, compression))),
            path,
            written: AtomicU64::new(0),
        })
    }

    /// Writes one record.
    fn write(&self, py: Python<'_>, data: &[u8]) -> Result<()> {
        py.detach(|| self.with_writer(|w| w.write_record(data)))
    }

    /// Encodes `features` (see `encode_example`) and writes them as one record.
    fn write_example(&self, py: Python<'_>, features: &Bound<'_, PyAny>) -> Result<()> {
        let data = encode_py_example(features)?;
        py.detach(|| self.with_writer(|w| w.write_record(&data)))
    }

    /// Records written so far.
    #[getter]
    fn records_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Finishes the file (GZIP trailer, fsync) and moves it to its final name.
    fn close(&self, py: Python<'_>) -> Result<()> {
        let Some(w) = lock(&self.writer).take() else { return Ok(()) };
        py.detach(|| {
            let file = w.finish().map_err(|e| Error::io(&self.path, e))?;
            file.commit()
        })?;
        Ok(())
        
    }

    /// Drops the unfinished file; nothing appears under the final name.
    fn abort(&self) {
        lock(&self.writer).take();
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (exc_type, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match exc_type {
            Some(t) if !t.is_none() => self.abort(),
            _ => self.close(py)?,
        }
        Ok(false)
    }
}

/// An owned copy of one feature's values, ready to borrow as `FeatureValues`.
enum OwnedValues {
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Bytes(Vec<Vec<u8>>),
}

fn extract_values(name: &str, obj: &Bound<'_, PyAny>) -> PyResult<OwnedValues> {
    let kind_error =
        |kind: &str| PyTypeError::new_err(format!("feature {name:?}: unknown kind {kind:?} (expected \"int64\", \"float\" or \"bytes\")"));
    // An explicit ("int64"|"float"|"bytes", values) pair.
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() == 2 {
            if let Ok(kind) = t.get_item(0)?.extract::<String>() {
                let values = t.get_item(1)?;
                let wrong = |e: PyErr| PyTypeError::new_err(format!("feature {name:?}: values are not {kind}: {e}"));
                return match kind.as_str() {
                    "int64" => values.extract::<Vec<i64>>().map(OwnedValues::Int64).map_err(wrong),
                    "float" | "float32" => values.extract::<Vec<f32>>().map(OwnedValues::Float).map_err(wrong),
                    "bytes" => values.extract::<Vec<Vec<u8>>>().map(OwnedValues::Bytes).map_err(wrong),
                    other => Err(kind_error(other)),
                };
            }
        }
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(format!("feature {name:?}: expected a list of values, got a single string")));
    }
    // Inferred: all bytes -> bytes list; all integers -> int64; otherwise float. An empty list
    // is an empty int64 list.
    if let Ok(v) = obj.extract::<Vec<i64>>() {
        return Ok(OwnedValues::Int64(v));
    }
    if let Ok(v) = obj.extract::<Vec<f32>>() {
        return Ok(OwnedValues::Float(v));
    }
    if let Ok(v) = obj.extract::<Vec<Vec<u8>>>() {
        return Ok(OwnedValues::Bytes(v));
    }
    Err(PyTypeError::new_err(format!(
        "feature {name:?}: expected a list of ints, floats or bytes (or a (kind, values) pair), got {}",
        obj.get_type().name()?
    )))
}

fn encode_py_example(features: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let items: Vec<(String, Bound<'_, PyAny>)> = if let Ok(d) = features.cast::<PyDict>() {
        d.iter().map(|(k, v)| Ok((k.extract::<String>()?, v))).collect::<PyResult<_>>()?
    } else {
        features.extract()?
    };
    let owned: Vec<(String, OwnedValues)> =
        items.iter().map(|(n, v)| Ok((n.clone(), extract_values(n, v)?))).collect::<PyResult<_>>()?;
    let byte_refs: Vec<Vec<&[u8]>> = owned
        .iter()
        .map(|(_, v)| match v {
            OwnedValues::Bytes(b) => b.iter().map(|x| x.as_slice()).collect(),
            _ => Vec::new(),
        })
        .collect();
    let borrowed: Vec<(&str, FeatureValues<'_>)> = owned
        .iter()
        .zip(&byte_refs)
        .map(|((n, v), refs)| {
            let fv = match v {
                OwnedValues::Int64(x) => FeatureValues::Int64(x),
                OwnedValues::Float(x) => FeatureValues::Float(x),
                OwnedValues::Bytes(_) => FeatureValues::Bytes(refs),
            };
            (n.as_str(), fv)
        })
        .collect();
    let mut out = Vec::new();
    core::encode_example(&borrowed, &mut out);
    Ok(out)
}

/// Serializes a `tf.train.Example`. `features` is a dict (or list of pairs) name -> values:
/// a list of ints (int64), floats (float) or bytes, or an explicit `(kind, values)` pair with
/// kind "int64", "float" or "bytes" (needed for an empty float or bytes list).
#[pyfunction]
fn encode_example<'py>(py: Python<'py>, features: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = encode_py_example(features)?;
    Ok(PyBytes::new(py, &out))
}

fn feature_to_py<'py>(py: Python<'py>, f: &Feature) -> PyResult<Bound<'py, PyList>> {
    match f {
        Feature::Int64(v) => PyList::new(py, v),
        Feature::Float(v) => PyList::new(py, v.iter().map(|&x| f64::from(x))),
        Feature::Bytes(v) => PyList::new(py, v.iter().map(|b| PyBytes::new(py, b))),
    }
}

/// Parses a serialized `tf.train.Example` into a dict name -> list (ints, floats or bytes), in
/// the order the features are stored. Malformed input raises `InputError`.
#[pyfunction]
fn decode_example<'py>(py: Python<'py>, data: &[u8]) -> Result<Bound<'py, PyDict>> {
    let features = core::decode_example(data)?;
    let d = PyDict::new(py);
    for (name, f) in &features {
        d.set_item(name, feature_to_py(py, f)?)?;
    }
    Ok(d)
}

/// Like `decode_example`, but also returns each feature's kind: dict name -> (kind, list).
#[pyfunction]
fn decode_example_typed<'py>(py: Python<'py>, data: &[u8]) -> Result<Bound<'py, PyDict>> {
    let features = core::decode_example(data)?;
    let d = PyDict::new(py);
    for (name, f) in &features {
        d.set_item(name, (f.kind_name(), feature_to_py(py, f)?))?;
    }
    Ok(d)
}

/// Like `decode_example`, with int64 and float lists as little-endian `bytes` (8 and 4 bytes per
/// value) for zero-copy `numpy.frombuffer`: dict name -> (kind, bytes | list of bytes).
#[pyfunction]
fn decode_example_packed<'py>(py: Python<'py>, data: &[u8]) -> Result<Bound<'py, PyDict>> {
    let features = core::decode_example(data)?;
    let d = PyDict::new(py);
    for (name, f) in &features {
        let value: Bound<'py, PyAny> = match f {
            Feature::Int64(v) => {
                PyBytes::new_with(py, v.len() * 8, |buf| {
                    for (chunk, x) in buf.chunks_exact_mut(8).zip(v) {
                        chunk.copy_from_slice(&x.to_le_bytes());
                    }
                    Ok(())
                })?
                .into_any()
            }
            Feature::Float(v) => {
                PyBytes::new_with(py, v.len() * 4, |buf| {
                    for (chunk, x) in buf.chunks_exact_mut(4).zip(v) {
                        chunk.copy_from_slice(&x.to_le_bytes());
                    }
                    Ok(())
                })?
                .into_any()
            }
            Feature::Bytes(_) => feature_to_py(py, f)?.into_any(),
        };
        d.set_item(name, (f.kind_name(), value))?;
    }
    Ok(d)
}

/// TensorFlow's masked CRC32C of `data`.
#[pyfunction]
fn masked_crc32c(data: &[u8]) -> u32 {
    core::masked_crc32c(data)
}

/// `data` framed as one TFRecord (length, masked CRC of length, data, masked CRC of data).
#[pyfunction]
fn frame_record<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    let mut out = Vec::new();
    core::frame_record(data, &mut out);
    PyBytes::new(py, &out)
}

/// Raw counts and histograms over TFRecord files of ALBERT instances (files read in parallel,
/// GIL released); `albert_fast.records.dataset_stats` turns them into the summary.
#[pyfunction]
#[pyo3(signature = (paths, mask_id = DEFAULT_MASK_ID))]
fn dataset_stats_raw<'py>(py: Python<'py>, paths: Vec<PathBuf>, mask_id: i64) -> Result<Bound<'py, PyAny>> {
    let stats = py.detach(|| DatasetStats::of_files(&paths, mask_id))?;
    Ok(pythonize::pythonize(py, &stats)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecordReader>()?;
    m.add_class::<PyRecordWriter>()?;
    m.add_function(wrap_pyfunction!(encode_example, m)?)?;
    m.add_function(wrap_pyfunction!(decode_example, m)?)?;
    m.add_function(wrap_pyfunction!(decode_example_typed, m)?)?;
    m.add_function(wrap_pyfunction!(decode_example_packed, m)?)?;
    m.add_function(wrap_pyfunction!(masked_crc32c, m)?)?;
    m.add_function(wrap_pyfunction!(frame_record, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_stats_raw, m)?)?;
    Ok(())
}
