//! `_core.create_data(progress=None, **options)`: `albert_fast_core::create_data` with the GIL
//! released. The public face is `albert_fast.create_pretraining_data` (create_data.py).

use albert_fast_core::create_data::{run_with_tokenizer, CreateDataOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::{self, PyProgress};
use crate::tokenizer::PyTokenizer;

/// Runs create-data; the keyword arguments are the fields of `CreateDataOptions`, and
/// `tokenizer` optionally a `Tokenizer` loaded from `model_path` with the same encoding (the
/// model is then not loaded again). Returns the run's summary (per-shard results, input files,
/// vocabulary size) as a dict.
#[pyfunction]
#[pyo3(signature = (*, progress=None, tokenizer=None, **options))]
fn create_data<'py>(
    py: Python<'py>,
    progress: Option<PyRef<'py, PyProgress>>,
    tokenizer: Option<PyRef<'py, PyTokenizer>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    crate::unicode::ensure(py)?;
    let options: CreateDataOptions = from_kwargs(py, options)?;
    let progress = progress::of(progress);
    let loaded = tokenizer.as_ref().map(|t| t.core());
    let summary = py.detach(|| run_with_tokenizer(&options, loaded, &progress))?;
    Ok(pythonize::pythonize(py, &summary)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(create_data, m)?)
}
