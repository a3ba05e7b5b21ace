//! `_core.create_data(progress=None, **options)`: `albert_fast_core::create_data` with the GIL
//! released. The public face is `albert_fast.create_pretraining_data` (create_data.py).

use albert_fast_core::create_data::{run_with_model, CreateDataOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::{self, PyProgress};

/// Runs create-data; the keyword arguments are the fields of `CreateDataOptions`. Returns the
/// run's summary (per-shard results, input files, vocabulary size) as a dict.
#[pyfunction]
#[pyo3(signature = (*, progress=None, **options))]
fn create_data<'py>(
    py: Python<'py>,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    crate::unicode::ensure(py)?;
    let options: CreateDataOptions = from_kwargs(py, options)?;
    let progress = progress::of(progress);
    let summary = py.detach(|| run_with_model(&options, &progress))?;
    Ok(pythonize::pythonize(py, &summary)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(create_data, m)?)
}
