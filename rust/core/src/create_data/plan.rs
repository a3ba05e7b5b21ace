//! The shard plan: pass 1 of create-data reads the input without tokenizing it and runs the
//! same [`Sharder`] as the build, so the number of shards is known before any file is named
//! (`train-00003-of-00017.tfrecord`) and every shard's span of the input is recorded. Shard
//! boundaries depend only on the input bytes, `shard_size_bytes` and `eval_fraction`, never on
//! the thread count, and one shard can be built on its own by reading only its span.
//!
//! Held-out split: with `eval_fraction > 0` a document goes to the eval split iff a fixed 64-bit
//! hash of its raw bytes, scaled to [0, 1), is below the fraction: deterministic, independent of
//! sharding, and identical duplicate documents land on the same side.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::options::RunConfig;
use crate::corpus::{hash_lines, read_document_spans, total_size, DocumentSpan, Position, RawDocument, ReaderStats};
use crate::error::{Error, Result};
use crate::hashing::mix;
use crate::progress::{Phase, Progress};
use crate::tfrecord::Compression;

/// Train or held-out split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// One shard of the plan: where its documents lie in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedShard {
    pub split: Split,
    pub index: usize,
    pub file_name: String,
    /// The start of its first document.
    pub start: Position,
    /// Just after its last document. Documents of the other split may lie in between.
    pub end: Position,
    /// Raw bytes of its documents.
    pub input_bytes: u64,
    pub documents: u64,
}

/// Every shard of a run, in the order pass 1 closed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPlan {
    pub inputs: Vec<PathBuf>,
    pub shards: Vec<PlannedShard>,
    /// Raw bytes of text read (after decompression).
    pub input_bytes: u64,
    pub documents: u64,
    pub num_train_shards: usize,
    pub num_eval_shards: usize,
    /// The shard size the build closes shards at (with named output files: computed here).
    pub shard_size_bytes: u64,
}

impl ShardPlan {
    /// Position of each shard in `shards`, by (split, index).
    pub fn lookup(&self) -> HashMap<(Split, usize), usize> {
        self.shards.iter().enumerate().map(|(k, s)| ((s.split, s.index), k)).collect()
    }

    /// Shards `range` as a task on their own see them (a worker of a cluster): a plan of those
    /// shards over just the input files their spans touch, file indices relative to them.
    /// [`super::build_planned_shard`] of one of them writes the same file as of the whole plan.
    pub fn task(&self, range: std::ops::Range<usize>) -> ShardPlan {
        task_of(&self.inputs, &self.shards[range], self.num_train_shards, self.num_eval_shards, self.shard_size_bytes)
    }
}

/// [`ShardPlan::task`] of `shards` of a plan over `inputs`; the counts and shard size are the
/// plan's (0 in a task made before pass 1 ended: building a shard does not use them).
pub(crate) fn task_of(inputs: &[PathBuf], shards: &[PlannedShard], num_train_shards: usize, num_eval_shards: usize, shard_size_bytes: u64) -> ShardPlan {
    let base = shards.iter().map(|s| s.start.file).min().unwrap_or(0);
    let last = shards.iter().map(|s| s.end.file).max().unwrap_or(0).min(inputs.len().saturating_sub(1));
    let rebase = |p: Position| Position { file: p.file - base, ..p };
    ShardPlan {
        inputs: inputs.get(base..=last).map(<[PathBuf]>::to_vec).unwrap_or_default(),
        shards: shards.iter().map(|s| PlannedShard { start: rebase(s.start), end: rebase(s.end), ..s.clone() }).collect(),
        input_bytes: shards.iter().map(|s| s.input_bytes).sum(),
        documents: shards.iter().map(|s| s.documents).sum(),
        num_train_shards,
        num_eval_shards,
        shard_size_bytes,
    }
}

/// `train-00003-of-00017.tfrecord` (`.gz` appended when gzip-compressed).
pub fn shard_file_name(split: Split, index: usize, count: usize, compression: Compression) -> String {
    format!("{}-{index:05}-of-{count:05}.{}", split.name(), extension(compression))
}

fn extension(compression: Compression) -> &'static str {
    match compression {
        Compression::None => "tfrecord",
        Compression::Gzip => "tfrecord.gz",
    }
}

/// The hidden name a shard is written under until the shard count is known:
/// `.train-00003.tfrecord` (see [`super::run`]).
pub fn provisional_file_name(split: Split, index: usize, compression: Compression) -> String {
    format!(".{}-{index:05}.{}", split.name(), extension(compression))
}

/// True for a name [`provisional_file_name`] makes.
pub fn is_provisional_file_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(".train-").or_else(|| name.strip_prefix(".eval-")) else { return false };
    let Some(digits) = rest.strip_suffix(".tfrecord").or_else(|| rest.strip_suffix(".tfrecord.gz")) else { return false };
    digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The error for a corpus without a single document in `files` input files.
pub fn check_not_empty(documents: u64, files: usize) -> Result<()> {
    if documents == 0 {
        return Err(Error::InvalidInput(format!(
            "empty corpus: no text in {files} input file(s) (expected one sentence per line, a blank line between documents)"
        )));
    }
    Ok(())
}

/// True for a name [`shard_file_name`] makes.
pub fn is_shard_file_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("train-").or_else(|| name.strip_prefix("eval-")) else { return false };
    let Some(rest) = rest.strip_suffix(".tfrecord").or_else(|| rest.strip_suffix(".tfrecord.gz")) else { return false };
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    rest.split_once("-of-").is_some_and(|(a, b)| digits(a) && digits(b))
}

/// The split of a document under `eval_fraction` (see the module docs).
pub fn split_of(eval_fraction: f64, doc: &RawDocument) -> Split {
    if eval_fraction > 0.0 {
        return split_of_hash(eval_fraction, hash_lines(doc.text_lines().map(|(line, _)| line)));
    }
    Split::Train
}

/// [`split_of`] a document whose lines hash to `hash` ([`hash_lines`]; without a held-out
/// split the hash is not looked at: an unhashed span's is 0).
fn split_of_hash(eval_fraction: f64, hash: u64) -> Split {
    let u = (mix(hash) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    if eval_fraction > 0.0 && u < eval_fraction {
        Split::Eval
    } else {
        Split::Train
    }
}

/// A shard of documents (the build's) or just their count and span (the plan's).
#[derive(Debug)]
pub(crate) struct ShardWork {
    pub split: Split,
    pub index: usize,
    pub documents: Vec<RawDocument>,
    pub count: u64,
    pub bytes: u64,
    pub start: Position,
    pub end: Position,
}

impl ShardWork {
    fn empty(split: Split) -> Self {
        ShardWork { split, index: 0, documents: Vec::new(), count: 0, bytes: 0, start: Position::default(), end: Position::default() }
    }
}

/// Routes documents to train/eval and closes shards by size. The plan and the build run the
/// same code, so they agree on every boundary.
pub(crate) struct Sharder {
    eval_fraction: f64,
    shard_size: u64,
    keep_text: bool,
    open: [ShardWork; 2],
    next_index: [usize; 2],
    pub documents: u64,
}

impl Sharder {
    pub fn new(eval_fraction: f64, shard_size: u64, keep_text: bool) -> Self {
        Sharder {
            eval_fraction,
            shard_size: shard_size.max(1),
            keep_text,
            open: [ShardWork::empty(Split::Train), ShardWork::empty(Split::Eval)],
            next_index: [0, 0],
            documents: 0,
        }
    }

    /// Adds a finished document; returns a shard if this closed one.
    pub fn add(&mut self, doc: RawDocument) -> Option<ShardWork> {
        let split = split_of(self.eval_fraction, &doc);
        let span = DocumentSpan { start: doc.start, end: doc.end, bytes: doc.bytes, hash: 0 };
        self.add_to(split, span, self.keep_text.then_some(doc))
    }

    /// [`Sharder::add`] of a document known by its span (hashed when `eval_fraction > 0`).
    pub fn add_span(&mut self, span: DocumentSpan) -> Option<ShardWork> {
        self.add_to(split_of_hash(self.eval_fraction, span.hash), span, None)
    }

    fn add_to(&mut self, split: Split, span: DocumentSpan, doc: Option<RawDocument>) -> Option<ShardWork> {
        if span.bytes == 0 {
            return None;
        }
        self.documents += 1;
        let s = split as usize;
        let shard = &mut self.open[s];
        if shard.count == 0 {
            shard.start = span.start;
        }
        shard.end = span.end;
        shard.count += 1;
        shard.bytes += span.bytes;
        shard.documents.extend(doc);
        if shard.bytes >= self.shard_size {
            return Some(self.close(s));
        }
        None
    }

    fn close(&mut self, s: usize) -> ShardWork {
        let index = self.next_index[s];
        self.next_index[s] += 1;
        let split = self.open[s].split;
        let mut work = std::mem::replace(&mut self.open[s], ShardWork::empty(split));
        work.index = index;
        work
    }

    /// Closes the partial shards at the end of the input.
    pub fn finish(&mut self) -> Vec<ShardWork> {
        let open: Vec<usize> = (0..2).filter(|&s| self.open[s].count > 0).collect();
        open.into_iter().map(|s| self.close(s)).collect()
    }
}

/// Pass 1: reads every input and plans the shards. With named train files (the original's
/// `--output_file` list) the shard size is the training text divided by their number, which
/// needs one more read of the input first: the plan then has at most that many train shards.
pub fn plan(cfg: &RunConfig, progress: &Arc<Progress>) -> Result<ShardPlan> {
    plan_with(cfg, progress, false, |_| Ok(()))
}

/// [`plan`]; with `provisional`, each shard also goes to `on_shard` under its provisional name
/// ([`provisional_file_name`]) as soon as pass 1 closes it (the caller renames it when the
/// count is known, as the one-pass local run does). Without, the shards are named once the
/// input is read and `on_shard` is not called.
pub fn plan_with(
    cfg: &RunConfig,
    progress: &Arc<Progress>,
    provisional: bool,
    mut on_shard: impl FnMut(&PlannedShard) -> Result<()>,
) -> Result<ShardPlan> {
    if provisional && !cfg.train_file_names.is_empty() {
        return Err(Error::invalid_arg("output_files", "named output files are known before the input is read: plan them"));
    }
    progress.set_phase(Phase::Planning);
    let hashed = cfg.eval_fraction > 0.0;
    Progress::set(&progress.bytes_total, total_size(&cfg.inputs));
    Progress::set(&progress.files_total, cfg.inputs.len() as u64);
    let shard_size = if cfg.train_file_names.is_empty() {
        cfg.shard_size_bytes
    } else {
        let mut train_bytes = 0u64;
        read_document_spans(&cfg.inputs, &cfg.documents(progress), &mut ReaderStats::default(), hashed, |span| {
            if split_of_hash(cfg.eval_fraction, span.hash) == Split::Train {
                train_bytes += span.bytes;
            }
            Ok(())
        })?;
        Progress::set(&progress.bytes_read, 0);
        train_bytes.div_ceil(cfg.train_file_names.len() as u64).max(1)
    };
    let planned = |w: ShardWork, file_name: String| PlannedShard {
        split: w.split,
        index: w.index,
        file_name,
        start: w.start,
        end: w.end,
        input_bytes: w.bytes,
        documents: w.count,
    };
    let mut sharder = Sharder::new(cfg.eval_fraction, shard_size, false);
    let mut closed = Vec::new();
    let mut named = Vec::new();
    let mut close = |w: ShardWork| -> Result<()> {
        if provisional {
            let name = provisional_file_name(w.split, w.index, cfg.compression);
            let shard = planned(w, name);
            on_shard(&shard)?;
            named.push(shard);
        } else {
            closed.push(w);
        }
        Ok(())
    };
    let mut stats = ReaderStats::default();
    read_document_spans(&cfg.inputs, &cfg.documents(progress), &mut stats, hashed, |span| match sharder.add_span(span) {
        Some(w) => close(w),
        None => Ok(()),
    })?;
    sharder.finish().into_iter().try_for_each(&mut close)?;
    check_not_empty(sharder.documents, cfg.inputs.len())?;
    let count = |split| named.iter().filter(|s| s.split == split).count() + closed.iter().filter(|w| w.split == split).count();
    let (num_train_shards, num_eval_shards) = (count(Split::Train), count(Split::Eval));
    for w in closed {
        let n = if w.split == Split::Train { num_train_shards } else { num_eval_shards };
        let file_name = match cfg.train_file_names.get(w.index) {
            Some(name) if w.split == Split::Train => name.clone(),
            _ => shard_file_name(w.split, w.index, n, cfg.compression),
        };
        named.push(planned(w, file_name));
    }
    Ok(ShardPlan {
        inputs: cfg.inputs.clone(),
        shards: named,
        input_bytes: stats.input.bytes,
        documents: sharder.documents,
        num_train_shards,
        num_eval_shards,
        shard_size_bytes: shard_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_round_trip() {
        let name = shard_file_name(Split::Eval, 3, 17, Compression::Gzip);
        assert_eq!(name, "eval-00003-of-00017.tfrecord.gz");
        assert!(is_shard_file_name(&name) && is_shard_file_name("train-00000-of-00001.tfrecord"));
        for bad in ["train-0000-of-00001.tfrecord", "test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord.done", "manifest.json"] {
            assert!(!is_shard_file_name(bad), "{bad}");
        }
        // Provisional names are hidden and never taken for final ones (nor the reverse).
        let provisional = provisional_file_name(Split::Train, 3, Compression::Gzip);
        assert_eq!(provisional, ".train-00003.tfrecord.gz");
        assert!(is_provisional_file_name(&provisional) && is_provisional_file_name(".eval-00000.tfrecord"));
        assert!(!is_shard_file_name(&provisional) && !is_provisional_file_name(&name));
        for bad in [".train-0003.tfrecord", "train-00003.tfrecord", ".train-00003.tfrecord.tmp-1", ".test-00000.tfrecord"] {
            assert!(!is_provisional_file_name(bad), "{bad}");
        }
    }
}
