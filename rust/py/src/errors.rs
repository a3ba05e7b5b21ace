//! Core errors crossing into Python, as polars does it: [`BindingError`] converts from a core
//! error (and from a `PyErr`), and into a `PyErr`, so binding functions return [`Result`] and use
//! `?`. `AlbertFastError` is the base of every exception the core raises.

use albert_fast_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyKeyboardInterrupt};
use pyo3::prelude::*;

create_exception!(albert_fast, AlbertFastError, PyException, "Base class of every albert_fast error.");
create_exception!(albert_fast, InputError, AlbertFastError, "Unusable input: missing path, empty, binary or corrupt file.");
create_exception!(albert_fast, ConfigError, AlbertFastError, "A bad parameter or config value.");
create_exception!(albert_fast, ModelError, AlbertFastError, "A missing, corrupt or mismatched tokenizer model.");

/// An error of a binding call: from the core or from Python itself.
pub enum BindingError {
    Core(Error),
    Py(PyErr),
}

pub type Result<T> = std::result::Result<T, BindingError>;

impl From<Error> for BindingError {
    fn from(e: Error) -> Self {
        BindingError::Core(e)
    }
}

impl From<PyErr> for BindingError {
    fn from(e: PyErr) -> Self {
        BindingError::Py(e)
    }
}

/// Converting a result to Python objects (converting *from* Python is [`crate::options`]'s).
impl From<pythonize::PythonizeError> for BindingError {
    fn from(e: pythonize::PythonizeError) -> Self {
        BindingError::Py(e.into())
    }
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> PyErr {
        match e {
            BindingError::Py(e) => e,
            BindingError::Core(err) => {
                let msg = err.to_string();
                match err {
                    Error::NotFound(path) => PyFileNotFoundError::new_err((2, "No such file or directory", path.display().to_string())),
                    Error::Io { .. } | Error::InvalidInput(_) | Error::CorruptRecord { .. } => InputError::new_err(msg),
                    Error::InvalidArgument { .. } => ConfigError::new_err(msg),
                    Error::BadModel { .. } => ModelError::new_err(msg),
                    Error::Interrupted => PyKeyboardInterrupt::new_err(msg),
                }
            }
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("AlbertFastError", py.get_type::<AlbertFastError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    Ok(())
}
