//! The prepare-corpus run: raw text -> one sentence per line, a blank line between documents,
//! in shards (docs/prepare-corpus.md).
//!
//! A reader thread assembles documents ([`crate::corpus::read_documents`]) and sends them in
//! batches through a small bounded channel; each batch is cleaned in parallel, de-duplicated and
//! assigned to shards in input order, sentence-split in parallel and written in order by one
//! writer. Memory is bounded by the batch size times the channel depth. Shards appear atomically;
//! the journal ([`super::journal`]) lets a re-run skip finished shards (their documents are still
//! read and cleaned, which de-duplication needs, but not split or written again).

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

use super::cleaning::{clean_document, render_document, CleanDoc, CleanOptions, CleanStats};
use super::journal::{read_json, write_json_atomic, Journal, ShardRecord};
use super::stats::{Changed, DocumentStats, Dropped, InputSummary, PrepareStats, Settings};
use crate::atomic::{self, AtomicFile};
use crate::corpus::prepared::{is_shard_file, shard_name, STATE_FILE, STATS_FILE};
use crate::corpus::{
    expand_inputs_detailed, file_stamp, read_documents, total_size, DocBoundary, DocumentOptions, FileReport, Flow, LineReaderOptions,
    RawDocument, ReaderStats, Source, DEFAULT_MAX_LINE_BYTES,
};
use crate::corpus::columnar::ColumnarFormat;
use crate::corpus::documents::LineOrigin;
use crate::corpus::Compression;
use crate::error::{Error, Result};
use crate::hashing::sha256_hex;
use crate::progress::Progress;
use crate::sentences::{train_punkt, PunktSentenceTokenizer};
use crate::text::is_python_whitespace;

/// Everything that shapes the output of [`prepare_corpus`] (deserialized from the Python
/// keyword arguments: sizes in MB there).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PrepareOptions {
    pub doc_boundary: DocBoundary,
    /// Field holding the text in JSON Lines input; dots address nested objects (`meta.text`).
    pub jsonl_field: String,
    #[serde(flatten)]
    pub clean: CleanOptions,
    /// A shard is closed after the first document that brings its cleaned text to this size.
    #[serde(rename = "shard_size_mb", with = "megabytes")]
    pub shard_bytes: u64,
    /// Documents longer than this are cut at a line boundary (counted as `split_documents`).
    #[serde(rename = "max_document_mb", with = "megabytes")]
    pub max_document_bytes: u64,
    /// Paragraph layouts (group mode, and auto on such files): paragraphs are grouped into
    /// documents of about this size; 0 makes every paragraph a document.
    #[serde(rename = "target_document_kb", with = "kilobytes")]
    pub target_document_bytes: u64,
    /// Lines longer than this are split by the reader (counted as `split_lines`).
    #[serde(skip)]
    pub max_line_bytes: usize,
    /// Text per parallel batch.
    #[serde(skip)]
    pub batch_bytes: usize,
    /// Worker threads; 0: one per core. The output does not depend on it.
    pub threads: usize,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            doc_boundary: DocBoundary::Auto,
            jsonl_field: "text".into(),
            clean: CleanOptions::default(),
            shard_bytes: 64 << 20,
            max_document_bytes: 64 << 20,
            target_document_bytes: DEFAULT_TARGET_DOCUMENT_KB << 10,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            batch_bytes: 8 << 20,
            threads: 0,
        }
    }
}

/// The default of `target_document_kb`: a document of ~16 KB gives several 512-token
/// instances, so sentence-order pairs come from within a document and few instances end a
/// document half-empty (docs/prepare-corpus.md).
pub const DEFAULT_TARGET_DOCUMENT_KB: u64 = 16;

/// A size given in KB (0 or more, fractions allowed), held in bytes.
mod kilobytes {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
        let kb = f64::deserialize(d)?;
        if kb.is_finite() && kb >= 0.0 {
            Ok((kb * 1024.0) as u64)
        } else {
            Err(serde::de::Error::custom(format!("{kb} is not a size in KB (0 or more)")))
        }
    }
}

/// Sizes given in MB (positive, fractions allowed), held in bytes.
mod megabytes {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
        let mb = f64::deserialize(d)?;
        if mb.is_finite() && mb > 0.0 {
            Ok(((mb * 1048576.0) as u64).max(1))
        } else {
            Err(serde::de::Error::custom(format!("{mb} is not a positive size in MB")))
        }
    }
}

impl PrepareOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.shard_bytes == 0 {
            return Err(Error::invalid_arg("shard_size", "must be positive"));
        }
        if self.max_document_bytes < 1024 {
            return Err(Error::invalid_arg("max_document_bytes", "must be at least 1024"));
        }
        if self.jsonl_field.is_empty() || self.jsonl_field.split('.').any(str::is_empty) {
            return Err(Error::invalid_arg("jsonl_field", format!("{:?} is not a field name or dotted path", self.jsonl_field)));
        }
        Ok(())
    }

    pub(crate) fn documents(&self, progress: Option<Arc<Progress>>) -> DocumentOptions {
        DocumentOptions {
            boundary: self.doc_boundary,
            jsonl_field: self.jsonl_field.clone(),
            max_document_bytes: self.max_document_bytes,
            merge_across_files: false,
            target_document_bytes: self.target_document_bytes,
            profile_layouts: true,
            lines: LineReaderOptions { max_line_bytes: self.max_line_bytes, progress, ..Default::default() },
        }
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            doc_boundary: self.doc_boundary,
            jsonl_field: self.jsonl_field.clone(),
            clean: self.clean.clone(),
            shard_bytes: self.shard_bytes,
            target_document_bytes: self.target_document_bytes,
        }
    }

    pub(crate) fn dedup(&self) -> bool {
        self.clean.enabled && self.clean.dedup
    }
}

/// Identifies (inputs, settings, Punkt parameters, Unicode tables): a re-run resumes only a run
/// with the same.
pub fn fingerprint(files: &[PathBuf], opts: &PrepareOptions, splitter: &PunktSentenceTokenizer) -> String {
    let mut parts = vec![env!("CARGO_PKG_VERSION").to_string(), crate::unicode::tables().id().to_string()];
    parts.extend(files.iter().map(|f| file_stamp(f)));
    let settings = serde_json::to_string(&opts.settings()).unwrap_or_default();
    parts.push(format!("{settings}\t{}", opts.max_document_bytes));
    let p = splitter.params();
    let mut items: Vec<String> = p.abbrev_types.iter().map(|a| format!("a{a}")).collect();
    items.extend(p.sent_starters.iter().map(|s| format!("s{s}")));
    items.extend(p.collocations.iter().flat_map(|(a, bs)| bs.iter().map(move |b| format!("c{a}\t{b}"))));
    items.extend(p.ortho_context.iter().map(|(t, f)| format!("o{t}\t{f}")));
    items.sort();
    parts.extend(items);
    sha256_hex(parts.iter().flat_map(|p| [p.as_bytes(), b"\n"]))
}

/// Checks every input before any output is written: binary files fail the run here (naming
/// the file), not hours later.
pub fn precheck(files: &[PathBuf], opts: &PrepareOptions) -> Result<()> {
    let documents = opts.documents(None);
    files.par_iter().try_for_each(|f| Source::open(f, &documents, 0, 0).map(|_| ()))
}

/// Reads a bounded, deterministic sample of cleaned documents for Punkt training: from the start
/// of each file, in input order, up to its share of `max_bytes` ([`sample_shares`]: a corpus
/// within the bound is taken whole), never more than `max_bytes` in all — whatever the line
/// lengths: a paragraph that would overrun the bound is cut at its last whitespace before it
/// (`cut_at_whitespace`). Returns the paragraphs joined as NLTK expects (blank lines between).
pub fn sample_text(inputs: &[String], opts: &PrepareOptions, max_bytes: usize) -> Result<String> {
    opts.validate()?;
    let files = expand_inputs_detailed(inputs)?.files;
    precheck(&files, opts)?;
    let shares = sample_shares(&files, max_bytes);
    let mut out = String::new();
    let mut taken_in_file = 0usize;
    let mut last_file = usize::MAX;
    let mut stats = ReaderStats::default();
    read_documents(&files, &opts.documents(None), &mut stats, |doc| {
        if doc.start.file != last_file {
            last_file = doc.start.file;
            taken_in_file = 0;
        }
        let (clean, _) = clean_document(&doc, &opts.clean);
        let per_file = shares[doc.start.file];
        for p in &clean.paragraphs {
            let sep = if out.is_empty() { 0 } else { 2 };
            let room = max_bytes.saturating_sub(out.len() + sep).min(per_file.saturating_sub(taken_in_file + sep));
            let piece = if p.len() <= room { p.as_str() } else { cut_at_whitespace(p, room) };
            if !piece.is_empty() {
                if sep > 0 {
                    out.push_str("\n\n");
                }
                out.push_str(piece);
            }
            taken_in_file += piece.len() + sep;
            if piece.len() < p.len() {
                // Full: the file's share (or the whole sample) ends inside this paragraph.
                taken_in_file = per_file;
                break;
            }
        }
        Ok(if out.len() + 2 >= max_bytes {
            Flow::Stop
        } else if taken_in_file >= shares[doc.start.file] {
            Flow::NextFile
        } else {
            Flow::Continue
        })
    })?;
    Ok(out)
}

/// Each file's share of a sample of `max_bytes`: equal shares, except that a file smaller than
/// its share keeps only its size and leaves the rest to the others (water-filling on the sizes
/// on disk), so that a corpus within the bound is sampled whole however its files differ in
/// size. Compressed and columnar files, whose text outgrows their size, count as large.
fn sample_shares(files: &[PathBuf], max_bytes: usize) -> Vec<usize> {
    let size = |f: &PathBuf| -> usize {
        let plain = !matches!(Compression::from_extension(f), Some(c) if c != Compression::None)
            && ColumnarFormat::of(f).is_none();
        let len = if plain { fs::metadata(f).map(|m| m.len()).ok() } else { None };
        len.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let sizes: Vec<usize> = files.iter().map(size).collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut shares = vec![0; files.len()];
    let mut left = max_bytes;
    for (k, &i) in order.iter().enumerate() {
        let equal = left / (files.len() - k);
        shares[i] = sizes[i].min(equal).max(1);
        left = left.saturating_sub(shares[i]);
    }
    // A file's own size is only an estimate of its cleaned text: the smaller files keep the
    // equal share as a floor, so none gets less than before.
    let floor = (max_bytes / files.len().max(1)).max(1);
    shares.iter().map(|&s| s.max(floor)).collect()
}

/// The longest prefix of `text` of at most `max` bytes that ends before a whitespace character
/// (so no word is cut), trimmed; a cut inside the word if the first `max` bytes hold no whitespace.
fn cut_at_whitespace(text: &str, max: usize) -> &str {
    let head = &text[..text.floor_char_boundary(max)];
    if text[head.len()..].starts_with(is_python_whitespace) {
        return head.trim_end_matches(is_python_whitespace);
    }
    match head.rfind(is_python_whitespace) {
        Some(i) => head[..i].trim_end_matches(is_python_whitespace),
        None => head,
    }
}

/// What [`train_punkt_on_sample`] learned from how much text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PunktSampleInfo {
    pub sample_bytes: u64,
    pub tokens: u64,
    pub types: u64,
    pub sentence_breaks: u64,
    pub abbrev_types: usize,
    pub collocations: usize,
    pub sent_starters: usize,
    pub ortho_context: usize,
    /// Sampling and training, without writing.
    pub train_seconds: f64,
}

/// Trains Punkt (as NLTK's `PunktTrainer` does) on [`sample_text`]'s sample and writes the
/// parameters into `dir` in the `punkt_tab` layout.
pub fn train_punkt_on_sample(inputs: &[String], opts: &PrepareOptions, max_bytes: usize, dir: &Path) -> Result<PunktSampleInfo> {
    let start = std::time::Instant::now();
    let text = sample_text(inputs, opts, max_bytes)?;
    if text.trim_matches(is_python_whitespace).is_empty() {
        return Err(Error::InvalidInput("no text to train Punkt on: the inputs hold no text after cleaning".into()));
    }
    let (params, stats) = train_punkt(&text);
    let info = PunktSampleInfo {
        sample_bytes: text.len() as u64,
        tokens: stats.tokens,
        types: stats.types,
        sentence_breaks: stats.sentence_breaks,
        abbrev_types: params.abbrev_types.len(),
        collocations: params.num_collocations(),
        sent_starters: params.sent_starters.len(),
        ortho_context: params.ortho_context.len(),
        train_seconds: start.elapsed().as_secs_f64(),
    };
    drop(text);
    params.save_dir(dir)?;
    Ok(info)
}

/// Runs prepare-corpus. `extra_stats` (e.g. where the Punkt parameters came from) is merged into
/// `stats.json`. Returns the statistics (also written to `OUT/stats.json`); a run found finished
/// returns its recorded statistics with `"resumed": "already complete"`.
pub fn prepare_corpus(
    inputs: &[String],
    out_dir: &Path,
    splitter: &PunktSentenceTokenizer,
    opts: &PrepareOptions,
    progress: Option<Arc<Progress>>,
    extra_stats: Map<String, Value>,
) -> Result<Value> {
    opts.validate()?;
    crate::parallel::thread_pool(opts.threads)?.install(|| {
        let input_set = expand_inputs_detailed(inputs)?;
        let files = input_set.files;
        precheck(&files, opts)?;
        fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
        let fp = fingerprint(&files, opts, splitter);
        let finished = match resume_point(out_dir, &fp)? {
            Resume::Complete(prev) => return Ok(prev),
            Resume::After(finished) => finished,
        };
        // Temp files of an interrupted run (other pids) are garbage now.
        atomic::remove_temp_files(out_dir, |name| is_shard_file(Path::new(name)))?;
        if let Some(p) = &progress {
            Progress::set(&p.bytes_total, total_size(&files));
            Progress::set(&p.files_total, files.len() as u64);
        }

        let (recycle, recycled) = channel::<Garbage>();
        let (reader, batches) = spawn_reader(files.clone(), opts.clone(), progress.clone(), recycled);
        let (shards, documents) = finished.into_iter().unzip();
        let mut writer = ShardWriter { out_dir, fingerprint: &fp, shards, documents, current: None };
        let resumed_shards = writer.shards.len();
        let mut work = Assigner { seen: HashSet::new(), counts: Counts::default(), shard_index: 0, shard_fill: 0 };
        let result = (|| -> Result<()> {
            for batch in batches.iter() {
                let batch = batch?;
                if let Some(p) = &progress {
                    p.check()?;
                }
                let (assigned, raw) = work.assign(batch, opts);
                let _ = recycle.send(Box::new(raw));
                // Shards the journal lists as finished are not split or written again.
                let rendered: Vec<(usize, String, u64, LineOrigin)> = assigned
                    .par_iter()
                    .filter(|(s, _)| *s >= resumed_shards)
                    .map(|(s, d)| {
                        let (text, n) = render_document(d, splitter, &opts.clean);
                        (*s, text, n, d.origin)
                    })
                    .collect();
                for (s, text, n, origin) in rendered {
                    writer.write(s, &text, n, origin)?;
                }
                // Freed by the reader thread, which has time to spare (a failed send: it
                // has finished, so the documents are freed here).
                let _ = recycle.send(Box::new(assigned));
            }
            Ok(())
        })();
        drop(batches);
        drop(recycle);
        let rstats = reader.join().map_err(|_| Error::InvalidInput("reader thread panicked".into()))?;
        result?;
        writer.commit()?;

        let shards = writer.shards;
        let mut documents = DocumentStats::default();
        writer.documents.iter().for_each(|d| documents.merge(d));
        let output = out_dir.display().to_string();
        let value =
            stats_value(&output, &fp, files.len(), input_set.skipped_hidden, &rstats, &work.counts, shards, &documents, opts, resumed_shards, extra_stats)?;
        // The journal stays: should stats.json be lost, a re-run finds every shard finished.
        write_json_atomic(&out_dir.join(STATS_FILE), &value)?;
        Ok(value)
    })
}

/// The statistics (`OUT/stats.json`) of a run from what it counted and the shards it wrote;
/// the same for the single-process run and a planned one ([`super::plan`]). `documents`: the
/// written documents of every shard, merged in shard order. `output` is how the output
/// directory is named.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stats_value(
    output: &str,
    fp: &str,
    files: usize,
    skipped_hidden: u64,
    rstats: &ReaderStats,
    c: &Counts,
    shards: Vec<ShardRecord>,
    documents: &DocumentStats,
    opts: &PrepareOptions,
    resumed_shards: usize,
    extra_stats: Map<String, Value>,
) -> Result<Value> {
    let docs_written: u64 = shards.iter().map(|r| r.documents).sum();
    if docs_written == 0 {
        return Err(Error::InvalidInput(format!(
            "no text to write: the {files} input file(s) hold no document with a sentence after cleaning"
        )));
    }
    let mut stats = PrepareStats {
        fingerprint: fp.to_string(),
        output: output.to_string(),
        documents: docs_written,
        sentences: shards.iter().map(|r| r.sentences).sum(),
        bytes: shards.iter().map(|r| r.bytes).sum(),
        shards,
        input: InputSummary {
            files,
            bytes: rstats.input.bytes,
            lines: rstats.input.lines,
            files_by_mode: rstats.files_by_mode.clone(),
            hidden_files_skipped: skipped_hidden,
            invalid_utf8_sequences: rstats.input.invalid_utf8,
            long_lines_split: rstats.input.split_lines,
            documents_read: rstats.documents_read,
            long_documents_split: rstats.split_documents,
        },
        dropped: Dropped {
            duplicate_documents: c.duplicates,
            empty_documents: c.empty,
            documents_without_sentences: rstats.documents_read.saturating_sub(c.duplicates + c.empty + docs_written),
            short_lines: c.clean.lines_too_short,
            control_chars: c.clean.control_chars_removed,
            json_invalid_lines: rstats.json_errors,
            json_missing_field: rstats.json_missing_field,
            rows_without_text: rstats.rows_without_text,
            lines_outside_doc_elements: rstats.lines_outside_docs,
        },
        changed: Changed { lines_normalized_nfc: c.clean.lines_normalized_nfc, unclosed_doc_elements: rstats.unclosed_docs },
        warnings: rstats.examples.iter().cloned().chain(rstats.layout_warnings()).collect(),
        settings: opts.settings(),
        resumed_shards,
    };
    let (report, document_warnings) = document_report(documents, &rstats.files, docs_written, stats.sentences, stats.bytes);
    stats.warnings.extend(document_warnings);
    let mut value = serde_json::to_value(&stats).map_err(|e| Error::InvalidInput(e.to_string()))?;
    if let Value::Object(obj) = &mut value {
        obj.extend(report);
        obj.extend(extra_stats);
    }
    Ok(value)
}

/// Documents this large suggest missing document boundaries.
const LARGE_DOCUMENT_BYTES: u64 = 1 << 20;

/// What `stats.json` says about the documents: per input file (layout, mode, documents read and
/// written), the length distributions and the largest documents; and warnings about documents
/// sentence-order prediction cannot use well.
fn document_report(
    documents: &DocumentStats,
    files: &[FileReport],
    count: u64,
    sentences: u64,
    bytes: u64,
) -> (Map<String, Value>, Vec<String>) {
    let name = |i: usize| files.iter().find(|f| f.index == i).map_or_else(|| i.to_string(), |f| f.file.clone());
    let per_file: Vec<Value> = files
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            let c = documents.per_file.get(&f.index).copied().unwrap_or_default();
            if let Value::Object(o) = &mut v {
                o.remove("index");
                o.insert("documents".into(), c.documents.into());
                o.insert("sentences".into(), c.sentences.into());
                o.insert("bytes".into(), c.bytes.into());
            }
            v
        })
        .collect();
    let largest: Vec<Value> = documents
        .largest
        .iter()
        .map(|d| json!({"file": name(d.file), "line": d.line, "bytes": d.bytes, "sentences": d.sentences}))
        .collect();
    let single = documents.by_sentences.0.get(&0).copied().unwrap_or(0);
    let mut out = Map::new();
    out.insert("files".into(), Value::Array(per_file));
    out.insert(
        "document_lengths".into(),
        json!({
            "sentences": DocumentStats::summary(&documents.by_sentences, sentences, count, documents.max_sentences),
            "bytes": DocumentStats::summary(&documents.by_bytes, bytes, count, documents.largest.first().map_or(0, |d| d.bytes)),
            "single_sentence_documents": single,
        }),
    );
    out.insert("largest_documents".into(), Value::Array(largest));
    let mut warnings = Vec::new();
    if count >= 10 && single * 2 >= count {
        warnings.push(format!(
            "{single} of {count} documents ({:.0}%) have a single sentence: sentence-order prediction needs documents of \
             several sentences (doc boundary auto or group joins paragraphs into documents of target_document_kb)",
            100.0 * single as f64 / count as f64
        ));
    }
    if let Some(d) = documents.largest.first().filter(|d| d.bytes >= LARGE_DOCUMENT_BYTES) {
        warnings.push(format!(
            "{}:{}: one document of {:.1} MB ({} sentences): are document boundaries (blank lines) missing there?",
            name(d.file),
            d.line,
            d.bytes as f64 / 1e6,
            d.sentences
        ));
    }
    (out, warnings)
}

pub(crate) enum Resume {
    /// The run already finished: its statistics.
    Complete(Value),
    /// Resume after these finished shards (none for a fresh run).
    After(Vec<(ShardRecord, DocumentStats)>),
}

/// What an earlier run left in `out_dir`. A finished run with the same fingerprint is returned
/// as is; any other earlier output is refused rather than mixed with this run's.
pub(crate) fn resume_point(out_dir: &Path, fp: &str) -> Result<Resume> {
    if let Some(mut prev) = read_json::<Value>(&out_dir.join(STATS_FILE)) {
        if prev.get("fingerprint").and_then(Value::as_str) == Some(fp) {
            prev["resumed"] = Value::from("already complete");
            return Ok(Resume::Complete(prev));
        }
        return Err(Error::InvalidInput(format!(
            "{}: holds the output of an earlier prepare-corpus run with other inputs or settings; \
             choose another output directory or remove it",
            out_dir.display()
        )));
    }
    if let Some(journal) = read_json::<Journal>(&out_dir.join(STATE_FILE)) {
        if journal.fingerprint != fp {
            return Err(Error::InvalidInput(format!(
                "{}: holds an unfinished prepare-corpus run with other inputs or settings; \
                 choose another output directory or remove it",
                out_dir.display()
            )));
        }
        return Ok(Resume::After(journal.finished_shards(out_dir)));
    }
    // Shards without a journal entry belong to no finished run of ours.
    for entry in fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("corpus-") && name.ends_with(".txt") {
            return Err(Error::InvalidInput(format!(
                "{}: already holds {name} from another run; choose another output directory or remove it",
                out_dir.display()
            )));
        }
    }
    Ok(Resume::After(Vec::new()))
}

/// Documents the main thread is done with, handed back to the reader thread to free: their
/// many small allocations cost a quarter of the main thread's time when it freed them itself,
/// and more when the workers did (allocator contention).
type Garbage = Box<dyn std::any::Any + Send>;

/// The reader thread: batches of about `batch_bytes` of documents, in input order, through a
/// channel of depth 2; it frees what comes back through `garbage`. Returns its counts when
/// joined.
fn spawn_reader(
    files: Vec<PathBuf>,
    opts: PrepareOptions,
    progress: Option<Arc<Progress>>,
    garbage: Receiver<Garbage>,
) -> (JoinHandle<ReaderStats>, Receiver<Result<Vec<RawDocument>>>) {
    let (tx, rx) = sync_channel::<Result<Vec<RawDocument>>>(2);
    let handle = std::thread::spawn(move || -> ReaderStats {
        let mut stats = ReaderStats::default();
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        let res = read_documents(&files, &opts.documents(progress), &mut stats, |doc| {
            bytes += doc.bytes;
            batch.push(doc);
            if bytes >= opts.batch_bytes as u64 {
                bytes = 0;
                while let Ok(g) = garbage.try_recv() {
                    drop(g);
                }
                if tx.send(Ok(std::mem::take(&mut batch))).is_err() {
                    return Ok(Flow::Stop);
                }
            }
            Ok(Flow::Continue)
        });
        let _ = tx.send(res.map(|()| batch));
        drop(tx);
        // Until the main thread hangs up.
        for g in garbage {
            drop(g);
        }
        stats
    });
    (handle, rx)
}

/// What cleaning and de-duplication dropped or changed, over the whole input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub clean: CleanStats,
    pub duplicates: u64,
    pub empty: u64,
}

/// Cleans a batch in parallel, then (in input order) drops empty and duplicate documents and
/// assigns the rest to shards by size.
struct Assigner {
    seen: HashSet<u128>,
    counts: Counts,
    shard_index: usize,
    shard_fill: u64,
}

impl Assigner {
    /// Returns the assigned documents and the batch (for the caller to free).
    fn assign(&mut self, batch: Vec<RawDocument>, opts: &PrepareOptions) -> (Vec<(usize, CleanDoc)>, Vec<RawDocument>) {
        let cleaned: Vec<(CleanDoc, CleanStats, u128)> = batch
            .par_iter()
            .map(|d| {
                let (c, s) = clean_document(d, &opts.clean);
                let h = if opts.dedup() { c.hash128() } else { 0 };
                (c, s, h)
            })
            .collect();
        let mut assigned = Vec::with_capacity(cleaned.len());
        for (doc, s, h) in cleaned {
            self.counts.clean.add(&s);
            if doc.paragraphs.is_empty() {
                self.counts.empty += 1;
                continue;
            }
            if opts.dedup() && !self.seen.insert(h) {
                self.counts.duplicates += 1;
                continue;
            }
            self.shard_fill += doc.bytes();
            assigned.push((self.shard_index, doc));
            if self.shard_fill >= opts.shard_bytes {
                self.shard_index += 1;
                self.shard_fill = 0;
            }
        }
        (assigned, batch)
    }
}

/// Writes rendered documents into their shards in order; each finished shard is committed and
/// recorded in the journal.
struct ShardWriter<'a> {
    out_dir: &'a Path,
    fingerprint: &'a str,
    shards: Vec<ShardRecord>,
    /// One per entry of `shards`.
    documents: Vec<DocumentStats>,
    current: Option<(AtomicFile, ShardRecord, DocumentStats)>,
}

impl ShardWriter<'_> {
    fn write(&mut self, shard: usize, text: &str, sentences: u64, origin: LineOrigin) -> Result<()> {
        if self.current.is_some() && self.shards.len() < shard {
            self.commit()?;
        }
        let path = self.out_dir.join(shard_name(shard));
        if self.current.is_none() {
            let rec = ShardRecord { file: shard_name(shard), ..Default::default() };
            self.current = Some((AtomicFile::create(&path)?, rec, DocumentStats::default()));
        }
        if let Some((file, rec, docs)) = self.current.as_mut() {
            if sentences > 0 {
                file.write_all(text.as_bytes()).map_err(|e| Error::io(&path, e))?;
                rec.documents += 1;
                rec.sentences += sentences;
                rec.bytes += text.len() as u64;
                docs.add(origin.file as usize, origin.line, text.len() as u64, sentences);
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if let Some((file, rec, docs)) = self.current.take() {
            file.commit()?;
            self.shards.push(rec);
            self.documents.push(docs);
            let journal =
                Journal { fingerprint: self.fingerprint.to_string(), shards: self.shards.clone(), documents: self.documents.clone() };
            write_json_atomic(&self.out_dir.join(STATE_FILE), &journal)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{splitter, TempDir};

    #[test]
    fn run_dedups_shards_and_resumes() {
        let d = TempDir::new("run");
        let input = d.write_string("in.txt", "Alpha beta. Gamma delta.\n\nAlpha beta. Gamma delta.\n\nSecond doc here.\n\nThird one.\n");
        let out = d.0.join("out");
        let opts = PrepareOptions { shard_bytes: 12, ..Default::default() };
        let stats = prepare_corpus(std::slice::from_ref(&input), &out, &splitter(), &opts, None, Map::new()).unwrap();
        assert_eq!(stats["documents"], 3);
        assert_eq!(stats["dropped"]["duplicate_documents"], 1);
        assert_eq!(stats["sentences"], 4);
        assert_eq!(fs::read_to_string(out.join("corpus-00000.txt")).unwrap(), "Alpha beta.\nGamma delta.\n\n");
        assert_eq!(fs::read_to_string(out.join("corpus-00002.txt")).unwrap(), "Third one.\n\n");
        // Re-run: already complete.
        let again = prepare_corpus(std::slice::from_ref(&input), &out, &splitter(), &opts, None, Map::new()).unwrap();
        assert_eq!(again["resumed"], "already complete");
        // Interrupted run: journal lists shard 0, stats missing -> shard 0 is kept, the rest redone.
        let first = fs::read_to_string(out.join("corpus-00000.txt")).unwrap();
        fs::remove_file(out.join(STATS_FILE)).unwrap();
        fs::remove_file(out.join("corpus-00002.txt")).unwrap();
        write_json_atomic(&out.join(STATE_FILE), &serde_json::json!({"fingerprint": stats["fingerprint"], "shards": [stats["shards"][0]]}))
            .unwrap();
        let resumed = prepare_corpus(std::slice::from_ref(&input), &out, &splitter(), &opts, None, Map::new()).unwrap();
        assert_eq!(resumed["resumed_shards"], 1);
        assert_eq!(resumed["sentences"], 4);
        assert_eq!(fs::read_to_string(out.join("corpus-00000.txt")).unwrap(), first);
        assert!(out.join("corpus-00002.txt").exists());
        // Given as input to a later stage, the directory yields its shards only.
        fs::create_dir_all(out.join("punkt")).unwrap();
        fs::write(out.join("punkt").join("abbrev_types.txt"), "dr").unwrap();
        let files = crate::corpus::expand_inputs(&[out.to_string_lossy().into_owned()]).unwrap();
        let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["corpus-00000.txt", "corpus-00001.txt", "corpus-00002.txt"]);
        // Other settings into the same directory are refused.
        let other = PrepareOptions { shard_bytes: 1 << 20, ..Default::default() };
        let err = prepare_corpus(&[input], &out, &splitter(), &other, None, Map::new()).unwrap_err();
        assert!(err.to_string().contains("earlier prepare-corpus run"), "{err}");
    }

    #[test]
    fn binary_input_fails_before_any_output() {
        let d = TempDir::new("binary");
        let good = d.write_string("a.txt", "Fine text.\n");
        let p = d.0.join("b.bin");
        fs::write(&p, b"\x00\x01\x02binary").unwrap();
        let out = d.0.join("out");
        let err = prepare_corpus(&[good, p.to_string_lossy().into_owned()], &out, &splitter(), &PrepareOptions::default(), None, Map::new())
            .unwrap_err();
        assert!(err.to_string().contains("b.bin"), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn sample_bound_holds_for_any_line_length() {
        let d = TempDir::new("sample");
        // One 3 MB line (one document, one paragraph), then a second file of short documents.
        let long = "Word. Another word here. ".repeat(120_000);
        let a = d.write_string("a.txt", &format!("{long}\n"));
        let b = d.write_string("b.txt", "Short one.\n\nShort two.\n");
        let opts = PrepareOptions::default();
        for max in [1000, 100_000, 1 << 20] {
            let s = sample_text(&[a.clone(), b.clone()], &opts, max).unwrap();
            assert!(s.len() <= max, "{} > {max}", s.len());
            // Cut at whitespace, never inside a word; the second file still gets its share.
            let (first, rest) = s.split_once("\n\n").unwrap();
            assert!(long.starts_with(first) && long[first.len()..].starts_with(' '), "{}", &first[first.len().saturating_sub(40)..]);
            assert!(rest.starts_with("Short one."), "{rest}");
        }
        // A line without whitespace is cut at a character boundary.
        let c = d.write_string("c.txt", &format!("{}\n", "ä".repeat(10_000)));
        let s = sample_text(&[c], &opts, 1001).unwrap();
        assert_eq!(s.len(), 1000);
        // A corpus within the bound is sampled whole, however its files differ in size.
        let big = "Many words in one long paragraph here. ".repeat(50);
        let e = d.write_string("e.txt", &format!("{big}\n\nAnd a second paragraph.\n"));
        // (e.txt is larger than an equal share of 2100 bytes; the small b.txt leaves it the rest.)
        let whole = sample_text(&[b.clone(), e.clone()], &opts, 2100).unwrap();
        assert_eq!(whole, format!("Short one.\n\nShort two.\n\n{}\n\nAnd a second paragraph.", big.trim_end()));
        let e_size = fs::metadata(&e).unwrap().len() as usize;
        assert!(e_size > 2100 / 2);
        assert_eq!(sample_shares(&[b.clone(), e.clone()].map(PathBuf::from), 2100), vec![2100 / 2, e_size]);
        assert_eq!(cut_at_whitespace("ab cd ef", 5), "ab cd");
        assert_eq!(cut_at_whitespace("ab cd ef", 4), "ab");
        assert_eq!(cut_at_whitespace("ab  cd", 3), "ab");
    }
}
