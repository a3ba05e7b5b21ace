//! Bindings of `albert_fast_core::tokenizer`: the `_core.Tokenizer` class. The public,
//! documented face is `albert_fast.Tokenizer` in `python/albert_fast/tokenizer.py`, which reads
//! the tokenizer directory's config and builds this class.

use std::borrow::Cow;
use std::path::PathBuf;

use albert_fast_core::tokenizer::{EncodeOptions, SpmVersion, Tokenizer, ALBERT_SPECIALS, MODEL_FILE};
use albert_fast_core::Error;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::errors::{InputError, Result};

/// A loaded SentencePiece unigram model with ALBERT's text pipeline.
#[pyclass(name = "Tokenizer", module = "albert_fast._core", frozen)]
pub struct PyTokenizer {
    inner: Tokenizer,
}

/// Text as `str`, or `bytes` that must be valid UTF-8.
fn text_arg<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, str>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return s.to_cow().map_err(|_| {
            InputError::new_err(format!("{what} contains a lone surrogate and cannot be encoded as UTF-8"))
        });
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return match std::str::from_utf8(b.as_bytes()) {
            Ok(s) => Ok(Cow::Owned(s.to_string())),
            Err(e) => Err(InputError::new_err(format!("{what} is not valid UTF-8 (byte {})", e.valid_up_to()))),
        };
    }
    Err(PyTypeError::new_err(format!("{what} must be str or bytes, not {}", obj.get_type().name()?)))
}

impl PyTokenizer {
    /// The core tokenizer, for bindings that run a stage with it.
    pub(crate) fn core(&self) -> &Tokenizer {
        &self.inner
    }
}

#[pymethods]
impl PyTokenizer {
    /// `sentencepiece_version`: the release whose scoring and model checks to reproduce
    /// ("0.2.3"); `None` for the newest known.
    #[new]
    #[pyo3(signature = (path, lowercase, strip_accents, reference_compat=false, sentencepiece_version=None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        lowercase: bool,
        strip_accents: bool,
        reference_compat: bool,
        sentencepiece_version: Option<&str>,
    ) -> Result<Self> {
        crate::unicode::ensure(py)?;
        let options = encode_options(lowercase, strip_accents, reference_compat, sentencepiece_version)?;
        let inner = py.detach(|| Tokenizer::from_file(&path, options))?;
        Ok(PyTokenizer { inner })
    }

    /// Builds a tokenizer from the bytes of a `.model` file.
    #[staticmethod]
    #[pyo3(signature = (data, lowercase, strip_accents, reference_compat=false, sentencepiece_version=None))]
    fn from_bytes(
        py: Python<'_>,
        data: &[u8],
        lowercase: bool,
        strip_accents: bool,
        reference_compat: bool,
        sentencepiece_version: Option<&str>,
    ) -> Result<Self> {
        crate::unicode::ensure(py)?;
        let options = encode_options(lowercase, strip_accents, reference_compat, sentencepiece_version)?;
        let inner = Tokenizer::from_bytes(data, options)?;
        Ok(PyTokenizer { inner })
    }

    fn encode(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
        let text = text_arg(text, "text")?;
        let inner = &self.inner;
        Ok(py.detach(|| inner.encode(&text)))
    }

    #[pyo3(signature = (texts, threads=None))]
    fn encode_batch(&self, py: Python<'_>, texts: &Bound<'_, PyAny>, threads: Option<usize>) -> Result<Vec<Vec<u32>>> {
        let mut owned: Vec<String> = Vec::new();
        for (i, item) in texts.try_iter()?.enumerate() {
            owned.push(text_arg(&item?, &format!("texts[{i}]"))?.into_owned());
        }
        let inner = &self.inner;
        Ok(py.detach(|| inner.encode_batch(&owned, threads))?)
    }

    fn tokenize(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let text = text_arg(text, "text")?;
        let inner = &self.inner;
        Ok(py.detach(|| inner.encode_pieces(&text)))
    }

    /// The text of `ids`, as SentencePiece's `decode_ids` gives it.
    fn decode(&self, py: Python<'_>, ids: Vec<i64>) -> PyResult<String> {
        let ids = self.check_ids(&ids)?;
        let inner = &self.inner;
        py.detach(|| inner.decode(&ids)).map_err(|e| PyIndexError::new_err(e.to_string()))
    }

    /// `decode` of many id sequences, in parallel; output in input order.
    #[pyo3(signature = (batch, threads=None))]
    fn decode_batch(&self, py: Python<'_>, batch: Vec<Vec<i64>>, threads: Option<usize>) -> Result<Vec<String>> {
        let batch = batch.iter().map(|ids| self.check_ids(ids)).collect::<PyResult<Vec<_>>>()?;
        let inner = &self.inner;
        Ok(py.detach(|| inner.decode_batch(&batch, threads))?)
    }

    fn id_to_piece(&self, id: i64) -> PyResult<String> {
        self.check_id(id).map(|id| self.inner.id_to_piece(id).to_string())
    }

    fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.inner.piece_to_id(piece)
    }

    fn piece_kind(&self, id: i64) -> PyResult<&'static str> {
        self.check_id(id).map(|id| self.inner.piece_kind(id).name())
    }

    fn piece_score(&self, id: i64) -> PyResult<f32> {
        self.check_id(id).map(|id| self.inner.piece_score(id))
    }

    /// All pieces in id order.
    fn pieces(&self) -> Vec<String> {
        (0..self.inner.vocab_size() as u32).map(|id| self.inner.id_to_piece(id).to_string()).collect()
    }

    fn check_albert_specials(&self) -> Result<()> {
        Ok(self.inner.check_albert_specials()?)
    }

    fn special_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (piece, id) in self.inner.special_ids() {
            d.set_item(piece, id)?;
        }
        Ok(d)
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// The unknown piece's id; -1 when the model has none (as `sentencepiece` says).
    #[getter]
    fn unk_id(&self) -> i64 {
        self.inner.unk_id().map_or(-1, i64::from)
    }

    /// The sentencepiece release whose behaviour is reproduced ("0.2.3").
    #[getter]
    fn sentencepiece_version(&self) -> &'static str {
        self.inner.options().sentencepiece.as_str()
    }

    #[getter]
    fn model_sha256(&self) -> String {
        self.inner.model_sha256()
    }

    #[getter]
    fn lowercase(&self) -> bool {
        self.inner.options().normalization.lowercase
    }

    #[getter]
    fn strip_accents(&self) -> bool {
        self.inner.options().normalization.strip_accents
    }

    #[getter]
    fn reference_compat(&self) -> bool {
        self.inner.options().reference_compat
    }

    #[getter]
    fn source(&self) -> String {
        self.inner.source().display().to_string()
    }
}

/// The sentencepiece release reproduced for an installed `version` ("0.2.1" -> "0.2.1",
/// "0.3.0" -> "0.2.3"); `None` (not installed) -> the newest known.
#[pyfunction]
#[pyo3(signature = (version=None))]
fn sentencepiece_behaviour(version: Option<&str>) -> Result<&'static str> {
    Ok(spm_version(version)?.as_str())
}

fn spm_version(version: Option<&str>) -> Result<SpmVersion> {
    match version {
        None => Ok(SpmVersion::NEWEST),
        Some(v) => Ok(SpmVersion::for_release(v).map_err(|m| Error::invalid_arg("sentencepiece_version", m))?),
    }
}

fn encode_options(lowercase: bool, strip_accents: bool, reference_compat: bool, sentencepiece: Option<&str>) -> Result<EncodeOptions> {
    Ok(EncodeOptions::new(lowercase, strip_accents, reference_compat).with_sentencepiece(spm_version(sentencepiece)?))
}

impl PyTokenizer {
    fn check_ids(&self, ids: &[i64]) -> PyResult<Vec<u32>> {
        ids.iter().map(|&id| self.check_id(id)).collect()
    }

    fn check_id(&self, id: i64) -> PyResult<u32> {
        let n = self.inner.vocab_size();
        if id < 0 || id as u64 >= n as u64 {
            return Err(PyIndexError::new_err(format!("id {id} is outside the vocabulary (0..{n})")));
        }
        Ok(id as u32)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTokenizer>()?;
    m.add_function(wrap_pyfunction!(sentencepiece_behaviour, m)?)?;
    // ((piece, id), ...) in id order, and the model file's name in a tokenizer directory.
    m.add("ALBERT_SPECIALS", PyTuple::new(m.py(), ALBERT_SPECIALS)?)?;
    m.add("MODEL_FILE", MODEL_FILE)
}
