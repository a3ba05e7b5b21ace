//! Corpus reading for Python (`albert_fast_core::corpus`): input expansion and a line iterator.
//! Every call that touches files releases the GIL.

use std::path::PathBuf;
use std::sync::Mutex;

use albert_fast_core::corpus::{self, LineReader, LineReaderOptions, DEFAULT_MAX_LINE_BYTES};
use pyo3::prelude::*;

use crate::errors::Result;
use crate::progress::PyProgress;

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
    fn __next__(&self, py: Python<'_>) -> Result<Option<String>> {
        let reader = &self.reader;
        Ok(py.detach(|| reader.lock().ok().and_then(|mut r| r.next())).transpose()?)
    }
    /// Reading statistics so far (complete once the iterator is exhausted).
    fn stats<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        let reader = self.reader.lock().map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("reader poisoned"))?;
        Ok(pythonize::pythonize(py, reader.stats())?)
    }
}

/// Opens a text file for line-by-line reading (`.gz`/`.zst`/`.bz2` decompressed).
#[pyfunction]
#[pyo3(signature = (path, max_line_bytes=DEFAULT_MAX_LINE_BYTES, progress=None))]
fn open_lines(py: Python<'_>, path: PathBuf, max_line_bytes: usize, progress: Option<PyRef<'_, PyProgress>>) -> Result<PyLineIterator> {
    let options = LineReaderOptions { max_line_bytes, progress: progress.map(|p| p.inner.clone()), ..Default::default() };
    let reader = py.detach(|| LineReader::open_with(&path, options))?;
    Ok(PyLineIterator { reader: Mutex::new(reader) })
}

/// Files named by the user (files, directories, globs), sorted and de-duplicated, plus the
/// number of hidden entries skipped. Paths come back as `str` (a URL stays one; `pathlib`
/// would fold its `//`).
#[pyfunction]
fn expand_inputs(py: Python<'_>, inputs: Vec<String>) -> Result<(Vec<String>, u64)> {
    let set = py.detach(|| corpus::expand_inputs_detailed(&inputs))?;
    Ok((crate::options::path_strings(&set.files), set.skipped_hidden))
}

/// The layout of text inputs from the heads of up to `max_files` files (see
/// `corpus::profile_inputs`): a dict with `layout`, its description, the measures, and
/// `sample`, the first lines (up to `sample_bytes`, a blank line after each file).
#[pyfunction]
#[pyo3(signature = (inputs, max_files=8, sample_bytes=262144))]
fn profile_text<'py>(py: Python<'py>, inputs: Vec<String>, max_files: usize, sample_bytes: usize) -> Result<Bound<'py, PyAny>> {
    let (profile, sample, files) = py.detach(|| -> albert_fast_core::error::Result<_> {
        let files = corpus::expand_inputs(&inputs)?;
        let (profile, sample) = corpus::profile_inputs(&files, max_files, sample_bytes, &LineReaderOptions::default())?;
        Ok((profile, sample, files.len()))
    })?;
    let layout = profile.layout();
    let value = serde_json::json!({
        "layout": layout,
        "description": layout.describe(),
        "summary": profile.summary(),
        "files": files,
        "sample": sample,
    });
    Ok(pythonize::pythonize(py, &value)?)
}

/// True when the directory holds a prepare-corpus run's output, finished or not.
#[pyfunction]
fn prepared_output_exists(directory: PathBuf) -> bool {
    corpus::prepared::holds_prepared_output(&directory)
}

/// True for a shard name of a prepare-corpus output (`corpus-NNNNN.txt`).
#[pyfunction]
fn is_prepared_shard_name(name: &str) -> bool {
    corpus::prepared::is_shard_file(std::path::Path::new(name))
}

/// The data file names of a `datasets` save_to_disk directory from its `dataset_dict.json`
/// and `state.json` texts, or `None` when it is not one (a directory in a bucket).
#[pyfunction]
#[pyo3(signature = (directory, dataset_dict=None, state=None))]
fn dataset_files(directory: &str, dataset_dict: Option<&str>, state: Option<&str>) -> Result<Option<Vec<String>>> {
    Ok(corpus::columnar::dataset_files(directory, dataset_dict, state)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("PREPARED_STATS_FILE", corpus::prepared::STATS_FILE)?;
    m.add("PREPARED_STATE_FILE", corpus::prepared::STATE_FILE)?;
    m.add_function(wrap_pyfunction!(is_prepared_shard_name, m)?)?;
    m.add_function(wrap_pyfunction!(dataset_files, m)?)?;
    m.add_class::<PyLineIterator>()?;
    m.add_function(wrap_pyfunction!(open_lines, m)?)?;
    m.add_function(wrap_pyfunction!(expand_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(prepared_output_exists, m)?)?;
    m.add_function(wrap_pyfunction!(profile_text, m)?)?;
    Ok(())
}
