//! What a prepare-corpus run reports (`OUT/stats.json` and the return value).

use std::collections::BTreeMap;

use serde::Serialize;

use super::cleaning::CleanOptions;
use super::journal::ShardRecord;
use crate::corpus::DocBoundary;

#[derive(Debug, Clone, Serialize)]
pub struct PrepareStats {
    pub fingerprint: String,
    pub output: String,
    pub shards: Vec<ShardRecord>,
    pub documents: u64,
    pub sentences: u64,
    pub bytes: u64,
    pub input: InputSummary,
    pub dropped: Dropped,
    pub changed: Changed,
    pub warnings: Vec<String>,
    pub settings: Settings,
    pub resumed_shards: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub files: usize,
    pub bytes: u64,
    pub lines: u64,
    pub files_by_mode: BTreeMap<String, u64>,
    pub hidden_files_skipped: u64,
    pub invalid_utf8_sequences: u64,
    pub long_lines_split: u64,
    pub documents_read: u64,
    pub long_documents_split: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    pub duplicate_documents: u64,
    pub empty_documents: u64,
    pub documents_without_sentences: u64,
    pub short_lines: u64,
    pub control_chars: u64,
    pub json_invalid_lines: u64,
    pub json_missing_field: u64,
    pub lines_outside_doc_elements: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub lines_normalized_nfc: u64,
    pub unclosed_doc_elements: u64,
}

/// The settings that shape the output (also what the fingerprint covers, with the inputs and
/// the Punkt parameters).
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub doc_boundary: DocBoundary,
    pub jsonl_field: String,
    #[serde(flatten)]
    pub clean: CleanOptions,
    pub shard_bytes: u64,
}
