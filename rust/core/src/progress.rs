//! Live counters of a long run, shared between the threads doing the work and whoever shows
//! progress (the Python progress bar polls [`Progress::snapshot`]), and the cancel switch
//! (Ctrl-C) that the work checks at line, batch and shard boundaries. One type for every stage.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};

/// What a run is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Reading the input (the only phase of prepare-corpus and the tokenizer sampler).
    Reading,
    /// create-data's first pass: planning the shards.
    Planning,
    /// create-data's second pass: building the shards.
    Building,
    Done,
}

/// Counters a stage updates as it goes (each stage uses the ones that mean something for it).
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    pub files_total: AtomicU64,
    /// Files read to the end.
    pub files_done: AtomicU64,
    /// The size the bar runs to: input bytes on disk, or (create-data building) text bytes.
    pub bytes_total: AtomicU64,
    /// Bytes read from disk (compressed size for compressed files).
    pub bytes_read: AtomicU64,
    /// Text bytes fully processed (create-data: of the documents tokenized or found finished).
    pub bytes_done: AtomicU64,
    /// Lines read (updated every few thousand lines).
    pub lines: AtomicU64,
    pub documents: AtomicU64,
    pub instances: AtomicU64,
    pub shards_total: AtomicU64,
    pub shards_done: AtomicU64,
    cancelled: AtomicBool,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub phase: Phase,
    pub files_total: u64,
    pub files_done: u64,
    pub bytes_total: u64,
    pub bytes_read: u64,
    pub bytes_done: u64,
    pub lines: u64,
    pub documents: u64,
    pub instances: u64,
    pub shards_total: u64,
    pub shards_done: u64,
    pub cancelled: bool,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Reading,
            1 => Phase::Planning,
            2 => Phase::Building,
            _ => Phase::Done,
        }
    }

    /// Adds `n` to one of the counters.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    pub fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }

    /// Asks every worker using this progress to stop with [`Error::Interrupted`].
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once cancelled.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            phase: self.phase(),
            files_total: get(&self.files_total),
            files_done: get(&self.files_done),
            bytes_total: get(&self.bytes_total),
            bytes_read: get(&self.bytes_read),
            bytes_done: get(&self.bytes_done),
            lines: get(&self.lines),
            documents: get(&self.documents),
            instances: get(&self.instances),
            shards_total: get(&self.shards_total),
            shards_done: get(&self.shards_done),
            cancelled: self.is_cancelled(),
        }
    }
}
