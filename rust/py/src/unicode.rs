//! `_core.install_unicode_tables` (`albert_fast_core::unicode`), and [`ensure`], which every
//! binding that processes text calls first: the first time, it has the Python face compute and
//! install the interpreter's tables (`albert_fast.unicode_tables.install`).

use albert_fast_core::unicode::{self, PythonUnicode};
use albert_fast_core::Error;
use pyo3::prelude::*;

use crate::errors::Result;

type Ranges = Vec<(u32, u32)>;

/// Installs the interpreter's Unicode sets (inclusive code point ranges) for this process.
/// Returns `(id, python_only)`: the tables in force and how many characters the interpreter
/// assigns that this build's tables do not know.
#[pyfunction]
#[pyo3(signature = (id, unassigned, isdigit, islower, isupper, case_ignorable, cased, re_word=None, re_space=None, re_digit=None))]
#[allow(clippy::too_many_arguments)]
fn install_unicode_tables(
    py: Python<'_>,
    id: String,
    unassigned: Ranges,
    isdigit: Ranges,
    islower: Ranges,
    isupper: Ranges,
    case_ignorable: Ranges,
    cased: Ranges,
    re_word: Option<Ranges>,
    re_space: Option<Ranges>,
    re_digit: Option<Ranges>,
) -> Result<(String, usize)> {
    let python = PythonUnicode { id, unassigned, isdigit, islower, isupper, case_ignorable, cased, re_word, re_space, re_digit };
    let tables = py.detach(|| unicode::install(python)).map_err(|m| Error::invalid_arg("unicode tables", m))?;
    Ok((tables.id().to_string(), tables.python_only()))
}

/// The id of the Unicode tables in force ("builtin" before any are installed).
#[pyfunction]
fn unicode_tables_id() -> String {
    unicode::tables().id().to_string()
}

/// Installs the interpreter's tables unless that happened already in this process.
pub fn ensure(py: Python<'_>) -> PyResult<()> {
    if !unicode::installed() {
        py.import("albert_fast.unicode_tables")?.call_method0("install")?;
    }
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(install_unicode_tables, m)?)?;
    m.add_function(wrap_pyfunction!(unicode_tables_id, m)?)
}
