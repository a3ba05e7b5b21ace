//! Python bindings of albert-fast-core, one file per stage or concept. Only argument conversion,
//! GIL release and error mapping live here; all behaviour is in the core crate.

use pyo3::prelude::*;

mod corpus;
mod create_data;
mod errors;
mod options;
mod prepare_corpus;
mod progress;
mod sentences;
mod storage;
mod tfrecord;
mod tokenizer;
mod train_tokenizer;
mod unicode;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    storage::register(m)?;
    progress::register(m)?;
    corpus::register(m)?;
    prepare_corpus::register(m)?;
    train_tokenizer::register(m)?;
    create_data::register(m)?;
    tfrecord::register(m)?;
    tokenizer::register(m)?;
    sentences::register(m)?;
    unicode::register(m)?;
    Ok(())
}
