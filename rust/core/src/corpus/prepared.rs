//! The layout of a prepare-corpus output directory, known to every stage that reads one: the
//! shards (`corpus-NNNNN.txt`), the resume journal that marks the directory and the statistics.

use std::path::Path;

/// Name of the statistics file; its presence marks a finished run.
pub const STATS_FILE: &str = "stats.json";
/// Name of the resume journal; its presence marks a prepare-corpus output directory.
pub const STATE_FILE: &str = ".prepare-state.json";

/// True when `dir` holds a prepare-corpus run's output, finished or not.
pub fn holds_prepared_output(dir: &Path) -> bool {
    dir.join(STATS_FILE).exists() || dir.join(STATE_FILE).exists()
}

/// Name of shard `i`.
pub fn shard_name(i: usize) -> String {
    format!("corpus-{i:05}.txt")
}

/// True for a file named like a shard (`corpus-NNNNN.txt`). Directory walks take only these
/// from a prepare-corpus output directory (see [`super::expand_inputs`]).
pub fn is_shard_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.strip_prefix("corpus-").and_then(|r| r.strip_suffix(".txt")).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    })
}
