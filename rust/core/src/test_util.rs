//! Helpers shared by the unit tests (compiled for `cargo test` only).

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A Punkt splitter that knows one abbreviation, "dr".
pub(crate) fn splitter() -> crate::sentences::PunktSentenceTokenizer {
    let mut p = crate::sentences::PunktParameters::default();
    p.abbrev_types.insert("dr".into());
    crate::sentences::PunktSentenceTokenizer::new(p)
}

/// A fresh directory under the system temp dir, removed when dropped. Unique per call (tests
/// run in parallel threads of one process), with `tag` in its name for debugging.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("albert-fast-test-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("create a temporary test directory");
        TempDir(d)
    }

    /// Writes `data` to `name` (parent directories created) and returns its path.
    pub(crate) fn write(&self, name: &str, data: &(impl AsRef<[u8]> + ?Sized)) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create a test directory");
        }
        fs::write(&p, data.as_ref()).expect("write a test file");
        p
    }

    /// [`TempDir::write`] returning the path as a string (how the stages take their inputs).
    pub(crate) fn write_string(&self, name: &str, data: &str) -> String {
        self.write(name, data).to_string_lossy().into_owned()
    }
}

impl Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
