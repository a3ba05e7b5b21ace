//! Bindings of `albert_fast_core::pipeline`: `_core.create_data(...)` and the
//! `_core.CreateDataProgress` counter object a Python thread polls for the progress bar. The
//! public face is `albert_fast.create_pretraining_data` in `python/albert_fast/data.py`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use albert_fast_core::corpus;
use albert_fast_core::instances::InstanceConfig;
use albert_fast_core::masking::MaskingConfig;
use albert_fast_core::pipeline::{self, PipelineConfig, Progress};
use albert_fast_core::tfrecord::Compression;
use albert_fast_core::tokenizer::{EncodeOptions, Tokenizer};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::to_py;

/// Live counters of a running `create_data`; safe to read from any thread.
#[pyclass(name = "CreateDataProgress", module = "albert_fast._core", frozen)]
pub struct PyProgress {
    inner: Arc<Progress>,
}

#[pymethods]
impl PyProgress {
    #[new]
    fn new() -> Self {
        PyProgress { inner: Arc::new(Progress::default()) }
    }

    /// A consistent-enough snapshot of the counters as a dict.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let p = &self.inner;
        let d = PyDict::new(py);
        let phase = match p.phase.load(Ordering::Relaxed) {
            0 => "counting",
            1 => "building",
            _ => "done",
        };
        d.set_item("phase", phase)?;
        for (k, v) in [
            ("total_bytes", &p.total_bytes),
            ("bytes_read", &p.bytes_read),
            ("bytes_done", &p.bytes_done),
            ("documents", &p.documents),
            ("instances", &p.instances),
            ("shards_total", &p.shards_total),
            ("shards_done", &p.shards_done),
        ] {
            d.set_item(k, v.load(Ordering::Relaxed))?;
        }
        Ok(d)
    }

    /// Asks the run to stop; it then raises KeyboardInterrupt, leaving only finished shards.
    fn cancel(&self) {
        self.inner.cancel.store(true, Ordering::Relaxed);
    }
}

/// Runs create-data with the GIL released; returns the per-shard results.
#[pyfunction]
#[pyo3(signature = (
    inputs, model_path, output_dir, *, lowercase, strip_accents, reference_compat,
    max_seq_length, max_predictions_per_seq, random_seed, dupe_factor, masked_lm_prob,
    short_seq_prob, do_permutation, random_next_sentence, do_whole_word_mask,
    favor_shorter_ngram, ngram, eval_fraction, shard_size_bytes, threads, compression,
    max_line_tokens, fingerprint, progress=None
))]
#[allow(clippy::too_many_arguments)]
fn create_data<'py>(
    py: Python<'py>,
    inputs: Vec<String>,
    model_path: PathBuf,
    output_dir: PathBuf,
    lowercase: bool,
    strip_accents: bool,
    reference_compat: bool,
    max_seq_length: usize,
    max_predictions_per_seq: usize,
    random_seed: i64,
    dupe_factor: usize,
    masked_lm_prob: f64,
    short_seq_prob: f64,
    do_permutation: bool,
    random_next_sentence: bool,
    do_whole_word_mask: bool,
    favor_shorter_ngram: bool,
    ngram: usize,
    eval_fraction: f64,
    shard_size_bytes: u64,
    threads: usize,
    compression: &str,
    max_line_tokens: usize,
    fingerprint: String,
    progress: Option<PyRef<'py, PyProgress>>,
) -> PyResult<Bound<'py, PyDict>> {
    let compression = Compression::parse(compression).map_err(to_py)?;
    let inputs = py.detach(|| corpus::expand_inputs(&inputs)).map_err(to_py)?;
    let fingerprint = pipeline::run_fingerprint(&fingerprint, &inputs);
    let cfg = PipelineConfig {
        inputs,
        output_dir,
        instance: InstanceConfig { max_seq_length, short_seq_prob, random_next_sentence, compat: reference_compat },
        masking: MaskingConfig {
            max_predictions_per_seq,
            masked_lm_prob,
            do_whole_word_mask,
            ngram,
            favor_shorter_ngram,
            do_permutation,
            compat: reference_compat,
        },
        dupe_factor,
        // The stream key is the seed's two's-complement bits, so negative seeds work too.
        random_seed: random_seed as u64,
        eval_fraction,
        shard_size_bytes,
        threads,
        compression,
        max_line_tokens,
        merge_documents_across_files: reference_compat,
        fingerprint,
    };
    let progress = progress.map(|p| p.inner.clone()).unwrap_or_default();
    let options = EncodeOptions::new(lowercase, strip_accents, reference_compat);
    let (summary, vocab_size) = py
        .detach(|| {
            let tok = Tokenizer::from_file(&model_path, options)?;
            tok.check_albert_specials()?;
            let vocab = pipeline::masking_vocab(&tok)?;
            pipeline::run(&cfg, &tok, &vocab, &progress).map(|s| (s, tok.vocab_size()))
        })
        .map_err(to_py)?;

    let out = PyDict::new(py);
    out.set_item("input_bytes", summary.input_bytes)?;
    out.set_item("vocab_size", vocab_size)?;
    let files: Vec<String> = cfg.inputs.iter().map(|p| p.display().to_string()).collect();
    out.set_item("inputs", files)?;
    out.set_item("num_train_shards", summary.num_train_shards)?;
    out.set_item("num_eval_shards", summary.num_eval_shards)?;
    let shards = PyList::empty(py);
    for r in &summary.shards {
        let d = PyDict::new(py);
        d.set_item("split", r.split.name())?;
        d.set_item("index", r.index)?;
        d.set_item("file", &r.file_name)?;
        d.set_item("records", r.records)?;
        d.set_item("input_bytes", r.input_bytes)?;
        d.set_item("documents", r.documents)?;
        d.set_item("sentences", r.sentences)?;
        d.set_item("single_sentence_documents", r.single_sentence_documents)?;
        d.set_item("input_tokens", r.input_tokens)?;
        d.set_item("instances", r.stats.instances)?;
        d.set_item("real_tokens", r.stats.real_tokens)?;
        d.set_item("masked_positions", r.stats.masked_positions)?;
        d.set_item("label_ones", r.stats.label_ones)?;
        d.set_item("random_document_pairs", r.stats.random_document_pairs)?;
        d.set_item("skipped_chunks", r.stats.skipped_chunks)?;
        d.set_item("resumed", r.resumed)?;
        shards.append(d)?;
    }
    out.set_item("shards", shards)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProgress>()?;
    m.add_function(wrap_pyfunction!(create_data, m)?)?;
    Ok(())
}
