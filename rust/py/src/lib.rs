//! Python bindings of albert-fast-core. Only argument conversion, GIL release and error mapping
//! live here; all behaviour is in the core crate.

use pyo3::prelude::*;

mod corpus;
mod data;
mod errors;
mod tfrecord;
mod tokenizer;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    data::register(m)?;
    tfrecord::register(m)?;
    tokenizer::register(m)?;
    corpus::register(m)?;
    Ok(())
}
