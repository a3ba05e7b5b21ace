//! `_core.prepare_corpus`, Punkt training on a sample of the input and writing Punkt parameters
//! (`albert_fast_core::prepare_corpus`). The public face is `albert_fast.prepare_corpus`.

use std::path::PathBuf;

use albert_fast_core::prepare_corpus::{self as core, PrepareOptions};
use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::PyProgress;

/// Runs prepare-corpus with the Punkt parameters of `params_dir`; the keyword arguments are the
/// fields of `PrepareOptions` (sizes in MB); `extra_stats` goes into `stats.json`. Returns the
/// statistics (also in `OUT/stats.json`).
#[pyfunction]
#[pyo3(signature = (inputs, output, params_dir, *, progress=None, extra_stats=None, **options))]
fn prepare_corpus<'py>(
    py: Python<'py>,
    inputs: Vec<String>,
    output: PathBuf,
    params_dir: PathBuf,
    progress: Option<PyRef<'py, PyProgress>>,
    extra_stats: Option<&Bound<'py, PyDict>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    crate::unicode::ensure(py)?;
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let extra: Map<String, Value> = from_kwargs(py, extra_stats)?;
    let progress = progress.map(|p| p.inner.clone());
    let stats = py.detach(|| {
        let splitter = PunktSentenceTokenizer::new(PunktParameters::load_dir(&params_dir)?);
        core::prepare_corpus(&inputs, &output, &splitter, &opts, progress, extra)
    })?;
    Ok(pythonize::pythonize(py, &stats)?)
}

/// Trains Punkt (identical to NLTK's `PunktTrainer`) on a bounded, deterministic sample of the
/// cleaned input text and writes the parameters into `directory`; the keyword arguments are the
/// reading and cleaning fields of `PrepareOptions`. Returns what was learned, from how much text.
#[pyfunction]
#[pyo3(signature = (inputs, max_bytes, directory, **options))]
fn train_punkt_sample<'py>(
    py: Python<'py>,
    inputs: Vec<String>,
    max_bytes: usize,
    directory: PathBuf,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    crate::unicode::ensure(py)?;
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let info = py.detach(|| core::train_punkt_on_sample(&inputs, &opts, max_bytes, &directory))?;
    Ok(pythonize::pythonize(py, &info)?)
}

/// Writes Punkt parameters given as Python collections in the punkt_tab layout (sorted lines).
#[pyfunction]
fn save_punkt_params(
    py: Python<'_>,
    directory: PathBuf,
    abbrev_types: Vec<String>,
    collocations: Vec<(String, String)>,
    sent_starters: Vec<String>,
    ortho_context: Vec<(String, i64)>,
) -> Result<()> {
    let mut p = PunktParameters {
        abbrev_types: abbrev_types.into_iter().collect(),
        sent_starters: sent_starters.into_iter().collect(),
        ortho_context: ortho_context.into_iter().map(|(t, f)| (t, (f & 0x7f) as u32)).collect(),
        ..Default::default()
    };
    for (a, b) in collocations {
        p.add_collocation(&a, &b);
    }
    Ok(py.detach(|| p.save_dir(&directory))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prepare_corpus, m)?)?;
    m.add_function(wrap_pyfunction!(train_punkt_sample, m)?)?;
    m.add_function(wrap_pyfunction!(save_punkt_params, m)?)?;
    Ok(())
}
