//! The core's [`RemoteStore`] backed by Python: URLs (`s3://`, `gs://`, ...) are read through
//! `albert_fast.storage` (fsspec). Registered when the module loads; each read takes the GIL
//! only to copy a chunk that storage.py fetched.

use std::io::{self, Read};
use std::sync::Arc;

use albert_fast_core::corpus::remote::{self, RemoteStore};
use pyo3::exceptions::{PyFileNotFoundError, PyPermissionError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

const MODULE: &str = "albert_fast.storage";

/// A Python exception as an `io::Error` of the matching kind (its message kept).
fn io_error(py: Python<'_>, e: PyErr) -> io::Error {
    let kind = if e.is_instance_of::<PyFileNotFoundError>(py) {
        io::ErrorKind::NotFound
    } else if e.is_instance_of::<PyPermissionError>(py) {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_else(|_| e.to_string());
    io::Error::new(kind, msg)
}

fn call<'py>(py: Python<'py>, name: &str, args: impl pyo3::call::PyCallArgs<'py>) -> io::Result<Bound<'py, PyAny>> {
    py.import(MODULE).and_then(|m| m.getattr(name)).and_then(|f| f.call1(args)).map_err(|e| io_error(py, e))
}

struct PyStore;

impl RemoteStore for PyStore {
    fn open(&self, url: &str, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        Python::attach(|py| {
            let reader = call(py, "core_open", (url, offset))?;
            Ok(Box::new(PyReader { reader: Some(reader.unbind()) }) as Box<dyn Read + Send>)
        })
    }
    fn size(&self, url: &str) -> io::Result<u64> {
        Python::attach(|py| call(py, "core_size", (url,))?.extract().map_err(|e| io_error(py, e)))
    }
    fn version(&self, url: &str) -> io::Result<String> {
        Python::attach(|py| call(py, "core_version", (url,))?.extract().map_err(|e| io_error(py, e)))
    }
}

/// A Python object with `read(n) -> bytes` and `close()`.
struct PyReader {
    reader: Option<Py<PyAny>>,
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(reader) = &self.reader else { return Ok(0) };
        Python::attach(|py| {
            let chunk = reader.bind(py).call_method1("read", (buf.len(),)).map_err(|e| io_error(py, e))?;
            let bytes = chunk.cast::<PyBytes>().map_err(|e| io::Error::other(e.to_string()))?.as_bytes();
            let n = bytes.len().min(buf.len());
            buf[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        })
    }
}

impl Drop for PyReader {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            Python::attach(|py| {
                let _ = reader.bind(py).call_method0("close");
            });
        }
    }
}

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    remote::set_store(Arc::new(PyStore));
    Ok(())
}
