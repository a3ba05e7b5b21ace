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
use super::plan::{is_provisional_file_name, is_shard_file_name, provisional_file_name, shard_file_name, Split};
use crate::error::{Error, Result};
use crate::tfrecord::Compression;

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

/// The finished shard `expected` names, if its marker belongs to this run and its file is
/// intact. A shard that a one-pass run committed under its provisional name (and was stopped
/// before naming) counts too: it is renamed to `expected`'s name.
pub fn finished_shard(output_dir: &Path, fingerprint: &str, expected: &ShardResult, compression: Compression) -> Result<Option<ShardResult>> {
    if let Some(done) = marked_shard(output_dir, fingerprint, expected) {
        return Ok(Some(done));
    }
    let provisional = ShardResult { file_name: provisional_file_name(expected.split, expected.index, compression), ..expected.clone() };
    let Some(mut done) = marked_shard(output_dir, fingerprint, &provisional) else { return Ok(None) };
    promote(output_dir, fingerprint, &mut done, expected.file_name.clone())?;
    Ok(Some(done))
}

fn marked_shard(output_dir: &Path, fingerprint: &str, expected: &ShardResult) -> Option<ShardResult> {
    let marker = read_marker(output_dir, &expected.file_name)?;
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

fn read_marker(output_dir: &Path, file_name: &str) -> Option<Marker> {
    serde_json::from_str(&fs::read_to_string(marker_path(output_dir, file_name)).ok()?).ok()
}

/// Renames the committed shard `shard` (and its marker) to `file_name`: a shard written under
/// its provisional name gets its final one.
pub fn promote(output_dir: &Path, fingerprint: &str, shard: &mut ShardResult, file_name: String) -> Result<()> {
    let old_marker = marker_path(output_dir, &shard.file_name);
    let marker = read_marker(output_dir, &shard.file_name)
        .ok_or_else(|| Error::InvalidInput(format!("{}: missing or unreadable", old_marker.display())))?;
    let (from, to) = (output_dir.join(&shard.file_name), output_dir.join(&file_name));
    fs::rename(&from, &to).map_err(|e| Error::io(&from, e))?;
    shard.file_name = file_name;
    write_marker(output_dir, fingerprint, &ShardResult { resumed: false, ..shard.clone() }, marker.file_bytes, marker.file_crc32c)?;
    fs::remove_file(&old_marker).map_err(|e| Error::io(&old_marker, e))
}

/// Gives each of `shards` still under its provisional name its final one, now that the shard
/// counts (train, eval) are known: renames the files and markers in `output_dir`, or only the
/// results where there is none (an output in object storage, whose caller moves the objects).
pub fn name_provisional(output_dir: Option<&Path>, fingerprint: &str, compression: Compression, counts: (usize, usize), shards: &mut [ShardResult]) -> Result<()> {
    for r in shards.iter_mut().filter(|r| is_provisional_file_name(&r.file_name)) {
        let n = if r.split == Split::Train { counts.0 } else { counts.1 };
        let name = shard_file_name(r.split, r.index, n, compression);
        match output_dir {
            Some(dir) => promote(dir, fingerprint, r, name)?,
            None => r.file_name = name,
        }
    }
    Ok(())
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

/// A shard file's name, final or provisional.
fn is_shard_file(name: &str) -> bool {
    is_shard_file_name(name) || is_provisional_file_name(name)
}

fn is_shard_marker(name: &str) -> bool {
    name.strip_suffix(".done").is_some_and(is_shard_file)
}

/// Whether `output_dir` holds a marker of any finished shard (of this run's settings or not).
pub fn has_markers(output_dir: &Path) -> bool {
    fs::read_dir(output_dir.join(PROGRESS_DIR))
        .map(|entries| entries.flatten().any(|e| is_shard_marker(&e.file_name().to_string_lossy())))
        .unwrap_or(false)
}

/// Before a run: the temporary shard and marker files a killed run left.
pub fn remove_temp_files(output_dir: &Path) -> Result<()> {
    atomic::remove_temp_files(output_dir, is_shard_file)?;
    atomic::remove_temp_files(&output_dir.join(PROGRESS_DIR), is_shard_marker)
}

/// After a run: shard files (and their markers) of an earlier run with other settings, which
/// a reader of the directory would otherwise take for this run's, and every provisional shard
/// left (this run's have their final names by now).
pub fn remove_stale_shards(output_dir: &Path, keep: &[&str]) -> Result<()> {
    for entry in fs::read_dir(output_dir).map_err(|e| Error::io(output_dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_shard_file(&name) && !keep.contains(&name.as_str()) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            let marker = marker_path(output_dir, &name);
            if marker.exists() {
                fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
            }
        }
    }
    let markers = output_dir.join(PROGRESS_DIR);
    for entry in fs::read_dir(&markers).map_err(|e| Error::io(&markers, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.strip_suffix(".done").is_some_and(is_provisional_file_name) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}
