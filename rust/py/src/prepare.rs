//! Bindings of prepare-corpus (`albert_fast_core::prepare`).

use std::path::PathBuf;
use std::sync::Arc;

use albert_fast_core::corpus::Progress;
use albert_fast_core::prepare::{self, CleanOptions, DocBoundary, PrepareOptions};
use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use albert_fast_core::Error;
use pyo3::prelude::*;

use crate::errors;

/// Live counters of a running prepare-corpus (input bytes read) and its cancel switch; poll it
/// from another Python thread.
#[pyclass(name = "PrepareProgress", module = "albert_fast._core", frozen)]
pub struct PyPrepareProgress {
    inner: Arc<Progress>,
}

#[pymethods]
impl PyPrepareProgress {
    #[new]
    fn new() -> Self {
        PyPrepareProgress { inner: Progress::new() }
    }
    /// Bytes of input read so far (compressed bytes for compressed files).
    fn bytes(&self) -> u64 {
        self.inner.bytes()
    }
    /// Asks the run to stop (it raises KeyboardInterrupt).
    fn cancel(&self) {
        self.inner.cancel()
    }
}

#[allow(clippy::too_many_arguments)]
fn options(
    doc_boundary: &str,
    jsonl_field: String,
    clean: bool,
    nfc: bool,
    remove_control: bool,
    collapse_whitespace: bool,
    min_line_chars: usize,
    dedup: bool,
    shard_size_mb: f64,
    max_document_mb: f64,
) -> PyResult<PrepareOptions> {
    let mb = |name: &str, v: f64| -> PyResult<usize> {
        if v.is_finite() && v > 0.0 {
            Ok(((v * 1048576.0) as usize).max(1))
        } else {
            Err(errors::to_py(Error::invalid_arg(name, format!("{v} is not a positive size in MB"))))
        }
    };
    Ok(PrepareOptions {
        doc_boundary: doc_boundary.parse::<DocBoundary>().map_err(errors::to_py)?,
        jsonl_field,
        clean: CleanOptions { enabled: clean, nfc, remove_control, collapse_whitespace, min_line_chars, dedup },
        shard_bytes: mb("shard_size_mb", shard_size_mb)? as u64,
        max_document_bytes: mb("max_document_mb", max_document_mb)?,
        ..Default::default()
    })
}

fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    if threads == 0 {
        return Ok(f());
    }
    let pool = albert_fast_core::parallel::thread_pool(threads).map_err(errors::to_py)?;
    Ok(pool.install(f))
}

/// Runs prepare-corpus; returns the statistics as a JSON string (also in `OUT/stats.json`).
#[pyfunction]
#[pyo3(signature = (inputs, output, params_dir, *, doc_boundary="auto", jsonl_field="text".to_string(),
    clean=true, nfc=true, remove_control=true, collapse_whitespace=true, min_line_chars=2, dedup=true,
    shard_size_mb=64.0, max_document_mb=64.0, threads=0, progress=None, extra_fingerprint="".to_string(),
    extra_stats="{}".to_string()))]
#[allow(clippy::too_many_arguments)]
fn prepare_corpus(
    py: Python<'_>,
    inputs: Vec<String>,
    output: PathBuf,
    params_dir: PathBuf,
    doc_boundary: &str,
    jsonl_field: String,
    clean: bool,
    nfc: bool,
    remove_control: bool,
    collapse_whitespace: bool,
    min_line_chars: usize,
    dedup: bool,
    shard_size_mb: f64,
    max_document_mb: f64,
    threads: usize,
    progress: Option<PyRef<'_, PyPrepareProgress>>,
    extra_fingerprint: String,
    extra_stats: String,
) -> PyResult<String> {
    let opts = options(doc_boundary, jsonl_field, clean, nfc, remove_control, collapse_whitespace, min_line_chars, dedup, shard_size_mb, max_document_mb)?;
    let extra: serde_json::Value = serde_json::from_str(&extra_stats)
        .map_err(|e| errors::to_py(Error::invalid_arg("extra_stats", e.to_string())))?;
    let progress = progress.map(|p| p.inner.clone());
    let result = py.detach(move || {
        with_threads(threads, move || -> albert_fast_core::Result<serde_json::Value> {
            let params = PunktParameters::load_dir(&params_dir)?;
            let splitter = PunktSentenceTokenizer::new(params);
            prepare::prepare_corpus(&inputs, &output, &splitter, &opts, progress, &extra_fingerprint, extra)
        })
    })?;
    result.map(|v| v.to_string()).map_err(errors::to_py)
}

/// A bounded, deterministic sample of the cleaned input text for Punkt training.
#[pyfunction]
#[pyo3(signature = (inputs, max_bytes, *, doc_boundary="auto", jsonl_field="text".to_string(),
    clean=true, nfc=true, remove_control=true, collapse_whitespace=true, min_line_chars=2))]
#[allow(clippy::too_many_arguments)]
fn sample_text(
    py: Python<'_>,
    inputs: Vec<String>,
    max_bytes: usize,
    doc_boundary: &str,
    jsonl_field: String,
    clean: bool,
    nfc: bool,
    remove_control: bool,
    collapse_whitespace: bool,
    min_line_chars: usize,
) -> PyResult<String> {
    let opts = options(doc_boundary, jsonl_field, clean, nfc, remove_control, collapse_whitespace, min_line_chars, false, 64.0, 64.0)?;
    py.detach(|| prepare::sample_text(&inputs, &opts, max_bytes)).map_err(errors::to_py)
}

/// Writes Punkt parameters given as Python collections in the punkt_tab layout (sorted lines).
#[pyfunction]
fn save_punkt_params(
    py: Python<'_>,
    directory: PathBuf,
    abbrev_types: Vec<String>,
    collocations: Vec<(String, String)>,
    sent_starters: Vec<String>,
    ortho_context: Vec<(String, i64)>,
) -> PyResult<()> {
    let mut p = PunktParameters {
        abbrev_types: abbrev_types.into_iter().collect(),
        sent_starters: sent_starters.into_iter().collect(),
        ortho_context: ortho_context.into_iter().map(|(t, f)| (t, (f & 0x7f) as u32)).collect(),
        ..Default::default()
    };
    for (a, b) in collocations {
        p.add_collocation(&a, &b);
    }
    py.detach(|| p.save_dir(&directory)).map_err(errors::to_py)
}

/// Number and total on-disk size of the files the inputs name (files, directories, globs).
#[pyfunction]
fn prepare_input_size(py: Python<'_>, inputs: Vec<String>) -> PyResult<(usize, u64)> {
    py.detach(|| {
        let files = albert_fast_core::corpus::expand_inputs(&inputs)?;
        Ok((files.len(), albert_fast_core::corpus::total_size(&files)))
    })
    .map_err(errors::to_py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPrepareProgress>()?;
    m.add_function(wrap_pyfunction!(prepare_corpus, m)?)?;
    m.add_function(wrap_pyfunction!(sample_text, m)?)?;
    m.add_function(wrap_pyfunction!(save_punkt_params, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_input_size, m)?)?;
    Ok(())
}
