//! Bindings of `albert_fast_core::corpus` and `albert_fast_core::sampling`: input expansion, a
//! line iterator, live progress counters and the SentencePiece training sample. Every call that
//! touches files releases the GIL.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use albert_fast_core::corpus::{self, InputStats, LineReader, LineReaderOptions, Progress, DEFAULT_MAX_LINE_BYTES};
use albert_fast_core::sampling::{self, SampleOptions, SampleStats};
use albert_fast_core::text::Normalization;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py;

/// Live counters of a long read (bytes from disk, lines, finished files), readable from another
/// Python thread while the read runs with the GIL released; `cancel()` stops it.
#[pyclass(name = "CorpusProgress", module = "albert_fast._core", frozen)]
pub struct PyProgress {
    inner: Arc<Progress>,
}

#[pymethods]
impl PyProgress {
    #[new]
    fn new() -> Self {
        PyProgress { inner: Progress::new() }
    }
    #[getter]
    fn bytes(&self) -> u64 {
        self.inner.bytes()
    }
    #[getter]
    fn lines(&self) -> u64 {
        self.inner.lines()
    }
    #[getter]
    fn files_done(&self) -> u64 {
        self.inner.files_done()
    }
    fn cancel(&self) {
        self.inner.cancel()
    }
    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

/// The sample drawn for SentencePiece training: an iterator that hands each sentence over once
/// (and frees it), so the trainer's copy and ours do not both stay in memory.
#[pyclass(name = "SentenceSample", module = "albert_fast._core")]
pub struct PySample {
    remaining: Mutex<std::vec::IntoIter<String>>,
}

#[pymethods]
impl PySample {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self) -> Option<String> {
        self.remaining.lock().ok()?.next()
    }
    fn __len__(&self) -> usize {
        self.remaining.lock().map(|it| it.len()).unwrap_or(0)
    }
}

/// A (possibly compressed) text file's lines; see `albert_fast_core::corpus::LineReader`.
#[pyclass(name = "LineIterator", module = "albert_fast._core")]
pub struct PyLineIterator {
    reader: Mutex<LineReader>,
}

#[pymethods]
impl PyLineIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let reader = &self.reader;
        let next = py.detach(|| reader.lock().ok().and_then(|mut r| r.next()));
        match next {
            None => Ok(None),
            Some(Ok(line)) => Ok(Some(line)),
            Some(Err(e)) => Err(to_py(e)),
        }
    }
    /// Reading statistics so far (complete once the iterator is exhausted).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let reader = self.reader.lock().map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("reader poisoned"))?;
        input_stats_dict(py, reader.stats())
    }
}

/// Opens a text file for line-by-line reading (`.gz`/`.zst`/`.bz2` decompressed).
#[pyfunction]
#[pyo3(signature = (path, max_line_bytes=DEFAULT_MAX_LINE_BYTES, progress=None))]
fn open_lines(py: Python<'_>, path: PathBuf, max_line_bytes: usize, progress: Option<PyRef<'_, PyProgress>>) -> PyResult<PyLineIterator> {
    let options = LineReaderOptions { max_line_bytes, progress: progress.map(|p| p.inner.clone()) };
    let reader = py.detach(|| LineReader::open_with(&path, options)).map_err(to_py)?;
    Ok(PyLineIterator { reader: Mutex::new(reader) })
}

/// Files named by the user (files, directories, globs), sorted and de-duplicated, plus the
/// number of hidden entries skipped.
#[pyfunction]
fn expand_inputs(py: Python<'_>, inputs: Vec<String>) -> PyResult<(Vec<PathBuf>, u64)> {
    let set = py.detach(|| corpus::expand_inputs_detailed(&inputs)).map_err(to_py)?;
    Ok((set.files, set.skipped_hidden))
}

/// Total size on disk of the files, for progress bars.
#[pyfunction]
fn total_size(py: Python<'_>, files: Vec<PathBuf>) -> u64 {
    py.detach(|| corpus::total_size(&files))
}

/// Draws the SentencePiece training sample; returns `(SentenceSample, stats dict)`.
#[pyfunction]
#[pyo3(signature = (files, *, lowercase, strip_accents, replace_quotes, max_sentences, shuffle=true, seed=0,
                    max_sentence_bytes=4192, max_line_bytes=DEFAULT_MAX_LINE_BYTES, threads=0, progress=None))]
#[allow(clippy::too_many_arguments)]
fn sample_sentences<'py>(
    py: Python<'py>,
    files: Vec<PathBuf>,
    lowercase: bool,
    strip_accents: bool,
    replace_quotes: bool,
    max_sentences: usize,
    shuffle: bool,
    seed: u64,
    max_sentence_bytes: usize,
    max_line_bytes: usize,
    threads: usize,
    progress: Option<PyRef<'py, PyProgress>>,
) -> PyResult<(PySample, Bound<'py, PyDict>)> {
    let options = SampleOptions {
        normalization: Normalization { lowercase, strip_accents, replace_quotes },
        max_sentences,
        shuffle,
        seed,
        max_sentence_bytes,
        max_line_bytes,
        threads,
    };
    let progress = progress.map(|p| p.inner.clone());
    let sample = py.detach(|| sampling::sample_sentences(&files, &options, progress)).map_err(to_py)?;
    let stats = sample_stats_dict(py, &sample.stats)?;
    Ok((PySample { remaining: Mutex::new(sample.sentences.into_iter()) }, stats))
}

/// The text the data pipeline hands to SentencePiece for `text` (`sampling::training_text`:
/// the normalization of `albert_fast_core::text`, with Hugging Face's per-character lower-casing
/// first when `replace_quotes`, i.e. outside reference_compat).
#[pyfunction]
#[pyo3(signature = (text, *, lowercase, strip_accents, replace_quotes))]
fn normalize_text(text: &str, lowercase: bool, strip_accents: bool, replace_quotes: bool) -> String {
    sampling::training_text(&Normalization { lowercase, strip_accents, replace_quotes }, text)
}

fn input_stats_dict<'py>(py: Python<'py>, s: &InputStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files", s.files)?;
    d.set_item("bytes", s.bytes)?;
    d.set_item("lines", s.lines)?;
    d.set_item("invalid_utf8", s.invalid_utf8)?;
    d.set_item("split_lines", s.split_lines)?;
    d.set_item("skipped_files", s.skipped_files)?;
    Ok(d)
}

fn sample_stats_dict<'py>(py: Python<'py>, s: &SampleStats) -> PyResult<Bound<'py, PyDict>> {
    let d = input_stats_dict(py, &s.input)?;
    d.set_item("blank_lines", s.blank_lines)?;
    d.set_item("too_long", s.too_long)?;
    d.set_item("sampled", s.sampled)?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProgress>()?;
    m.add_class::<PySample>()?;
    m.add_class::<PyLineIterator>()?;
    m.add_function(wrap_pyfunction!(open_lines, m)?)?;
    m.add_function(wrap_pyfunction!(expand_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(total_size, m)?)?;
    m.add_function(wrap_pyfunction!(sample_sentences, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    Ok(())
}
