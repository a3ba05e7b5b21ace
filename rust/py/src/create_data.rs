//! `_core.create_data(progress=None, **options)`: `albert_fast_core::create_data` with the GIL
//! released. The public face is `albert_fast.create_pretraining_data` (create_data.py). A
//! planned run (a cluster, an output in object storage) uses `create_data_plan` on the driver
//! and a `CreateDataBuilder` per worker.

use std::path::PathBuf;

use albert_fast_core::create_data::{
    build_planned_shard, configure, finish_shards, plan, prepare_output, run_with_tokenizer, CreateDataOptions, Model, ShardPlan,
    ShardResult,
};
use albert_fast_core::progress::Progress;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::{self, PyProgress};
use crate::tokenizer::PyTokenizer;

/// Runs create-data; the keyword arguments are the fields of `CreateDataOptions`, and
/// `tokenizer` optionally a `Tokenizer` loaded from `model_path` with the same encoding (the
/// model is then not loaded again). Returns the run's summary (per-shard results, input files,
/// vocabulary size) as a dict.
#[pyfunction]
#[pyo3(signature = (*, progress=None, tokenizer=None, **options))]
fn create_data<'py>(
    py: Python<'py>,
    progress: Option<PyRef<'py, PyProgress>>,
    tokenizer: Option<PyRef<'py, PyTokenizer>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    crate::unicode::ensure(py)?;
    let options: CreateDataOptions = from_kwargs(py, options)?;
    let progress = progress::of(progress);
    let loaded = tokenizer.as_ref().map(|t| t.core());
    let summary = py.detach(|| run_with_tokenizer(&options, loaded, &progress))?;
    Ok(pythonize::pythonize(py, &summary)?)
}

/// The shard plan of a planned run, held on the driver.
#[pyclass(name = "CreateDataPlan", module = "albert_fast._core", frozen)]
pub struct PyCreateDataPlan {
    plan: ShardPlan,
    #[pyo3(get)]
    fingerprint: String,
    #[pyo3(get)]
    vocab_size: usize,
}

#[pymethods]
impl PyCreateDataPlan {
    #[getter]
    fn inputs(&self) -> Vec<String> {
        crate::options::path_strings(&self.plan.inputs)
    }
    #[getter]
    fn input_bytes(&self) -> u64 {
        self.plan.input_bytes
    }
    #[getter]
    fn documents(&self) -> u64 {
        self.plan.documents
    }
    #[getter]
    fn num_shards(&self) -> usize {
        self.plan.shards.len()
    }
    #[getter]
    fn num_train_shards(&self) -> usize {
        self.plan.num_train_shards
    }
    #[getter]
    fn num_eval_shards(&self) -> usize {
        self.plan.num_eval_shards
    }
    /// Shards `start..end` as one task: a plan (dict) over only the input files they touch.
    fn task<'py>(&self, py: Python<'py>, start: usize, end: usize) -> Result<Bound<'py, PyAny>> {
        let end = end.min(self.plan.shards.len());
        Ok(pythonize::pythonize(py, &self.plan.task(start.min(end)..end))?)
    }
    /// After every shard is built: the results in (split, index) order; fails a run with no
    /// instance at all. With `output_dir` (a local output) its files are tidied as the local
    /// run does.
    #[pyo3(signature = (results, output_dir=None))]
    fn finish<'py>(&self, py: Python<'py>, results: &Bound<'py, PyAny>, output_dir: Option<PathBuf>) -> Result<Bound<'py, PyAny>> {
        let mut shards: Vec<ShardResult> = pythonize::depythonize(results)?;
        let documents = self.plan.documents;
        py.detach(|| finish_shards(output_dir.as_deref(), documents, &mut shards))?;
        Ok(pythonize::pythonize(py, &shards)?)
    }
}

/// Pass 1 of a planned run: loads the model, resolves the configuration and plans the shards
/// (the keyword arguments are those of `create_data`). `local_output`: the output directory is
/// a local one, prepared as the local run prepares it.
#[pyfunction]
#[pyo3(signature = (*, local_output, progress=None, **options))]
fn create_data_plan<'py>(
    py: Python<'py>,
    local_output: bool,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<PyCreateDataPlan> {
    let options: CreateDataOptions = from_kwargs(py, options)?;
    let progress = progress::of(progress);
    let (plan, fingerprint, vocab_size) = py.detach(|| -> albert_fast_core::Result<_> {
        let model = Model::load(&options)?;
        let cfg = configure(&options, &model)?;
        if local_output {
            prepare_output(&cfg)?;
        } else {
            cfg.validate()?;
        }
        Ok((plan(&cfg, &progress)?, cfg.fingerprint, model.tokenizer.vocab_size()))
    })?;
    Ok(PyCreateDataPlan { plan, fingerprint, vocab_size })
}

/// A worker's model: builds shards of task plans (`CreateDataPlan.task`).
#[pyclass(name = "CreateDataBuilder", module = "albert_fast._core", frozen)]
pub struct PyCreateDataBuilder {
    model: Model,
}

#[pymethods]
impl PyCreateDataBuilder {
    /// Loads the model; the keyword arguments are those of `create_data` (`model_path` and the
    /// normalization are used).
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let options: CreateDataOptions = from_kwargs(py, options)?;
        Ok(PyCreateDataBuilder { model: py.detach(|| Model::load(&options))? })
    }

    /// Builds shard `k` of `task` into `output_dir` (or finds it finished there), as the local
    /// run builds it; `options` as for `create_data` (its inputs are the task's), on a pool of
    /// `options.threads` threads (not rayon's global one, a thread per core: a one-thread Dask
    /// worker per core would otherwise run a core's worth of threads in every process).
    #[pyo3(signature = (task, k, fingerprint, **options))]
    fn build<'py>(
        &self,
        py: Python<'py>,
        task: &Bound<'py, PyAny>,
        k: usize,
        fingerprint: String,
        options: Option<&Bound<'py, PyDict>>,
    ) -> Result<Bound<'py, PyAny>> {
        let task: ShardPlan = pythonize::depythonize(task)?;
        let options: CreateDataOptions = from_kwargs(py, options)?;
        let model = &self.model;
        let result = py.detach(|| {
            let cfg = options.run_config(task.inputs.clone(), fingerprint)?;
            albert_fast_core::parallel::thread_pool(cfg.threads)?
                .install(|| build_planned_shard(&cfg, &task, k, &model.tokenizer, &model.vocab, &Progress::new()))
        })?;
        Ok(pythonize::pythonize(py, &result)?)
    }
}

/// True for a shard file name create-data makes (`train-00003-of-00017.tfrecord`).
#[pyfunction]
fn is_shard_file_name(name: &str) -> bool {
    albert_fast_core::create_data::plan::is_shard_file_name(name)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CREATE_DATA_PROGRESS_DIR", albert_fast_core::create_data::resume::PROGRESS_DIR)?;
    m.add_function(wrap_pyfunction!(is_shard_file_name, m)?)?;
    m.add_class::<PyCreateDataPlan>()?;
    m.add_class::<PyCreateDataBuilder>()?;
    m.add_function(wrap_pyfunction!(create_data, m)?)?;
    m.add_function(wrap_pyfunction!(create_data_plan, m)?)
}
