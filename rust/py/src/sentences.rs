//! Bindings of the Punkt sentence splitter (`albert_fast_core::sentences`).

use albert_fast_core::sentences::{PunktParameters, PunktSentenceTokenizer};
use pyo3::prelude::*;

use crate::errors::Result;

/// NLTK-compatible Punkt sentence splitter with parameters from a `punkt_tab` directory.
#[pyclass(name = "PunktSplitter", module = "albert_fast._core", frozen)]
pub struct PyPunktSplitter {
    pub(crate) inner: PunktSentenceTokenizer,
}

#[pymethods]
impl PyPunktSplitter {
    /// Loads the parameters from a `punkt_tab` directory (NLTK's `load_punkt_params` layout).
    #[new]
    fn new(py: Python<'_>, params_dir: std::path::PathBuf) -> Result<Self> {
        let params = py.detach(|| PunktParameters::load_dir(&params_dir))?;
        Ok(PyPunktSplitter { inner: PunktSentenceTokenizer::new(params) })
    }

    /// The sentences of `text`, exactly as NLTK's `PunktSentenceTokenizer.tokenize` returns them.
    fn tokenize(&self, py: Python<'_>, text: &str) -> Vec<String> {
        py.detach(|| self.inner.tokenize(text).into_iter().map(str::to_string).collect())
    }

    /// Character-offset spans of the sentences (NLTK's `span_tokenize`).
    fn span_tokenize(&self, py: Python<'_>, text: &str) -> Vec<(usize, usize)> {
        py.detach(|| self.inner.span_tokenize_chars(text))
    }

    /// Splits many texts in parallel (all cores, GIL released); one list of sentences per text.
    fn tokenize_many(&self, py: Python<'_>, texts: Vec<String>) -> Vec<Vec<String>> {
        py.detach(|| {
            let split = self.inner.tokenize_many(&texts);
            split.into_iter().map(|sents| sents.into_iter().map(str::to_string).collect()).collect()
        })
    }

    /// Numbers of abbreviation types, collocations, sentence starters and ortho-context entries.
    fn stats(&self) -> (usize, usize, usize, usize) {
        let p = self.inner.params();
        (p.abbrev_types.len(), p.num_collocations(), p.sent_starters.len(), p.ortho_context.len())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPunktSplitter>()?;
    Ok(())
}
