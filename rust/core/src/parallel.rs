//! Thread pools sized by the user's `threads` setting, so every stage reads it the same way.

use crate::error::{Error, Result};

/// A rayon pool with `threads` workers; 0 means one per core (rayon's default).
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::invalid_arg("threads", format!("cannot start {threads} threads: {e}")))
}
