//! albert-fast-core: the pure-Rust heart of albert_fast.
//!
//! No Python in here: everything is plain Rust, unit-tested with `cargo test`, and driven from
//! Python through the thin `albert-fast-py` bindings crate.

pub mod atomic;
pub mod corpus;
pub mod dataset_stats;
pub mod error;
pub mod instances;
pub mod masking;
pub mod parallel;
pub mod pipeline;
pub mod rng;
pub mod sampling;
pub mod prepare;
mod protobuf;
pub mod sentences;
pub mod text;
pub mod tfrecord;
pub mod tokenizer;
#[cfg(test)]
mod test_util;

pub use error::{Error, Result};
