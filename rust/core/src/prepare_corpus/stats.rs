//! What a prepare-corpus run reports (`OUT/stats.json` and the return value).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    pub rows_without_text: u64,
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
    pub target_document_bytes: u64,
}

/// How many of the largest documents are listed.
pub const LARGEST_DOCUMENTS: usize = 5;

/// Upper bounds of the length buckets: 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (two per octave).
fn bucket_bounds() -> impl Iterator<Item = u64> {
    [1u64, 2].into_iter().chain((1..62).flat_map(|i| [3u64 << (i - 1), 1u64 << (i + 1)]))
}

/// The bucket of `value`: the first whose bound is at least `value`.
fn bucket_of(value: u64) -> usize {
    bucket_bounds().position(|b| value <= b).unwrap_or(0)
}

fn bound_of(bucket: usize) -> u64 {
    bucket_bounds().nth(bucket).unwrap_or(u64::MAX)
}

/// A histogram over [`bucket_bounds`], as bucket -> documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram(pub BTreeMap<usize, u64>);

impl Histogram {
    fn add(&mut self, value: u64) {
        *self.0.entry(bucket_of(value)).or_default() += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.0 {
            *self.0.entry(*b).or_default() += n;
        }
    }

    /// The bound of the bucket holding the `q`-quantile (an upper bound on it).
    fn quantile_bound(&self, q: f64) -> u64 {
        let total: u64 = self.0.values().sum();
        let rank = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, n) in &self.0 {
            seen += n;
            if seen >= rank {
                return bound_of(*b);
            }
        }
        0
    }
}

/// One of the largest documents: where it starts (`file` is an input index) and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LargeDocument {
    pub file: usize,
    pub line: u64,
    pub bytes: u64,
    pub sentences: u64,
}

/// Documents, sentences and bytes written from one input file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    pub documents: u64,
    pub sentences: u64,
    pub bytes: u64,
}

/// The written documents' lengths: histograms, the largest ones, counts per input file. Kept
/// per shard in the journal, so that a resumed run reports the documents of its kept shards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentStats {
    pub by_sentences: Histogram,
    pub by_bytes: Histogram,
    pub largest: Vec<LargeDocument>,
    pub max_sentences: u64,
    pub per_file: BTreeMap<usize, FileCounts>,
}

impl DocumentStats {
    pub fn add(&mut self, file: usize, line: u64, bytes: u64, sentences: u64) {
        self.by_sentences.add(sentences);
        self.by_bytes.add(bytes);
        self.max_sentences = self.max_sentences.max(sentences);
        let c = self.per_file.entry(file).or_default();
        c.documents += 1;
        c.sentences += sentences;
        c.bytes += bytes;
        self.keep_largest(LargeDocument { file, line, bytes, sentences });
    }

    fn keep_largest(&mut self, doc: LargeDocument) {
        // Ties keep the earlier document: the result does not depend on merge order.
        let key = |d: &LargeDocument| (std::cmp::Reverse(d.bytes), d.file, d.line);
        let at = self.largest.partition_point(|d| key(d) < key(&doc));
        if at < LARGEST_DOCUMENTS {
            self.largest.insert(at, doc);
            self.largest.truncate(LARGEST_DOCUMENTS);
        }
    }

    pub fn merge(&mut self, other: &DocumentStats) {
        self.by_sentences.merge(&other.by_sentences);
        self.by_bytes.merge(&other.by_bytes);
        self.max_sentences = self.max_sentences.max(other.max_sentences);
        for (f, c) in &other.per_file {
            let t = self.per_file.entry(*f).or_default();
            t.documents += c.documents;
            t.sentences += c.sentences;
            t.bytes += c.bytes;
        }
        for d in &other.largest {
            self.keep_largest(d.clone());
        }
    }

    /// The distribution as `stats.json` reports it (`total` sentences or bytes over
    /// `documents`): mean, upper bounds of the median, 90th and 99th percentile, the maximum and
    /// the histogram as `[bucket bound, documents]` pairs.
    pub fn summary(hist: &Histogram, total: u64, documents: u64, max: u64) -> Value {
        let pairs: Vec<Value> = hist.0.iter().map(|(b, n)| json!([bound_of(*b), n])).collect();
        json!({
            "mean": if documents > 0 { (total as f64 / documents as f64 * 10.0).round() / 10.0 } else { 0.0 },
            "p50_at_most": hist.quantile_bound(0.5).min(max),
            "p90_at_most": hist.quantile_bound(0.9).min(max),
            "p99_at_most": hist.quantile_bound(0.99).min(max),
            "max": max,
            "histogram": pairs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_quantiles() {
        let bounds: Vec<u64> = bucket_bounds().take(10).collect();
        assert_eq!(bounds, [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]);
        assert_eq!((bucket_of(1), bucket_of(5), bucket_of(6), bucket_of(7)), (0, 4, 4, 5));
        let mut s = DocumentStats::default();
        for (i, n) in [1u64, 1, 1, 2, 5, 40].iter().enumerate() {
            s.add(i % 2, i as u64 + 1, n * 100, *n);
        }
        assert_eq!(s.by_sentences.quantile_bound(0.5), 1);
        assert_eq!(s.by_sentences.quantile_bound(0.9), 48);
        assert_eq!(s.largest.iter().map(|d| d.sentences).collect::<Vec<_>>(), [40, 5, 2, 1, 1]);
        assert_eq!(s.per_file[&0].documents, 3);
        // Merging shard by shard gives the same as one pass.
        let (mut a, mut b) = (DocumentStats::default(), DocumentStats::default());
        for (i, n) in [1u64, 1, 1, 2, 5, 40].iter().enumerate() {
            if i < 3 { &mut a } else { &mut b }.add(i % 2, i as u64 + 1, n * 100, *n);
        }
        a.merge(&b);
        assert_eq!(a, s);
    }
}
