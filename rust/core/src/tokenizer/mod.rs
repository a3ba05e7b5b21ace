//! SentencePiece-compatible unigram encoding in pure Rust, with ALBERT's two text pipelines
//! around it (docs/tokenizer.md). One file per concept: the `.model` file (`model_proto`, loaded
//! in `model`), the vocabulary and its trie, SentencePiece's normalizer (with the model's
//! `charsmap`) and Viterbi, the ALBERT pipelines and special symbols, batch encoding, decoding.

mod albert;
mod batch;
mod charsmap;
mod decode;
mod model;
mod model_proto;
mod normalizer;
mod pydigit;
mod specials;
mod spm_version;
mod trie;
mod viterbi;
mod vocab;

pub use model::{resolve_model_path, EncodeOptions, Tokenizer, MODEL_FILE};
pub use normalizer::SPACE_SYMBOL;
pub use specials::ALBERT_SPECIALS;
pub use spm_version::SpmVersion;
pub use viterbi::Scratch;
pub use vocab::PieceKind;

#[cfg(test)]
mod tests;
