//! The local create-data run (docs/create-data.md): the input is read sequentially and each
//! shard's documents go through a bounded queue to `threads` workers that build it
//! ([`super::shard`]); pass 1 plans the shards first ([`super::plan`]) only where [`run`] needs it. At
//! most `2 x threads` shards are in memory at once (fix of Q8), whatever the corpus size.
//! [`build_planned_shard`] builds one shard of a plan on its own, reading only its span.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::instances::InstanceStats;
use super::masking::MaskingVocab;
use super::options::{CreateDataOptions, RunConfig};
use super::plan::{check_not_empty, plan, provisional_file_name, split_of, ShardPlan, ShardWork, Sharder, Split};
use super::resume::{self, marker_path, PROGRESS_DIR};
use super::shard::{Built, Builder, LineEncoder};
use crate::corpus::{expand_inputs, read_documents, read_span, total_size, Flow, ReaderStats};
use crate::error::{Error, Result};
use crate::progress::{Phase, Progress};
use crate::tokenizer::{EncodeOptions, SpmVersion, Tokenizer};

/// What one shard produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    pub split: Split,
    pub index: usize,
    #[serde(rename = "file")]
    pub file_name: String,
    pub records: u64,
    pub input_bytes: u64,
    pub documents: u64,
    pub sentences: u64,
    pub single_sentence_documents: u64,
    pub input_tokens: u64,
    #[serde(flatten)]
    pub stats: InstanceStats,
    /// Found finished from an earlier run and skipped.
    pub resumed: bool,
}

/// The outcome of a run; shards in (split, index) order.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub shards: Vec<ShardResult>,
    pub input_bytes: u64,
    pub num_train_shards: usize,
    pub num_eval_shards: usize,
}

/// [`run_with_model`]'s result: the run's, plus what it was run on.
#[derive(Debug, Clone, Serialize)]
pub struct CreateDataSummary {
    #[serde(flatten)]
    pub run: RunSummary,
    pub inputs: Vec<PathBuf>,
    pub vocab_size: usize,
}

/// The tokenizer of a run and the masking view of its vocabulary.
pub struct Model {
    pub tokenizer: Tokenizer,
    pub vocab: MaskingVocab,
}

impl Model {
    /// Loads the SentencePiece model of `options` (which must have ALBERT's special symbols).
    pub fn load(options: &CreateDataOptions) -> Result<Model> {
        let tokenizer = Tokenizer::from_file(&options.model_path, encode_options(options)?)?;
        let vocab = masking_vocab(&tokenizer)?;
        Ok(Model { tokenizer, vocab })
    }
}

/// How the run's text is encoded.
fn encode_options(options: &CreateDataOptions) -> Result<EncodeOptions> {
    let sentencepiece = SpmVersion::for_release(&options.sentencepiece_version)
        .map_err(|m| Error::invalid_arg("sentencepiece_version", m))?;
    Ok(EncodeOptions::new(options.lowercase, options.strip_accents, options.reference_compat).with_sentencepiece(sentencepiece))
}

/// The masking view of the vocabulary of `tokenizer`, which must have ALBERT's special symbols.
fn masking_vocab(tokenizer: &Tokenizer) -> Result<MaskingVocab> {
    tokenizer.check_albert_specials()?;
    MaskingVocab::from_tokenizer(tokenizer)
}

/// The run configuration of `options`: inputs expanded, resume fingerprint computed.
pub fn configure(options: &CreateDataOptions, model: &Model) -> Result<RunConfig> {
    configure_with(options, &model.tokenizer)
}

fn configure_with(options: &CreateDataOptions, tokenizer: &Tokenizer) -> Result<RunConfig> {
    let files = expand_inputs(&options.inputs)?;
    let fingerprint = options.fingerprint(&tokenizer.model_sha256(), &files);
    options.run_config(files, fingerprint)
}

/// create-data from options: expands the inputs, loads the model, computes the resume
/// fingerprint, and runs.
pub fn run_with_model(options: &CreateDataOptions, progress: &Arc<Progress>) -> Result<CreateDataSummary> {
    run_with_tokenizer(options, None, progress)
}

/// [`run_with_model`] with the model loaded already (`loaded`, e.g. the Python face's, which
/// sampled the input before the run: the model is then parsed once per process). It must have
/// been loaded from `options.model_path` with the encoding `options` asks for.
pub fn run_with_tokenizer(options: &CreateDataOptions, loaded: Option<&Tokenizer>, progress: &Arc<Progress>) -> Result<CreateDataSummary> {
    let encode = encode_options(options)?;
    let owned;
    let tokenizer = match loaded {
        Some(tok) if *tok.options() == encode => tok,
        Some(tok) => {
            return Err(Error::invalid_arg(
                "tokenizer",
                format!("it encodes with {:?}, the run with {encode:?}", tok.options()),
            ))
        }
        None => {
            owned = Tokenizer::from_file(&options.model_path, encode)?;
            &owned
        }
    };
    let vocab = masking_vocab(tokenizer)?;
    let cfg = configure_with(options, tokenizer)?;
    let run = run(&cfg, tokenizer, &vocab, progress)?;
    Ok(CreateDataSummary { run, inputs: cfg.inputs, vocab_size: tokenizer.vocab_size() })
}

/// Before pass 1: validates, creates the marker directory under `cfg.output_dir` (which must
/// exist) and removes the temporary files a killed run left there.
pub fn prepare_output(cfg: &RunConfig) -> Result<()> {
    cfg.validate()?;
    let progress_dir = cfg.output_dir.join(PROGRESS_DIR);
    fs::create_dir_all(&progress_dir).map_err(|e| Error::io(&progress_dir, e))?;
    resume::remove_temp_files(&cfg.output_dir)
}

/// After every shard of a plan of `documents` documents is built: orders the shards, fails a
/// run that produced no instance at all (removing its files), and removes the shards an earlier
/// run with other settings left. `output_dir` is `None` when the caller owns the files (an
/// output in object storage).
pub fn finish_shards(output_dir: Option<&Path>, documents: u64, shards: &mut [ShardResult]) -> Result<()> {
    shards.sort_by_key(|r| (r.split as usize, r.index));
    if shards.iter().all(|r| r.records == 0) {
        for r in shards.iter() {
            if let Some(dir) = output_dir {
                let _ = fs::remove_file(dir.join(&r.file_name));
                let _ = fs::remove_file(marker_path(dir, &r.file_name));
            }
        }
        return Err(Error::InvalidInput(format!(
            "the corpus produced no training instances: its {documents} document(s) tokenize to nothing usable"
        )));
    }
    if let Some(dir) = output_dir {
        let names: Vec<&str> = shards.iter().map(|r| r.file_name.as_str()).collect();
        resume::remove_stale_shards(dir, &names)?;
        // A worker killed mid-shard (on a cluster) leaves its temporary file behind.
        resume::remove_temp_files(dir)?;
    }
    Ok(())
}

/// Runs create-data end to end. Shard files and markers are written under `output_dir` (which
/// must exist); the manifest is the caller's job.
///
/// A shard's file name holds the shard count, which only the end of the input tells. Into an
/// output with nothing to resume the input is read once: each shard is written under a
/// provisional name ([`provisional_file_name`]) and renamed when the count is known. Where a
/// finished shard of an earlier run may be found (by its name), or named output files set the
/// shard size, pass 1 plans the shards first.
pub fn run<E: LineEncoder>(cfg: &RunConfig, encoder: &E, vocab: &MaskingVocab, progress: &Arc<Progress>) -> Result<RunSummary> {
    prepare_output(cfg)?;
    let (mut summary, documents) = if !reads_once(cfg) {
        let plan = plan(cfg, progress)?;
        Progress::set(&progress.bytes_total, plan.input_bytes);
        Progress::set(&progress.bytes_read, 0);
        Progress::set(&progress.shards_total, plan.shards.len() as u64);
        progress.set_phase(Phase::Building);
        let (shards, _) = build_all(cfg, Some(&plan), encoder, vocab, progress)?;
        let summary = RunSummary { shards, input_bytes: plan.input_bytes, num_train_shards: plan.num_train_shards, num_eval_shards: plan.num_eval_shards };
        (summary, plan.documents)
    } else {
        Progress::set(&progress.bytes_total, total_size(&cfg.inputs));
        Progress::set(&progress.files_total, cfg.inputs.len() as u64);
        progress.set_phase(Phase::Building);
        let (mut shards, read) = build_all(cfg, None, encoder, vocab, progress)?;
        check_not_empty(read.documents, cfg.inputs.len())?;
        let count = |split| shards.iter().filter(|r| r.split == split).count();
        let (num_train_shards, num_eval_shards) = (count(Split::Train), count(Split::Eval));
        resume::name_provisional(Some(&cfg.output_dir), &cfg.fingerprint, cfg.compression, (num_train_shards, num_eval_shards), &mut shards)?;
        (RunSummary { shards, input_bytes: read.input_bytes, num_train_shards, num_eval_shards }, read.documents)
    };
    finish_shards(Some(&cfg.output_dir), documents, &mut summary.shards)?;
    progress.set_phase(Phase::Done);
    Ok(summary)
}

/// Whether a run into `cfg`'s (prepared, local) output may build its shards as pass 1 closes
/// them, under provisional names: nothing there to resume by name, no named output files.
pub fn reads_once(cfg: &RunConfig) -> bool {
    cfg.train_file_names.is_empty() && !resume::has_markers(&cfg.output_dir)
}

/// What pass 2 read.
struct ReadTotals {
    documents: u64,
    input_bytes: u64,
}

/// Pass 2: the reader feeds a bounded queue; `threads` workers drain it. With a `plan` each
/// shard is looked up in it (and may be found finished); without, it is written under its
/// provisional name.
fn build_all<E: LineEncoder>(
    cfg: &RunConfig,
    plan: Option<&ShardPlan>,
    encoder: &E,
    vocab: &MaskingVocab,
    progress: &Arc<Progress>,
) -> Result<(Vec<ShardResult>, ReadTotals)> {
    let builder = Builder { cfg, encoder, vocab, progress };
    let lookup = plan.map(ShardPlan::lookup).unwrap_or_default();
    let threads = cfg.threads.max(1);
    let (tx, rx) = mpsc::sync_channel::<ShardWork>(threads);
    let rx = Mutex::new(rx);
    let results: Mutex<Vec<ShardResult>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        progress.cancel();
        if let Ok(mut slot) = first_error.lock() {
            // An interruption caused by another worker's failure must not hide that failure.
            if slot.is_none() || matches!(*slot, Some(Error::Interrupted)) {
                *slot = Some(e);
            }
        }
    };
    let build = |work: ShardWork| -> Result<Built> {
        let Some(plan) = plan else {
            let name = provisional_file_name(work.split, work.index, cfg.compression);
            return builder.build_unplanned(work, name);
        };
        let Some(&k) = lookup.get(&(work.split, work.index)) else {
            return Err(Error::InvalidInput(format!("the input changed while it was read: more {} shards than planned", work.split.name())));
        };
        builder.build(&plan.shards[k], work)
    };
    // Shards are committed (synced to disk, named, recorded) on a thread of their own, so that
    // a worker waiting on the disk does not leave its core idle.
    let (commit_tx, commit_rx) = mpsc::channel::<Built>();
    let shard_size = plan.map_or(cfg.shard_size_bytes, |p| p.shard_size_bytes);
    let mut sharder = Sharder::new(cfg.eval_fraction, shard_size, true);
    let mut stats = ReaderStats::default();
    let pool = crate::parallel::thread_pool(threads)?;
    std::thread::scope(|committer| {
        committer.spawn(|| {
            for built in commit_rx {
                match built.commit(cfg) {
                    Ok(r) => {
                        Progress::add(&progress.shards_done, 1);
                        if let Ok(mut v) = results.lock() {
                            v.push(r);
                        }
                    }
                    Err(e) => fail(e),
                }
            }
        });
        pool.in_place_scope(|scope| {
            for _ in 0..threads {
                let (rx, build, fail, commit_tx) = (&rx, &build, &fail, commit_tx.clone());
                scope.spawn(move |_| loop {
                    let next = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(work) = next else { return };
                    match build(work) {
                        Ok(built) => {
                            let _ = commit_tx.send(built);
                        }
                        Err(e) => fail(e),
                    }
                });
            }
            let read = read_documents(&cfg.inputs, &cfg.documents(progress), &mut stats, |doc| {
                if let Some(work) = sharder.add(doc) {
                    tx.send(work).map_err(|_| Error::Interrupted)?;
                }
                Ok(Flow::Continue)
            })
            .and_then(|()| sharder.finish().into_iter().try_for_each(|w| tx.send(w).map_err(|_| Error::Interrupted)));
            drop(tx);
            if let Err(e) = read {
                fail(e);
            }
        });
        drop(commit_tx);
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let shards = results.into_inner().map_err(|_| Error::InvalidInput("a worker thread panicked".into()))?;
    if let Some(plan) = plan.filter(|p| p.shards.len() != shards.len()) {
        return Err(Error::InvalidInput(format!(
            "the input changed while it was read: expected {} shards, built {}",
            plan.shards.len(),
            shards.len()
        )));
    }
    Ok((shards, ReadTotals { documents: sharder.documents, input_bytes: stats.input.bytes }))
}

/// Builds shard `k` of `plan` on its own (as a worker of a cluster would), reading only its
/// span of the input; the file is byte-identical to the one a full run writes.
pub fn build_planned_shard<E: LineEncoder>(
    cfg: &RunConfig,
    plan: &ShardPlan,
    k: usize,
    encoder: &E,
    vocab: &MaskingVocab,
    progress: &Arc<Progress>,
) -> Result<ShardResult> {
    cfg.validate()?;
    let shard = plan.shards.get(k).ok_or_else(|| Error::invalid_arg("shard", format!("{k} is not below {}", plan.shards.len())))?;
    let progress_dir = cfg.output_dir.join(PROGRESS_DIR);
    fs::create_dir_all(&progress_dir).map_err(|e| Error::io(&progress_dir, e))?;
    let mut work = ShardWork { split: shard.split, index: shard.index, documents: Vec::new(), count: 0, bytes: 0, start: shard.start, end: shard.end };
    let mut stats = ReaderStats::default();
    read_span(&cfg.inputs, &cfg.documents(progress), shard.start, Some(shard.end), &mut stats, |doc| {
        if !doc.is_empty() && split_of(cfg.eval_fraction, &doc) == shard.split {
            work.count += 1;
            work.bytes += doc.bytes;
            work.documents.push(doc);
        }
        Ok(Flow::Continue)
    })?;
    Builder { cfg, encoder, vocab, progress }.build(shard, work)?.commit(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create_data::instances::InstanceConfig;
    use crate::create_data::plan::{is_shard_file_name, provisional_file_name};
    use crate::create_data::masking::MaskingConfig;
    use crate::create_data::rng::DataRng;
    use crate::hashing::{fnv1a, FNV_OFFSET};
    use crate::tfrecord::Compression;
    use crate::tokenizer::PieceKind;
    use std::collections::HashMap;
    use std::fs::File;
    use std::io::Read;
    use std::path::Path;

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
        let mut pieces: Vec<(String, PieceKind)> = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|p| (p.to_string(), PieceKind::Control))
            .collect();
        for i in 5..1000 {
            pieces.push((format!("\u{2581}w{i}"), PieceKind::Normal));
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

    fn config(inputs: Vec<PathBuf>, out: &Path, threads: usize) -> RunConfig {
        RunConfig {
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
            train_file_names: Vec::new(),
            merge_documents_across_files: false,
            fingerprint: "test".into(),
        }
    }

    #[test]
    fn named_output_files_are_the_train_shards() {
        let dir = TempDir::new("named");
        let inputs = write_corpus(&dir, 3, 60);
        let v = toy_vocab();
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let mut c = config(inputs.clone(), &out, 2);
        c.train_file_names = vec!["a.tfrecord".into(), "b.tfrecord".into(), "c.tfrecord".into()];
        let s = run(&c, &Toy, &v, &Progress::new()).unwrap();
        let train: Vec<&str> = s.shards.iter().filter(|r| r.split == Split::Train).map(|r| r.file_name.as_str()).collect();
        assert_eq!(train, ["a.tfrecord", "b.tfrecord", "c.tfrecord"]);
        assert!(s.shards.iter().all(|r| r.records > 0));
        // The same documents and instances as numbered shards: only the grouping differs.
        let numbered = dir.join("numbered");
        fs::create_dir_all(&numbered).unwrap();
        let plain = run(&config(inputs.clone(), &numbered, 2), &Toy, &v, &Progress::new()).unwrap();
        let docs = |s: &RunSummary, split| s.shards.iter().filter(|r| r.split == split).map(|r| r.documents).sum::<u64>();
        assert_eq!(docs(&s, Split::Train), docs(&plain, Split::Train));
        // More names than the text fills: the plan has fewer train shards, never more.
        c.train_file_names = (0..10_000).map(|i| format!("f{i}")).collect();
        let many = run(&c, &Toy, &v, &Progress::new()).unwrap();
        let n = many.shards.iter().filter(|r| r.split == Split::Train).count();
        assert!(n > 3 && n < 10_000, "{n}");
        c.train_file_names = vec!["a".into(), "a".into()];
        assert!(run(&c, &Toy, &v, &Progress::new()).unwrap_err().to_string().contains("distinct"));
        c.train_file_names = vec!["sub/a".into()];
        assert!(run(&c, &Toy, &v, &Progress::new()).is_err());
        fs::remove_dir_all(dir).unwrap();
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
            let s = run(&config(inputs.clone(), &out, threads), &Toy, &v, &Progress::new()).unwrap();
            assert!(s.num_train_shards > 2 && s.num_eval_shards >= 1, "{} {}", s.num_train_shards, s.num_eval_shards);
            outputs.push(read_dir_bytes(&out));
        }
        assert!(outputs[0].len() > 3);
        assert_eq!(outputs[0], outputs[1]);
        assert_eq!(outputs[0], outputs[2]);
        fs::remove_dir_all(dir).unwrap();
    }

    fn shard_files(d: &Path) -> HashMap<String, Vec<u8>> {
        let mut m = read_dir_bytes(d);
        m.retain(|name, _| is_shard_file_name(name));
        m
    }

    #[test]
    fn one_pass_or_planned_first_writes_the_same_shards() {
        let dir = TempDir::new("onepass");
        let inputs = write_corpus(&dir, 3, 60);
        let v = toy_vocab();
        let (fresh, planned) = (dir.join("fresh"), dir.join("planned"));
        fs::create_dir_all(&fresh).unwrap();
        // A marker (of a run with other settings) makes a finished shard possible: pass 1 first.
        fs::create_dir_all(planned.join(PROGRESS_DIR)).unwrap();
        fs::write(marker_path(&planned, "eval-00000-of-00009.tfrecord"), "{}").unwrap();
        assert!(!resume::has_markers(&fresh) && resume::has_markers(&planned));
        let mut c = config(inputs, &fresh, 2);
        c.eval_fraction = 0.2;
        let a = run(&c, &Toy, &v, &Progress::new()).unwrap();
        let b = run(&RunConfig { output_dir: planned.clone(), ..c }, &Toy, &v, &Progress::new()).unwrap();
        assert_eq!(a.shards, b.shards);
        assert_eq!((a.input_bytes, a.num_train_shards, a.num_eval_shards), (b.input_bytes, b.num_train_shards, b.num_eval_shards));
        assert!(a.num_train_shards > 3 && a.num_eval_shards > 0);
        assert_eq!(shard_files(&fresh), shard_files(&planned));
        // Every file has its final name and marker; no provisional one is left.
        let names = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        let markers: Vec<String> = a.shards.iter().map(|r| format!("{}.done", r.file_name)).collect();
        assert_eq!(names(&fresh.join(PROGRESS_DIR)), { let mut m = markers.clone(); m.sort(); m });
        assert!(names(&fresh).iter().all(|n| n == PROGRESS_DIR || is_shard_file_name(n)), "{:?}", names(&fresh));
    }

    #[test]
    fn a_one_pass_run_stopped_before_naming_its_shards_resumes_them() {
        let dir = TempDir::new("provisional");
        let inputs = write_corpus(&dir, 2, 60);
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let v = toy_vocab();
        let first = run(&config(inputs.clone(), &out, 2), &Toy, &v, &Progress::new()).unwrap();
        let before = shard_files(&out);
        // As a run killed after committing shards 0 and 1 under their provisional names and
        // before building shard 2: no final names yet.
        for (k, r) in first.shards.iter().enumerate() {
            let marker = marker_path(&out, &r.file_name);
            if k < 2 {
                let provisional = provisional_file_name(r.split, r.index, Compression::None);
                fs::rename(out.join(&r.file_name), out.join(&provisional)).unwrap();
                let text = fs::read_to_string(&marker).unwrap().replace(&r.file_name, &provisional);
                fs::write(marker_path(&out, &provisional), text).unwrap();
            } else {
                fs::remove_file(out.join(&r.file_name)).unwrap();
            }
            fs::remove_file(marker).unwrap();
        }
        // A provisional shard of other settings is not taken, and goes.
        fs::write(out.join(".eval-00007.tfrecord"), "stale").unwrap();
        let second = run(&config(inputs, &out, 2), &Toy, &v, &Progress::new()).unwrap();
        assert!(second.shards[..2].iter().all(|r| r.resumed) && second.shards[2..].iter().all(|r| !r.resumed));
        assert_eq!(shard_files(&out), before);
        let left: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).filter(|n| n.to_string_lossy().starts_with(".t") || n.to_string_lossy().starts_with(".e")).collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(fs::read_dir(out.join(PROGRESS_DIR)).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
    }

    #[test]
    fn records_are_framed_and_counted() {
        let dir = TempDir::new("framing");
        let inputs = write_corpus(&dir, 1, 30);
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let s = run(&config(inputs, &out, 2), &Toy, &toy_vocab(), &Progress::new()).unwrap();
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
        let first = run(&config(inputs.clone(), &out, 2), &Toy, &v, &Progress::new()).unwrap();
        let before = read_dir_bytes(&out);
        // Simulate a kill: one shard never finished (no file), another lost its marker.
        fs::remove_file(out.join(&first.shards[0].file_name)).unwrap();
        fs::remove_file(marker_path(&out, &first.shards[1].file_name)).unwrap();
        let second = run(&config(inputs.clone(), &out, 2), &Toy, &v, &Progress::new()).unwrap();
        assert_eq!(read_dir_bytes(&out), before);
        assert!(!second.shards[0].resumed && !second.shards[1].resumed);
        assert!(second.shards[2..].iter().all(|r| r.resumed));
        // A different fingerprint reuses nothing.
        let mut other = config(inputs, &out, 2);
        other.fingerprint = "other".into();
        let third = run(&other, &Toy, &v, &Progress::new()).unwrap();
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
            let mut sh = Sharder::new(0.0, u64::MAX, false);
            read_documents(&c.inputs, &c.documents(&Progress::new()), &mut ReaderStats::default(), |d| {
                sh.add(d);
                Ok(Flow::Continue)
            })
            .unwrap();
            sh.documents
        };
        assert_eq!(count_docs(false), 3);
        assert_eq!(count_docs(true), 2);
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
            let err = run(&config(vec![p], &out, 2), &Toy, &v, &Progress::new()).unwrap_err().to_string();
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
        let err = run(&config(vec![dir.join("missing.txt")], &out, 1), &Toy, &v, &Progress::new()).unwrap_err();
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
        let s1 = run(&config(inputs.clone(), &plain, 1), &Toy, &v, &Progress::new()).unwrap();
        let mut c = config(inputs, &gz, 1);
        c.compression = Compression::Gzip;
        let s2 = run(&c, &Toy, &v, &Progress::new()).unwrap();
        for (a, b) in s1.shards.iter().zip(&s2.shards) {
            let mut dec = Vec::new();
            flate2::read::GzDecoder::new(File::open(gz.join(&b.file_name)).unwrap()).read_to_end(&mut dec).unwrap();
            assert_eq!(dec, fs::read(plain.join(&a.file_name)).unwrap());
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_shard_built_alone_from_the_plan_equals_the_full_run() {
        let dir = TempDir::new("plan");
        let mut inputs = write_corpus(&dir, 3, 40);
        // A compressed input: its span is reached by decompressing, not seeking.
        let gz = dir.join("in3.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &fs::read(&inputs[1]).unwrap()).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        inputs.push(gz);
        let v = toy_vocab();
        for merge in [false, true] {
            let full = dir.join(format!("full-{merge}"));
            let alone = dir.join(format!("alone-{merge}"));
            fs::create_dir_all(&full).unwrap();
            fs::create_dir_all(&alone).unwrap();
            let mut c = config(inputs.clone(), &full, 2);
            c.eval_fraction = 0.2;
            c.shard_size_bytes = 7_000;
            c.merge_documents_across_files = merge;
            let summary = run(&c, &Toy, &v, &Progress::new()).unwrap();
            let plan = plan(&c, &Progress::new()).unwrap();
            assert!(plan.num_train_shards > 3 && plan.num_eval_shards > 1, "{plan:?}");
            // A plan travels as JSON (to a worker) and comes back the same.
            let plan: ShardPlan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
            c.output_dir = alone.clone();
            // Every shard as a task of its own: only the files its span touches.
            let mut built: Vec<ShardResult> = (0..plan.shards.len())
                .map(|k| {
                    let task = plan.task(k..k + 1);
                    assert!(task.inputs.len() < plan.inputs.len() || merge, "{:?}", task.inputs);
                    let c = RunConfig { inputs: task.inputs.clone(), ..c.clone() };
                    build_planned_shard(&c, &task, 0, &Toy, &v, &Progress::new()).unwrap()
                })
                .collect();
            built.sort_by_key(|r| (r.split as usize, r.index));
            assert_eq!(built, summary.shards);
            let shard_files = |d: &Path| {
                let mut m = read_dir_bytes(d);
                m.remove(".progress");
                m
            };
            assert_eq!(shard_files(&alone), shard_files(&full), "merge={merge}");
        }
    }

    #[test]
    fn a_truncated_or_replaced_shard_is_rebuilt_not_trusted() {
        let dir = TempDir::new("verify");
        let inputs = write_corpus(&dir, 1, 60);
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let v = toy_vocab();
        let first = run(&config(inputs.clone(), &out, 1), &Toy, &v, &Progress::new()).unwrap();
        let before = read_dir_bytes(&out);
        let (a, b) = (out.join(&first.shards[0].file_name), out.join(&first.shards[1].file_name));
        let len = fs::metadata(&a).unwrap().len();
        File::options().write(true).open(&a).unwrap().set_len(len - 7).unwrap();
        let mut bytes = fs::read(&b).unwrap();
        bytes[20] ^= 1; // same size, other content
        fs::write(&b, bytes).unwrap();
        let second = run(&config(inputs, &out, 1), &Toy, &v, &Progress::new()).unwrap();
        assert!(!second.shards[0].resumed && !second.shards[1].resumed);
        assert!(second.shards[2..].iter().all(|r| r.resumed));
        assert_eq!(read_dir_bytes(&out), before);
    }
}
