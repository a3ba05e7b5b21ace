//! Keyword arguments -> a core options struct, through its serde `Deserialize` (pythonize):
//! the names and defaults live with the struct in the core, not here.

use albert_fast_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;

use crate::errors::Result;

/// `**kwargs` (or none) as `T`; a wrong name or type is a `ConfigError` saying which.
pub fn from_kwargs<T: DeserializeOwned>(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> Result<T> {
    let empty;
    let kwargs = match kwargs {
        Some(k) => k,
        None => {
            empty = PyDict::new(py);
            &empty
        }
    };
    pythonize::depythonize(kwargs.as_any()).map_err(|e| Error::invalid_arg("keyword arguments", e.to_string()).into())
}

/// Paths as Python `str`: a URL keeps its `//` (a `pathlib.Path` would fold it).
pub fn path_strings(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.to_string_lossy().into_owned()).collect()
}
