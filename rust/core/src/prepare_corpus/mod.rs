//! prepare-corpus: raw text -> one sentence per line, a blank line between documents, in
//! shards (docs/prepare-corpus.md). Documents are read by [`crate::corpus`].

pub mod cleaning;
pub mod journal;
pub mod stage;
pub mod stats;

pub use cleaning::{clean_document, clean_line, render_document, CleanDoc, CleanOptions, CleanStats};
pub use stage::{prepare_corpus, sample_text, train_punkt_on_sample, PrepareOptions, PunktSampleInfo};
