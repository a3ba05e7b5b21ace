//! Building one shard: tokenize its documents, make `dupe_factor` passes of instances, mask,
//! shuffle within the shard and write the records straight into the output file. Shard `k` of
//! split `s` draws from `DataRng::for_shard(seed, k, s)` only, so its bytes do not depend on
//! which thread (or machine) builds it.

use std::sync::Arc;

use rayon::prelude::*;

use super::example::{encode_instance, ExampleBuffers};
use super::instances::{Document, Instance, InstanceBuilder, InstanceStats};
use super::masking::MaskingVocab;
use super::options::{RunConfig, LINE_ADVICE};
use super::plan::{PlannedShard, ShardWork, Split};
use super::resume::{finished_shard, write_marker, Checksummed};
use super::rng::DataRng;
use super::run::ShardResult;
use crate::atomic::AtomicFile;
use crate::corpus::RawDocument;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::tfrecord::{frame_record, RecordWriter};

/// Instances encoded per parallel task.
const ENCODE_BLOCK: usize = 64;
use crate::tokenizer::{Scratch as TokScratch, Tokenizer};

/// Turns one raw input line into token ids (preprocessing included).
pub trait LineEncoder: Sync {
    /// Per-thread reusable buffers.
    type Scratch: Default + Send;
    fn encode_line(&self, line: &str, scratch: &mut Self::Scratch, out: &mut Vec<u32>);
}

impl LineEncoder for Tokenizer {
    type Scratch = TokScratch;
    fn encode_line(&self, line: &str, scratch: &mut TokScratch, out: &mut Vec<u32>) {
        self.encode_into(line, scratch, out);
    }
}

/// Fails unless `work` holds the documents pass 1 planned for `plan`.
fn check_planned(plan: &PlannedShard, work: &ShardWork) -> Result<()> {
    if (work.split, work.index, work.bytes, work.count) != (plan.split, plan.index, plan.input_bytes, plan.documents) {
        return Err(Error::InvalidInput(format!(
            "the input changed while it was read: {} no longer holds the documents planned for it",
            plan.file_name
        )));
    }
    Ok(())
}

impl ShardResult {
    /// The result of `work` before it is built: nothing counted yet, no file named.
    fn of(work: &ShardWork) -> ShardResult {
        ShardResult {
            split: work.split,
            index: work.index,
            file_name: String::new(),
            records: 0,
            input_bytes: work.bytes,
            documents: 0,
            sentences: 0,
            single_sentence_documents: 0,
            input_tokens: 0,
            stats: InstanceStats::default(),
            resumed: false,
        }
    }
}

/// What every shard of a run shares.
pub(crate) struct Builder<'a, E: LineEncoder> {
    pub cfg: &'a RunConfig,
    pub encoder: &'a E,
    pub vocab: &'a MaskingVocab,
    pub progress: &'a Arc<Progress>,
}

impl<E: LineEncoder> Builder<'_, E> {
    /// Builds the planned shard `plan` from `work` (its documents), or finds it finished.
    pub fn build(&self, plan: &PlannedShard, work: ShardWork) -> Result<Built> {
        check_planned(plan, &work)?;
        let mut result = ShardResult::of(&work);
        result.file_name = plan.file_name.clone();
        if let Some(done) = finished_shard(&self.cfg.output_dir, &self.cfg.fingerprint, &result, self.cfg.compression)? {
            Progress::add(&self.progress.documents, done.documents);
            Progress::add(&self.progress.instances, done.records);
            Progress::add(&self.progress.bytes_done, done.input_bytes);
            return Ok(Built::Resumed(done));
        }
        let instances = self.instances(self.tokenize(work, &mut result)?, &mut result)?;
        self.write(&instances, result).map(Built::Written)
    }

    /// Builds `work` into an output with nothing to resume, as file `file_name`.
    pub fn build_unplanned(&self, work: ShardWork, file_name: String) -> Result<Built> {
        let mut result = ShardResult::of(&work);
        result.file_name = file_name;
        let instances = self.instances(self.tokenize(work, &mut result)?, &mut result)?;
        self.write(&instances, result).map(Built::Written)
    }

    /// Tokenizes the shard's documents in parallel (in order; rayon work-stealing lets a thread
    /// with no shard left help with the last ones), then counts them in input order. The first
    /// failing line in input order is the one reported, whatever the thread count.
    fn tokenize(&self, work: ShardWork, result: &mut ShardResult) -> Result<Vec<Document>> {
        let tokenized: Vec<Result<Document>> = work
            .documents
            .par_iter()
            .with_min_len(8)
            .map_init(|| (E::Scratch::default(), Vec::with_capacity(256)), |(scratch, ids), raw| self.tokenize_document(raw, scratch, ids))
            .collect();
        drop(work);
        let mut docs: Vec<Document> = Vec::with_capacity(tokenized.len());
        for doc in tokenized {
            let doc = doc?;
            if doc.num_sentences() > 0 {
                result.documents += 1;
                result.sentences += doc.num_sentences() as u64;
                result.single_sentence_documents += (doc.num_sentences() == 1) as u64;
                result.input_tokens += doc.tokens.len() as u64;
                docs.push(doc);
            }
        }
        Ok(docs)
    }

    fn tokenize_document(&self, raw: &RawDocument, scratch: &mut E::Scratch, ids: &mut Vec<u32>) -> Result<Document> {
        let cfg = self.cfg;
        self.progress.check()?;
        let mut doc = Document::default();
        for (line, origin) in raw.text_lines() {
            ids.clear();
            self.encoder.encode_line(line, scratch, ids);
            if cfg.max_line_tokens > 0 && ids.len() > cfg.max_line_tokens {
                let path = cfg.inputs.get(origin.file as usize).map(|p| p.display().to_string()).unwrap_or_default();
                return Err(Error::InvalidInput(format!(
                    "{path}:{}: line of {} tokens, far longer than max_seq_length={} (limit {} tokens): {LINE_ADVICE}",
                    origin.line,
                    ids.len(),
                    cfg.instance.max_seq_length,
                    cfg.max_line_tokens
                )));
            }
            doc.push_sentence(ids);
        }
        Progress::add(&self.progress.documents, 1);
        Progress::add(&self.progress.bytes_done, raw.bytes);
        Ok(doc)
    }

    /// As the reference: shuffle documents, `dupe_factor` passes, shuffle instances.
    fn instances(&self, mut docs: Vec<Document>, result: &mut ShardResult) -> Result<Vec<Instance>> {
        let cfg = self.cfg;
        let mut rng = DataRng::for_shard(cfg.random_seed, result.index as u64, result.split == Split::Eval);
        rng.shuffle(&mut docs);
        let mut builder = InstanceBuilder::new(&cfg.instance, &cfg.masking, self.vocab);
        let mut instances: Vec<Instance> = Vec::new();
        for _ in 0..cfg.dupe_factor {
            for d in 0..docs.len() {
                self.progress.check()?;
                let before = instances.len();
                builder.from_document(&docs, d, &mut rng, &mut instances, &mut result.stats);
                Progress::add(&self.progress.instances, (instances.len() - before) as u64);
            }
        }
        drop(docs);
        rng.shuffle(&mut instances);
        Ok(instances)
    }

    /// Serializes straight into the output file (not yet under its name).
    fn write(&self, instances: &[Instance], mut result: ShardResult) -> Result<Written> {
        let cfg = self.cfg;
        let path = cfg.output_dir.join(&result.file_name);
        let mut writer = RecordWriter::new(Checksummed::new(AtomicFile::create(&path)?), cfg.compression);
        // Encoded and framed in parallel blocks (a thread with no shard left helps with the
        // last one), written in order; a window of blocks at a time bounds the memory.
        for window in instances.chunks(ENCODE_BLOCK * 64) {
            let framed: Vec<(Vec<u8>, u64)> = window
                .par_chunks(ENCODE_BLOCK)
                .map_init(
                    || (ExampleBuffers::default(), Vec::new()),
                    |(buffers, example), block| {
                        let mut framed = Vec::with_capacity(block.len() * (example.len() + 16));
                        for inst in block {
                            encode_instance(inst, cfg.instance.max_seq_length, cfg.masked_len(), buffers, example);
                            frame_record(example, &mut framed);
                        }
                        (framed, block.len() as u64)
                    },
                )
                .collect();
            for (bytes, records) in &framed {
                writer.write_framed(bytes, *records).map_err(|e| Error::io(&path, e))?;
            }
        }
        result.records = writer.records_written();
        let (file, bytes, crc) = writer.finish().map_err(|e| Error::io(&path, e))?.into_parts();
        Ok(Written { file, bytes, crc, result })
    }
}

/// A built shard: found finished, or written in full and waiting for [`Written::commit`].
pub(crate) enum Built {
    Resumed(ShardResult),
    Written(Written),
}

impl Built {
    /// The shard's result, committing it first if it was written.
    pub fn commit(self, cfg: &RunConfig) -> Result<ShardResult> {
        match self {
            Built::Resumed(r) => Ok(r),
            Built::Written(w) => w.commit(cfg),
        }
    }
}

/// A shard file written in full under its temporary name.
pub(crate) struct Written {
    file: AtomicFile,
    bytes: u64,
    crc: u32,
    result: ShardResult,
}

impl Written {
    /// Syncs the file to disk, gives it its name and records it as finished. (The sync waits
    /// on the disk, not the CPU: the local run does it on a thread of its own.)
    pub fn commit(self, cfg: &RunConfig) -> Result<ShardResult> {
        self.file.commit()?;
        write_marker(&cfg.output_dir, &cfg.fingerprint, &self.result, self.bytes, self.crc)?;
        Ok(self.result)
    }
}
