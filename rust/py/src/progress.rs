//! `_core.Progress`: the live counters of a long run (`albert_fast_core::progress`), polled from
//! a Python thread while the run holds no GIL; `cancel()` stops the run.

use std::sync::Arc;

use albert_fast_core::progress::Progress;
use pyo3::prelude::*;

use crate::errors::Result;

#[pyclass(name = "Progress", module = "albert_fast._core", frozen)]
pub struct PyProgress {
    pub inner: Arc<Progress>,
}

#[pymethods]
impl PyProgress {
    #[new]
    fn new() -> Self {
        PyProgress { inner: Progress::new() }
    }

    /// The counters now, as a dict (`phase`, `bytes_read`, `bytes_total`, ...).
    fn snapshot<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, &self.inner.snapshot())?)
    }

    /// Asks the run to stop; it then raises KeyboardInterrupt, leaving only finished output.
    fn cancel(&self) {
        self.inner.cancel()
    }

    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

/// The core progress of an optional `progress=` argument (a fresh one when none is given).
pub fn of(progress: Option<PyRef<'_, PyProgress>>) -> Arc<Progress> {
    progress.map(|p| p.inner.clone()).unwrap_or_default()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProgress>()
}
