//! The resume journal (`OUT/.prepare-state.json`), rewritten after each finished shard and kept
//! after the run: the run's fingerprint and every finished shard's counts. A re-run with the
//! same fingerprint keeps the shards whose file is there with the recorded size.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::stats::DocumentStats;
use crate::atomic::AtomicFile;
use crate::corpus::prepared::shard_name;
use crate::error::{Error, Result};

/// One finished shard, as the journal and `stats.json` list it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub file: String,
    pub documents: u64,
    pub sentences: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Journal {
    pub fingerprint: String,
    #[serde(default)]
    pub shards: Vec<ShardRecord>,
    /// The documents of each shard in `shards` (lengths, largest, per input file).
    #[serde(default)]
    pub documents: Vec<DocumentStats>,
}

impl Journal {
    /// The journal's leading shards that are still on disk with their recorded size, with
    /// their documents' statistics (resume stops at the first one that is not: later shards
    /// depend on its documents).
    pub fn finished_shards(&self, out_dir: &Path) -> Vec<(ShardRecord, DocumentStats)> {
        self.shards
            .iter()
            .enumerate()
            .take_while(|(i, rec)| fs::metadata(out_dir.join(shard_name(*i))).is_ok_and(|m| m.len() == rec.bytes))
            .map(|(i, rec)| (rec.clone(), self.documents.get(i).cloned().unwrap_or_default()))
            .collect()
    }
}

/// A JSON file's value, or `None` when it is missing or not what is expected.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let text = fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// `value` as the journal and `stats.json` hold it: pretty JSON with sorted keys, plus a newline.
pub fn json_text<T: Serialize>(value: &T) -> Result<String> {
    let sorted = serde_json::to_value(value).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let text = serde_json::to_string_pretty(&sorted).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(text + "\n")
}

/// Writes [`json_text`] of `value` atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = json_text(value)?;
    let mut f = AtomicFile::create(path)?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))?;
    f.commit()
}
