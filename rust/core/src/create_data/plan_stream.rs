//! Pass 1 on a thread of its own, for a driver that hands shards to a cluster while it still
//! reads ([`plan_with`]): a fresh local or shared-filesystem output gets each shard under its
//! provisional name as soon as pass 1 closes it, so building starts at once instead of after
//! the whole input is read.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::options::RunConfig;
use super::plan::{plan_with, task_of, PlannedShard, ShardPlan};
use crate::corpus::total_size;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Pass 1 running, and the shards it has closed so far (in closing order).
pub struct PlanStream {
    inputs: Vec<PathBuf>,
    expected: usize,
    bytes_total: u64,
    shards: Vec<PlannedShard>,
    rx: Receiver<PlannedShard>,
    thread: Option<JoinHandle<Result<ShardPlan>>>,
    plan: Option<ShardPlan>,
    progress: Arc<Progress>,
}

impl PlanStream {
    /// Starts pass 1 over `cfg`'s inputs. `provisional` as for [`plan_with`]; without it no
    /// shard is known before the whole plan is (their names hold the count).
    pub fn start(cfg: RunConfig, provisional: bool) -> Result<PlanStream> {
        let progress = Progress::new();
        let (tx, rx) = mpsc::channel();
        let inputs = cfg.inputs.clone();
        let bytes_total = total_size(&inputs);
        let expected = bytes_total.div_ceil(cfg.shard_size_bytes.max(1)).max(1) as usize;
        let pass = progress.clone();
        let thread = std::thread::Builder::new()
            .name("albert-fast-plan".into())
            .spawn(move || plan_with(&cfg, &pass, provisional, |s| tx.send(s.clone()).map_err(|_| Error::Interrupted)))
            .map_err(|e| Error::InvalidInput(format!("cannot start pass 1: {e}")))?;
        Ok(PlanStream { inputs, expected, bytes_total, shards: Vec::new(), rx, thread: Some(thread), plan: None, progress })
    }

    /// Waits up to `timeout` for pass 1 to close a shard and takes every shard closed by then;
    /// true once pass 1 is over. Pass 1's error (a bad input file) is returned here.
    pub fn poll(&mut self, timeout: Duration) -> Result<bool> {
        if self.plan.is_some() {
            return Ok(true);
        }
        match self.rx.recv_timeout(timeout) {
            Ok(shard) => self.shards.push(shard),
            Err(RecvTimeoutError::Timeout) => return Ok(false),
            Err(RecvTimeoutError::Disconnected) => return self.join(),
        }
        loop {
            match self.rx.try_recv() {
                Ok(shard) => self.shards.push(shard),
                Err(TryRecvError::Empty) => return Ok(false),
                Err(TryRecvError::Disconnected) => return self.join(),
            }
        }
    }

    fn join(&mut self) -> Result<bool> {
        let thread = self.thread.take().ok_or(Error::Interrupted)?;
        let plan = thread.join().map_err(|_| Error::InvalidInput("pass 1 panicked".into()))??;
        self.shards.clone_from(&plan.shards);
        self.plan = Some(plan);
        Ok(true)
    }

    /// Stops pass 1 if it still runs (a driver that stops early: a failed task, Ctrl-C).
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.progress.cancel();
            let _ = thread.join();
        }
    }

    /// The shards closed so far.
    pub fn shards(&self) -> &[PlannedShard] {
        &self.shards
    }

    /// The whole plan, once [`PlanStream::poll`] said pass 1 is over.
    pub fn plan(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }

    /// The shard count: exact once pass 1 is over, before that an estimate from the input's
    /// size on disk (for how many shards a task gets; never for a file name).
    pub fn expected_shards(&self) -> usize {
        self.plan.as_ref().map_or(self.expected.max(self.shards.len() + 1), |p| p.shards.len())
    }

    /// The text bytes of all shards: exact once pass 1 is over, the input's size on disk before.
    pub fn expected_bytes(&self) -> u64 {
        match &self.plan {
            Some(plan) => plan.shards.iter().map(|s| s.input_bytes).sum(),
            None => self.bytes_total.max(self.shards.iter().map(|s| s.input_bytes).sum()),
        }
    }

    /// Shards `range` of those closed so far as a task ([`ShardPlan::task`]).
    pub fn task(&self, range: std::ops::Range<usize>) -> ShardPlan {
        match &self.plan {
            Some(plan) => plan.task(range),
            None => task_of(&self.inputs, &self.shards[range], 0, 0, 0),
        }
    }
}

impl Drop for PlanStream {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create_data::instances::InstanceConfig;
    use crate::create_data::masking::MaskingConfig;
    use crate::create_data::plan::{plan, provisional_file_name};
    use crate::test_util::TempDir;
    use crate::tfrecord::Compression;
    use std::fs;

    fn config(dir: &TempDir, text: &str) -> RunConfig {
        let input = dir.join("in.txt");
        fs::write(&input, text).unwrap();
        RunConfig {
            inputs: vec![input],
            output_dir: dir.join("out"),
            instance: InstanceConfig { max_seq_length: 64, short_seq_prob: 0.1, random_next_sentence: false, compat: false },
            masking: MaskingConfig::default(),
            dupe_factor: 1,
            random_seed: 1,
            eval_fraction: 0.2,
            shard_size_bytes: 200,
            threads: 1,
            compression: Compression::None,
            max_line_tokens: 1000,
            train_file_names: Vec::new(),
            merge_documents_across_files: false,
            fingerprint: "test".into(),
        }
    }

    fn corpus(docs: usize) -> String {
        (0..docs).map(|d| format!("document {d} says one thing.\nand then another thing, {d}.\n")).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn streams_the_shards_of_the_plan_under_provisional_names() {
        let dir = TempDir::new("plan-stream");
        let cfg = config(&dir, &corpus(200));
        let whole = plan(&cfg, &Progress::new()).unwrap();
        let mut stream = PlanStream::start(cfg.clone(), true).unwrap();
        let mut tasks = Vec::new();
        while !stream.poll(Duration::from_millis(50)).unwrap() {
            // A task made from the shards known so far is the one the whole plan makes.
            tasks.extend((tasks.len()..stream.shards().len()).map(|k| stream.task(k..k + 1)));
        }
        tasks.extend((tasks.len()..stream.shards().len()).map(|k| stream.task(k..k + 1)));
        let done = stream.plan().unwrap();
        assert_eq!(stream.expected_shards(), whole.shards.len());
        assert!(whole.num_train_shards > 3 && whole.num_eval_shards > 1);
        assert_eq!((done.num_train_shards, done.num_eval_shards, done.input_bytes), (whole.num_train_shards, whole.num_eval_shards, whole.input_bytes));
        for (k, (streamed, planned)) in done.shards.iter().zip(&whole.shards).enumerate() {
            assert_eq!(streamed.file_name, provisional_file_name(planned.split, planned.index, cfg.compression));
            assert_eq!(PlannedShard { file_name: planned.file_name.clone(), ..streamed.clone() }, *planned);
            let (a, b) = (&tasks[k], whole.task(k..k + 1));
            assert_eq!((&a.inputs, a.shards[0].start, a.shards[0].end, a.input_bytes), (&b.inputs, b.shards[0].start, b.shards[0].end, b.input_bytes));
        }
        // Not provisional: the same shards, named at the end.
        let mut named = PlanStream::start(cfg, false).unwrap();
        while !named.poll(Duration::from_millis(50)).unwrap() {
            assert!(named.shards().is_empty());
        }
        assert_eq!(named.plan().unwrap().shards, whole.shards);
        assert_eq!(named.shards(), &whole.shards[..]);
        assert_eq!(named.expected_bytes(), whole.shards.iter().map(|s| s.input_bytes).sum::<u64>());
    }

    #[test]
    fn a_bad_input_fails_the_poll_and_a_dropped_stream_stops_pass_1() {
        let dir = TempDir::new("plan-stream");
        let mut cfg = config(&dir, &corpus(5));
        fs::write(&cfg.inputs[0], b"text\n\xff\xfe binary\n").unwrap();
        let mut stream = PlanStream::start(cfg.clone(), true).unwrap();
        let err = loop {
            match stream.poll(Duration::from_millis(50)) {
                Ok(false) => continue,
                Ok(true) => panic!("a binary input was planned"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(err.contains("in.txt"), "{err}");
        cfg.inputs = vec![cfg.inputs[0].with_file_name("big.txt")];
        fs::write(&cfg.inputs[0], corpus(20_000)).unwrap();
        drop(PlanStream::start(cfg, true).unwrap()); // joins without reading to the end
    }

    #[test]
    fn shards_come_while_pass_1_still_reads() {
        use std::os::unix::fs::OpenOptionsExt;
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = TempDir::new("plan-stream-fifo");
        let cfg = config(&dir, &corpus(400));
        let whole = plan(&cfg, &Progress::new()).unwrap();
        // A second input that is a pipe with no writer yet: opening it blocks pass 1, after the
        // first file's shards are closed.
        let mut piped = cfg.clone();
        piped.inputs.push(dir.join("pipe.txt"));
        let made = std::process::Command::new("mkfifo").arg(&piped.inputs[1]).status().unwrap();
        assert!(made.success());
        let mut stream = PlanStream::start(piped.clone(), true).unwrap();
        let start = std::time::Instant::now();
        while stream.shards().len() < whole.shards.len() - 2 {
            assert!(!stream.poll(Duration::from_millis(50)).unwrap(), "pass 1 ended before its last input");
            assert!(start.elapsed() < Duration::from_secs(30), "no shards while pass 1 was still reading");
        }
        // Now the pipe is empty text: a writer opens and closes it each time pass 1 opens it.
        let over = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, over) = (piped.inputs[1].clone(), over.clone());
            std::thread::spawn(move || {
                while !over.load(Ordering::Relaxed) {
                    // O_NONBLOCK (Linux): fails at once while no reader has the pipe open.
                    if fs::OpenOptions::new().write(true).custom_flags(0o4000).open(&path).is_err() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        while !stream.poll(Duration::from_millis(50)).unwrap() {
            assert!(start.elapsed() < Duration::from_secs(60));
        }
        over.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        let key = |p: &ShardPlan| p.shards.iter().map(|s| (s.split, s.index, s.input_bytes, s.documents)).collect::<Vec<_>>();
        assert_eq!(key(stream.plan().unwrap()), key(&whole));
    }
}
