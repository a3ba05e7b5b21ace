//! prepare-corpus in steps that can run on other machines (`--cluster`, docs/cluster.md), with
//! output byte-identical to the single-process run ([`super::prepare_corpus`]). De-duplication
//! is global and ordered (the first copy of a document is kept), so the work is split in four:
//!
//! 1. [`index_file`], a task per input file: read and clean each document and record where it
//!    lies, its cleaned size and its de-duplication hash ([`FileIndex`], a compact file);
//! 2. [`plan_shards`], on the driver, in input order: keep the first copy of each hash and
//!    assign the kept documents to shards by cleaned size exactly as the local run does; each
//!    shard gets its span of the input and the positions of the duplicates inside it
//!    ([`CorpusShard`]);
//! 3. [`build_shard`], a task per shard: re-read the span, clean, skip the listed duplicates
//!    and the empty documents, split into sentences and write the shard atomically; its record
//!    and the statistics of its documents ([`DocumentStats`]) come back;
//! 4. [`plan_stats`], on the driver: `stats.json` from the plan's counts (with each file's
//!    report from the index step) and the shards' records and document statistics in shard
//!    order, the same statistics the local run writes.
//!
//! A span read that starts inside a file finds the documents the full read found there
//! ([`crate::corpus::read_span`]: the file's head decides its mode); only paths, spans and
//! counts travel between the steps, never text.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cleaning::{clean_document, render_document, CleanStats};
use super::journal::ShardRecord;
use super::stats::DocumentStats;
use super::stage::{stats_value, Counts, PrepareOptions};
use crate::atomic::AtomicFile;
use crate::corpus::columnar::ColumnarFormat;
use crate::corpus::prepared::shard_name;
use crate::corpus::{open_raw, read_documents, read_span, Flow, Position, RawDocument, ReaderStats};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::sentences::PunktSentenceTokenizer;

const INDEX_MAGIC: &[u8; 8] = b"AFPIDX1\n";
const ENTRY_BYTES: usize = 56;

/// One document of a [`FileIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocEntry {
    /// (byte offset, lines before) of its first line and just after its last.
    pub start: (u64, u64),
    pub end: (u64, u64),
    /// Its cleaned size as the shard assignment counts it; 0 for a document that cleaning
    /// empties.
    pub cleaned_bytes: u64,
    /// The de-duplication key (0 without de-duplication).
    pub hash: u128,
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
    #[serde(skip)]
    pub docs: Vec<DocEntry>,
}

impl FileIndex {
    /// Writes the index atomically: a JSON header, then the documents as fixed-size records.
    pub fn write(&self, path: &Path) -> Result<()> {
        let header = serde_json::to_vec(self).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let mut f = AtomicFile::create(path)?;
        let io = |e| Error::io(path, e);
        f.write_all(INDEX_MAGIC).map_err(io)?;
        f.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
        f.write_all(&header).map_err(io)?;
        f.write_all(&(self.docs.len() as u64).to_le_bytes()).map_err(io)?;
        for d in &self.docs {
            let mut rec = [0u8; ENTRY_BYTES];
            for (i, v) in [d.start.0, d.start.1, d.end.0, d.end.1, d.cleaned_bytes].into_iter().enumerate() {
                rec[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            rec[40..].copy_from_slice(&d.hash.to_le_bytes());
            f.write_all(&rec).map_err(io)?;
        }
        f.commit()
    }

    /// Reads an index [`FileIndex::write`] wrote (a local path or a URL).
    pub fn read(path: &Path) -> Result<FileIndex> {
        let bad = |what: &str| Error::InvalidInput(format!("{}: not a prepare-corpus index ({what})", path.display()));
        let mut r = std::io::BufReader::with_capacity(1 << 20, open_raw(path, 0)?);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(|_| bad("too short"))?;
        if &magic != INDEX_MAGIC {
            return Err(bad("wrong magic bytes"));
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len).map_err(|_| bad("truncated header"))?;
        let mut header = vec![0u8; u64::from_le_bytes(len) as usize];
        r.read_exact(&mut header).map_err(|_| bad("truncated header"))?;
        let mut index: FileIndex = serde_json::from_slice(&header).map_err(|e| bad(&e.to_string()))?;
        r.read_exact(&mut len).map_err(|_| bad("truncated"))?;
        let n = u64::from_le_bytes(len) as usize;
        index.docs.reserve_exact(n);
        let mut rec = [0u8; ENTRY_BYTES];
        for _ in 0..n {
            r.read_exact(&mut rec).map_err(|_| bad("truncated"))?;
            let u = |i: usize| u64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let hash = u128::from_le_bytes(rec[40..].try_into().expect("16 bytes"));
            index.docs.push(DocEntry { start: (u(0), u(1)), end: (u(2), u(3)), cleaned_bytes: u(4), hash });
        }
        Ok(index)
    }
}

/// Cleans a batch of documents in parallel; returns their entries and adds their counts.
fn index_batch(batch: &mut Vec<RawDocument>, opts: &PrepareOptions, docs: &mut Vec<DocEntry>, clean: &mut CleanStats) {
    let dedup = opts.dedup();
    let entries: Vec<(DocEntry, CleanStats)> = batch
        .par_iter()
        .map(|d| {
            let (c, s) = clean_document(d, &opts.clean);
            let empty = c.paragraphs.is_empty();
            let entry = DocEntry {
                start: (d.start.offset, d.start.line),
                end: (d.end.offset, d.end.line),
                cleaned_bytes: if empty { 0 } else { c.bytes() },
                hash: if dedup && !empty { c.hash128() } else { 0 },
            };
            (entry, s)
        })
        .collect();
    batch.clear();
    for (e, s) in entries {
        clean.add(&s);
        docs.push(e);
    }
}

/// Step 1: the index of input file `file` (`path`), read and cleaned as the local run reads
/// and cleans it. Runs on the current rayon pool.
pub fn index_file(path: &Path, file: usize, opts: &PrepareOptions, fingerprint: &str, progress: Option<Arc<Progress>>) -> Result<FileIndex> {
    opts.validate()?;
    let mut read = ReaderStats::default();
    let (mut docs, mut clean) = (Vec::new(), CleanStats::default());
    let mut batch = Vec::new();
    let mut batch_bytes = 0u64;
    read_documents(&[path.to_path_buf()], &opts.documents(progress), &mut read, |doc| {
        batch_bytes += doc.bytes;
        batch.push(doc);
        if batch_bytes >= opts.batch_bytes as u64 {
            batch_bytes = 0;
            index_batch(&mut batch, opts, &mut docs, &mut clean);
        }
        Ok(Flow::Continue)
    })?;
    index_batch(&mut batch, opts, &mut docs, &mut clean);
    // The file was read alone: its report's index is its place in the input list.
    read.files.iter_mut().for_each(|f| f.index = file);
    Ok(FileIndex { fingerprint: fingerprint.to_string(), file, read, clean, docs })
}

/// One shard of a [`PreparePlan`]: its span of the input and what to skip inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusShard {
    pub index: usize,
    pub file_name: String,
    /// The start of its first document and the end of its last.
    pub start: Position,
    pub end: Position,
    /// The input index of the task's first file ([`CorpusShard::task`]; 0 in the plan).
    #[serde(default)]
    pub first_file: usize,
    /// Documents assigned to it, and their cleaned bytes.
    pub documents: u64,
    pub cleaned_bytes: u64,
    /// Duplicates inside the span, as the positions of documents in it (0: the first
    /// document the span read finds), ascending.
    pub skip: Vec<u64>,
}

impl CorpusShard {
    /// The shard as a task on its own sees it: the input files its span touches, and the span
    /// with file indices relative to them.
    pub fn task(&self, files: &[PathBuf]) -> (Vec<PathBuf>, CorpusShard) {
        let base = self.start.file;
        let inputs = files[base..=self.end.file.min(files.len().saturating_sub(1))].to_vec();
        let rebase = |p: Position| Position { file: p.file - base, ..p };
        (inputs, CorpusShard { start: rebase(self.start), end: rebase(self.end), first_file: base, ..self.clone() })
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
    // The open shard, the number of documents its span has read so far, and duplicates read
    // since its last assigned document (inside the span only if another one follows).
    let mut open: Option<CorpusShard> = None;
    let (mut ordinal, mut pending) = (0u64, Vec::new());
    for (expected, index) in indexes.into_iter().enumerate() {
        let index = index?;
        if index.file != expected || index.fingerprint != fingerprint {
            return Err(Error::InvalidInput(format!(
                "index {expected}: belongs to another prepare-corpus run (file {}, fingerprint {})",
                index.file, index.fingerprint
            )));
        }
        plan.read.merge(&index.read);
        plan.counts.clean.add(&index.clean);
        let at = |(offset, line): (u64, u64)| Position { file: index.file, offset, line };
        for d in &index.docs {
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
                CorpusShard {
                    index: i,
                    file_name: shard_name(i),
                    start: at(d.start),
                    end: at(d.end),
                    first_file: 0,
                    documents: 0,
                    cleaned_bytes: 0,
                    skip: Vec::new(),
                }
            });
            shard.skip.append(&mut pending);
            shard.end = at(d.end);
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

/// Step 3: builds shard `shard` (as [`CorpusShard::task`] gives it, with its `inputs`) into the
/// file `out_path`, atomically; returns its record and its documents' statistics (files by
/// input index, as the local run counts them). Runs on the current rayon pool.
pub fn build_shard(
    inputs: &[PathBuf],
    shard: &CorpusShard,
    opts: &PrepareOptions,
    splitter: &PunktSentenceTokenizer,
    out_path: &Path,
    progress: Option<Arc<Progress>>,
) -> Result<(ShardRecord, DocumentStats)> {
    opts.validate()?;
    let doc_opts = opts.documents(progress.clone());
    let mut documents = DocumentStats::default();
    let mut out = AtomicFile::create(out_path)?;
    let mut record = ShardRecord { file: shard.file_name.clone(), ..Default::default() };
    let (mut assigned, mut cleaned_bytes) = (0u64, 0u64);
    let mut skip = shard.skip.iter().copied().peekable();
    let (mut ordinal, mut batch, mut batch_bytes) = (0u64, Vec::new(), 0u64);
    let mut flush = |batch: &mut Vec<RawDocument>, out: &mut AtomicFile, record: &mut ShardRecord| -> Result<()> {
        // A document as written: its text, sentences, cleaned bytes, and input file and line.
        type Rendered = Option<(String, u64, u64, (usize, u64))>;
        let rendered: Vec<Rendered> = batch
            .par_iter()
            .map(|d| {
                let (c, _) = clean_document(d, &opts.clean);
                if c.paragraphs.is_empty() {
                    return None;
                }
                let (text, n) = render_document(&c, splitter, &opts.clean);
                Some((text, n, c.bytes(), (shard.first_file + c.origin.file as usize, c.origin.line)))
            })
            .collect();
        batch.clear();
        for (text, n, bytes, (file, line)) in rendered.into_iter().flatten() {
            assigned += 1;
            cleaned_bytes += bytes;
            if n > 0 {
                out.write_all(text.as_bytes()).map_err(|e| Error::io(out_path, e))?;
                record.documents += 1;
                record.sentences += n;
                record.bytes += text.len() as u64;
                documents.add(file, line, text.len() as u64, n);
            }
        }
        if let Some(p) = &progress {
            p.check()?;
        }
        Ok(())
    };
    // A Parquet/Arrow file is read from its first row: the documents before the span are passed
    // over (they belong to earlier shards).
    let columnar = inputs.get(shard.start.file).is_some_and(|p| ColumnarFormat::of(p).is_some());
    let from = if columnar { Position { offset: 0, line: 0, ..shard.start } } else { shard.start };
    read_span(inputs, &doc_opts, from, Some(shard.end), &mut ReaderStats::default(), |doc| {
        if doc.start < shard.start {
            return Ok(Flow::Continue);
        }
        let this = ordinal;
        ordinal += 1;
        if skip.peek() == Some(&this) {
            skip.next();
            return Ok(Flow::Continue);
        }
        batch_bytes += doc.bytes;
        batch.push(doc);
        if batch_bytes >= opts.batch_bytes as u64 {
            batch_bytes = 0;
            flush(&mut batch, &mut out, &mut record)?;
        }
        Ok(Flow::Continue)
    })?;
    flush(&mut batch, &mut out, &mut record)?;
    if (assigned, cleaned_bytes) != (shard.documents, shard.cleaned_bytes) {
        return Err(Error::InvalidInput(format!(
            "the input changed while it was read: {} no longer holds the documents planned for it ({} of {} found)",
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
        fs::create_dir_all(out).unwrap();
        let index_paths: Vec<PathBuf> = (0..files.len()).map(|i| out.join(format!("index-{i}.bin"))).collect();
        for (i, f) in files.iter().enumerate() {
            index_file(f, i, opts, &fp, None).unwrap().write(&index_paths[i]).unwrap();
        }
        let plan = plan_shards(index_paths.iter().map(|p| FileIndex::read(p)), &fp, opts).unwrap();
        // A plan travels as JSON and comes back the same.
        let plan: PreparePlan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        let (records, documents): (Vec<_>, Vec<_>) = plan
            .shards
            .iter()
            .map(|s| {
                let (inputs, task) = s.task(&files);
                build_shard(&inputs, &task, opts, &sp, &out.join(&s.file_name), None).unwrap()
            })
            .unzip();
        for p in index_paths {
            fs::remove_file(p).unwrap();
        }
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
    fn a_changed_input_is_detected_not_built() {
        let d = TempDir::new("changed");
        let input = d.write_string("a.txt", &"One more sentence here.\n\n".repeat(50));
        let opts = PrepareOptions { shard_bytes: 200, clean: super::super::CleanOptions { dedup: false, ..Default::default() }, ..Default::default() };
        let files = crate::corpus::expand_inputs(std::slice::from_ref(&input)).unwrap();
        let index = index_file(&files[0], 0, &opts, "fp", None).unwrap();
        let plan = plan_shards([Ok(index)], "fp", &opts).unwrap();
        fs::write(&input, "Other text entirely.\n\n".repeat(50)).unwrap();
        let (inputs, task) = plan.shards[1].task(&files);
        let out = d.0.join("corpus-00001.txt");
        let err = build_shard(&inputs, &task, &opts, &splitter(), &out, None).unwrap_err();
        assert!(err.to_string().contains("input changed"), "{err}");
        assert!(!out.exists());
        let err = plan_shards([FileIndex::read(&d.0.join("a.txt"))], "fp", &opts).unwrap_err();
        assert!(err.to_string().contains("not a prepare-corpus index"), "{err}");
    }
}
