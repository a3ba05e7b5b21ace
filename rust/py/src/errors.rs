//! Maps core errors to Python exceptions. `AlbertFastError` is the base of all of them, so a
//! caller can catch everything the core raises with one `except`.

use albert_fast_core::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(albert_fast, AlbertFastError, PyException, "Base class of every albert_fast error.");
create_exception!(albert_fast, InputError, AlbertFastError, "Unusable input: missing path, empty, binary or corrupt file.");
create_exception!(albert_fast, ConfigError, AlbertFastError, "A bad parameter or config value.");
create_exception!(albert_fast, ModelError, AlbertFastError, "A missing, corrupt or mismatched tokenizer model.");

pub fn to_py(err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::NotFound(path) => {
            pyo3::exceptions::PyFileNotFoundError::new_err((2, "No such file or directory", path.display().to_string()))
        }
        Error::Io { .. } | Error::InvalidInput(_) | Error::CorruptRecord { .. } => InputError::new_err(msg),
        Error::InvalidArgument { .. } => ConfigError::new_err(msg),
        Error::BadModel { .. } => ModelError::new_err(msg),
        Error::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err(msg),
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
