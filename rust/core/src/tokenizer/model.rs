//! [`Tokenizer`]: a SentencePiece `.model` loaded and checked, with what encoding needs (the
//! vocabulary, SentencePiece's normalizer, ALBERT's special symbols, the pipeline options).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::decode::DecodeSpec;
use super::model_proto::ModelProto;
use super::normalizer::SpmNormalizer;
use super::specials::{self, Specials};
use super::trie::PieceTrie;
use super::vocab::{PieceKind, Vocab};
use crate::error::{Error, Result};
use crate::text::Normalization;

/// The name of the model file inside a tokenizer directory.
pub const MODEL_FILE: &str = "spiece.model";

/// The model file for `path`: the path itself, or `spiece.model` inside a directory.
pub fn resolve_model_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    }
}

/// How text is turned into ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodeOptions {
    /// Lower-casing, accent stripping and (Q3) quote replacement before SentencePiece.
    pub normalization: Normalization,
    /// Reproduce the original `FullTokenizer` exactly (Q2, no Q3, no special-token splitting)
    /// instead of Hugging Face's `AlbertTokenizer`.
    pub reference_compat: bool,
}

impl EncodeOptions {
    /// The options for one of the two pipelines: quote replacement (Q3) belongs to the Hugging
    /// Face pipeline only.
    pub fn new(lowercase: bool, strip_accents: bool, reference_compat: bool) -> EncodeOptions {
        EncodeOptions {
            normalization: Normalization { lowercase, strip_accents, replace_quotes: !reference_compat },
            reference_compat,
        }
    }
}

impl Default for EncodeOptions {
    fn default() -> Self {
        let n = Normalization::default();
        EncodeOptions::new(n.lowercase, n.strip_accents, false)
    }
}

/// A loaded SentencePiece unigram model plus the ALBERT text pipeline. Immutable after loading:
/// `Send + Sync`, shared by reference across rayon threads.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    pub(super) vocab: Vocab,
    pub(super) normalizer: SpmNormalizer,
    /// ALBERT special tokens present in the vocabulary, kept whole in the Hugging Face pipeline.
    pub(super) specials: Specials,
    pub(super) options: EncodeOptions,
    pub(super) decode_spec: DecodeSpec,
    sha256: String,
    source: PathBuf,
}

fn bad_model(path: &Path, message: impl Into<String>) -> Error {
    Error::BadModel { path: path.to_path_buf(), message: message.into() }
}

impl Tokenizer {
    /// Loads a `.model` file, or `spiece.model` from a tokenizer directory.
    pub fn from_file(path: &Path, options: EncodeOptions) -> Result<Tokenizer> {
        let file = resolve_model_path(path);
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        Self::load(&bytes, &file, options)
    }

    /// Loads a serialized `ModelProto`.
    pub fn from_bytes(bytes: &[u8], options: EncodeOptions) -> Result<Tokenizer> {
        Self::load(bytes, Path::new("<model bytes>"), options)
    }

    fn load(bytes: &[u8], path: &Path, options: EncodeOptions) -> Result<Tokenizer> {
        if bytes.is_empty() {
            return Err(bad_model(path, "the file is empty"));
        }
        let model: ModelProto = crate::protobuf::decode(bytes)
            .map_err(|(offset, msg)| bad_model(path, format!("corrupt ModelProto at byte {offset}: {msg}")))?;
        if model.pieces.is_empty() {
            return Err(bad_model(path, "it contains no vocabulary pieces"));
        }
        let trainer = model.trainer_spec.unwrap_or_default();
        let model_type = trainer.model_type();
        if model_type != 1 {
            let name = match model_type {
                2 => "bpe",
                3 => "word",
                4 => "char",
                _ => "unknown",
            };
            return Err(bad_model(
                path,
                format!("model_type is {name} ({model_type}); only unigram models can be used for encoding"),
            ));
        }
        if trainer.treat_whitespace_as_suffix() {
            return Err(bad_model(path, "treat_whitespace_as_suffix=true is not supported"));
        }
        let vocab = Vocab::new(model.pieces, trainer.byte_fallback()).map_err(|m| bad_model(path, m))?;
        let spec = model.normalizer_spec.unwrap_or_default();
        let normalizer = SpmNormalizer::new(&spec, vocab.user_defined_trie()).map_err(|m| bad_model(path, m))?;
        // SentencePiece builds a denormalizer only for a spec with rules, and without the
        // user-defined symbols.
        let denormalizer = match model.denormalizer_spec {
            Some(d) if !d.precompiled_charsmap().is_empty() => Some(
                SpmNormalizer::new(&d, PieceTrie::build(std::iter::empty()))
                    .map_err(|m| bad_model(path, format!("denormalizer_spec: {m}")))?,
            ),
            _ => None,
        };
        let decode_spec = DecodeSpec {
            unk_surface: trainer.unk_surface.clone().unwrap_or_else(|| " \u{2047} ".to_string()),
            strip_leading_space: spec.add_dummy_prefix() || spec.remove_extra_whitespaces(),
            strip_all_leading_space: spec.remove_extra_whitespaces(),
            denormalizer,
        };
        Ok(Tokenizer {
            decode_spec,
            specials: Specials::of(&vocab),
            vocab,
            normalizer,
            options,
            sha256: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
            source: path.to_path_buf(),
        })
    }

    /// Number of pieces in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.pieces.len()
    }

    /// The piece with this id ("" for an id outside the vocabulary).
    pub fn id_to_piece(&self, id: u32) -> &str {
        self.vocab.pieces.get(id as usize).map_or("", String::as_str)
    }

    /// The piece's id, or `None` when it is not in the vocabulary.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.vocab.lookup(piece)
    }

    /// The kind of the piece with this id (`Unused` for an id outside the vocabulary).
    pub fn piece_kind(&self, id: u32) -> PieceKind {
        self.vocab.kind(id)
    }

    /// The piece's score in the unigram model (0 for an id outside the vocabulary).
    pub fn piece_score(&self, id: u32) -> f32 {
        self.vocab.scores.get(id as usize).copied().unwrap_or(0.0)
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> u32 {
        self.vocab.unk_id
    }

    pub fn options(&self) -> &EncodeOptions {
        &self.options
    }

    /// Hex SHA-256 of the `.model` bytes, recorded in manifests so data and tokenizer can be
    /// matched later.
    pub fn model_sha256(&self) -> String {
        self.sha256.clone()
    }

    /// Where the model was loaded from (`<model bytes>` for `from_bytes`).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Checks the ALBERT special symbols ([`super::ALBERT_SPECIALS`]), naming every problem.
    pub fn check_albert_specials(&self) -> Result<()> {
        specials::check(&self.vocab).map_err(|m| bad_model(&self.source, m))
    }

    /// The ids of `[CLS]`, `[SEP]`, `[MASK]`, `<pad>`, `<unk>` that exist in this vocabulary.
    pub fn special_ids(&self) -> Vec<(String, u32)> {
        self.specials.list().to_vec()
    }
}
