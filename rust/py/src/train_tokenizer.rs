//! `_core.sample_sentences` (`albert_fast_core::train_tokenizer`): the SentencePiece training
//! sample, handed over as an iterator, and the normalization it applies; the same sample drawn
//! in steps (`sample_census`, `sample_candidates` per file, `SampleDraw` on the driver).

use std::path::PathBuf;
use std::sync::Mutex;

use albert_fast_core::text::Normalization;
use albert_fast_core::train_tokenizer::planned::{self, Candidates};
use albert_fast_core::train_tokenizer::{self, Sample, SampleOptions, SampleStats};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Result;
use crate::options::from_kwargs;
use crate::progress::PyProgress;

/// The sample drawn for SentencePiece training: an iterator that hands each sentence over once
/// (and frees it), so the trainer's copy and ours do not both stay in memory.
#[pyclass(name = "SentenceSample", module = "albert_fast._core")]
pub struct PySample {
    remaining: Mutex<std::vec::IntoIter<String>>,
}

#[pymethods]
impl PySample {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self) -> Option<String> {
        self.remaining.lock().ok()?.next()
    }
    fn __len__(&self) -> usize {
        self.remaining.lock().map(|it| it.len()).unwrap_or(0)
    }
}

/// Draws the SentencePiece training sample; the keyword arguments are the fields of
/// `SampleOptions` (the normalization's flattened in). Returns `(SentenceSample, stats dict)`.
#[pyfunction]
#[pyo3(signature = (files, *, progress=None, **options))]
fn sample_sentences<'py>(
    py: Python<'py>,
    files: Vec<PathBuf>,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<(PySample, Bound<'py, PyAny>)> {
    crate::unicode::ensure(py)?;
    let options: SampleOptions = from_kwargs(py, options)?;
    let progress = progress.map(|p| p.inner.clone());
    let sample = py.detach(|| train_tokenizer::sample_sentences(&files, &options, progress))?;
    let stats = pythonize::pythonize(py, &sample.stats)?;
    Ok((PySample { remaining: Mutex::new(sample.sentences.into_iter()) }, stats))
}

/// The text the data pipeline hands to SentencePiece for `text` (`Normalization::preprocess`:
/// Hugging Face's pipeline when `replace_quotes`, i.e. outside reference_compat).
#[pyfunction]
#[pyo3(signature = (text, *, lowercase, strip_accents, replace_quotes))]
fn normalize_text(py: Python<'_>, text: &str, lowercase: bool, strip_accents: bool, replace_quotes: bool) -> PyResult<String> {
    crate::unicode::ensure(py)?;
    Ok(Normalization { lowercase, strip_accents, replace_quotes }.preprocess(text))
}

/// Step 1 of a planned sample: the census of input file `file` (`path`), written to `out`;
/// returns its sampling statistics. The keyword arguments are those of `sample_sentences`.
#[pyfunction]
#[pyo3(signature = (file, path, out, *, progress=None, **options))]
fn sample_census<'py>(
    py: Python<'py>,
    file: u32,
    path: PathBuf,
    out: PathBuf,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<Bound<'py, PyAny>> {
    let options: SampleOptions = from_kwargs(py, options)?;
    let progress = progress.map(|p| p.inner.clone());
    let stats = py.detach(|| planned::census_file(file, &path, &options, &out, progress))?;
    Ok(pythonize::pythonize(py, &stats)?)
}

/// Step 3: the usable lines of file `file` with a key in buckets `first..=last`, normalized,
/// into the file `out`; returns how many.
#[pyfunction]
#[pyo3(signature = (file, path, first, last, out, *, progress=None, **options))]
#[allow(clippy::too_many_arguments)]
fn sample_candidates<'py>(
    py: Python<'py>,
    file: u32,
    path: PathBuf,
    first: usize,
    last: usize,
    out: PathBuf,
    progress: Option<PyRef<'py, PyProgress>>,
    options: Option<&Bound<'py, PyDict>>,
) -> Result<u64> {
    let options: SampleOptions = from_kwargs(py, options)?;
    let progress = progress.map(|p| p.inner.clone());
    let threads = options.threads;
    Ok(py.detach(|| {
        albert_fast_core::parallel::thread_pool(threads)?
            .install(|| planned::candidates_file(file, &path, &options, (first, last), &out, progress))
    })?)
}

/// The driver's side of a planned sample: the summed censuses (steps 2 and 4).
#[pyclass(name = "SampleDraw", module = "albert_fast._core")]
pub struct PySampleDraw {
    files: Vec<PathBuf>,
    k: usize,
    stats: SampleStats,
    totals: Vec<u64>,
    next_bucket: usize,
    found: Candidates,
    sample: Option<Sample>,
}

#[pymethods]
impl PySampleDraw {
    /// Sums the censuses of every input file (`censuses`, in input order) of `files`, for a
    /// sample of `max_sentences`.
    #[new]
    fn new(py: Python<'_>, censuses: Vec<PathBuf>, files: Vec<PathBuf>, max_sentences: usize) -> Result<Self> {
        let (stats, totals) = py.detach(|| planned::sum_census(censuses.iter().map(|p| planned::read_census(p))))?;
        Ok(PySampleDraw { files, k: max_sentences, stats, totals, next_bucket: 0, found: Candidates::new(), sample: None })
    }

    /// The bucket range the next candidates must cover, `(first, last)`; `None` once the sample
    /// is complete.
    fn next_range(&self) -> Option<(usize, usize)> {
        if self.sample.is_some() {
            return None;
        }
        let need = self.k.saturating_sub(self.found.len()).max(1) as u64;
        planned::bucket_range(&self.totals, self.next_bucket, need)
    }

    /// Adds the candidate files of the range `next_range` gave; true once the sample is
    /// complete.
    fn add(&mut self, py: Python<'_>, candidates: Vec<PathBuf>, range: (usize, usize)) -> Result<bool> {
        self.next_bucket = range.1 + 1;
        let exhausted = self.next_bucket >= planned::BUCKETS;
        let (found, k, stats, files) = (&mut self.found, self.k, &self.stats, &self.files);
        self.sample = py.detach(|| planned::select_sample(found, &candidates, k, exhausted, stats, files))?;
        Ok(self.sample.is_some())
    }

    /// The sample and its statistics, as `sample_sentences` returns them.
    fn sample<'py>(&mut self, py: Python<'py>) -> Result<(PySample, Bound<'py, PyAny>)> {
        let sample = self.sample.take().ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the sample is not complete"))?;
        let stats = pythonize::pythonize(py, &sample.stats)?;
        Ok((PySample { remaining: Mutex::new(sample.sentences.into_iter()) }, stats))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySample>()?;
    m.add_class::<PySampleDraw>()?;
    m.add_function(wrap_pyfunction!(sample_census, m)?)?;
    m.add_function(wrap_pyfunction!(sample_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(sample_sentences, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    Ok(())
}
