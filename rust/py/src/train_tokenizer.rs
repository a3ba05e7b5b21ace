//! `_core.sample_sentences` (`albert_fast_core::train_tokenizer`): the SentencePiece training
//! sample, handed over as an iterator, and the normalization it applies.

use std::path::PathBuf;
use std::sync::Mutex;

use albert_fast_core::text::Normalization;
use albert_fast_core::train_tokenizer::{self, SampleOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::PyProgress;

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

/// Draws the SentencePiece training sample; the keyword arguments are the fields of
/// `SampleOptions` (the normalization's flattened in). Returns `(SentenceSample, stats dict)`.
#[pyfunction]
#[pyo3(signature = (files, *, progress=None, **options))]
fn sample_sentences<'py>(
    py: Python<'py>,
    files: Vec<PathBuf>,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<(PySample, Bound<'py, PyAny>)> {
    crate::unicode::ensure(py)?;
    let options: SampleOptions = from_kwargs(py, options)?;
    let progress = progress.map(|p| p.inner.clone());
    let sample = py.detach(|| train_tokenizer::sample_sentences(&files, &options, progress))?;
    let stats = pythonize::pythonize(py, &sample.stats)?;
    Ok((PySample { remaining: Mutex::new(sample.sentences.into_iter()) }, stats))
}

/// The text the data pipeline hands to SentencePiece for `text` (`Normalization::preprocess`:
/// Hugging Face's pipeline when `replace_quotes`, i.e. outside reference_compat).
#[pyfunction]
#[pyo3(signature = (text, *, lowercase, strip_accents, replace_quotes))]
fn normalize_text(py: Python<'_>, text: &str, lowercase: bool, strip_accents: bool, replace_quotes: bool) -> PyResult<String> {
    crate::unicode::ensure(py)?;
    Ok(Normalization { lowercase, strip_accents, replace_quotes }.preprocess(text))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySample>()?;
    m.add_function(wrap_pyfunction!(sample_sentences, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    Ok(())
}
