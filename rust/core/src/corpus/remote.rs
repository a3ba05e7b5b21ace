//! Inputs named by URL (`s3://bucket/key`, `gs://bucket/key`, ...): the core reads them through
//! a [`RemoteStore`] that the embedding application registers once (the Python bindings register
//! one backed by fsspec, see `python/albert_fast/storage.py`). Every reader of the core opens
//! files through [`super::open_reader`], which hands URLs here, so each stage reads object
//! storage as it reads local files: streaming, with a ranged read for a span of a plain file.
//! Expanding directories and globs of URLs is the application's job; the core takes URLs as
//! they are.

use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Object storage as the core needs it.
pub trait RemoteStore: Send + Sync {
    /// The object's bytes from `offset` on (a ranged read where the store has one).
    fn open(&self, url: &str, offset: u64) -> io::Result<Box<dyn Read + Send>>;
    /// The object's size in bytes.
    fn size(&self, url: &str) -> io::Result<u64>;
    /// A tag that changes whenever the object is replaced (ETag, generation): what resume
    /// fingerprints record of an input, as they record a local file's modification time.
    fn version(&self, url: &str) -> io::Result<String>;
}

static STORE: RwLock<Option<Arc<dyn RemoteStore>>> = RwLock::new(None);

/// Registers the store every URL is read through (a later call replaces it).
pub fn set_store(store: Arc<dyn RemoteStore>) {
    if let Ok(mut slot) = STORE.write() {
        *slot = Some(store);
    }
}

fn store() -> io::Result<Arc<dyn RemoteStore>> {
    STORE
        .read()
        .ok()
        .and_then(|s| s.clone())
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "URLs can only be read through the Python package (albert_fast.storage)"))
}

/// True for `scheme://...` (a scheme of letters, digits, `+`, `-`, `.`, starting with a letter).
/// `file://` URLs are turned into plain paths before they reach the core.
pub fn is_url(path: &Path) -> bool {
    let s = path.as_os_str().to_string_lossy();
    match s.split_once("://") {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

fn url_of(path: &Path) -> String {
    path.as_os_str().to_string_lossy().into_owned()
}

/// [`RemoteStore::open`] of the registered store.
pub fn open(path: &Path, offset: u64) -> io::Result<Box<dyn Read + Send>> {
    store()?.open(&url_of(path), offset)
}

/// [`RemoteStore::size`] of the registered store.
pub fn size(path: &Path) -> io::Result<u64> {
    store()?.size(&url_of(path))
}

/// [`RemoteStore::version`] of the registered store.
pub fn version(path: &Path) -> io::Result<String> {
    store()?.version(&url_of(path))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Cursor;
    use std::sync::Mutex;

    /// An in-memory store for the core's own tests (the real one is fsspec, tested from Python).
    #[derive(Default)]
    pub(crate) struct MemoryStore(pub Mutex<HashMap<String, Vec<u8>>>);

    impl RemoteStore for MemoryStore {
        fn open(&self, url: &str, offset: u64) -> io::Result<Box<dyn Read + Send>> {
            let map = self.0.lock().unwrap();
            let data = map.get(url).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such object"))?;
            Ok(Box::new(Cursor::new(data[(offset as usize).min(data.len())..].to_vec())))
        }
        fn size(&self, url: &str) -> io::Result<u64> {
            let map = self.0.lock().unwrap();
            map.get(url).map(|d| d.len() as u64).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such object"))
        }
        fn version(&self, url: &str) -> io::Result<String> {
            self.size(url).map(|n| format!("len{n}"))
        }
    }

    /// The one store of this test process (tests run in parallel threads): objects are added
    /// under unique names.
    pub(crate) fn memory_store() -> Arc<MemoryStore> {
        static MEM: std::sync::OnceLock<Arc<MemoryStore>> = std::sync::OnceLock::new();
        let mem = MEM.get_or_init(|| Arc::new(MemoryStore::default())).clone();
        set_store(mem.clone());
        mem
    }

    #[test]
    fn urls_are_recognized() {
        for url in ["s3://bucket/key.txt", "gs://b/k", "memory://x", "s3a://b/k"] {
            assert!(is_url(Path::new(url)), "{url}");
        }
        for path in ["/data/a.txt", "relative/a.txt", "c:/x", "weird:/x", "://x", "1s://x"] {
            assert!(!is_url(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn lines_of_an_object_read_like_a_file() {
        let mem = memory_store();
        mem.0.lock().unwrap().insert("mem://t/a.txt".into(), b"one\ntwo\nthree\n".to_vec());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"x\ny\n").unwrap();
        mem.0.lock().unwrap().insert("mem://t/b.txt.gz".into(), gz.finish().unwrap());
        let lines = |p: &str, offset: u64| -> Vec<String> {
            crate::corpus::LineReader::open_at(Path::new(p), Default::default(), offset, 0).unwrap().map(|l| l.unwrap()).collect()
        };
        assert_eq!(lines("mem://t/a.txt", 0), ["one", "two", "three"]);
        assert_eq!(lines("mem://t/a.txt", 4), ["two", "three"]);
        assert_eq!(lines("mem://t/b.txt.gz", 2), ["y"]);
        let err = crate::corpus::LineReader::open(Path::new("mem://t/missing.txt")).err().unwrap();
        assert!(matches!(err, crate::Error::NotFound(_)) && err.to_string().contains("mem://t/missing.txt"), "{err}");
        assert_eq!(crate::corpus::total_size(&["mem://t/a.txt".into()]), 14);
        assert!(crate::corpus::file_stamp(Path::new("mem://t/a.txt")).starts_with("mem://t/a.txt\t14\t"));
        let files = crate::corpus::expand_inputs(&["mem://t/b.txt.gz", "mem://t/a.txt"]).unwrap();
        assert_eq!(files, [Path::new("mem://t/a.txt"), Path::new("mem://t/b.txt.gz")]);
    }
}
