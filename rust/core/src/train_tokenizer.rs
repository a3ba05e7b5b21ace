//! train-tokenizer's pass over the corpus: the SentencePiece training sample, drawn in one
//! streaming pass so only the sample is ever held, normalized exactly as create-data normalizes
//! (Q1). Bottom-k by a key of each line's position, so the sample is the same for any thread
//! count; lines that can no longer enter are skipped before normalization
//! (docs/tokenizer-training.md, "Sampling with bounded memory").

use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::{InputStats, LineReader, LineReaderOptions, DEFAULT_MAX_LINE_BYTES};
use crate::error::{Error, Result};
use crate::hashing::splitmix64;
use crate::progress::Progress;
use crate::text::{is_python_whitespace, Normalization};

/// The same sample drawn in steps that can run on other machines (`--cluster`).
pub mod planned;

/// Lines normalized together (in parallel) per file.
const BATCH_LINES: usize = 8192;

/// How to draw the sample.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SampleOptions {
    /// Applied to every line before it enters the sample.
    #[serde(flatten)]
    pub normalization: Normalization,
    /// `input_sentence_size`: the most sentences kept.
    pub max_sentences: usize,
    /// Random sample (true) or the first `max_sentences` usable lines (false).
    pub shuffle: bool,
    /// Seed of the line keys.
    pub seed: u64,
    /// Lines longer than this (bytes, before and after normalization) are dropped; 0: no limit.
    pub max_sentence_bytes: usize,
    /// Passed to [`LineReader`].
    pub max_line_bytes: usize,
    /// Worker threads; 0: all cores.
    pub threads: usize,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            normalization: Normalization::default(),
            max_sentences: 10_000_000,
            shuffle: true,
            seed: 0,
            max_sentence_bytes: 4192, // SentencePiece's max_sentence_length default
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            threads: 0,
        }
    }
}

/// What drawing the sample found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleStats {
    /// Totals of the reading itself.
    #[serde(flatten)]
    pub input: InputStats,
    /// Lines that are empty or whitespace only (document separators).
    pub blank_lines: u64,
    /// Lines dropped for exceeding `max_sentence_bytes` (as read; the rare line that only
    /// normalization makes too long, or empty, is dropped too but not counted, because only the
    /// lines that could still enter the sample are normalized, and which those are depends on
    /// scheduling — counting them would make these statistics vary with the thread count).
    pub too_long: u64,
    /// Sentences kept.
    pub sampled: u64,
}

/// The drawn sample, in corpus order.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub sentences: Vec<String>,
    pub stats: SampleStats,
}

/// The sampling key of line `line` of file `file`.
#[inline]
fn line_key(seed: u64, file: u64, line: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ file) ^ line)
}

/// One kept sentence; ordered by (key, file, line), a total order, so the bottom-k set is unique.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    key: u64,
    file: u32,
    line: u64,
    text: String,
}

/// The shared bounded max-heap of the current bottom-k.
struct Reservoir {
    capacity: usize,
    heap: Mutex<BinaryHeap<Entry>>,
    /// Largest key in a full heap (u64::MAX until full): lines above it are skipped unread.
    threshold: AtomicU64,
}

impl Reservoir {
    fn new(capacity: usize) -> Self {
        Reservoir { capacity, heap: Mutex::new(BinaryHeap::new()), threshold: AtomicU64::new(u64::MAX) }
    }

    #[inline]
    fn may_enter(&self, key: u64) -> bool {
        key <= self.threshold.load(Ordering::Relaxed)
    }

    fn offer(&self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        // A poisoned lock means another worker panicked; its panic is what surfaces.
        let mut heap = match self.heap.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        for e in entries {
            if heap.len() < self.capacity {
                heap.push(e);
            } else if let Some(mut top) = heap.peek_mut() {
                if e < *top {
                    *top = e;
                }
            }
        }
        if heap.len() >= self.capacity {
            if let Some(top) = heap.peek() {
                self.threshold.store(top.key, Ordering::Relaxed);
            }
        }
    }

    fn is_full(&self) -> bool {
        self.threshold.load(Ordering::Relaxed) != u64::MAX
            || self.heap.lock().map(|h| h.len() >= self.capacity).unwrap_or(true)
    }

    fn into_sorted(self) -> Vec<Entry> {
        let heap = match self.heap.into_inner() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut v = heap.into_vec();
        v.sort_by_key(|e| (e.file, e.line));
        v
    }
}

/// Draws the training sample from `files` (see the module docs).
pub fn sample_sentences(files: &[PathBuf], options: &SampleOptions, progress: Option<Arc<Progress>>) -> Result<Sample> {
    if options.max_sentences == 0 {
        return Err(Error::invalid_arg("input_sentence_size", "must be at least 1"));
    }
    if files.is_empty() {
        return Err(Error::InvalidInput("no input files given".into()));
    }
    if files.len() > u32::MAX as usize {
        return Err(Error::InvalidInput(format!("too many input files ({})", files.len())));
    }
    if let Some(p) = &progress {
        Progress::set(&p.bytes_total, crate::corpus::total_size(files));
        Progress::set(&p.files_total, files.len() as u64);
    }
    let pool = crate::parallel::thread_pool(options.threads)?;
    let reservoir = Reservoir::new(options.max_sentences);
    let abort = AtomicBool::new(false);
    let results: Vec<Result<SampleStats>> = pool.install(|| {
        if options.shuffle {
            files
                .par_iter()
                .enumerate()
                .map(|(i, f)| sample_file(i as u32, f, options, &reservoir, &abort, progress.clone()))
                .inspect(|r| {
                    if r.is_err() {
                        abort.store(true, Ordering::Relaxed);
                    }
                })
                .collect()
        } else {
            // First-N: sequential over files, so reading can stop as soon as the sample is full.
            let mut out = Vec::new();
            for (i, f) in files.iter().enumerate() {
                if reservoir.is_full() {
                    break;
                }
                let r = sample_file(i as u32, f, options, &reservoir, &abort, progress.clone());
                let failed = r.is_err();
                out.push(r);
                if failed {
                    break;
                }
            }
            out
        }
    });
    let mut stats = SampleStats::default();
    let mut interrupted = false;
    for r in results {
        match r {
            Ok(s) => merge(&mut stats, &s),
            // Another file's failure stopped this one: report that failure, in file order.
            Err(Error::Interrupted) => interrupted = true,
            Err(e) => return Err(e),
        }
    }
    if interrupted {
        return Err(Error::Interrupted);
    }
    let entries = reservoir.into_sorted();
    stats.sampled = entries.len() as u64;
    if entries.is_empty() {
        return Err(Error::InvalidInput(describe_empty(files, &stats)));
    }
    Ok(Sample { sentences: entries.into_iter().map(|e| e.text).collect(), stats })
}

fn describe_empty(files: &[PathBuf], stats: &SampleStats) -> String {
    let what = if files.len() == 1 { files[0].display().to_string() } else { format!("{} input files", files.len()) };
    let mut msg = format!("{what}: no usable text ({} lines read", stats.input.lines);
    if stats.blank_lines > 0 {
        msg.push_str(&format!(", {} blank", stats.blank_lines));
    }
    if stats.too_long > 0 {
        msg.push_str(&format!(", {} longer than max_sentence_length", stats.too_long));
    }
    msg.push(')');
    msg
}

fn merge(into: &mut SampleStats, s: &SampleStats) {
    into.input.merge(&s.input);
    into.blank_lines += s.blank_lines;
    into.too_long += s.too_long;
}

/// A line that may enter the sample, before normalization.
struct Candidate {
    key: u64,
    line: u64,
    raw: String,
}

fn sample_file(
    file_index: u32,
    path: &Path,
    options: &SampleOptions,
    reservoir: &Reservoir,
    abort: &AtomicBool,
    progress: Option<Arc<Progress>>,
) -> Result<SampleStats> {
    let mut stats = SampleStats::default();
    if abort.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let reader_options = LineReaderOptions { max_line_bytes: options.max_line_bytes, progress, ..Default::default() };
    let mut reader = LineReader::open_with(path, reader_options)?;
    let mut batch: Vec<Candidate> = Vec::with_capacity(BATCH_LINES);
    let limit = if options.max_sentence_bytes == 0 { usize::MAX } else { options.max_sentence_bytes };
    for (this_line, line) in (0_u64..).zip(&mut reader) {
        let raw = line?;
        if raw.chars().all(is_python_whitespace) {
            stats.blank_lines += 1;
            continue;
        }
        if raw.trim_matches(is_python_whitespace).len() > limit {
            stats.too_long += 1;
            continue;
        }
        let key = if options.shuffle { line_key(options.seed, file_index as u64, this_line) } else { 0 };
        if !reservoir.may_enter(key) {
            continue;
        }
        batch.push(Candidate { key, line: this_line, raw });
        if batch.len() >= BATCH_LINES {
            flush(file_index, &mut batch, options, limit, reservoir);
            if abort.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            if !options.shuffle && reservoir.is_full() {
                break;
            }
        }
    }
    flush(file_index, &mut batch, options, limit, reservoir);
    stats.input.merge(reader.stats());
    Ok(stats)
}

/// Normalizes a batch in parallel and offers the usable lines to the reservoir.
fn flush(
    file_index: u32,
    batch: &mut Vec<Candidate>,
    options: &SampleOptions,
    limit: usize,
    reservoir: &Reservoir,
) {
    let candidates = std::mem::take(batch);
    // Lines the reservoir no longer wants are dropped before the costly normalization.
    let normalized: Vec<(Candidate, String)> = candidates
        .into_par_iter()
        .filter(|c| reservoir.may_enter(c.key))
        .map(|c| {
            let text = options.normalization.preprocess(&c.raw);
            (c, text)
        })
        .collect();
    let entries = normalized
        .into_iter()
        .filter(|(_, text)| !text.is_empty() && text.len() <= limit)
        .map(|(c, text)| Entry { key: c.key, file: file_index, line: c.line, text })
        .collect();
    reservoir.offer(entries);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    use crate::test_util::TempDir;

    fn corpus(d: &TempDir, files: usize, lines: usize) -> Vec<PathBuf> {
        (0..files)
            .map(|f| {
                let text: String = (0..lines)
                    .map(|l| if l % 10 == 9 { "\n".to_string() } else { format!("Datei {f} Zeile {l} Äpfel\n") })
                    .collect();
                d.write(&format!("f{f}.txt"), &text)
            })
            .collect()
    }

    fn opts(max: usize, threads: usize) -> SampleOptions {
        SampleOptions { max_sentences: max, threads, seed: 7, ..Default::default() }
    }

    #[test]
    fn sample_is_bounded_normalized_and_in_corpus_order() {
        let d = TempDir::new("bounded");
        let files = corpus(&d, 3, 1000);
        let s = sample_sentences(&files, &opts(500, 2), None).unwrap();
        assert_eq!(s.sentences.len(), 500);
        assert_eq!(s.stats.sampled, 500);
        assert_eq!(s.stats.blank_lines, 300);
        assert_eq!(s.stats.input.lines, 3000);
        assert!(s.sentences.iter().all(|l| l.starts_with("datei ") && l.ends_with("äpfel")), "lower-cased");
        // Corpus order: file number, then line number, never decreasing.
        let pos: Vec<(u32, u32)> = s
            .sentences
            .iter()
            .map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                (w[1].parse().unwrap(), w[3].parse().unwrap())
            })
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
        // Drawn from every file, not just the first.
        for f in 0..3 {
            assert!(pos.iter().any(|p| p.0 == f));
        }
    }

    #[test]
    fn same_seed_same_sample_for_any_thread_count() {
        let d = TempDir::new("determinism");
        let files = corpus(&d, 5, 3000);
        let a = sample_sentences(&files, &opts(1000, 1), None).unwrap();
        let b = sample_sentences(&files, &opts(1000, 2), None).unwrap();
        let c = sample_sentences(&files, &opts(1000, 7), None).unwrap();
        assert_eq!(a.sentences, b.sentences);
        assert_eq!(a.sentences, c.sentences);
        assert_eq!(a.stats, c.stats);
        let other_seed = SampleOptions { seed: 8, ..opts(1000, 2) };
        let d2 = sample_sentences(&files, &other_seed, None).unwrap();
        assert_ne!(a.sentences, d2.sentences);
    }

    #[test]
    fn sample_is_roughly_uniform() {
        // 4 files x 2700 usable lines, sample 2000: each file should get about a quarter.
        let d = TempDir::new("uniform");
        let files = corpus(&d, 4, 3000);
        let s = sample_sentences(&files, &opts(2000, 2), None).unwrap();
        for f in 0..4 {
            let n = s.sentences.iter().filter(|l| l.starts_with(&format!("datei {f} "))).count();
            assert!((400..600).contains(&n), "file {f}: {n}");
        }
    }

    #[test]
    fn small_corpus_is_taken_whole() {
        let d = TempDir::new("whole");
        let files = corpus(&d, 2, 50);
        let s = sample_sentences(&files, &opts(1_000_000, 2), None).unwrap();
        assert_eq!(s.sentences.len(), 90);
    }

    #[test]
    fn no_shuffle_takes_the_first_lines() {
        let d = TempDir::new("first");
        let files = corpus(&d, 3, 1000);
        let o = SampleOptions { shuffle: false, ..opts(20, 2) };
        let s = sample_sentences(&files, &o, None).unwrap();
        let expected: Vec<String> =
            (0..22).filter(|l| l % 10 != 9).map(|l| format!("datei 0 zeile {l} äpfel")).collect();
        assert_eq!(s.sentences, expected);
    }

    #[test]
    fn too_long_and_normalized_empty_lines_are_dropped() {
        let d = TempDir::new("drops");
        let long = "x".repeat(5000);
        let p = d.write("a.txt", &format!("keep me\n{long}\n\u{301}\u{308}\n  \t \nalso kept\n"));
        let o = SampleOptions {
            normalization: Normalization { lowercase: false, strip_accents: true, replace_quotes: true },
            ..opts(100, 1)
        };
        let s = sample_sentences(&[p], &o, None).unwrap();
        assert_eq!(s.sentences, ["keep me", "also kept"]);
        assert_eq!((s.stats.too_long, s.stats.blank_lines), (1, 1));
    }

    #[test]
    fn empty_input_is_a_clear_error() {
        let d = TempDir::new("empty");
        let p = d.write("blank.txt", "\n  \n\t\n");
        let err = sample_sentences(&[p], &opts(10, 1), None).err().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidInput(_)) && msg.contains("blank.txt") && msg.contains("no usable text"), "{msg}");
    }

    #[test]
    fn a_bad_file_fails_the_whole_sample_naming_it() {
        let d = TempDir::new("badfile");
        let good = d.write("a.txt", "fine\n");
        let bad = d.0.join("b.bin");
        fs::write(&bad, b"\x00\x01binary").unwrap();
        let err = sample_sentences(&[good, bad], &opts(10, 2), None).err().unwrap();
        assert!(err.to_string().contains("b.bin"), "{err}");
    }

    #[test]
    fn cancellation_stops_with_interrupted() {
        let d = TempDir::new("cancel");
        let files = corpus(&d, 2, 20_000);
        let progress = Progress::new();
        progress.cancel();
        let err = sample_sentences(&files, &opts(10, 2), Some(progress)).err().unwrap();
        assert!(matches!(err, Error::Interrupted), "{err}");
    }
}
