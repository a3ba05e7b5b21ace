//! albert-fast-core: the pure-Rust heart of albert_fast, one module per stage
//! ([`prepare_corpus`], [`train_tokenizer`], [`create_data`]) over the shared corpus reading
//! ([`corpus`]), text normalization ([`text`]), tokenizer, Punkt and TFRecord modules. No Python
//! in here: the thin `albert-fast-py` crate binds it.

pub mod atomic;
pub mod corpus;
pub mod create_data;
pub mod dataset_stats;
pub mod error;
pub mod hashing;
pub mod parallel;
pub mod prepare_corpus;
pub mod progress;
mod protobuf;
pub mod sentences;
pub mod step_file;
pub mod text;
pub mod tfrecord;
pub mod tokenizer;
pub mod train_tokenizer;
pub mod unicode;
#[cfg(test)]
mod test_util;

pub use error::{Error, Result};
