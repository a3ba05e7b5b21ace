//! Bindings of the Punkt sentence splitter (`albert_fast_core::sentences`).

use albert_fast_core::sentences::{train_punkt as core_train_punkt, PunktParameters, PunktSentenceTokenizer};
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
        crate::unicode::ensure(py)?;
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

/// Learned Punkt parameters as sorted lists: abbreviation types, collocation pairs, sentence
/// starters, (type, orthographic context flags).
type ParamLists = (Vec<String>, Vec<(String, String)>, Vec<String>, Vec<(String, u32)>);

/// The parameters as sorted lists (the order of the `punkt_tab` files).
pub fn param_lists(p: &PunktParameters) -> ParamLists {
    let sorted = |it: &mut dyn Iterator<Item = String>| {
        let mut v: Vec<String> = it.collect();
        v.sort();
        v
    };
    let mut colloc: Vec<(String, String)> =
        p.collocations.iter().flat_map(|(a, bs)| bs.iter().map(move |b| (a.clone(), b.clone()))).collect();
    colloc.sort();
    let mut ortho: Vec<(String, u32)> = p.ortho_context.iter().map(|(t, f)| (t.clone(), *f)).collect();
    ortho.sort();
    (sorted(&mut p.abbrev_types.iter().cloned()), colloc, sorted(&mut p.sent_starters.iter().cloned()), ortho)
}

/// Trains Punkt on `text` as NLTK's `PunktTrainer().train(text)` does (GIL released); returns
/// the parameters as sorted lists and the counts (tokens, types, sentence breaks).
#[pyfunction]
fn train_punkt(py: Python<'_>, text: &str) -> PyResult<(ParamLists, (u64, u64, u64))> {
    crate::unicode::ensure(py)?;
    Ok(py.detach(|| {
        let (params, stats) = core_train_punkt(text);
        (param_lists(&params), (stats.tokens, stats.types, stats.sentence_breaks))
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPunktSplitter>()?;
    m.add_function(wrap_pyfunction!(train_punkt, m)?)?;
    Ok(())
}
