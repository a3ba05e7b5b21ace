//! The SentencePiece training sample drawn in steps that can run on other machines
//! (`--cluster`, docs/cluster.md): the same sample, in the same order, with the same
//! statistics as [`super::sample_sentences`] (random sampling; the first-N mode,
//! `shuffle = false`, reads a prefix and stays on one machine).
//!
//! The sample is the bottom-k of the usable lines by `key = hash(seed, file, line)`, a key
//! that depends on the position only, so the files can be read independently:
//!
//! 1. [`census_file`], a task per file: count the lines that may enter (not blank, not too long
//!    as read) per key bucket (the key's top 16 bits), and the sampling statistics;
//! 2. the driver sums the censuses ([`read_census`]) and picks the smallest bucket range that
//!    holds `k` such lines ([`bucket_range`]);
//! 3. [`candidates_file`], a task per file: normalize only the lines in that range and write
//!    the usable ones, sorted by key, to a file of its own: sentences go through files, never
//!    through the scheduler;
//! 4. the driver reads the candidates ([`select_sample`]): every usable line below the range's
//!    end is among them, so their bottom-k is the sample. Should normalization have emptied so
//!    many lines that fewer than `k` remain, steps 3-4 repeat for the next range.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{describe_empty, line_key, merge, Entry, Sample, SampleOptions, SampleStats};
use crate::atomic::AtomicFile;
use crate::corpus::{open_raw, LineReader, LineReaderOptions};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::step_file;
use crate::text::is_python_whitespace;

/// Key buckets of a census: the top [`BUCKET_BITS`] bits of a line key.
pub const BUCKETS: usize = 1 << BUCKET_BITS;
const BUCKET_BITS: u32 = 16;
const CENSUS_MAGIC: &[u8; 8] = b"AFCENS1\n";
const CANDIDATES_MAGIC: &[u8; 8] = b"AFCAND1\n";
const BATCH_LINES: usize = 8192;

fn bucket(key: u64) -> usize {
    (key >> (64 - BUCKET_BITS)) as usize
}

fn check_shuffled(options: &SampleOptions) -> Result<()> {
    if !options.shuffle {
        return Err(Error::invalid_arg("shuffle", "a sample drawn in steps is a random one (shuffle = true)"));
    }
    Ok(())
}

/// What [`census_file`] found in one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Census {
    pub file: u32,
    pub stats: SampleStats,
    #[serde(skip)]
    pub buckets: Vec<u32>,
}

/// How a line is classified before normalization, exactly as [`super::sample_file`] does.
fn may_enter(raw: &str, limit: usize, stats: &mut SampleStats) -> bool {
    if raw.chars().all(is_python_whitespace) {
        stats.blank_lines += 1;
        return false;
    }
    if raw.trim_matches(is_python_whitespace).len() > limit {
        stats.too_long += 1;
        return false;
    }
    true
}

fn limit_of(options: &SampleOptions) -> usize {
    if options.max_sentence_bytes == 0 {
        usize::MAX
    } else {
        options.max_sentence_bytes
    }
}

fn reader(path: &Path, options: &SampleOptions, progress: Option<Arc<Progress>>) -> Result<LineReader> {
    LineReader::open_with(path, LineReaderOptions { max_line_bytes: options.max_line_bytes, progress, ..Default::default() })
}

/// Step 1 for file `file` (`path`) of the input list, written to `out` (atomically).
pub fn census_file(file: u32, path: &Path, options: &SampleOptions, out: &Path, progress: Option<Arc<Progress>>) -> Result<SampleStats> {
    check_shuffled(options)?;
    let mut census = Census { file, stats: SampleStats::default(), buckets: vec![0; BUCKETS] };
    let limit = limit_of(options);
    let mut lines = reader(path, options, progress)?;
    for (line, raw) in (0_u64..).zip(&mut lines) {
        if may_enter(&raw?, limit, &mut census.stats) {
            let b = &mut census.buckets[bucket(line_key(options.seed, file as u64, line))];
            *b = b.checked_add(1).ok_or_else(|| Error::InvalidInput(format!("{}: too many lines", path.display())))?;
        }
    }
    census.stats.input.merge(lines.stats());
    let mut f = step_file::create(out, CENSUS_MAGIC, &census)?;
    let io = |e| Error::io(out, e);
    for b in &census.buckets {
        f.write_all(&b.to_le_bytes()).map_err(io)?;
    }
    f.commit()?;
    Ok(census.stats)
}

fn bad_file(path: &Path, what: &str) -> Error {
    Error::InvalidInput(format!("{}: not a sample {what} file, or truncated", path.display()))
}

/// A census [`census_file`] wrote (a local path or a URL).
pub fn read_census(path: &Path) -> Result<Census> {
    let bad = || bad_file(path, "census");
    let mut r = std::io::BufReader::new(open_raw(path, 0)?);
    let (mut census, _): (Census, u64) = step_file::read_header(&mut r, CENSUS_MAGIC, |_| bad())?;
    let mut raw = vec![0u8; BUCKETS * 4];
    r.read_exact(&mut raw).map_err(|_| bad())?;
    census.buckets = raw.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    Ok(census)
}

/// The censuses of every input file (in input order) summed: the statistics and the count of
/// lines per bucket.
pub fn sum_census(censuses: impl IntoIterator<Item = Result<Census>>) -> Result<(SampleStats, Vec<u64>)> {
    let mut stats = SampleStats::default();
    let mut totals = vec![0u64; BUCKETS];
    for (expected, c) in censuses.into_iter().enumerate() {
        let c = c?;
        if c.file as usize != expected {
            return Err(Error::InvalidInput(format!("census {expected} is that of file {}", c.file)));
        }
        merge(&mut stats, &c.stats);
        for (t, b) in totals.iter_mut().zip(&c.buckets) {
            *t += *b as u64;
        }
    }
    Ok((stats, totals))
}

/// The buckets `first..=last` that hold at least `need` lines (or every bucket from `first` on);
/// `None` when `first` is past the last bucket.
pub fn bucket_range(totals: &[u64], first: usize, need: u64) -> Option<(usize, usize)> {
    if first >= totals.len() {
        return None;
    }
    let mut sum = 0;
    for (b, n) in totals.iter().enumerate().skip(first) {
        sum += n;
        if sum >= need {
            return Some((first, b));
        }
    }
    Some((first, totals.len() - 1))
}

/// Step 3 for file `file`: its usable lines with a key in buckets `first..=last`, normalized,
/// written to `out` sorted by key. Returns how many. Normalizes on the current rayon pool.
pub fn candidates_file(
    file: u32,
    path: &Path,
    options: &SampleOptions,
    (first, last): (usize, usize),
    out: &Path,
    progress: Option<Arc<Progress>>,
) -> Result<u64> {
    check_shuffled(options)?;
    let limit = limit_of(options);
    let mut entries: Vec<Entry> = Vec::new();
    let mut batch: Vec<(u64, u64, String)> = Vec::with_capacity(BATCH_LINES);
    let flush = |batch: &mut Vec<(u64, u64, String)>, entries: &mut Vec<Entry>| {
        let normalized: Vec<Entry> = std::mem::take(batch)
            .into_par_iter()
            .map(|(key, line, raw)| Entry { key, file, line, text: options.normalization.preprocess(&raw) })
            .collect();
        entries.extend(normalized.into_iter().filter(|e| !e.text.is_empty() && e.text.len() <= limit));
    };
    let mut lines = reader(path, options, progress)?;
    let mut ignored = SampleStats::default();
    for (line, raw) in (0_u64..).zip(&mut lines) {
        let raw = raw?;
        if !may_enter(&raw, limit, &mut ignored) {
            continue;
        }
        let key = line_key(options.seed, file as u64, line);
        if (first..=last).contains(&bucket(key)) {
            batch.push((key, line, raw));
            if batch.len() >= BATCH_LINES {
                flush(&mut batch, &mut entries);
            }
        }
    }
    flush(&mut batch, &mut entries);
    entries.sort_unstable();
    let mut f = AtomicFile::create(out)?;
    let io = |e| Error::io(out, e);
    f.write_all(CANDIDATES_MAGIC).map_err(io)?;
    f.write_all(&(entries.len() as u64).to_le_bytes()).map_err(io)?;
    for e in &entries {
        f.write_all(&e.key.to_le_bytes()).map_err(io)?;
        f.write_all(&e.file.to_le_bytes()).map_err(io)?;
        f.write_all(&e.line.to_le_bytes()).map_err(io)?;
        f.write_all(&(e.text.len() as u32).to_le_bytes()).map_err(io)?;
        f.write_all(e.text.as_bytes()).map_err(io)?;
    }
    f.commit()?;
    Ok(entries.len() as u64)
}

fn read_candidates(path: &Path, into: &mut Vec<Entry>) -> Result<()> {
    let bad = || bad_file(path, "candidates");
    let mut r = std::io::BufReader::with_capacity(1 << 20, open_raw(path, 0)?);
    let mut w8 = [0u8; 8];
    let mut w4 = [0u8; 4];
    r.read_exact(&mut w8).map_err(|_| bad())?;
    if &w8 != CANDIDATES_MAGIC {
        return Err(bad());
    }
    r.read_exact(&mut w8).map_err(|_| bad())?;
    for _ in 0..u64::from_le_bytes(w8) {
        r.read_exact(&mut w8).map_err(|_| bad())?;
        let key = u64::from_le_bytes(w8);
        r.read_exact(&mut w4).map_err(|_| bad())?;
        let file = u32::from_le_bytes(w4);
        r.read_exact(&mut w8).map_err(|_| bad())?;
        let line = u64::from_le_bytes(w8);
        r.read_exact(&mut w4).map_err(|_| bad())?;
        let mut text = vec![0u8; u32::from_le_bytes(w4) as usize];
        r.read_exact(&mut text).map_err(|_| bad())?;
        let text = String::from_utf8(text).map_err(|_| bad())?;
        into.push(Entry { key, file, line, text });
    }
    Ok(())
}

/// Step 4: the candidates of one range from every file, read and added to `found` (the
/// candidates of the earlier ranges). Returns the sample when there are at least `k` of them or
/// `exhausted` (no range is left); `None` when the next range must be read too.
pub fn select_sample(
    found: &mut Candidates,
    candidate_files: &[impl AsRef<Path>],
    k: usize,
    exhausted: bool,
    stats: &SampleStats,
    files: &[impl AsRef<Path>],
) -> Result<Option<Sample>> {
    for p in candidate_files {
        read_candidates(p.as_ref(), &mut found.0)?;
    }
    if found.len() < k && !exhausted {
        return Ok(None);
    }
    let mut entries = std::mem::take(&mut found.0);
    entries.sort_unstable();
    entries.truncate(k);
    entries.sort_by_key(|e| (e.file, e.line));
    let mut stats = stats.clone();
    stats.sampled = entries.len() as u64;
    if entries.is_empty() {
        let paths: Vec<_> = files.iter().map(|p| p.as_ref().to_path_buf()).collect();
        return Err(Error::InvalidInput(describe_empty(&paths, &stats)));
    }
    Ok(Some(Sample { sentences: entries.into_iter().map(|e| e.text).collect(), stats }))
}

/// The candidates gathered so far, for [`select_sample`].
#[derive(Debug, Default)]
pub struct Candidates(Vec<Entry>);

impl Candidates {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample_sentences;
    use super::*;
    use crate::test_util::TempDir;
    use std::path::PathBuf;

    /// The steps as a driver runs them, every file on its own.
    fn planned(files: &[PathBuf], options: &SampleOptions, dir: &Path) -> Result<Sample> {
        let census: Vec<PathBuf> = (0..files.len()).map(|i| dir.join(format!("census-{i}"))).collect();
        for (i, f) in files.iter().enumerate() {
            census_file(i as u32, f, options, &census[i], None)?;
        }
        let (stats, totals) = sum_census(census.iter().map(|p| read_census(p)))?;
        let mut found = Candidates::new();
        let mut first = 0;
        for round in 0.. {
            let need = (options.max_sentences - found.len().min(options.max_sentences)) as u64;
            let range = bucket_range(&totals, first, need.max(1));
            let parts: Vec<PathBuf> = (0..files.len()).map(|i| dir.join(format!("cand-{round}-{i}"))).collect();
            if let Some(r) = range {
                for (i, f) in files.iter().enumerate() {
                    candidates_file(i as u32, f, options, r, &parts[i], None)?;
                }
                first = r.1 + 1;
            }
            let done: &[PathBuf] = if range.is_some() { &parts } else { &[] };
            if let Some(s) = select_sample(&mut found, done, options.max_sentences, first >= BUCKETS, &stats, files)? {
                return Ok(s);
            }
        }
        unreachable!()
    }

    #[test]
    fn the_planned_sample_is_the_local_sample() {
        let d = TempDir::new("planned-sample");
        let mut files = Vec::new();
        for f in 0..4 {
            let text: String = (0..2500)
                .map(|l| match l % 13 {
                    0 => "\n".to_string(),
                    1 => format!("{}\n", "y".repeat(300)),
                    // Normalized to nothing with strip_accents: lines that count but cannot enter.
                    2 => "\u{301}\u{301}\n".to_string(),
                    _ => format!("Datei {f} Zeile {l} Äpfel\n"),
                })
                .collect();
            files.push(d.write(&format!("f{f}.txt"), &text));
        }
        for (max, strip) in [(700, false), (5000, true), (100_000, true), (1, false)] {
            let mut options = SampleOptions { max_sentences: max, seed: 11, max_sentence_bytes: 200, threads: 2, ..Default::default() };
            options.normalization.strip_accents = strip;
            let local = sample_sentences(&files, &options, None).unwrap();
            let dir = d.0.join(format!("work-{max}"));
            std::fs::create_dir_all(&dir).unwrap();
            let got = planned(&files, &options, &dir).unwrap();
            assert_eq!(got.sentences, local.sentences, "max {max}");
            assert_eq!(got.stats, local.stats, "max {max}");
        }
        let blank = vec![d.write("blank.txt", "\n \n")];
        let options = SampleOptions { max_sentences: 10, ..Default::default() };
        let dir = d.0.join("work-blank");
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (sample_sentences(&blank, &options, None).unwrap_err(), planned(&blank, &options, &dir).unwrap_err());
        assert_eq!(a.to_string(), b.to_string());
    }
}
