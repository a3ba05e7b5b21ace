//! Encoding (and decoding) many texts in parallel: one [`Scratch`] per rayon thread, output in
//! input order.

use rayon::prelude::*;

use super::model::Tokenizer;
use super::viterbi::Scratch;
use crate::error::{Error, Result};

impl Tokenizer {
    /// Encodes many texts on `threads` rayon threads (the global pool when `None`); the result
    /// is in input order and does not depend on the thread count.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S], threads: Option<usize>) -> Result<Vec<Vec<u32>>> {
        let run = || {
            texts
                .par_iter()
                .map_init(Scratch::default, |scratch, t| {
                    let mut ids = Vec::new();
                    self.encode_into(t.as_ref(), scratch, &mut ids);
                    ids
                })
                .collect()
        };
        match threads {
            None => Ok(run()),
            Some(0) => Err(Error::invalid_arg("threads", "must be at least 1")),
            Some(n) => crate::parallel::thread_pool(n).map(|pool| pool.install(run)),
        }
    }

    /// Decodes many id sequences on `threads` rayon threads (the global pool when `None`), in
    /// input order; an id outside the vocabulary is an error.
    pub fn decode_batch(&self, batch: &[Vec<u32>], threads: Option<usize>) -> Result<Vec<String>> {
        let run = || batch.par_iter().map(|ids| self.decode(ids)).collect::<Result<Vec<String>>>();
        match threads {
            None => run(),
            Some(0) => Err(Error::invalid_arg("threads", "must be at least 1")),
            Some(n) => crate::parallel::thread_pool(n).and_then(|pool| pool.install(run)),
        }
    }
}
