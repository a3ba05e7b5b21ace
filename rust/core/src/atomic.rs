//! Files that appear under their final name only when complete: written to a temporary sibling
//! (`.NAME.tmp-PID`), fsynced, then renamed. A crash or kill leaves at most a temp file, never
//! a truncated output that a resumed run would mistake for a finished one.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file next to `path` (same directory, so the rename is atomic).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let final_path = path.as_ref().to_path_buf();
        let name = final_path
            .file_name()
            .ok_or_else(|| Error::invalid_arg("output path", format!("{} has no file name", final_path.display())))?
            .to_string_lossy()
            .into_owned();
        let temp_path = final_path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp_path).map_err(|e| Error::io(&temp_path, e))?;
        Ok(AtomicFile { final_path, temp_path, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn path(&self) -> &Path {
        &self.final_path
    }

    /// Flushes, fsyncs and renames the file to its final name.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("writer present until commit");
        let file = writer.into_inner().map_err(|e| Error::io(&self.temp_path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.temp_path, e))?;
        drop(file);
        fs::rename(&self.temp_path, &self.final_path).map_err(|e| Error::io(&self.final_path, e))?;
        Ok(())
    }
}

/// The final name a temporary file `.NAME.tmp-PID` stands for.
fn temp_target(name: &str) -> Option<&str> {
    let (rest, pid) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

/// Removes from `dir` the temporary files a killed run left for the final names `is_ours`
/// accepts: never complete, never read, safe to delete.
pub fn remove_temp_files(dir: &Path, is_ours: impl Fn(&str) -> bool) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if temp_target(&name).is_some_and(&is_ours) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("writer present until commit").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("writer present until commit").flush()
    }
}

impl Drop for AtomicFile {
    /// An uncommitted file (error, panic, early return) is removed, never left half-written.
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::TempDir;

    #[test]
    fn final_name_appears_only_on_commit() {
        let dir = TempDir::new("commit");
        let path = dir.join("out.bin");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!path.exists());
        f.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = TempDir::new("drop");
        let path = dir.join("out.bin");
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn temp_files_are_recognized_by_their_final_name() {
        assert_eq!(temp_target(".train-00000-of-00002.tfrecord.tmp-123"), Some("train-00000-of-00002.tfrecord"));
        assert_eq!(temp_target(".corpus-00001.txt.tmp-9"), Some("corpus-00001.txt"));
        assert_eq!(temp_target("corpus-00001.txt"), None);
        assert_eq!(temp_target(".x.tmp-"), None);
        let dir = TempDir::new("stale");
        let path = dir.join("keep.bin");
        let f = AtomicFile::create(&path).unwrap();
        std::mem::forget(f); // as a killed process would leave it
        dir.write("other.txt", "x");
        remove_temp_files(&dir, |name| name == "keep.bin").unwrap();
        let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["other.txt"]);
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let err = AtomicFile::create("/nonexistent-dir/x/out.bin").err().unwrap();
        assert!(err.to_string().contains("/nonexistent-dir/x"), "{err}");
    }
}
