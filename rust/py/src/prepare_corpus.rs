//! `_core.prepare_corpus`, Punkt training on a sample of the input and writing Punkt parameters
//! (`albert_fast_core::prepare_corpus`), and the steps of a planned run (`prepare_fingerprint`,
//! `prepare_index`, `prepare_plan`, `prepare_build_shard`, `prepare_stats`). The public face is
//! `albert_fast.prepare_corpus`.

use std::path::PathBuf;

use albert_fast_core::corpus::expand_inputs_detailed;
use albert_fast_core::prepare_corpus::{self as core, FileIndex, PrepareOptions, PreparePlan, Staged};
use albert_fast_core::prepare_corpus::journal::ShardRecord;
use albert_fast_core::prepare_corpus::stats::DocumentStats;
use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::PyProgress;
use crate::sentences::PyPunktSplitter;

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

/// A planned run's inputs, expanded and checked as the local run checks them before any
/// output (a binary file fails here, naming it), and its fingerprint (what resume compares):
/// `(fingerprint, files, hidden entries skipped)`.
#[pyfunction]
#[pyo3(signature = (inputs, splitter, **options))]
fn prepare_fingerprint(
    py: Python<'_>,
    inputs: Vec<String>,
    splitter: PyRef<'_, PyPunktSplitter>,
    options: Option<&Bound<'_, PyDict>>,
) -> Result<(String, Vec<String>, u64)> {
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let splitter = &splitter.inner;
    Ok(py.detach(|| -> albert_fast_core::Result<_> {
        let set = expand_inputs_detailed(&inputs)?;
        core::precheck(&set.files, &opts)?;
        Ok((core::fingerprint(&set.files, &opts, splitter), crate::options::path_strings(&set.files), set.skipped_hidden))
    })?)
}

/// Step 1: indexes input file `file` (`path`) into the file `out`, its staged text into the
/// file `staged` (on `threads` threads, an option). Returns its document count.
#[pyfunction]
#[pyo3(signature = (path, file, out, staged, fingerprint, splitter, progress=None, **options))]
#[allow(clippy::too_many_arguments)]
fn prepare_index(
    py: Python<'_>,
    path: PathBuf,
    file: usize,
    out: PathBuf,
    staged: PathBuf,
    fingerprint: &str,
    splitter: PyRef<'_, PyPunktSplitter>,
    progress: Option<PyRef<'_, PyProgress>>,
    options: Option<&Bound<'_, PyDict>>,
) -> Result<usize> {
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let progress = progress.map(|p| p.inner.clone());
    let splitter = &splitter.inner;
    Ok(py.detach(|| -> albert_fast_core::Result<usize> {
        let index = albert_fast_core::parallel::thread_pool(opts.threads)?
            .install(|| core::index_file(&path, file, &opts, splitter, fingerprint, &staged, progress))?;
        index.write(&out)?;
        Ok(index.docs.len())
    })?)
}

/// Step 2: the plan from the indexes (local paths or URLs, in input order): `(plan, tasks)`,
/// one task per shard, each `{"staged": [{"index": ..., "text": ...}, ...], "shard": {...}}`
/// with the staged results (`staged`: each file's staged text, in input order) of only the
/// files its documents come from.
#[pyfunction]
#[pyo3(signature = (indexes, staged, fingerprint, **options))]
fn prepare_plan<'py>(
    py: Python<'py>,
    indexes: Vec<PathBuf>,
    staged: Vec<PathBuf>,
    fingerprint: &str,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let (plan, tasks) = py.detach(|| -> albert_fast_core::Result<_> {
        if staged.len() != indexes.len() {
            return Err(albert_fast_core::Error::InvalidInput(format!("{} indexes, {} staged texts", indexes.len(), staged.len())));
        }
        let plan = core::plan_shards(indexes.iter().map(|p| FileIndex::read(p)), fingerprint, &opts)?;
        let tasks: Vec<Value> = plan
            .shards
            .iter()
            .map(|s| {
                let parts: Vec<Staged> = s.files().map(|i| Staged { index: indexes[i].clone(), text: staged[i].clone() }).collect();
                serde_json::json!({"staged": parts, "shard": s})
            })
            .collect();
        Ok((plan, tasks))
    })?;
    Ok((pythonize::pythonize(py, &plan)?, pythonize::pythonize(py, &tasks)?))
}

/// Step 3: builds one shard of a task (`prepare_plan`) into the file `out`; returns its record
/// and its documents' statistics, `(record, documents)` (`documents` as JSON has it: string
/// keys, so that it travels through JSON markers and the journal unchanged).
#[pyfunction]
#[pyo3(signature = (task, out, progress=None))]
fn prepare_build_shard<'py>(
    py: Python<'py>,
    task: &Bound<'py, PyAny>,
    out: PathBuf,
    progress: Option<PyRef<'py, PyProgress>>,
) -> Result<Bound<'py, PyAny>> {
    let staged: Vec<Staged> = pythonize::depythonize(&task.get_item("staged")?)?;
    let shard: core::CorpusShard = pythonize::depythonize(&task.get_item("shard")?)?;
    let progress = progress.map(|p| p.inner.clone());
    let built = py.detach(|| -> albert_fast_core::Result<(ShardRecord, Value)> {
        let (record, documents) = core::build_shard(&staged, &shard, &out, progress)?;
        let documents = serde_json::to_value(&documents).map_err(|e| albert_fast_core::Error::InvalidInput(e.to_string()))?;
        Ok((record, documents))
    })?;
    Ok(pythonize::pythonize(py, &built)?)
}

/// Step 4: the statistics (`stats.json`) of a planned run from its plan and the shards'
/// records and document statistics in order; `output` names the output directory.
#[pyfunction]
#[pyo3(signature = (plan, records, documents, output, files, skipped_hidden, resumed_shards, extra_stats=None, **options))]
#[allow(clippy::too_many_arguments)]
fn prepare_stats<'py>(
    py: Python<'py>,
    plan: &Bound<'py, PyAny>,
    records: &Bound<'py, PyAny>,
    documents: &Bound<'py, PyAny>,
    output: &str,
    files: usize,
    skipped_hidden: u64,
    resumed_shards: usize,
    extra_stats: Option<&Bound<'py, PyDict>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    let opts: PrepareOptions = from_kwargs(py, options)?;
    let plan: PreparePlan = pythonize::depythonize(plan)?;
    let records: Vec<ShardRecord> = pythonize::depythonize(records)?;
    let documents: Value = pythonize::depythonize(documents)?;
    let documents: Vec<DocumentStats> =
        serde_json::from_value(documents).map_err(|e| albert_fast_core::Error::InvalidInput(format!("document statistics: {e}")))?;
    let extra: Map<String, Value> = from_kwargs(py, extra_stats)?;
    let stats = core::plan_stats(&plan, records, &documents, output, files, skipped_hidden, resumed_shards, &opts, extra)?;
    Ok(pythonize::pythonize(py, &stats)?)
}

/// `value` (the journal, the statistics) as the local run writes it to its file.
#[pyfunction]
fn prepared_json_text(value: &Bound<'_, PyAny>) -> Result<String> {
    let value: Value = pythonize::depythonize(value)?;
    Ok(core::journal::json_text(&value)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prepared_json_text, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_index, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_plan, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_build_shard, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_stats, m)?)?;
    m.add_function(wrap_pyfunction!(prepare_corpus, m)?)?;
    m.add_function(wrap_pyfunction!(train_punkt_sample, m)?)?;
    m.add_function(wrap_pyfunction!(save_punkt_params, m)?)?;
    Ok(())
}
