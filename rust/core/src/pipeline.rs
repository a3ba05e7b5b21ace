//! create-data as a streaming, parallel pipeline (spec §5–§7, with Q7 and Q8 fixed).
//!
//! ```text
//! files -> line reader -> documents -> Sharder -> [shard of documents] --workers--> tokenize
//!   -> instances x dupe_factor -> mask -> shuffle within shard -> serialize -> one file per shard
//! ```
//!
//! * **Two passes over the input.** The first pass reads the raw lines without tokenizing them
//!   and runs the same [`Sharder`] as the second, so the number of shards is known before any
//!   file is named (`train-00003-of-00017.tfrecord`). Shard boundaries depend only on the input
//!   bytes and `shard_size_bytes`, never on the thread count.
//! * **Bounded memory (fix of Q8).** The reader hands whole shards to a bounded queue; at most
//!   `2 x threads` shards exist at once, and each worker writes its shard's examples straight
//!   into the output file. Memory does not grow with the corpus.
//! * **Determinism.** Shard `k` of split `s` draws from `DataRng::for_shard(seed, k, s)`; the
//!   document order, instance creation, masking and the within-shard shuffle use only that
//!   stream, so the bytes of every file are independent of scheduling.
//! * **Atomic, resumable output.** Each shard file is written to a temporary name, fsynced and
//!   renamed; then a small marker `.progress/<file>.done` records its counts and the run's
//!   fingerprint. A re-run skips every shard whose file and marker exist with the same
//!   fingerprint.
//! * **Documents (Q7).** A blank (whitespace-only) line ends a document. By default the end of a
//!   file ends a document too; `merge_documents_across_files` (reference compat) lets the last
//!   document of a file continue into the next file as the reference does.
//! * **Held-out split.** With `eval_fraction > 0` a document goes to the eval split iff a fixed
//!   64-bit hash of its raw bytes, scaled to [0, 1), is below the fraction: deterministic,
//!   independent of sharding, and identical duplicate documents land on the same side.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use crate::atomic::AtomicFile;
use crate::corpus::open_reader;
use crate::tfrecord::{encode_example, Compression, FeatureValues, RecordWriter};
use crate::error::{Error, Result};
use crate::instances::{Document, Instance, InstanceBuilder, InstanceConfig, InstanceStats};
use crate::masking::{MaskingConfig, MaskingVocab, PieceClass};
use crate::rng::DataRng;
use crate::text::is_python_whitespace;
use crate::tokenizer::{PieceKind, Scratch as TokScratch, Tokenizer};

/// Turns one raw input line into token ids (preprocessing included).
pub trait LineEncoder: Sync {
    /// Per-thread reusable buffers.
    type Scratch: Default;
    fn encode_line(&self, line: &str, scratch: &mut Self::Scratch, out: &mut Vec<u32>);
}

impl LineEncoder for Tokenizer {
    type Scratch = TokScratch;
    fn encode_line(&self, line: &str, scratch: &mut TokScratch, out: &mut Vec<u32>) {
        self.encode_into(line, scratch, out);
    }
}

/// The masking view of a SentencePiece vocabulary; `[CLS]`, `[SEP]` and `[MASK]` must exist.
pub fn masking_vocab(tok: &Tokenizer) -> Result<MaskingVocab> {
    let id = |p: &str| {
        tok.piece_to_id(p)
            .filter(|&i| tok.id_to_piece(i) == p)
            .ok_or_else(|| Error::BadModel { path: tok.source().to_path_buf(), message: format!("the vocabulary has no {p} symbol") })
    };
    let (cls, sep, mask) = (id("[CLS]")?, id("[SEP]")?, id("[MASK]")?);
    let classes = (0..tok.vocab_size() as u32).map(|i| {
        let class = match tok.piece_kind(i) {
            PieceKind::Normal => PieceClass::Normal,
            PieceKind::Unknown => PieceClass::Unknown,
            PieceKind::Control => PieceClass::Control,
            PieceKind::UserDefined => PieceClass::UserDefined,
            PieceKind::Unused => PieceClass::Unused,
            PieceKind::Byte => PieceClass::Byte,
        };
        (tok.id_to_piece(i), class)
    });
    Ok(MaskingVocab::new(classes, cls, sep, mask))
}

/// Train or held-out split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Eval,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Eval => "eval",
        }
    }
}

/// Everything a run needs besides the tokenizer.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub inputs: Vec<PathBuf>,
    pub output_dir: PathBuf,
    pub instance: InstanceConfig,
    pub masking: MaskingConfig,
    pub dupe_factor: usize,
    pub random_seed: u64,
    /// Share of documents held out for evaluation (0 = none).
    pub eval_fraction: f64,
    /// A shard closes at the first document end after this many raw input bytes.
    pub shard_size_bytes: u64,
    pub threads: usize,
    pub compression: Compression,
    /// A line that tokenizes to more pieces than this is an error (0 = no limit).
    pub max_line_tokens: usize,
    /// Reference compat for Q7: documents continue across file boundaries.
    pub merge_documents_across_files: bool,
    /// Identifies (inputs, config, tokenizer); finished shards of a run with another
    /// fingerprint are never reused.
    pub fingerprint: String,
}

/// Live counters, readable from another thread (the Python progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// 0 = counting shards, 1 = building instances, 2 = done.
    pub phase: AtomicU64,
    pub total_bytes: AtomicU64,
    pub bytes_read: AtomicU64,
    /// Raw bytes of the documents tokenized so far (or found finished).
    pub bytes_done: AtomicU64,
    pub documents: AtomicU64,
    pub instances: AtomicU64,
    pub shards_total: AtomicU64,
    pub shards_done: AtomicU64,
    /// Set to stop the run early (Ctrl-C); the run then fails with `Error::Interrupted`.
    pub cancel: AtomicBool,
}

/// What one shard produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardResult {
    pub split: Split,
    pub index: usize,
    pub file_name: String,
    pub records: u64,
    pub input_bytes: u64,
    pub documents: u64,
    pub sentences: u64,
    pub single_sentence_documents: u64,
    pub input_tokens: u64,
    pub stats: InstanceStats,
    /// Found finished from an earlier run and skipped.
    pub resumed: bool,
}

/// The outcome of a run; shards in (split, index) order.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub shards: Vec<ShardResult>,
    pub input_bytes: u64,
    pub num_train_shards: usize,
    pub num_eval_shards: usize,
}

// ------------------------------------------------------------------------------------------
// Reading

/// Where a line came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineOrigin {
    file: u32,
    line: u64,
}

/// One document as read: its non-blank raw lines.
#[derive(Debug, Default)]
struct RawDocument {
    lines: Vec<String>,
    origins: Vec<LineOrigin>,
    bytes: u64,
    hash: u64,
}

impl RawDocument {
    fn push(&mut self, line: &str, origin: LineOrigin, keep_text: bool, hash: bool) {
        if hash {
            self.hash = fnv1a(self.hash, line.as_bytes());
            self.hash = fnv1a(self.hash, b"\n");
        }
        self.bytes += line.len() as u64 + 1;
        if keep_text {
            self.lines.push(line.to_owned());
            self.origins.push(origin);
        } else {
            self.lines.push(String::new());
        }
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

const FNV_OFFSET: u64 = 0xcbf29ce484222325;

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// splitmix64 finalizer: spreads FNV's weak low bits over the whole word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// A shard of documents ready for a worker.
struct ShardWork {
    split: Split,
    index: usize,
    documents: Vec<RawDocument>,
    bytes: u64,
}

/// Routes documents to train/eval and closes shards by size. Both passes run the same code, so
/// they agree on every boundary.
struct Sharder {
    eval_fraction: f64,
    shard_size: u64,
    keep_text: bool,
    open: [ShardWork; 2],
    next_index: [usize; 2],
    documents: u64,
}

impl Sharder {
    fn new(eval_fraction: f64, shard_size: u64, keep_text: bool) -> Self {
        let empty = |split| ShardWork { split, index: 0, documents: Vec::new(), bytes: 0 };
        Sharder { eval_fraction, shard_size: shard_size.max(1), keep_text, open: [empty(Split::Train), empty(Split::Eval)], next_index: [0, 0], documents: 0 }
    }

    fn split_of(&self, doc: &RawDocument) -> Split {
        if self.eval_fraction > 0.0 {
            let u = (mix(doc.hash) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            if u < self.eval_fraction {
                return Split::Eval;
            }
        }
        Split::Train
    }

    /// Adds a finished document; returns a shard if this closed one.
    fn add(&mut self, mut doc: RawDocument) -> Option<ShardWork> {
        if doc.is_empty() {
            return None;
        }
        self.documents += 1;
        let s = self.split_of(&doc) as usize;
        if !self.keep_text {
            doc.lines = Vec::new();
            doc.origins = Vec::new();
        }
        let shard = &mut self.open[s];
        shard.bytes += doc.bytes;
        shard.documents.push(doc);
        if shard.bytes >= self.shard_size {
            return Some(self.close(s));
        }
        None
    }

    fn close(&mut self, s: usize) -> ShardWork {
        let split = self.open[s].split;
        let index = self.next_index[s];
        self.next_index[s] += 1;
        let mut work = std::mem::replace(&mut self.open[s], ShardWork { split, index: 0, documents: Vec::new(), bytes: 0 });
        work.index = index;
        work
    }

    /// Closes the partial shards at the end of the input.
    fn finish(&mut self) -> Vec<ShardWork> {
        let mut out = Vec::new();
        for s in 0..2 {
            if !self.open[s].documents.is_empty() {
                out.push(self.close(s));
            }
        }
        out
    }
}

/// Reads every input line by line, feeding documents to the sharder and finished shards to
/// `emit`. Returns the number of raw bytes read.
fn read_documents(
    cfg: &PipelineConfig,
    sharder: &mut Sharder,
    progress: &Progress,
    count_bytes: bool,
    emit: &mut dyn FnMut(ShardWork) -> Result<()>,
) -> Result<u64> {
    let mut total = 0u64;
    let mut doc = RawDocument { hash: FNV_OFFSET, ..Default::default() };
    let mut buf = Vec::with_capacity(1 << 16);
    for (file_idx, path) in cfg.inputs.iter().enumerate() {
        let mut reader = open_reader(path)?;
        let mut line_no = 0u64;
        loop {
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            total += n as u64;
            if count_bytes {
                progress.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
            }
            if buf.contains(&0) {
                return Err(Error::InvalidInput(format!(
                    "{}:{line_no}: NUL byte: this looks like a binary file, not text (one sentence per line)",
                    path.display()
                )));
            }
            let line = std::str::from_utf8(&buf).map_err(|e| {
                Error::InvalidInput(format!(
                    "{}:{line_no}: invalid UTF-8 at byte {} of the line; convert the file to UTF-8 first",
                    path.display(),
                    e.valid_up_to()
                ))
            })?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.chars().all(is_python_whitespace) {
                let finished = std::mem::replace(&mut doc, RawDocument { hash: FNV_OFFSET, ..Default::default() });
                if let Some(work) = sharder.add(finished) {
                    emit(work)?;
                }
            } else {
                let hash = sharder.eval_fraction > 0.0; // the hash only routes documents to eval
                doc.push(line, LineOrigin { file: file_idx as u32, line: line_no }, sharder.keep_text, hash);
            }
        }
        if !cfg.merge_documents_across_files {
            // Q7 fix: a file's end is a document's end.
            let finished = std::mem::replace(&mut doc, RawDocument { hash: FNV_OFFSET, ..Default::default() });
            if let Some(work) = sharder.add(finished) {
                emit(work)?;
            }
        }
    }
    if let Some(work) = sharder.add(doc) {
        emit(work)?;
    }
    for work in sharder.finish() {
        emit(work)?;
    }
    Ok(total)
}

// ------------------------------------------------------------------------------------------
// Serialization (tf.train.Example via `crate::tfrecord`)

/// Reusable buffers for [`encode_instance`].
#[derive(Default)]
pub struct ExampleBuffers {
    input_mask: Vec<u8>,
    segment_ids: Vec<u8>,
    masked_lm_weights: Vec<f32>,
}

/// Serializes one instance as the reference's `tf.train.Example` (spec §7) with
/// `tfrecord::encode_example`: the four sequence features padded with 0 to `max_seq_length`,
/// `masked_lm_*` padded to `masked_len`, and the SOP label under its historical name
/// `next_sentence_labels`. Ids and flags go in as they are held (`u32`/`u8`, padding implied),
/// so nothing is widened or copied but the two 0/1 masks.
pub fn encode_instance(inst: &Instance, max_seq_length: usize, masked_len: usize, b: &mut ExampleBuffers, out: &mut Vec<u8>) {
    let n = inst.input_ids.len();
    let first = (inst.first_segment_len as usize).min(n);
    let m = inst.masked_positions.len().min(masked_len);
    b.input_mask.clear();
    b.input_mask.resize(n, 1);
    b.segment_ids.clear();
    b.segment_ids.resize(first, 0);
    b.segment_ids.resize(n, 1);
    b.masked_lm_weights.clear();
    b.masked_lm_weights.resize(m, 1.0);
    b.masked_lm_weights.resize(masked_len, 0.0);
    let label = [inst.label];
    let seq = |values| FeatureValues::UInt8 { values, len: max_seq_length };
    encode_example(
        &[
            ("input_ids", FeatureValues::UInt32 { values: &inst.input_ids, len: max_seq_length }),
            ("input_mask", seq(&b.input_mask)),
            ("segment_ids", seq(&b.segment_ids)),
            ("token_boundary", seq(&inst.token_boundary)),
            ("masked_lm_positions", FeatureValues::UInt32 { values: &inst.masked_positions[..m], len: masked_len }),
            ("masked_lm_ids", FeatureValues::UInt32 { values: &inst.masked_ids[..m.min(inst.masked_ids.len())], len: masked_len }),
            ("masked_lm_weights", FeatureValues::Float(&b.masked_lm_weights)),
            ("next_sentence_labels", FeatureValues::UInt8 { values: &label, len: 1 }),
        ],
        out,
    );
}

// ------------------------------------------------------------------------------------------
// Shards

/// `train-00003-of-00017.tfrecord` (`.gz` appended when gzip-compressed).
pub fn shard_file_name(split: Split, index: usize, count: usize, compression: Compression) -> String {
    let ext = match compression {
        Compression::None => "tfrecord",
        Compression::Gzip => "tfrecord.gz",
    };
    format!("{}-{index:05}-of-{count:05}.{ext}", split.name())
}

fn marker_path(output_dir: &Path, file_name: &str) -> PathBuf {
    output_dir.join(".progress").join(format!("{file_name}.done"))
}

fn marker_text(r: &ShardResult, fingerprint: &str) -> String {
    let s = &r.stats;
    format!(
        "fingerprint={fingerprint}\nrecords={}\ninput_bytes={}\ndocuments={}\nsentences={}\nsingle_sentence_documents={}\ninput_tokens={}\ninstances={}\nreal_tokens={}\nmasked_positions={}\nlabel_ones={}\nrandom_document_pairs={}\nskipped_chunks={}\n",
        r.records, r.input_bytes, r.documents, r.sentences, r.single_sentence_documents, r.input_tokens,
        s.instances, s.real_tokens, s.masked_positions, s.label_ones, s.random_document_pairs, s.skipped_chunks
    )
}

/// Reads a finished shard's marker if it belongs to this run.
fn read_marker(path: &Path, fingerprint: &str, template: &ShardResult) -> Option<ShardResult> {
    let text = fs::read_to_string(path).ok()?;
    let mut r = template.clone();
    let mut fp_ok = false;
    for line in text.lines() {
        let (k, v) = line.split_once('=')?;
        if k == "fingerprint" {
            fp_ok = v == fingerprint;
            continue;
        }
        let v: u64 = v.parse().ok()?;
        match k {
            "records" => r.records = v,
            "input_bytes" => r.input_bytes = v,
            "documents" => r.documents = v,
            "sentences" => r.sentences = v,
            "single_sentence_documents" => r.single_sentence_documents = v,
            "input_tokens" => r.input_tokens = v,
            "instances" => r.stats.instances = v,
            "real_tokens" => r.stats.real_tokens = v,
            "masked_positions" => r.stats.masked_positions = v,
            "label_ones" => r.stats.label_ones = v,
            "random_document_pairs" => r.stats.random_document_pairs = v,
            "skipped_chunks" => r.stats.skipped_chunks = v,
            _ => {}
        }
    }
    fp_ok.then(|| {
        r.resumed = true;
        r
    })
}

/// Everything a worker shares with the others.
struct Shared<'a, E: LineEncoder> {
    cfg: &'a PipelineConfig,
    encoder: &'a E,
    vocab: &'a MaskingVocab,
    progress: &'a Progress,
    counts: [usize; 2],
}

/// Tokenizes, builds, masks, shuffles and writes one shard.
fn process_shard<E: LineEncoder>(sh: &Shared<E>, work: ShardWork) -> Result<ShardResult> {
    let cfg = sh.cfg;
    let count = sh.counts[work.split as usize];
    let file_name = shard_file_name(work.split, work.index, count, cfg.compression);
    let final_path = cfg.output_dir.join(&file_name);
    let marker = marker_path(&cfg.output_dir, &file_name);
    let mut result = ShardResult {
        split: work.split,
        index: work.index,
        file_name: file_name.clone(),
        records: 0,
        input_bytes: work.bytes,
        documents: 0,
        sentences: 0,
        single_sentence_documents: 0,
        input_tokens: 0,
        stats: InstanceStats::default(),
        resumed: false,
    };
    if final_path.is_file() {
        if let Some(done) = read_marker(&marker, &cfg.fingerprint, &result) {
            sh.progress.documents.fetch_add(done.documents, Ordering::Relaxed);
            sh.progress.instances.fetch_add(done.records, Ordering::Relaxed);
            sh.progress.bytes_done.fetch_add(done.input_bytes, Ordering::Relaxed);
            return Ok(done);
        }
    }

    // Tokenize.
    let mut docs: Vec<Document> = Vec::with_capacity(work.documents.len());
    let mut ids = Vec::with_capacity(256);
    let mut tok_scratch = E::Scratch::default();
    for raw in &work.documents {
        if sh.progress.cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let mut doc = Document::default();
        for (line, origin) in raw.lines.iter().zip(&raw.origins) {
            ids.clear();
            sh.encoder.encode_line(line, &mut tok_scratch, &mut ids);
            if cfg.max_line_tokens > 0 && ids.len() > cfg.max_line_tokens {
                let path = cfg.inputs.get(origin.file as usize).map(|p| p.display().to_string()).unwrap_or_default();
                return Err(Error::InvalidInput(format!(
                    "{path}:{}: line of {} tokens, far longer than max_seq_length={} (limit {} tokens): \
                     the input must hold one sentence per line (see `albert-fast prepare-corpus`), \
                     or raise max_line_tokens",
                    origin.line,
                    ids.len(),
                    cfg.instance.max_seq_length,
                    cfg.max_line_tokens
                )));
            }
            doc.push_sentence(&ids);
        }
        sh.progress.documents.fetch_add(1, Ordering::Relaxed);
        sh.progress.bytes_done.fetch_add(raw.bytes, Ordering::Relaxed);
        if doc.num_sentences() > 0 {
            result.documents += 1;
            result.sentences += doc.num_sentences() as u64;
            result.single_sentence_documents += (doc.num_sentences() == 1) as u64;
            result.input_tokens += doc.tokens.len() as u64;
            docs.push(doc);
        }
    }
    drop(work);

    // Instances, as the reference: shuffle documents, dupe_factor passes, shuffle instances.
    let mut rng = DataRng::for_shard(cfg.random_seed, result.index as u64, result.split == Split::Eval);
    rng.shuffle(&mut docs);
    let mut builder = InstanceBuilder::new(&cfg.instance, &cfg.masking, sh.vocab);
    let mut instances: Vec<Instance> = Vec::new();
    for _ in 0..cfg.dupe_factor {
        for d in 0..docs.len() {
            if sh.progress.cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            let before = instances.len();
            builder.from_document(&docs, d, &mut rng, &mut instances, &mut result.stats);
            sh.progress.instances.fetch_add((instances.len() - before) as u64, Ordering::Relaxed);
        }
    }
    drop(docs);
    rng.shuffle(&mut instances);

    // Serialize straight into the output file.
    let masked_len = cfg.masking.max_predictions_per_seq * (1 + cfg.masking.do_permutation as usize);
    let file = AtomicFile::create(&final_path)?;
    let mut writer = RecordWriter::new(file, cfg.compression);
    let (mut buffers, mut example) = (ExampleBuffers::default(), Vec::new());
    for inst in &instances {
        encode_instance(inst, cfg.instance.max_seq_length, masked_len, &mut buffers, &mut example);
        writer.write_record(&example).map_err(|e| Error::io(&final_path, e))?;
    }
    result.records = writer.records_written();
    let file = writer.finish().map_err(|e| Error::io(&final_path, e))?;
    file.commit()?;
    let mut m = AtomicFile::create(&marker)?;
    m.write_all(marker_text(&result, &cfg.fingerprint).as_bytes()).map_err(|e| Error::io(&marker, e))?;
    m.commit()?;
    Ok(result)
}

/// The resume fingerprint: the caller's description of config and tokenizer plus every input
/// file's path, size and modification time, hashed (SHA-256, hex).
pub fn run_fingerprint(config_and_tokenizer: &str, inputs: &[PathBuf]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(config_and_tokenizer.as_bytes());
    for p in inputs {
        let meta = fs::metadata(p).ok();
        let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
        let mtime = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.update(format!("\n{}\t{size}\t{mtime}", p.display()).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Validates the parameters that would otherwise fail deep inside a worker.
fn validate(cfg: &PipelineConfig) -> Result<()> {
    if cfg.inputs.is_empty() {
        return Err(Error::InvalidInput("no input files".into()));
    }
    if cfg.instance.max_seq_length < 5 {
        return Err(Error::invalid_arg("max_seq_length", format!("{} is too small (at least 5: [CLS] A [SEP] B [SEP])", cfg.instance.max_seq_length)));
    }
    if !(0.0..=1.0).contains(&cfg.instance.short_seq_prob) {
        return Err(Error::invalid_arg("short_seq_prob", format!("{} is not in [0, 1]", cfg.instance.short_seq_prob)));
    }
    if !(0.0..=1.0).contains(&cfg.masking.masked_lm_prob) {
        return Err(Error::invalid_arg("masked_lm_prob", format!("{} is not in [0, 1]", cfg.masking.masked_lm_prob)));
    }
    if cfg.masking.ngram < 1 {
        return Err(Error::invalid_arg("ngram", "must be at least 1"));
    }
    if cfg.masking.max_predictions_per_seq < 1 {
        return Err(Error::invalid_arg("max_predictions_per_seq", "must be at least 1"));
    }
    if cfg.dupe_factor < 1 {
        return Err(Error::invalid_arg("dupe_factor", "must be at least 1"));
    }
    if !(0.0..1.0).contains(&cfg.eval_fraction) {
        return Err(Error::invalid_arg("eval_fraction", format!("{} is not in [0, 1)", cfg.eval_fraction)));
    }
    for p in &cfg.inputs {
        if !p.exists() {
            return Err(Error::NotFound(p.clone()));
        }
    }
    Ok(())
}

/// Runs create-data end to end. Shard files and markers are written under `output_dir`
/// (which must exist); the manifest is the caller's job.
pub fn run<E: LineEncoder>(cfg: &PipelineConfig, encoder: &E, vocab: &MaskingVocab, progress: &Progress) -> Result<RunSummary> {
    validate(cfg)?;
    let progress_dir = cfg.output_dir.join(".progress");
    fs::create_dir_all(&progress_dir).map_err(|e| Error::io(&progress_dir, e))?;

    // Pass 1: shard boundaries.
    progress.phase.store(0, Ordering::Relaxed);
    let mut counter = Sharder::new(cfg.eval_fraction, cfg.shard_size_bytes, false);
    let mut counts = [0usize; 2];
    let total = read_documents(cfg, &mut counter, progress, false, &mut |w| {
        counts[w.split as usize] += 1;
        Ok(())
    })?;
    if counter.documents == 0 {
        return Err(Error::InvalidInput(format!(
            "empty corpus: no text in {} input file(s) (expected one sentence per line, a blank line between documents)",
            cfg.inputs.len()
        )));
    }
    progress.total_bytes.store(total, Ordering::Relaxed);
    progress.shards_total.store((counts[0] + counts[1]) as u64, Ordering::Relaxed);
    progress.phase.store(1, Ordering::Relaxed);

    // Pass 2: the reader feeds a bounded queue; `threads` workers drain it.
    let shared = Shared { cfg, encoder, vocab, progress, counts };
    let threads = cfg.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<ShardWork>(threads);
    let rx = Mutex::new(rx);
    let results: Mutex<Vec<ShardResult>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        progress.cancel.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = first_error.lock() {
            // An interruption caused by another worker's failure must not hide that failure.
            if slot.is_none() || matches!(*slot, Some(Error::Interrupted)) {
                *slot = Some(e);
            }
        }
    };
    let pool = crate::parallel::thread_pool(threads)?;
    pool.in_place_scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|_| loop {
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(work) = next else { return };
                match process_shard(&shared, work) {
                    Ok(r) => {
                        progress.shards_done.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut v) = results.lock() {
                            v.push(r);
                        }
                    }
                    Err(e) => fail(e),
                }
            });
        }
        let mut sharder = Sharder::new(cfg.eval_fraction, cfg.shard_size_bytes, true);
        let read = read_documents(cfg, &mut sharder, progress, true, &mut |w| {
            tx.send(w).map_err(|_| Error::Interrupted)
        });
        drop(tx);
        if let Err(e) = read {
            fail(e);
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut shards = results.into_inner().map_err(|_| Error::InvalidInput("a worker thread panicked".into()))?;
    shards.sort_by_key(|r| (r.split as usize, r.index));
    if shards.len() != counts[0] + counts[1] {
        return Err(Error::InvalidInput(format!(
            "the input changed while it was read: expected {} shards, built {}",
            counts[0] + counts[1],
            shards.len()
        )));
    }
    if shards.iter().all(|r| r.records == 0) {
        for r in &shards {
            let _ = fs::remove_file(cfg.output_dir.join(&r.file_name));
            let _ = fs::remove_file(marker_path(&cfg.output_dir, &r.file_name));
        }
        return Err(Error::InvalidInput(format!(
            "the corpus produced no training instances: its {} document(s) tokenize to nothing usable",
            counter.documents
        )));
    }
    progress.phase.store(2, Ordering::Relaxed);
    Ok(RunSummary { shards, input_bytes: total, num_train_shards: counts[0], num_eval_shards: counts[1] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masking::PieceClass;
    use std::collections::HashMap;
    use std::fs::File;
    use std::io::Read;

    /// Whitespace "tokenizer" over a fixed toy vocabulary: word w -> 5 + hash(w) % 995.
    struct Toy;
    impl LineEncoder for Toy {
        type Scratch = ();
        fn encode_line(&self, line: &str, _: &mut (), out: &mut Vec<u32>) {
            for w in line.split_whitespace() {
                out.push(5 + (fnv1a(FNV_OFFSET, w.as_bytes()) % 995) as u32);
            }
        }
    }

    fn toy_vocab() -> MaskingVocab {
        let mut pieces: Vec<(String, PieceClass)> = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|p| (p.to_string(), PieceClass::Control))
            .collect();
        for i in 5..1000 {
            pieces.push((format!("\u{2581}w{i}"), PieceClass::Normal));
        }
        MaskingVocab::new(pieces.iter().map(|(p, c)| (p.as_str(), *c)), 2, 3, 4)
    }

    use crate::test_util::TempDir;

    fn write_corpus(dir: &Path, files: usize, docs: usize) -> Vec<PathBuf> {
        let mut rng = DataRng::from_seed(42);
        (0..files)
            .map(|f| {
                let mut text = String::new();
                for d in 0..docs {
                    for _ in 0..1 + rng.below(12) {
                        let n = 3 + rng.below(25);
                        let words: Vec<String> = (0..n).map(|_| format!("w{}", rng.below(3000))).collect();
                        text.push_str(&words.join(" "));
                        text.push('\n');
                    }
                    if d + 1 < docs {
                        text.push('\n');
                    }
                }
                let p = dir.join(format!("in{f}.txt"));
                fs::write(&p, text).unwrap();
                p
            })
            .collect()
    }

    fn config(inputs: Vec<PathBuf>, out: &Path, threads: usize) -> PipelineConfig {
        PipelineConfig {
            inputs,
            output_dir: out.to_path_buf(),
            instance: InstanceConfig { max_seq_length: 64, short_seq_prob: 0.1, random_next_sentence: false, compat: false },
            masking: MaskingConfig::default(),
            dupe_factor: 2,
            random_seed: 12345,
            eval_fraction: 0.1,
            shard_size_bytes: 20_000,
            threads,
            compression: Compression::None,
            max_line_tokens: 1000,
            merge_documents_across_files: false,
            fingerprint: "test".into(),
        }
    }

    fn read_dir_bytes(dir: &Path) -> HashMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
            .collect()
    }

    #[test]
    fn byte_identical_for_any_thread_count() {
        let dir = TempDir::new("threads");
        let inputs = write_corpus(&dir, 3, 60);
        let v = toy_vocab();
        let mut outputs = Vec::new();
        for threads in [1, 2, 3] {
            let out = dir.join(format!("out{threads}"));
            fs::create_dir_all(&out).unwrap();
            let s = run(&config(inputs.clone(), &out, threads), &Toy, &v, &Progress::default()).unwrap();
            assert!(s.num_train_shards > 2 && s.num_eval_shards >= 1, "{} {}", s.num_train_shards, s.num_eval_shards);
            outputs.push(read_dir_bytes(&out));
        }
        assert!(outputs[0].len() > 3);
        assert_eq!(outputs[0], outputs[1]);
        assert_eq!(outputs[0], outputs[2]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn records_are_framed_and_counted() {
        let dir = TempDir::new("framing");
        let inputs = write_corpus(&dir, 1, 30);
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let s = run(&config(inputs, &out, 2), &Toy, &toy_vocab(), &Progress::default()).unwrap();
        for r in &s.shards {
            let bytes = fs::read(out.join(&r.file_name)).unwrap();
            let (mut off, mut n) = (0usize, 0u64);
            while off < bytes.len() {
                let len = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap()) as usize;
                assert_eq!(u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()), crate::tfrecord::masked_crc32c(&bytes[off..off + 8]));
                let data = &bytes[off + 12..off + 12 + len];
                assert_eq!(u32::from_le_bytes(bytes[off + 12 + len..off + 16 + len].try_into().unwrap()), crate::tfrecord::masked_crc32c(data));
                off += 16 + len;
                n += 1;
            }
            assert_eq!(n, r.records);
            assert_eq!(r.records, r.stats.instances);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn resume_skips_finished_shards_and_redoes_unfinished_ones() {
        let dir = TempDir::new("resume");
        let inputs = write_corpus(&dir, 2, 50);
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let v = toy_vocab();
        let first = run(&config(inputs.clone(), &out, 2), &Toy, &v, &Progress::default()).unwrap();
        let before = read_dir_bytes(&out);
        // Simulate a kill: one shard never finished (no file), another lost its marker.
        fs::remove_file(out.join(&first.shards[0].file_name)).unwrap();
        fs::remove_file(marker_path(&out, &first.shards[1].file_name)).unwrap();
        let second = run(&config(inputs.clone(), &out, 2), &Toy, &v, &Progress::default()).unwrap();
        assert_eq!(read_dir_bytes(&out), before);
        assert!(!second.shards[0].resumed && !second.shards[1].resumed);
        assert!(second.shards[2..].iter().all(|r| r.resumed));
        // A different fingerprint reuses nothing.
        let mut other = config(inputs, &out, 2);
        other.fingerprint = "other".into();
        let third = run(&other, &Toy, &v, &Progress::default()).unwrap();
        assert!(third.shards.iter().all(|r| !r.resumed));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn files_end_documents_unless_merging_q7() {
        let dir = TempDir::new("q7");
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        fs::write(&a, "w1 w2\nw3 w4\n").unwrap();
        fs::write(&b, "w5 w6\n\nw7 w8\n").unwrap();
        let count_docs = |merge: bool| {
            let mut c = config(vec![a.clone(), b.clone()], &dir, 1);
            c.merge_documents_across_files = merge;
            c.eval_fraction = 0.0;
            let mut sh = Sharder::new(0.0, u64::MAX, false);
            read_documents(&c, &mut sh, &Progress::default(), false, &mut |_| Ok(())).unwrap();
            sh.documents
        };
        assert_eq!(count_docs(false), 3);
        assert_eq!(count_docs(true), 2);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_inputs_are_clear_errors_and_leave_nothing() {
        let dir = TempDir::new("bad");
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let v = toy_vocab();
        let check = |content: &[u8], needle: &str| {
            let p = dir.join("bad.txt");
            fs::write(&p, content).unwrap();
            let err = run(&config(vec![p], &out, 2), &Toy, &v, &Progress::default()).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            let left: Vec<_> = fs::read_dir(&out).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_file()).collect();
            assert!(left.is_empty(), "nothing written: {left:?}");
        };
        check(b"", "empty corpus");
        check(b"\n  \n\t\n", "empty corpus");
        check(b"good line\n\xff\xfe bad\n", "invalid UTF-8");
        check(b"abc\x00def\n", "binary");
        let long: String = (0..2000).map(|i| format!("w{i} ")).collect();
        check(long.as_bytes(), "far longer than max_seq_length");
        let err = run(&config(vec![dir.join("missing.txt")], &out, 1), &Toy, &v, &Progress::default()).unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gzip_output_decompresses_to_the_plain_records() {
        let dir = TempDir::new("gzip");
        let inputs = write_corpus(&dir, 1, 20);
        let (plain, gz) = (dir.join("plain"), dir.join("gz"));
        fs::create_dir_all(&plain).unwrap();
        fs::create_dir_all(&gz).unwrap();
        let v = toy_vocab();
        let s1 = run(&config(inputs.clone(), &plain, 1), &Toy, &v, &Progress::default()).unwrap();
        let mut c = config(inputs, &gz, 1);
        c.compression = Compression::Gzip;
        let s2 = run(&c, &Toy, &v, &Progress::default()).unwrap();
        for (a, b) in s1.shards.iter().zip(&s2.shards) {
            let mut dec = Vec::new();
            flate2::read::GzDecoder::new(File::open(gz.join(&b.file_name)).unwrap()).read_to_end(&mut dec).unwrap();
            assert_eq!(dec, fs::read(plain.join(&a.file_name)).unwrap());
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn example_has_the_reference_features_padded() {
        use crate::tfrecord::{decode_example, Feature};
        let inst = Instance {
            input_ids: vec![2, 10, 4, 3, 12, 13, 3],
            first_segment_len: 4,
            token_boundary: vec![1, 1, 0, 1, 1, 0, 1],
            masked_positions: vec![2, 5],
            masked_ids: vec![11, 13],
            label: 1,
        };
        let (mut b, mut out) = (ExampleBuffers::default(), Vec::new());
        encode_instance(&inst, 10, 4, &mut b, &mut out);
        let f: HashMap<String, Feature> = decode_example(&out).unwrap().into_iter().collect();
        let int = |k: &str| match &f[k] {
            Feature::Int64(v) => v.clone(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(f.len(), 8);
        assert_eq!(int("input_ids"), vec![2, 10, 4, 3, 12, 13, 3, 0, 0, 0]);
        assert_eq!(int("input_mask"), vec![1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
        assert_eq!(int("segment_ids"), vec![0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
        assert_eq!(int("token_boundary"), vec![1, 1, 0, 1, 1, 0, 1, 0, 0, 0]);
        assert_eq!(int("masked_lm_positions"), vec![2, 5, 0, 0]);
        assert_eq!(int("masked_lm_ids"), vec![11, 13, 0, 0]);
        assert_eq!(int("next_sentence_labels"), vec![1]);
        match &f["masked_lm_weights"] {
            Feature::Float(w) => assert_eq!(w, &vec![1.0, 1.0, 0.0, 0.0]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn encode_instance_matches_padded_int64_features() {
        let mut rng = DataRng::from_seed(6);
        for _ in 0..200 {
            let n = 5 + rng.below(60) as usize;
            let f = 2 + rng.below((n - 3) as u64) as usize;
            let m = rng.below(9) as usize;
            let inst = Instance {
                input_ids: (0..n).map(|_| rng.below(40_000) as u32).collect(),
                first_segment_len: f as u32,
                token_boundary: (0..n).map(|_| rng.below(2) as u8).collect(),
                masked_positions: (0..m).map(|k| (k * 3 + 1) as u32).collect(),
                masked_ids: (0..m).map(|_| rng.below(300) as u32).collect(),
                label: rng.below(2) as u8,
            };
            let (l, p) = (64usize, 8usize);
            let pad = |v: Vec<i64>, len: usize| {
                let mut v = v;
                v.resize(len, 0);
                v
            };
            let ids = pad(inst.input_ids.iter().map(|&x| x as i64).collect(), l);
            let mask = pad(vec![1; n], l);
            let seg = pad((0..n).map(|i| (i >= f) as i64).collect(), l);
            let tb = pad(inst.token_boundary.iter().map(|&x| x as i64).collect(), l);
            let pos = pad(inst.masked_positions.iter().map(|&x| x as i64).collect(), p);
            let lab = pad(inst.masked_ids.iter().map(|&x| x as i64).collect(), p);
            let mut w = vec![1.0f32; m];
            w.resize(p, 0.0);
            let label = [inst.label as i64];
            let mut expected = Vec::new();
            encode_example(
                &[
                    ("input_ids", FeatureValues::Int64(&ids)),
                    ("input_mask", FeatureValues::Int64(&mask)),
                    ("segment_ids", FeatureValues::Int64(&seg)),
                    ("token_boundary", FeatureValues::Int64(&tb)),
                    ("masked_lm_positions", FeatureValues::Int64(&pos)),
                    ("masked_lm_ids", FeatureValues::Int64(&lab)),
                    ("masked_lm_weights", FeatureValues::Float(&w)),
                    ("next_sentence_labels", FeatureValues::Int64(&label)),
                ],
                &mut expected,
            );
            let (mut b, mut got) = (ExampleBuffers::default(), Vec::new());
            encode_instance(&inst, l, p, &mut b, &mut got);
            assert_eq!(got, expected);
        }
    }
}
