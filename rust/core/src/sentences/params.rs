//! Learned Punkt parameters and NLTK's plain-text `punkt_tab` layout, read and written as
//! `nltk.tokenize.punkt.load_punkt_params` / `save_punkt_params` do.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::atomic::AtomicFile;
use crate::error::{Error, Result};

/// Orthographic context flags (NLTK's `_ORTHO_*`): where a word type was seen and with which case.
pub const ORTHO_BEG_UC: u32 = 1 << 1;
pub const ORTHO_MID_UC: u32 = 1 << 2;
pub const ORTHO_UNK_UC: u32 = 1 << 3;
pub const ORTHO_BEG_LC: u32 = 1 << 4;
pub const ORTHO_MID_LC: u32 = 1 << 5;
pub const ORTHO_UNK_LC: u32 = 1 << 6;
pub const ORTHO_UC: u32 = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
pub const ORTHO_LC: u32 = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC;

/// The four files of NLTK's `punkt_tab` layout.
pub const PUNKT_FILES: [&str; 4] = ["abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"];

/// Learned Punkt parameters (NLTK's `PunktParameters`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PunktParameters {
    /// Abbreviation types, lower-case, without the final period ("dr", "e.g").
    pub abbrev_types: HashSet<String>,
    /// Collocations (type before the period, type after), stored as first -> {second}.
    pub collocations: HashMap<String, HashSet<String>>,
    /// Frequent sentence starters (lower-case types).
    pub sent_starters: HashSet<String>,
    /// Orthographic context flags per type (`ORTHO_*`).
    pub ortho_context: HashMap<String, u32>,
}

/// Splits a punkt_tab file into lines the way Python's text-mode iteration does (universal
/// newlines), dropping one trailing newline per line (`tabdata.rm_nl`).
fn punkt_lines(text: &str) -> Vec<String> {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    match unified.strip_suffix('\n').unwrap_or(&unified) {
        _ if unified.is_empty() => Vec::new(),
        body => body.split('\n').map(str::to_string).collect(),
    }
}

impl PunktParameters {
    /// Number of collocation pairs.
    pub fn num_collocations(&self) -> usize {
        self.collocations.values().map(HashSet::len).sum()
    }

    /// True if (`first`, `second`) is a known collocation.
    pub fn is_collocation(&self, first: &str, second: &str) -> bool {
        self.collocations.get(first).is_some_and(|s| s.contains(second))
    }

    /// Adds a collocation pair.
    pub fn add_collocation(&mut self, first: &str, second: &str) {
        self.collocations.entry(first.to_string()).or_default().insert(second.to_string());
    }

    /// Orthographic context flags of a type (0 if never seen).
    pub fn ortho(&self, typ: &str) -> u32 {
        self.ortho_context.get(typ).copied().unwrap_or(0)
    }

    /// Loads a `punkt_tab` directory as NLTK's `load_punkt_params` does. A missing file is an
    /// error naming it; so is an `ortho_context.tab` line that is not `TYPE<TAB>INTEGER`.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{}: not a punkt_tab directory (expected a directory holding {})",
                dir.display(),
                PUNKT_FILES.join(", ")
            )));
        }
        let read = |name: &str| -> Result<String> {
            let path = dir.join(name);
            let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
            String::from_utf8(bytes)
                .map_err(|e| Error::InvalidInput(format!("{}: not UTF-8 ({e})", path.display())))
        };
        let mut params = PunktParameters {
            abbrev_types: punkt_lines(&read("abbrev_types.txt")?).into_iter().collect(),
            sent_starters: punkt_lines(&read("sent_starters.txt")?).into_iter().collect(),
            ..Default::default()
        };
        for line in punkt_lines(&read("collocations.tab")?) {
            let line = line.as_str();
            let mut parts = line.split('\t');
            // NLTK keeps lines with other field counts as tuples that never match a pair.
            if let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) {
                params.add_collocation(a, b);
            }
        }
        let ortho_path = dir.join("ortho_context.tab");
        for (n, line) in punkt_lines(&read("ortho_context.tab")?).iter().enumerate() {
            let mut parts = line.split('\t');
            let (Some(typ), Some(flags), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(Error::InvalidInput(format!(
                    "{}: line {}: expected TYPE<TAB>FLAGS, got {line:?}",
                    ortho_path.display(),
                    n + 1
                )));
            };
            let flags: i64 = flags.trim().parse().map_err(|_| {
                Error::InvalidInput(format!(
                    "{}: line {}: flags {flags:?} is not an integer",
                    ortho_path.display(),
                    n + 1
                ))
            })?;
            // Python ints are unbounded; only the low 7 bits carry flags.
            params.ortho_context.insert(typ.to_string(), (flags & 0x7f) as u32);
        }
        Ok(params)
    }

    /// Writes the parameters as a `punkt_tab` directory (sorted lines, so the files are
    /// deterministic; NLTK writes set order). Each file appears atomically.
    pub fn save_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, mut lines: Vec<String>| -> Result<()> {
            lines.sort();
            let path = dir.join(name);
            let mut f = AtomicFile::create(&path)?;
            f.write_all(lines.join("\n").as_bytes()).map_err(|e| Error::io(&path, e))?;
            f.commit()
        };
        write("abbrev_types.txt", self.abbrev_types.iter().cloned().collect())?;
        write("sent_starters.txt", self.sent_starters.iter().cloned().collect())?;
        write(
            "collocations.tab",
            self.collocations.iter().flat_map(|(a, bs)| bs.iter().map(move |b| format!("{a}\t{b}"))).collect(),
        )?;
        write("ortho_context.tab", self.ortho_context.iter().map(|(t, f)| format!("{t}\t{f}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_through_punkt_tab_dir() {
        let mut p = PunktParameters::default();
        p.abbrev_types.insert("dr".into());
        p.sent_starters.insert("however".into());
        p.add_collocation("s", "bach");
        p.ortho_context.insert("the".into(), ORTHO_BEG_UC | ORTHO_MID_LC);
        let dir = std::env::temp_dir().join(format!("albert-fast-punkt-{}", std::process::id()));
        p.save_dir(&dir).unwrap();
        let q = PunktParameters::load_dir(&dir).unwrap();
        assert_eq!(p, q);
        fs::write(dir.join("ortho_context.tab"), "the\tx").unwrap();
        let err = PunktParameters::load_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("ortho_context.tab") && err.contains("line 1"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
        let err = PunktParameters::load_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("not a punkt_tab directory"), "{err}");
    }
}
