//! prepare-corpus in steps that can run on other machines (`--cluster`, docs/cluster.md), with
//! output byte-identical to the single-process run ([`super::prepare_corpus`]). De-duplication
//! is global and ordered (the first copy of a document is kept), so the work is split in four,
//! and every document is read, cleaned and sentence-split once, as the local run does:
//!
//! 1. [`index_file`], a task per input file: read and clean each document, split it into
//!    sentences and append the text the output will hold to the file's *staged text* (a file
//!    in the run's staging area, next to the output; written atomically); its [`FileIndex`] (a
//!    compact file) records per document its cleaned size, its de-duplication hash, where its
//!    text lies in the staged text, its sentences and its line. A copy of an earlier document
//!    of the same file is certainly a duplicate: it is not split, and stages nothing;
//! 2. [`plan_shards`], on the driver, in input order: keep the first copy of each hash and
//!    assign the kept documents to shards by cleaned size exactly as the local run does; each
//!    shard gets its first and last document and the positions of the duplicates between them
//!    ([`CorpusShard`]);
//! 3. [`build_shard`], a task per shard: read its documents' entries from the indexes and copy
//!    the staged text of the kept ones, in order, into the shard (atomically); its record and
//!    the statistics of its documents ([`DocumentStats`]) come back. Nothing is cleaned or
//!    split again;
//! 4. [`plan_stats`], on the driver: `stats.json` from the plan's counts (with each file's
//!    report from the index step) and the shards' records and document statistics in shard
//!    order, the same statistics the local run writes.
//!
//! Only paths, document numbers and counts travel between the steps, never text: the text
//! goes from step 1 to step 3 through the staging area, which every worker reaches (it lies
//! under the output location) and which the driver removes when the run is done.

use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cleaning::{clean_document, render_document, CleanDoc, CleanStats};
use super::journal::ShardRecord;
use super::stats::DocumentStats;
use super::stage::{stats_value, Counts, PrepareOptions};
use crate::atomic::AtomicFile;
use crate::corpus::prepared::shard_name;
use crate::corpus::{open_raw, read_documents, Flow, RawDocument, ReaderStats};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::sentences::PunktSentenceTokenizer;
use crate::step_file;

const INDEX_MAGIC: &[u8; 8] = b"AFPIDX2\n";
const ENTRY_BYTES: u64 = 56;

/// One document of a [`FileIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocEntry {
    /// Where its text lies in the file's staged text: (offset, bytes); no bytes for a document
    /// without sentences, one that cleaning empties and a copy of an earlier one in the file.
    pub staged: (u64, u64),
    /// Its cleaned size as the shard assignment counts it; 0 for a document that cleaning
    /// empties.
    pub cleaned_bytes: u64,
    /// Its sentences as written, and the line of the input file it starts on (its statistics).
    pub sentences: u64,
    pub line: u64,
    /// The de-duplication key (0 without de-duplication).
    pub hash: u128,
}

impl DocEntry {
    fn to_bytes(self) -> [u8; ENTRY_BYTES as usize] {
        let mut rec = [0u8; ENTRY_BYTES as usize];
        for (i, v) in [self.staged.0, self.staged.1, self.cleaned_bytes, self.sentences, self.line].into_iter().enumerate() {
            rec[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        rec[40..].copy_from_slice(&self.hash.to_le_bytes());
        rec
    }

    fn from_bytes(rec: &[u8; ENTRY_BYTES as usize]) -> DocEntry {
        let u = |i: usize| u64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let hash = u128::from_le_bytes(rec[40..].try_into().expect("16 bytes"));
        DocEntry { staged: (u(0), u(1)), cleaned_bytes: u(2), sentences: u(3), line: u(4), hash }
    }
}

/// What the index step found in one input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileIndex {
    /// The run's fingerprint: an index of another run is never used.
    pub fingerprint: String,
    /// The file's place in the input list.
    pub file: usize,
    /// What the read counted, with the file's report (layout, mode, documents).
    pub read: ReaderStats,
    pub clean: CleanStats,
    /// The size of the file's staged text.
    pub staged_bytes: u64,
    /// The number of documents (`docs` may hold only some: [`FileIndex::read_part`]).
    pub documents: u64,
    #[serde(skip)]
    pub docs: Vec<DocEntry>,
}

impl FileIndex {
    /// Writes the index atomically: a JSON header, then the documents as fixed-size records.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut f = step_file::create(path, INDEX_MAGIC, self)?;
        let io = |e| Error::io(path, e);
        for d in &self.docs {
            f.write_all(&d.to_bytes()).map_err(io)?;
        }
        f.commit()
    }

    /// Reads a whole index [`FileIndex::write`] wrote (a local path or a URL).
    pub fn read(path: &Path) -> Result<FileIndex> {
        Self::read_part(path, 0, None)
    }

    /// Reads an index with the entries of its documents `first..first + count` only (all from
    /// `first` on without `count`): the records are found by seeking, not read through.
    pub fn read_part(path: &Path, first: u64, count: Option<u64>) -> Result<FileIndex> {
        let bad = |what: &str| Error::InvalidInput(format!("{}: not a prepare-corpus index ({what})", path.display()));
        let mut r = open_raw(path, 0)?;
        let (mut index, records): (FileIndex, u64) = step_file::read_header(&mut r, INDEX_MAGIC, bad)?;
        let first = first.min(index.documents);
        let n = count.unwrap_or(u64::MAX).min(index.documents - first);
        let mut r: Box<dyn Read + Send> = if first == 0 { r } else { open_raw(path, records + first * ENTRY_BYTES)? };
        let mut r = BufReader::with_capacity(1 << 20, &mut r);
        index.docs.reserve_exact(n as usize);
        let mut rec = [0u8; ENTRY_BYTES as usize];
        for _ in 0..n {
            r.read_exact(&mut rec).map_err(|_| bad("truncated"))?;
            index.docs.push(DocEntry::from_bytes(&rec));
        }
        Ok(index)
    }
}

/// The index step's writer of one file's staged text and entries.
struct Stager<'a> {
    opts: &'a PrepareOptions,
    splitter: &'a PunktSentenceTokenizer,
    out: AtomicFile,
    /// Hashes of the file's documents so far: a copy of one is not split or staged.
    seen: HashSet<u128>,
    docs: Vec<DocEntry>,
    clean: CleanStats,
    staged_bytes: u64,
}

impl Stager<'_> {
    /// Cleans a batch in parallel, splits its first copies in parallel, and stages them in order.
    fn batch(&mut self, batch: &mut Vec<RawDocument>) -> Result<()> {
        let dedup = self.opts.dedup();
        let clean = &self.opts.clean;
        let cleaned: Vec<(CleanDoc, CleanStats, u128)> = batch
            .par_iter()
            .map(|d| {
                let (c, s) = clean_document(d, clean);
                let h = if dedup && !c.paragraphs.is_empty() { c.hash128() } else { 0 };
                (c, s, h)
            })
            .collect();
        batch.clear();
        let first: Vec<bool> = cleaned.iter().map(|(c, _, h)| !c.paragraphs.is_empty() && (!dedup || self.seen.insert(*h))).collect();
        let splitter = self.splitter;
        let rendered: Vec<Option<(String, u64)>> =
            cleaned.par_iter().zip(&first).map(|((c, _, _), &f)| f.then(|| render_document(c, splitter, clean))).collect();
        for ((c, s, hash), r) in cleaned.into_iter().zip(rendered) {
            self.clean.add(&s);
            let (bytes, sentences) = match r {
                Some((text, n)) if n > 0 => {
                    self.out.write_all(text.as_bytes()).map_err(|e| Error::io(self.out.path(), e))?;
                    (text.len() as u64, n)
                }
                _ => (0, 0),
            };
            self.docs.push(DocEntry {
                staged: (self.staged_bytes, bytes),
                cleaned_bytes: if c.paragraphs.is_empty() { 0 } else { c.bytes() },
                sentences,
                line: c.origin.line,
                hash,
            });
            self.staged_bytes += bytes;
        }
        Ok(())
    }
}

/// Step 1: the index of input file `file` (`path`), read, cleaned and split as the local run
/// reads, cleans and splits it; its staged text is written to `staged` (atomically, before the
/// index is returned). Runs on the current rayon pool.
pub fn index_file(
    path: &Path,
    file: usize,
    opts: &PrepareOptions,
    splitter: &PunktSentenceTokenizer,
    fingerprint: &str,
    staged: &Path,
    progress: Option<Arc<Progress>>,
) -> Result<FileIndex> {
    opts.validate()?;
    let mut read = ReaderStats::default();
    let mut stager =
        Stager { opts, splitter, out: AtomicFile::create(staged)?, seen: HashSet::new(), docs: Vec::new(), clean: CleanStats::default(), staged_bytes: 0 };
    let (mut batch, mut batch_bytes) = (Vec::new(), 0u64);
    read_documents(&[path.to_path_buf()], &opts.documents(progress.clone()), &mut read, |doc| {
        batch_bytes += doc.bytes;
        batch.push(doc);
        if batch_bytes >= opts.batch_bytes as u64 {
            batch_bytes = 0;
            stager.batch(&mut batch)?;
            if let Some(p) = &progress {
                p.check()?;
            }
        }
        Ok(Flow::Continue)
    })?;
    stager.batch(&mut batch)?;
    let Stager { out, docs, clean, staged_bytes, .. } = stager;
    out.commit()?;
    // The file was read alone: its report's index is its place in the input list.
    read.files.iter_mut().for_each(|f| f.index = file);
    Ok(FileIndex { fingerprint: fingerprint.to_string(), file, read, clean, staged_bytes, documents: docs.len() as u64, docs })
}

/// One shard of a [`PreparePlan`]: its documents, and which of them to skip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusShard {
    pub index: usize,
    pub file_name: String,
    /// Its first and its last document: (input file, document number in the file's index).
    pub first: (usize, u64),
    pub last: (usize, u64),
    /// Documents assigned to it, and their cleaned bytes.
    pub documents: u64,
    pub cleaned_bytes: u64,
    /// Duplicates between its first and last document, as positions among the documents from
    /// the first to the last (0: the first), ascending. (Documents that cleaning emptied are
    /// skipped by their entry.)
    pub skip: Vec<u64>,
}

impl CorpusShard {
    /// The input files (their indices) its documents come from.
    pub fn files(&self) -> std::ops::RangeInclusive<usize> {
        self.first.0..=self.last.0
    }
}

/// Step 2's result: every shard, and the counts the whole read made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparePlan {
    pub fingerprint: String,
    pub shards: Vec<CorpusShard>,
    pub read: ReaderStats,
    pub counts: Counts,
}

/// Step 2: the shards, from the indexes of every input file in input order.
pub fn plan_shards(indexes: impl IntoIterator<Item = Result<FileIndex>>, fingerprint: &str, opts: &PrepareOptions) -> Result<PreparePlan> {
    let mut plan = PreparePlan { fingerprint: fingerprint.to_string(), shards: Vec::new(), read: ReaderStats::default(), counts: Counts::default() };
    let mut seen: HashSet<u128> = HashSet::new();
    let (dedup, mut fill) = (opts.dedup(), 0u64);
    // The open shard, the position of the next document from its first on, and duplicates
    // since its last assigned document (inside it only if another one follows).
    let mut open: Option<CorpusShard> = None;
    let (mut ordinal, mut pending) = (0u64, Vec::new());
    for (expected, index) in indexes.into_iter().enumerate() {
        let index = index?;
        if index.file != expected || index.fingerprint != fingerprint || index.docs.len() as u64 != index.documents {
            return Err(Error::InvalidInput(format!(
                "index {expected}: belongs to another prepare-corpus run (file {}, fingerprint {})",
                index.file, index.fingerprint
            )));
        }
        plan.read.merge(&index.read);
        plan.counts.clean.add(&index.clean);
        for (k, d) in index.docs.iter().enumerate() {
            let at = (index.file, k as u64);
            if d.cleaned_bytes == 0 {
                plan.counts.empty += 1;
                ordinal += open.is_some() as u64;
                continue;
            }
            if dedup && !seen.insert(d.hash) {
                plan.counts.duplicates += 1;
                if open.is_some() {
                    pending.push(ordinal);
                    ordinal += 1;
                }
                continue;
            }
            let shard = open.get_or_insert_with(|| {
                ordinal = 0;
                pending.clear();
                let i = plan.shards.len();
                CorpusShard { index: i, file_name: shard_name(i), first: at, last: at, documents: 0, cleaned_bytes: 0, skip: Vec::new() }
            });
            shard.skip.append(&mut pending);
            shard.last = at;
            shard.documents += 1;
            shard.cleaned_bytes += d.cleaned_bytes;
            ordinal += 1;
            fill += d.cleaned_bytes;
            if fill >= opts.shard_bytes {
                fill = 0;
                plan.shards.extend(open.take());
            }
        }
    }
    plan.shards.extend(open.take());
    Ok(plan)
}

/// Where [`index_file`] left one input file's results: its index and its staged text (local
/// paths or URLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    pub index: PathBuf,
    pub text: PathBuf,
}

/// Step 3: builds shard `shard` into the file `out_path`, atomically, from the staged results
/// of the input files it spans (`staged`, one per file of [`CorpusShard::files`]); returns its
/// record and its documents' statistics (files by input index, as the local run counts them).
pub fn build_shard(staged: &[Staged], shard: &CorpusShard, out_path: &Path, progress: Option<Arc<Progress>>) -> Result<(ShardRecord, DocumentStats)> {
    if staged.len() != shard.files().count() {
        return Err(Error::InvalidInput(format!(
            "{}: spans {} input files, given the staged results of {}",
            shard.file_name,
            shard.files().count(),
            staged.len()
        )));
    }
    let mut documents = DocumentStats::default();
    let mut out = AtomicFile::create(out_path)?;
    let mut record = ShardRecord { file: shard.file_name.clone(), ..Default::default() };
    let (mut assigned, mut cleaned_bytes) = (0u64, 0u64);
    let mut skip = shard.skip.iter().copied().peekable();
    let mut ordinal = 0u64;
    for (file, part) in shard.files().zip(staged) {
        let first = if file == shard.first.0 { shard.first.1 } else { 0 };
        let count = (file == shard.last.0).then(|| (shard.last.1 + 1).saturating_sub(first));
        let index = FileIndex::read_part(&part.index, first, count)?;
        if count.is_some_and(|n| index.docs.len() as u64 != n) {
            return Err(Error::InvalidInput(format!("{}: holds fewer documents than planned", part.index.display())));
        }
        let mut at = index.docs.first().map_or(0, |d| d.staged.0);
        let mut text = BufReader::with_capacity(1 << 20, open_raw(&part.text, at)?);
        let short = |at: u64| {
            Error::InvalidInput(format!("{}: the staged text ends at byte {at}, before its index says", part.text.display()))
        };
        for d in &index.docs {
            let this = ordinal;
            ordinal += 1;
            if d.staged.0 != at || d.staged.0 + d.staged.1 > index.staged_bytes {
                return Err(Error::InvalidInput(format!("{}: document {}: not where its index says", part.text.display(), this)));
            }
            let keep = if d.cleaned_bytes == 0 {
                false
            } else if skip.peek() == Some(&this) {
                skip.next();
                false
            } else {
                true
            };
            let mut piece = (&mut text).take(d.staged.1);
            let copied = if keep {
                assigned += 1;
                cleaned_bytes += d.cleaned_bytes;
                std::io::copy(&mut piece, &mut out).map_err(|e| Error::io(out_path, e))?
            } else {
                std::io::copy(&mut piece, &mut std::io::sink()).map_err(|e| Error::io(&part.text, e))?
            };
            if copied != d.staged.1 {
                return Err(short(at + copied));
            }
            at += copied;
            if keep && d.sentences > 0 {
                record.documents += 1;
                record.sentences += d.sentences;
                record.bytes += d.staged.1;
                documents.add(file, d.line, d.staged.1, d.sentences);
            }
        }
        if let Some(p) = &progress {
            p.check()?;
        }
    }
    if (assigned, cleaned_bytes) != (shard.documents, shard.cleaned_bytes) {
        return Err(Error::InvalidInput(format!(
            "the staging area changed: {} no longer finds the documents planned for it ({} of {} found)",
            shard.file_name, assigned, shard.documents
        )));
    }
    out.commit()?;
    Ok((record, documents))
}

/// Step 4: the run's statistics (what the local run writes to `stats.json`) from the plan and
/// the shards' records and document statistics in shard order. `output` names the output
/// directory.
#[allow(clippy::too_many_arguments)]
pub fn plan_stats(
    plan: &PreparePlan,
    records: Vec<ShardRecord>,
    documents: &[DocumentStats],
    output: &str,
    files: usize,
    skipped_hidden: u64,
    resumed_shards: usize,
    opts: &PrepareOptions,
    extra_stats: Map<String, Value>,
) -> Result<Value> {
    if records.len() != plan.shards.len()
        || documents.len() != records.len()
        || records.iter().zip(&plan.shards).any(|(r, s)| r.file != s.file_name)
    {
        return Err(Error::InvalidInput(format!(
            "expected the records and document statistics of {} shards in order, got {} and {}",
            plan.shards.len(),
            records.len(),
            documents.len()
        )));
    }
    let mut merged = DocumentStats::default();
    documents.iter().for_each(|d| merged.merge(d));
    stats_value(output, &plan.fingerprint, files, skipped_hidden, &plan.read, &plan.counts, records, &merged, opts, resumed_shards, extra_stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::prepared::STATS_FILE;
    use crate::prepare_corpus::stage::{fingerprint, prepare_corpus};
    use crate::test_util::{splitter, TempDir};
    use std::fs;

    /// Runs the four steps (each shard alone, as a cluster would) into `out`.
    fn planned_run(inputs: &[String], out: &Path, opts: &PrepareOptions) -> Value {
        let files = crate::corpus::expand_inputs(inputs).unwrap();
        let sp = splitter();
        let fp = fingerprint(&files, opts, &sp);
        let staging = out.join("staging");
        fs::create_dir_all(&staging).unwrap();
        let staged: Vec<Staged> = (0..files.len())
            .map(|i| Staged { index: staging.join(format!("index-{i}.bin")), text: staging.join(format!("text-{i}.txt")) })
            .collect();
        for (i, f) in files.iter().enumerate() {
            index_file(f, i, opts, &sp, &fp, &staged[i].text, None).unwrap().write(&staged[i].index).unwrap();
        }
        let plan = plan_shards(staged.iter().map(|s| FileIndex::read(&s.index)), &fp, opts).unwrap();
        // A plan travels as JSON and comes back the same.
        let plan: PreparePlan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        let (records, documents): (Vec<_>, Vec<_>) =
            plan.shards.iter().map(|s| build_shard(&staged[s.files()], s, &out.join(&s.file_name), None).unwrap()).unzip();
        fs::remove_dir_all(staging).unwrap();
        plan_stats(&plan, records, &documents, "OUT", files.len(), 0, 0, opts, Map::new()).unwrap()
    }

    fn dir_bytes(d: &Path) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("corpus-"))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn planned_run_equals_the_local_run_in_every_mode() {
        let d = TempDir::new("planned");
        let mut paras = String::new();
        for i in 0..120 {
            // Duplicates (every 7th repeats an earlier one), short lines, blank runs.
            let n = if i % 7 == 6 { i - 3 } else { i };
            paras.push_str(&format!("Dr. Smith wrote part {n}. It was good.\nA second line of {n}.\n7\n\n\n"));
        }
        let jsonl: String = (0..80)
            .map(|i| format!("{{\"text\": \"Item {}. Ends here.\\n\\nNew para {}.\"}}\n{}", i % 50, i, if i % 9 == 0 { "not json\n" } else { "" }))
            .collect();
        let docs: String = (0..60).map(|i| format!("<doc id=\"{i}\">\nTitle {}\n\nBody {i}. More.\n</doc>\n", i % 40)).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(paras.as_bytes()).unwrap();
        let inputs = vec![
            d.write_string("a.txt", &paras),
            d.write_string("b.jsonl", &jsonl),
            d.write_string("c.txt", &docs),
            d.write("d.txt.gz", &gz.finish().unwrap()).to_string_lossy().into_owned(),
            d.write_string("e.txt", ""),
        ];
        for (k, mode) in ["auto", "line", "file", "blank-line", "group"].iter().enumerate() {
            for dedup in [true, false] {
                let opts = PrepareOptions {
                    doc_boundary: mode.parse().unwrap(),
                    shard_bytes: 700 + 300 * k as u64,
                    max_document_bytes: if *mode == "file" { 2048 } else { 64 << 20 },
                    // Group mode: documents of a few paragraphs, spans that start inside files.
                    target_document_bytes: if *mode == "group" { 200 } else { 16 << 10 },
                    batch_bytes: 1000,
                    clean: super::super::CleanOptions { dedup, ..Default::default() },
                    ..Default::default()
                };
                let local = d.0.join(format!("local-{mode}-{dedup}"));
                let planned = d.0.join(format!("planned-{mode}-{dedup}"));
                let mut expected = prepare_corpus(&inputs, &local, &splitter(), &opts, None, Map::new()).unwrap();
                let got = planned_run(&inputs, &planned, &opts);
                assert!(got["shards"].as_array().unwrap().len() > 3, "{mode}: {got}");
                expected["output"] = Value::from("OUT");
                assert_eq!(got, expected, "{mode} dedup={dedup}");
                assert_eq!(dir_bytes(&planned), dir_bytes(&local), "{mode} dedup={dedup}");
                assert!(local.join(STATS_FILE).is_file());
            }
        }
    }

    #[test]
    fn a_damaged_staging_area_is_detected_not_built() {
        let d = TempDir::new("damaged");
        let input = d.write_string("a.txt", &"One more sentence here.\n\nAnother one, different.\n\n".repeat(50));
        let opts = PrepareOptions { shard_bytes: 200, clean: super::super::CleanOptions { dedup: false, ..Default::default() }, ..Default::default() };
        let files = crate::corpus::expand_inputs(std::slice::from_ref(&input)).unwrap();
        let staged = [Staged { index: d.0.join("index.bin"), text: d.0.join("text.txt") }];
        let index = index_file(&files[0], 0, &opts, &splitter(), "fp", &staged[0].text, None).unwrap();
        index.write(&staged[0].index).unwrap();
        assert_eq!(index.staged_bytes, fs::metadata(&staged[0].text).unwrap().len());
        // A part of the index holds the entries of the whole one from there on.
        assert_eq!(FileIndex::read_part(&staged[0].index, 7, Some(3)).unwrap().docs, index.docs[7..10]);
        assert_eq!(FileIndex::read_part(&staged[0].index, 95, None).unwrap().docs, index.docs[95..]);
        let plan = plan_shards([Ok(index)], "fp", &opts).unwrap();
        let last = plan.shards.last().unwrap();
        let out = d.0.join("corpus-00001.txt");
        // The staged text cut short: the shard that needs its end fails, naming the file.
        let text = fs::read(&staged[0].text).unwrap();
        fs::write(&staged[0].text, &text[..text.len() - 10]).unwrap();
        let err = build_shard(&staged, last, &out, None).unwrap_err();
        assert!(err.to_string().contains("text.txt") && err.to_string().contains("ends at byte"), "{err}");
        assert!(!out.exists());
        // Another run's index, or none at all, is refused.
        let err = plan_shards([FileIndex::read(&staged[0].index)], "other", &opts).unwrap_err();
        assert!(err.to_string().contains("another prepare-corpus run"), "{err}");
        let err = plan_shards([FileIndex::read(&d.0.join("a.txt"))], "fp", &opts).unwrap_err();
        assert!(err.to_string().contains("not a prepare-corpus index"), "{err}");
    }
}
