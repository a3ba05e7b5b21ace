//! The counts behind `albert-fast inspect --stats` (Python face:
//! `albert_fast.records.dataset_stats`): sequence lengths, masked positions, the 80/10/10 split,
//! masked spans in words, SOP labels, as defined in docs/data-format.md ("Statistics"). All are
//! integer counts and histograms, so merging per-file results (read in parallel) gives the same
//! answer for any thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::tfrecord::{decode_example_into, Feature, RecordReader};

/// Records per chunk handed from the reader thread to the parallel counters.
const CHUNK_RECORDS: usize = 1024;

/// One verified record with its position, for error messages.
struct Record {
    index: u64,
    offset: u64,
    data: Vec<u8>,
}

/// Up to `CHUNK_RECORDS` records, and the read error that ended the file early, if any (the
/// records before it are still counted, so errors are reported in file order).
fn read_chunk(reader: &mut RecordReader) -> (Vec<Record>, Option<Error>) {
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    while chunk.len() < CHUNK_RECORDS {
        let offset = reader.offset();
        let mut data = Vec::new();
        match reader.read_next(&mut data) {
            Ok(true) => chunk.push(Record { index: reader.records_read() - 1, offset, data }),
            Ok(false) => break,
            Err(e) => return (chunk, Some(e)),
        }
    }
    (chunk, None)
}

/// The id of `[MASK]` in ALBERT's SentencePiece vocabularies.
pub const DEFAULT_MASK_ID: i64 = 4;

/// Histogram value -> number of instances (or spans).
pub type Histogram = BTreeMap<i64, u64>;

/// Counts over a set of TFRecord files of ALBERT instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetStats {
    /// Records per file, in the order the files were given.
    #[serde(serialize_with = "paths_as_text")]
    pub files: Vec<(PathBuf, u64)>,
    pub instances: u64,
    /// `len(input_ids)` (the padded max_seq_length) -> instances.
    pub padded_lengths: Histogram,
    /// `len(masked_lm_positions)` (max_predictions_per_seq, doubled with do_permutation).
    pub prediction_slots: Histogram,
    /// Real tokens (`sum(input_mask)`) -> instances.
    pub lengths: Histogram,
    /// Predictions per instance -> instances.
    pub masked_per_instance: Histogram,
    pub real_tokens: u64,
    pub predictions: u64,
    pub replaced_mask: u64,
    pub kept: u64,
    pub random: u64,
    /// Predictions whose position lies outside the real tokens (a damaged instance).
    pub positions_out_of_range: u64,
    /// Masked span length in words -> spans.
    pub span_words: Histogram,
    /// Masked span length in pieces -> spans.
    pub span_pieces: Histogram,
    pub spans_starting_mid_word: u64,
    pub spans_ending_mid_word: u64,
    /// `next_sentence_labels` value (the SOP label) -> instances.
    pub sop_labels: Histogram,
    /// Real tokens with `token_boundary == 1`.
    pub boundary_tokens: u64,
    /// Instances without a `token_boundary` feature (BERT-style data): every piece counts as a word.
    pub without_token_boundary: u64,
    /// Real tokens with `segment_ids == 1` (segment B, including its closing `[SEP]`).
    pub segment_b_tokens: u64,
}

/// Paths as they are displayed (serde refuses paths that are not UTF-8).
fn paths_as_text<S: Serializer>(files: &[(PathBuf, u64)], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(files.iter().map(|(p, n)| (p.display().to_string(), n)))
}

fn bump(h: &mut Histogram, k: i64) {
    *h.entry(k).or_insert(0) += 1;
}

fn merge_hist(into: &mut Histogram, from: &Histogram) {
    for (&k, &v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

fn int_feature<'a>(features: &'a [(String, Feature)], name: &str, required: bool) -> std::result::Result<Option<&'a [i64]>, String> {
    match features.iter().find(|(n, _)| n == name) {
        Some((_, Feature::Int64(v))) => Ok(Some(v)),
        Some((_, other)) => Err(format!("feature {name:?} is a {} list, expected int64", other.kind_name())),
        None if required => Err(format!("missing feature {name:?}")),
        None => Ok(None),
    }
}

impl DatasetStats {
    /// Adds one decoded instance. Errors name the feature at fault.
    pub fn add_example(&mut self, features: &[(String, Feature)], mask_id: i64) -> std::result::Result<(), String> {
        let input_ids = int_feature(features, "input_ids", true)?.unwrap_or_default();
        let input_mask = int_feature(features, "input_mask", true)?.unwrap_or_default();
        let positions = int_feature(features, "masked_lm_positions", true)?.unwrap_or_default();
        let masked_ids = int_feature(features, "masked_lm_ids", true)?.unwrap_or_default();
        let labels = int_feature(features, "next_sentence_labels", true)?.unwrap_or_default();
        let boundary = int_feature(features, "token_boundary", false)?;
        let segments = int_feature(features, "segment_ids", false)?;
        let weights: &[f32] = match features.iter().find(|(n, _)| n == "masked_lm_weights") {
            Some((_, Feature::Float(v))) => v,
            Some((_, other)) => return Err(format!("feature \"masked_lm_weights\" is a {} list, expected float", other.kind_name())),
            None => return Err("missing feature \"masked_lm_weights\"".into()),
        };
        if input_mask.len() != input_ids.len() {
            return Err(format!("input_mask has {} values but input_ids has {}", input_mask.len(), input_ids.len()));
        }
        if masked_ids.len() != positions.len() || weights.len() != positions.len() {
            return Err(format!(
                "masked_lm_positions/ids/weights have different lengths ({}/{}/{})",
                positions.len(),
                masked_ids.len(),
                weights.len()
            ));
        }
        if let Some(b) = boundary {
            if b.len() != input_ids.len() {
                return Err(format!("token_boundary has {} values but input_ids has {}", b.len(), input_ids.len()));
            }
        }
        let [label] = labels else {
            return Err(format!("next_sentence_labels has {} values, expected 1", labels.len()));
        };

        self.instances += 1;
        bump(&mut self.padded_lengths, input_ids.len() as i64);
        bump(&mut self.prediction_slots, positions.len() as i64);
        bump(&mut self.sop_labels, *label);
        let real = input_mask.iter().filter(|&&m| m != 0).count();
        self.real_tokens += real as u64;
        bump(&mut self.lengths, real as i64);
        let is_real = |p: usize| input_mask.get(p).is_some_and(|&m| m != 0);
        let starts_word = |p: usize| boundary.is_none_or(|b| b[p] != 0) || p == 0;
        match boundary {
            Some(b) => {
                self.boundary_tokens +=
                    b.iter().zip(input_mask).filter(|(&b, &m)| m != 0 && b != 0).count() as u64
            }
            None => self.without_token_boundary += 1,
        }
        if let Some(s) = segments {
            self.segment_b_tokens += s.iter().zip(input_mask).filter(|(&s, &m)| m != 0 && s == 1).count() as u64;
        }

        let mut masked = vec![false; input_ids.len()];
        let mut count = 0i64;
        for ((&p, &id), &w) in positions.iter().zip(masked_ids).zip(weights) {
            if w <= 0.0 {
                continue;
            }
            count += 1;
            if p < 0 || !is_real(p as usize) {
                self.positions_out_of_range += 1;
                continue;
            }
            let p = p as usize;
            masked[p] = true;
            let shown = input_ids[p];
            if shown == mask_id {
                self.replaced_mask += 1;
            } else if shown == id {
                self.kept += 1;
            } else {
                self.random += 1;
            }
        }
        self.predictions += count as u64;
        bump(&mut self.masked_per_instance, count);

        let mut p = 0;
        while p < masked.len() {
            if !masked[p] {
                p += 1;
                continue;
            }
            let start = p;
            let mut words = 0i64;
            while p < masked.len() && masked[p] {
                if p == start || starts_word(p) {
                    words += 1;
                }
                p += 1;
            }
            bump(&mut self.span_words, words);
            bump(&mut self.span_pieces, (p - start) as i64);
            if !starts_word(start) {
                self.spans_starting_mid_word += 1;
            }
            if p < masked.len() && is_real(p) && !starts_word(p) {
                self.spans_ending_mid_word += 1;
            }
        }
        Ok(())
    }

    /// Adds `other`'s counts (and file list) to these.
    pub fn merge(&mut self, other: &DatasetStats) {
        self.files.extend(other.files.iter().cloned());
        self.instances += other.instances;
        merge_hist(&mut self.padded_lengths, &other.padded_lengths);
        merge_hist(&mut self.prediction_slots, &other.prediction_slots);
        merge_hist(&mut self.lengths, &other.lengths);
        merge_hist(&mut self.masked_per_instance, &other.masked_per_instance);
        self.real_tokens += other.real_tokens;
        self.predictions += other.predictions;
        self.replaced_mask += other.replaced_mask;
        self.kept += other.kept;
        self.random += other.random;
        self.positions_out_of_range += other.positions_out_of_range;
        merge_hist(&mut self.span_words, &other.span_words);
        merge_hist(&mut self.span_pieces, &other.span_pieces);
        self.spans_starting_mid_word += other.spans_starting_mid_word;
        self.spans_ending_mid_word += other.spans_ending_mid_word;
        merge_hist(&mut self.sop_labels, &other.sop_labels);
        self.boundary_tokens += other.boundary_tokens;
        self.without_token_boundary += other.without_token_boundary;
        self.segment_b_tokens += other.segment_b_tokens;
    }

    /// Reads every record of one file. A reader thread reads and verifies chunks of records
    /// while the previous chunk is decoded and counted in parallel; chunks are merged in file
    /// order, so the result and the first error reported do not depend on the thread count.
    pub fn of_file(path: &Path, mask_id: i64) -> Result<DatasetStats> {
        let mut reader = RecordReader::open(path)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<Record>, Option<Error>)>(2);
        std::thread::scope(|scope| {
            scope.spawn(move || loop {
                let (chunk, err) = read_chunk(&mut reader);
                let last = err.is_some() || chunk.len() < CHUNK_RECORDS;
                if tx.send((chunk, err)).is_err() || last {
                    break;
                }
            });
            let mut stats = DatasetStats::default();
            let mut records = 0u64;
            // Leaving this closure early drops `rx`, which stops the reader thread.
            for (chunk, read_error) in rx {
                records += chunk.len() as u64;
                let parts: Vec<Result<DatasetStats>> =
                    chunk.par_chunks(64).map(|part| Self::of_records(path, part, mask_id)).collect();
                for part in parts {
                    stats.merge(&part?);
                }
                if let Some(e) = read_error {
                    return Err(e);
                }
            }
            stats.files.push((path.to_path_buf(), records));
            Ok(stats)
        })
    }

    fn of_records(path: &Path, records: &[Record], mask_id: i64) -> Result<DatasetStats> {
        let mut stats = DatasetStats::default();
        let mut features = Vec::new();
        for rec in records {
            let bad = |msg: String| {
                Error::InvalidInput(format!("{}: record {} at byte {}: {msg}", path.display(), rec.index, rec.offset))
            };
            decode_example_into(&rec.data, &mut features).map_err(|e| bad(e.to_string()))?;
            stats.add_example(&features, mask_id).map_err(|e| bad(format!("not an ALBERT pretraining instance: {e}")))?;
        }
        Ok(stats)
    }

    /// Statistics over `paths`, files read in parallel; the result does not depend on the
    /// thread count. The first failing file (in the given order) is the error reported.
    pub fn of_files(paths: &[PathBuf], mask_id: i64) -> Result<DatasetStats> {
        let parts: Vec<Result<DatasetStats>> = paths.par_iter().map(|p| Self::of_file(p, mask_id)).collect();
        let mut total = DatasetStats::default();
        for part in parts {
            total.merge(&part?);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfrecord::{encode_example, Compression, FeatureValues, RecordWriter};

    struct Inst {
        ids: Vec<i64>,
        boundary: Vec<i64>,
        segments: Vec<i64>,
        positions: Vec<i64>,
        masked_ids: Vec<i64>,
        label: i64,
    }

    fn features(i: &Inst, seq: usize, preds: usize) -> Vec<(String, Feature)> {
        let pad = |v: &[i64], n: usize| {
            let mut v = v.to_vec();
            v.resize(n, 0);
            v
        };
        let mut mask = vec![1i64; i.ids.len()];
        mask.resize(seq, 0);
        let mut w = vec![1.0f32; i.positions.len()];
        w.resize(preds, 0.0);
        vec![
            ("input_ids".into(), Feature::Int64(pad(&i.ids, seq))),
            ("input_mask".into(), Feature::Int64(mask)),
            ("segment_ids".into(), Feature::Int64(pad(&i.segments, seq))),
            ("token_boundary".into(), Feature::Int64(pad(&i.boundary, seq))),
            ("masked_lm_positions".into(), Feature::Int64(pad(&i.positions, preds))),
            ("masked_lm_ids".into(), Feature::Int64(pad(&i.masked_ids, preds))),
            ("masked_lm_weights".into(), Feature::Float(w)),
            ("next_sentence_labels".into(), Feature::Int64(vec![i.label])),
        ]
    }

    fn example() -> Inst {
        // [CLS] ▁a ▁b c d [SEP] ▁e f [SEP]   positions 0..9
        // masked: 1 ([MASK]), 2,3,4 (word "▁b c d": kept, random, [MASK]), 7 (mid-word, random)
        Inst {
            ids: vec![2, 10, 4, 12, 4, 3, 14, 99, 3],
            boundary: vec![1, 1, 1, 0, 0, 1, 1, 0, 1],
            segments: vec![0, 0, 0, 0, 0, 0, 1, 1, 1],
            positions: vec![1, 2, 3, 4, 7],
            masked_ids: vec![11, 11, 12, 13, 15],
            label: 1,
        }
    }

    #[test]
    fn counts_of_a_hand_made_instance() {
        let mut s = DatasetStats::default();
        s.add_example(&features(&example(), 12, 6), DEFAULT_MASK_ID).unwrap();
        assert_eq!(s.instances, 1);
        assert_eq!(s.lengths, Histogram::from([(9, 1)]));
        assert_eq!(s.padded_lengths, Histogram::from([(12, 1)]));
        assert_eq!(s.prediction_slots, Histogram::from([(6, 1)]));
        assert_eq!(s.masked_per_instance, Histogram::from([(5, 1)]));
        // position 1: id 10 vs label 11 -> random; 2: [MASK]; 3: kept; 4: [MASK]; 7: random.
        assert_eq!((s.replaced_mask, s.kept, s.random), (2, 1, 2));
        // Spans: 1..=4 touches words ▁a, ▁b c d -> 2 words, 4 pieces; 7 -> 1 word, starts mid-word.
        assert_eq!(s.span_words, Histogram::from([(1, 1), (2, 1)]));
        assert_eq!(s.span_pieces, Histogram::from([(1, 1), (4, 1)]));
        assert_eq!((s.spans_starting_mid_word, s.spans_ending_mid_word), (1, 0));
        assert_eq!(s.sop_labels, Histogram::from([(1, 1)]));
        assert_eq!(s.boundary_tokens, 6);
        assert_eq!(s.segment_b_tokens, 3);
    }

    #[test]
    fn span_ending_mid_word() {
        let mut i = example();
        i.positions = vec![2, 3];
        i.masked_ids = vec![11, 12];
        let mut s = DatasetStats::default();
        s.add_example(&features(&i, 9, 2), DEFAULT_MASK_ID).unwrap();
        assert_eq!(s.span_words, Histogram::from([(1, 1)]));
        assert_eq!((s.spans_starting_mid_word, s.spans_ending_mid_word), (0, 1));
    }

    #[test]
    fn bad_instances_name_the_feature() {
        let mut f = features(&example(), 12, 6);
        f.retain(|(n, _)| n != "input_mask");
        let err = DatasetStats::default().add_example(&f, 4).unwrap_err();
        assert!(err.contains("missing feature \"input_mask\""), "{err}");
        let mut f = features(&example(), 12, 6);
        f[6].1 = Feature::Int64(vec![1; 6]);
        let err = DatasetStats::default().add_example(&f, 4).unwrap_err();
        assert!(err.contains("masked_lm_weights") && err.contains("expected float"), "{err}");
    }

    #[test]
    fn files_in_parallel_equal_sequential_merge() {
        let dir = std::env::temp_dir().join(format!("albert-fast-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut paths = Vec::new();
        let mut buf = Vec::new();
        for k in 0..3 {
            let path = dir.join(format!("s{k}.tfrecord"));
            let mut w = RecordWriter::new(Vec::new(), if k == 1 { Compression::Gzip } else { Compression::None });
            for r in 0..=k {
                let mut i = example();
                i.label = (r % 2) as i64;
                let f = features(&i, 12, 6);
                let borrowed: Vec<(&str, FeatureValues)> = f
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str(),
                            match v {
                                Feature::Int64(x) => FeatureValues::Int64(x),
                                Feature::Float(x) => FeatureValues::Float(x),
                                Feature::Bytes(_) => unreachable!(),
                            },
                        )
                    })
                    .collect();
                encode_example(&borrowed, &mut buf);
                w.write_record(&buf).unwrap();
            }
            std::fs::write(&path, w.finish().unwrap()).unwrap();
            paths.push(path);
        }
        let all = DatasetStats::of_files(&paths, DEFAULT_MASK_ID).unwrap();
        let mut seq = DatasetStats::default();
        for p in &paths {
            seq.merge(&DatasetStats::of_file(p, DEFAULT_MASK_ID).unwrap());
        }
        assert_eq!(all, seq);
        assert_eq!(all.instances, 6);
        assert_eq!(all.files.iter().map(|f| f.1).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(all.sop_labels, Histogram::from([(0, 4), (1, 2)]));
        // A corrupt record names the file and the record.
        let bad = dir.join("bad.tfrecord");
        let mut w = RecordWriter::new(Vec::new(), Compression::None);
        w.write_record(b"\x0a\x02\x0a").unwrap();
        std::fs::write(&bad, w.finish().unwrap()).unwrap();
        let err = DatasetStats::of_files(&[paths[0].clone(), bad.clone()], 4).unwrap_err().to_string();
        assert!(err.contains("bad.tfrecord") && err.contains("record 0") && err.contains("malformed"), "{err}");
    }
}
