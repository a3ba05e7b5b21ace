//! [`Tokenizer`]: a SentencePiece `.model` loaded and checked, with what encoding needs (the
//! vocabulary, SentencePiece's normalizer, ALBERT's special symbols, the pipeline options).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::decode::DecodeSpec;
use super::model_proto::{ModelProto, SelfTestData};
use super::normalizer::SpmNormalizer;
use super::specials::{self, Specials};
use super::spm_version::SpmVersion;
use super::trie::PieceTrie;
use super::vocab::{PieceKind, Vocab, NO_UNK};
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
    /// The `sentencepiece` release whose scoring and model checks are reproduced (the installed
    /// one, as the Python face passes it).
    pub sentencepiece: SpmVersion,
}

impl EncodeOptions {
    /// The options for one of the two pipelines: quote replacement (Q3) belongs to the Hugging
    /// Face pipeline only.
    pub fn new(lowercase: bool, strip_accents: bool, reference_compat: bool) -> EncodeOptions {
        EncodeOptions {
            normalization: Normalization { lowercase, strip_accents, replace_quotes: !reference_compat },
            reference_compat,
            sentencepiece: SpmVersion::NEWEST,
        }
    }

    /// The same options reproducing sentencepiece release `version`.
    pub fn with_sentencepiece(self, version: SpmVersion) -> EncodeOptions {
        EncodeOptions { sentencepiece: version, ..self }
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

/// The error for a `.vocab` file given as the model, naming the `.model` beside it if any.
fn vocab_file(path: &Path) -> Error {
    let model = path.with_extension("model");
    let hint = if model != path && model.is_file() { format!(" ({})", model.display()) } else { String::new() };
    bad_model(path, format!("this looks like a .vocab file (one piece and score per line); pass the .model{hint}"))
}

/// Whether `bytes` start like the `.vocab` file SentencePiece writes beside a model: text lines
/// of a piece, a tab and a score.
fn looks_like_vocab(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    // The last piece of the split may be cut by the window (or is what follows the last newline).
    let lines: Vec<&str> = text.split('\n').take(9).collect();
    let full = &lines[..lines.len() - 1];
    let complete = |l: &&str| l.split_once('\t').is_some_and(|(p, s)| !p.is_empty() && s.trim_end_matches('\r').parse::<f32>().is_ok());
    !full.is_empty() && full.iter().all(complete)
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

    /// Parses and checks a model as sentencepiece `options.sentencepiece` does when loading it
    /// (docs/tokenizer.md lists the checks per release).
    fn load(bytes: &[u8], path: &Path, options: EncodeOptions) -> Result<Tokenizer> {
        if bytes.is_empty() {
            return Err(bad_model(path, "the file is empty"));
        }
        let version = options.sentencepiece;
        let model: ModelProto = match crate::protobuf::decode(bytes) {
            Ok(model) => model,
            Err(_) if looks_like_vocab(bytes) => return Err(vocab_file(path)),
            Err((offset, msg)) => return Err(bad_model(path, format!("corrupt ModelProto at byte {offset}: {msg}"))),
        };
        if model.pieces.is_empty() {
            return Err(if looks_like_vocab(bytes) { vocab_file(path) } else { bad_model(path, "it contains no vocabulary pieces") });
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
        let vocab = Vocab::new(model.pieces, trainer.byte_fallback(), version).map_err(|m| bad_model(path, m))?;
        let refused = |field: &str, m: String| {
            bad_model(path, format!("{field}.precompiled_charsmap is invalid: {m}; sentencepiece {version} refuses this model"))
        };
        let spec = model.normalizer_spec.unwrap_or_default();
        let normalizer =
            SpmNormalizer::new(&spec, vocab.user_defined_trie(), version).map_err(|m| refused("normalizer_spec", m))?;
        // SentencePiece builds a denormalizer only for a spec with rules, and without the
        // user-defined symbols; 0.2.3 checks it at load time as it does the normalizer, earlier
        // releases only when decoding.
        let denormalizer = match model.denormalizer_spec {
            Some(d) if !d.precompiled_charsmap().is_empty() => {
                match SpmNormalizer::new(&d, PieceTrie::build(std::iter::empty()), version) {
                    Err(m) if version >= SpmVersion::V0_2_3 => return Err(refused("denormalizer_spec", m)),
                    parsed => Some(parsed),
                }
            }
            _ => None,
        };
        let decode_spec = DecodeSpec {
            unk_surface: trainer.unk_surface.clone().unwrap_or_else(|| " \u{2047} ".to_string()),
            strip_leading_space: spec.add_dummy_prefix() || spec.remove_extra_whitespaces(),
            strip_all_leading_space: spec.remove_extra_whitespaces(),
            denormalizer,
        };
        let tokenizer = Tokenizer {
            decode_spec,
            specials: Specials::of(&vocab),
            vocab,
            normalizer,
            options,
            sha256: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
            source: path.to_path_buf(),
        };
        // Up to 0.2.2 the model's own self-test samples are encoded at load time (0.2.3
        // reserves the field).
        if let Some(data) = model.self_test_data.filter(|d| !d.is_empty() && version <= SpmVersion::V0_2_2) {
            let data: SelfTestData = crate::protobuf::decode(&data)
                .map_err(|(offset, msg)| bad_model(path, format!("corrupt self_test_data at byte {offset}: {msg}")))?;
            tokenizer.self_test(&data).map_err(|m| bad_model(path, m))?;
        }
        Ok(tokenizer)
    }

    /// `SentencePieceProcessor::Load`'s self-test: each sample's pieces, joined by spaces, must
    /// score as the expected ones do (`VerifyOutputsEquivalent`).
    fn self_test(&self, data: &SelfTestData) -> std::result::Result<(), String> {
        let version = self.options.sentencepiece;
        let mut failed = Vec::new();
        for sample in &data.samples {
            let mut pieces: Vec<String> = Vec::new();
            self.encode_spm_pieces(sample.input(), &mut |_, piece| pieces.push(super::albert::piece_string(piece)));
            let result = pieces.join(" ");
            let expected = sample.expected();
            if (self.vocab.path_score(expected, version) - self.vocab.path_score(&result, version)).abs() > 1e-7 {
                failed.push(format!("{:?} gives {result:?}, expected {expected:?}", sample.input()));
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} of its {} self-test samples fail ({}); sentencepiece {version} refuses this model",
            failed.len(),
            data.samples.len(),
            failed[0]
        ))
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

    /// The id of the unknown piece (`None` in a byte-fallback model without one, which
    /// sentencepiece 0.2.3 accepts).
    pub fn unk_id(&self) -> Option<u32> {
        (self.vocab.unk_id != NO_UNK).then_some(self.vocab.unk_id)
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
