//! Resume markers: after a shard file is committed, `.progress/<file>.done` records the run's
//! fingerprint, the file's size and CRC32C, and what the shard holds. A re-run keeps a shard
//! only when its marker has this run's fingerprint and the file still has that size and
//! checksum; a truncated or replaced shard is rebuilt.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::run::ShardResult;
use crate::atomic::{self, AtomicFile};
use crate::error::{Error, Result};

/// The directory of the markers, inside the output directory.
pub const PROGRESS_DIR: &str = ".progress";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    fingerprint: String,
    file_bytes: u64,
    file_crc32c: u32,
    #[serde(flatten)]
    shard: ShardResult,
}

pub fn marker_path(output_dir: &Path, file_name: &str) -> PathBuf {
    output_dir.join(PROGRESS_DIR).join(format!("{file_name}.done"))
}

/// A writer that keeps the CRC32C and length of what passes through it.
pub struct Checksummed<W> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Checksummed<W> {
    pub fn new(inner: W) -> Self {
        Checksummed { inner, crc: 0, len: 0 }
    }
    /// The inner writer, the byte count and the CRC32C.
    pub fn into_parts(self) -> (W, u64, u32) {
        (self.inner, self.len, self.crc)
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Records a committed shard file of `file_bytes` bytes with CRC32C `file_crc32c`.
pub fn write_marker(output_dir: &Path, fingerprint: &str, shard: &ShardResult, file_bytes: u64, file_crc32c: u32) -> Result<()> {
    let path = marker_path(output_dir, &shard.file_name);
    let marker = Marker { fingerprint: fingerprint.to_string(), file_bytes, file_crc32c, shard: shard.clone() };
    let text = serde_json::to_string(&marker).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let mut f = AtomicFile::create(&path)?;
    f.write_all(text.as_bytes()).and_then(|_| f.write_all(b"\n")).map_err(|e| Error::io(&path, e))?;
    f.commit()
}

/// The finished shard `expected` names, if its marker belongs to this run and its file is intact.
pub fn finished_shard(output_dir: &Path, fingerprint: &str, expected: &ShardResult) -> Option<ShardResult> {
    let text = fs::read_to_string(marker_path(output_dir, &expected.file_name)).ok()?;
    let marker: Marker = serde_json::from_str(&text).ok()?;
    let same_shard = (marker.shard.split, marker.shard.index, marker.shard.input_bytes) == (expected.split, expected.index, expected.input_bytes);
    if marker.fingerprint != fingerprint || !same_shard {
        return None;
    }
    let path = output_dir.join(&expected.file_name);
    if fs::metadata(&path).ok()?.len() != marker.file_bytes || file_crc32c(&path).ok()? != marker.file_crc32c {
        return None;
    }
    Some(ShardResult { resumed: true, ..marker.shard })
}

fn file_crc32c(path: &Path) -> io::Result<u32> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut crc = 0;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(crc);
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
    }
}

/// Whether `output_dir` holds a marker of any finished shard (of this run's settings or not).
pub fn has_markers(output_dir: &Path) -> bool {
    fs::read_dir(output_dir.join(PROGRESS_DIR))
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().strip_suffix(".done").is_some_and(super::plan::is_shard_file_name)))
        .unwrap_or(false)
}

/// Before a run: the temporary shard and marker files a killed run left.
pub fn remove_temp_files(output_dir: &Path) -> Result<()> {
    atomic::remove_temp_files(output_dir, super::plan::is_shard_file_name)?;
    atomic::remove_temp_files(&output_dir.join(PROGRESS_DIR), |name| {
        name.strip_suffix(".done").is_some_and(super::plan::is_shard_file_name)
    })
}

/// After a run: shard files (and their markers) of an earlier run with other settings, which
/// a reader of the directory would otherwise take for this run's.
pub fn remove_stale_shards(output_dir: &Path, keep: &[&str]) -> Result<()> {
    for entry in fs::read_dir(output_dir).map_err(|e| Error::io(output_dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if super::plan::is_shard_file_name(&name) && !keep.contains(&name.as_str()) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            let marker = marker_path(output_dir, &name);
            if marker.exists() {
                fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
            }
        }
    }
    Ok(())
}
