//! `_core.create_data(progress=None, **options)`: `albert_fast_core::create_data` with the GIL
//! released. The public face is `albert_fast.create_pretraining_data` (create_data.py). A
//! planned run (a cluster, an output in object storage) uses a `CreateDataPlan` on the driver
//! and a `CreateDataBuilder` per worker.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use albert_fast_core::create_data::resume::name_provisional;
use albert_fast_core::create_data::{
    build_planned_shard, configure, finish_shards, prepare_output, reads_once, run_with_tokenizer, CreateDataOptions, Model,
    PlanStream, ShardPlan, ShardResult, Split,
};
use albert_fast_core::tfrecord::Compression;
use albert_fast_core::Error;
use albert_fast_core::progress::Progress;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
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

/// The shard plan of a planned run, held on the driver: pass 1 runs on a thread of its own
/// from the start, and the shards it has closed can be handed out as tasks while it reads on.
#[pyclass(name = "CreateDataPlan", module = "albert_fast._core", frozen)]
pub struct PyCreateDataPlan {
    stream: Mutex<PlanStream>,
    compression: Compression,
    #[pyo3(get)]
    fingerprint: String,
    #[pyo3(get)]
    vocab_size: usize,
}

impl PyCreateDataPlan {
    /// The stream, waited for with the GIL released (`poll` holds it while it waits).
    fn stream(&self, py: Python<'_>) -> Result<MutexGuard<'_, PlanStream>> {
        Ok(self.stream.lock_py_attached(py).map_err(|_| Error::InvalidInput("the plan's lock is poisoned".into()))?)
    }

    /// `f` of the whole plan; fails before pass 1 is over.
    fn whole<T>(&self, py: Python<'_>, f: impl FnOnce(&ShardPlan) -> T) -> Result<T> {
        let stream = self.stream(py)?;
        let plan = stream.plan().ok_or_else(|| Error::InvalidInput("the plan is not finished".into()))?;
        Ok(f(plan))
    }
}

#[pymethods]
impl PyCreateDataPlan {
    /// Loads the model, resolves the configuration and starts pass 1 (the keyword arguments
    /// are those of `create_data`). `local_output`: the output directory is a local (or
    /// shared) one, prepared as the local run prepares it; a fresh one gets each shard under
    /// its provisional name as soon as pass 1 closes it, renamed by `finish`. For an output in
    /// object storage, `fresh` says whether it holds nothing to resume (the caller looked):
    /// then the same, and the caller moves the objects to the names `finish` gives. Otherwise
    /// the shards come, named, when the input is read.
    #[new]
    #[pyo3(signature = (*, local_output, fresh=false, **options))]
    fn new(py: Python<'_>, local_output: bool, fresh: bool, options: Option<&Bound<'_, PyDict>>) -> Result<Self> {
        let options: CreateDataOptions = from_kwargs(py, options)?;
        let (stream, cfg, vocab_size) = py.detach(|| -> albert_fast_core::Result<_> {
            let model = Model::load(&options)?;
            let cfg = configure(&options, &model)?;
            let provisional = if local_output {
                prepare_output(&cfg)?;
                reads_once(&cfg)
            } else {
                cfg.validate()?;
                fresh && cfg.train_file_names.is_empty()
            };
            Ok((PlanStream::start(cfg.clone(), provisional)?, cfg, model.tokenizer.vocab_size()))
        })?;
        Ok(PyCreateDataPlan { stream: Mutex::new(stream), compression: cfg.compression, fingerprint: cfg.fingerprint, vocab_size })
    }

    /// Waits up to `timeout` seconds for pass 1 to close a shard: (shards closed so far, pass 1
    /// over). Raises pass 1's error (a bad input file).
    fn poll(&self, py: Python<'_>, timeout: f64) -> Result<(usize, bool)> {
        let mut stream = self.stream(py)?;
        let waiting: &mut PlanStream = &mut stream;
        let over = py.detach(|| waiting.poll(Duration::from_secs_f64(timeout.max(0.0))))?;
        Ok((stream.shards().len(), over))
    }
    /// The shard count: exact once pass 1 is over, an estimate before (from the input's size).
    #[getter]
    fn expected_shards(&self, py: Python<'_>) -> Result<usize> {
        Ok(self.stream(py)?.expected_shards())
    }
    /// The text bytes of all shards: exact once pass 1 is over, an estimate before.
    #[getter]
    fn expected_bytes(&self, py: Python<'_>) -> Result<u64> {
        Ok(self.stream(py)?.expected_bytes())
    }
    /// Stops pass 1 if it still runs (a run that stops early); what is known stays.
    fn close(&self, py: Python<'_>) -> Result<()> {
        let mut stream = self.stream(py)?;
        let stopping: &mut PlanStream = &mut stream;
        py.detach(|| stopping.stop());
        Ok(())
    }
    /// Shards `start..end` (of those closed so far) as one task: a plan (dict) over only the
    /// input files they touch.
    fn task<'py>(&self, py: Python<'py>, start: usize, end: usize) -> Result<Bound<'py, PyAny>> {
        let stream = self.stream(py)?;
        let end = end.min(stream.shards().len());
        Ok(pythonize::pythonize(py, &stream.task(start.min(end)..end))?)
    }
    #[getter]
    fn inputs(&self, py: Python<'_>) -> Result<Vec<String>> {
        self.whole(py, |p| crate::options::path_strings(&p.inputs))
    }
    #[getter]
    fn input_bytes(&self, py: Python<'_>) -> Result<u64> {
        self.whole(py, |p| p.input_bytes)
    }
    #[getter]
    fn documents(&self, py: Python<'_>) -> Result<u64> {
        self.whole(py, |p| p.documents)
    }
    #[getter]
    fn num_shards(&self, py: Python<'_>) -> Result<usize> {
        self.whole(py, |p| p.shards.len())
    }
    #[getter]
    fn num_train_shards(&self, py: Python<'_>) -> Result<usize> {
        self.whole(py, |p| p.num_train_shards)
    }
    #[getter]
    fn num_eval_shards(&self, py: Python<'_>) -> Result<usize> {
        self.whole(py, |p| p.num_eval_shards)
    }
    /// After every shard is built: the results in (split, index) order, each under its final
    /// name; fails a run with no instance at all. With `output_dir` (a local output) the files
    /// built under provisional names are renamed and the directory tidied as the local run does;
    /// without, the caller moves the objects.
    #[pyo3(signature = (results, output_dir=None))]
    fn finish<'py>(&self, py: Python<'py>, results: &Bound<'py, PyAny>, output_dir: Option<PathBuf>) -> Result<Bound<'py, PyAny>> {
        let mut shards: Vec<ShardResult> = pythonize::depythonize(results)?;
        let (documents, counts) = self.whole(py, |p| (p.documents, (p.num_train_shards, p.num_eval_shards)))?;
        py.detach(|| -> albert_fast_core::Result<()> {
            name_provisional(output_dir.as_deref(), &self.fingerprint, self.compression, counts, &mut shards)?;
            finish_shards(output_dir.as_deref(), documents, &mut shards)
        })?;
        Ok(pythonize::pythonize(py, &shards)?)
    }
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

/// True for the hidden name a shard has until the shard count is known (`.train-00003.tfrecord`).
#[pyfunction]
fn is_provisional_file_name(name: &str) -> bool {
    albert_fast_core::create_data::plan::is_provisional_file_name(name)
}

/// The hidden name of shard `index` of `split` ("train"/"eval") until the count is known.
#[pyfunction]
fn provisional_file_name(split: &str, index: usize, compression: &str) -> Result<String> {
    let split = match split {
        "train" => Split::Train,
        "eval" => Split::Eval,
        other => return Err(Error::invalid_arg("split", format!("{other:?} is not train or eval")).into()),
    };
    Ok(albert_fast_core::create_data::plan::provisional_file_name(split, index, Compression::parse(compression)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CREATE_DATA_PROGRESS_DIR", albert_fast_core::create_data::resume::PROGRESS_DIR)?;
    m.add_function(wrap_pyfunction!(is_shard_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(is_provisional_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(provisional_file_name, m)?)?;
    m.add_class::<PyCreateDataPlan>()?;
    m.add_class::<PyCreateDataBuilder>()?;
    m.add_function(wrap_pyfunction!(create_data, m)?)
}
