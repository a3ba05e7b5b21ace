//! prepare-corpus: raw text -> one sentence per line, a blank line between documents, in
//! shards (docs/prepare-corpus.md), in one process ([`stage`]) or as planned steps that can run
//! on a cluster ([`plan`]). Documents are read by [`crate::corpus`].

pub mod cleaning;
pub mod journal;
pub mod plan;
pub mod stage;
pub mod stats;

pub use cleaning::{clean_document, clean_line, render_document, CleanDoc, CleanOptions, CleanStats};
pub use plan::{build_shard, index_file, plan_shards, plan_stats, CorpusShard, FileIndex, PreparePlan, Staged};
pub use stage::{fingerprint, precheck, prepare_corpus, sample_text, train_punkt_on_sample, Counts, PrepareOptions, PunktSampleInfo};
