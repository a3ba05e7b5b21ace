//! SentencePiece-compatible encoding (spec §2) in pure Rust, with the two ALBERT text pipelines
//! around it.
//!
//! - The `.model` file (a `ModelProto`) is parsed by [`proto`]; the vocabulary, piece kinds and
//!   scores live in [`Tokenizer`].
//! - [`normalizer`] reproduces SentencePiece's normalizer (precompiled char map, user-defined
//!   symbols protected, whitespace collapsing, dummy "▁" prefix).
//! - [`Tokenizer::encode`] runs SentencePiece's unigram Viterbi (`EncodeOptimized` of
//!   `unigram_model.cc`, including its float arithmetic and tie-breaking), merges runs of unknown
//!   pieces (or splits them into byte pieces with `byte_fallback`), then applies ALBERT's
//!   digit-comma rule.
//!
//! Two pipelines, selected by [`EncodeOptions::reference_compat`]:
//! - **default**: Hugging Face `AlbertTokenizer` (slow) — special tokens (`[CLS]`, `[SEP]`,
//!   `[MASK]`, `<pad>`, `<unk>`) in the text are kept whole, lower-casing runs per character
//!   first, "``"/"''" become '"' (Q3), and the digit-comma rule drops the "▁" that re-encoding
//!   adds to a mid-word piece (the intended rule).
//! - **reference_compat**: the original `FullTokenizer` under Python 3 — no special-token
//!   splitting, no quote replacement, and the digit-comma rule keeps the extra "▁" (Q2:
//!   "x19," → "x", "▁19", ",").
//!
//! Every behaviour is checked line by line against the `sentencepiece` package and
//! `transformers` in `tests/test_tokenizer_parity.py`.

mod normalizer;
mod proto;
mod pydigit;
mod trie;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::text::{lowercase_chars, Normalization};
pub use normalizer::SPACE_SYMBOL;
use normalizer::SpmNormalizer;
pub use pydigit::is_python_digit;
use trie::PieceTrie;

/// The name of the model file inside a tokenizer directory.
pub const MODEL_FILE: &str = "spiece.model";

/// The ALBERT special symbols and the ids they must have (spec §4).
pub const ALBERT_SPECIALS: [(&str, u32); 5] = [("<pad>", 0), ("<unk>", 1), ("[CLS]", 2), ("[SEP]", 3), ("[MASK]", 4)];

/// SentencePiece's piece types (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PieceKind {
    /// A learned piece.
    Normal,
    /// The unknown piece (`<unk>`); exactly one per model.
    Unknown,
    /// A control symbol (`<pad>`, `[CLS]`, `[SEP]`, `[MASK]`): never produced from text by
    /// SentencePiece itself.
    Control,
    /// A user-defined symbol: always segmented as a whole piece.
    UserDefined,
    /// A piece present in the vocabulary but never used for encoding.
    Unused,
    /// A byte piece `<0xXX>` (models trained with `byte_fallback`).
    Byte,
}

impl PieceKind {
    fn from_proto(value: u64) -> Option<PieceKind> {
        Some(match value {
            1 => PieceKind::Normal,
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            _ => return None,
        })
    }

    /// Lower-case name, as used in messages and by the Python API.
    pub fn name(self) -> &'static str {
        match self {
            PieceKind::Normal => "normal",
            PieceKind::Unknown => "unknown",
            PieceKind::Control => "control",
            PieceKind::UserDefined => "user_defined",
            PieceKind::Unused => "unused",
            PieceKind::Byte => "byte",
        }
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

/// One node of the Viterbi table: the best path ending at this byte position.
#[derive(Debug, Clone, Copy)]
struct BestNode {
    id: i32,
    score: f32,
    start: i32,
}

/// A piece of the segmentation: id and byte range in the normalized text.
#[derive(Debug, Clone, Copy)]
struct Span {
    id: u32,
    start: u32,
    end: u32,
}

/// Reusable buffers, one set per thread in `encode_batch`.
#[derive(Debug, Default)]
pub struct Scratch {
    normalized: String,
    best: Vec<BestNode>,
    spans: Vec<Span>,
    merged: Vec<Span>,
}

/// A loaded SentencePiece unigram model plus the ALBERT text pipeline. Immutable after loading:
/// `Send + Sync`, shared by reference across rayon threads.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    pieces: Vec<String>,
    scores: Vec<f32>,
    kinds: Vec<PieceKind>,
    /// Normal, user-defined and unused pieces (SentencePiece's `pieces_`).
    normal_ids: HashMap<String, u32>,
    /// Unknown, control and byte pieces (SentencePiece's `reserved_id_map_`), looked up first.
    reserved_ids: HashMap<String, u32>,
    trie: PieceTrie,
    normalizer: SpmNormalizer,
    unk_id: u32,
    min_score: f32,
    max_score: f32,
    /// `byte_ids[b]` is the id of `<0xBB>` when the model uses byte fallback.
    byte_ids: Option<Box<[u32; 256]>>,
    /// ALBERT special tokens present in the vocabulary, kept whole in the Hugging Face pipeline.
    specials: Vec<(String, u32)>,
    options: EncodeOptions,
    sha256: String,
    source: PathBuf,
}

fn bad_model(path: &Path, message: impl Into<String>) -> Error {
    Error::BadModel { path: path.to_path_buf(), message: message.into() }
}

/// The model file for `path`: the path itself, or `spiece.model` inside a directory.
pub fn resolve_model_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    }
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
        let raw = proto::parse_model(bytes).map_err(|m| bad_model(path, m))?;
        if raw.pieces.is_empty() {
            return Err(bad_model(path, "it contains no vocabulary pieces"));
        }
        let model_type = raw.trainer_spec.model_type;
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
        if raw.trainer_spec.treat_whitespace_as_suffix {
            return Err(bad_model(path, "treat_whitespace_as_suffix=true is not supported"));
        }

        let n = raw.pieces.len();
        if n > trie::MAX_VALUE as usize {
            return Err(bad_model(path, format!("{n} pieces; at most {} are supported", trie::MAX_VALUE)));
        }
        let mut pieces = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut normal_ids = HashMap::with_capacity(n);
        let mut reserved_ids = HashMap::new();
        let mut unk_id = None;
        let mut min_score = f32::MAX;
        // SentencePiece starts from FLT_MIN (the smallest positive float), not -FLT_MAX; the
        // user-defined symbol score `length * max_score - 0.1` depends on it.
        let mut max_score = f32::MIN_POSITIVE;
        for (i, p) in raw.pieces.into_iter().enumerate() {
            let id = i as u32;
            let kind = PieceKind::from_proto(p.kind)
                .ok_or_else(|| bad_model(path, format!("piece {i} ({:?}) has unknown type {}", p.piece, p.kind)))?;
            if p.piece.is_empty() {
                return Err(bad_model(path, format!("piece {i} is empty")));
            }
            let map = match kind {
                PieceKind::Normal | PieceKind::UserDefined | PieceKind::Unused => &mut normal_ids,
                _ => &mut reserved_ids,
            };
            if map.insert(p.piece.clone(), id).is_some() {
                return Err(bad_model(path, format!("piece {:?} is defined twice", p.piece)));
            }
            match kind {
                PieceKind::Unknown if unk_id.is_some() => {
                    return Err(bad_model(path, format!("a second unknown piece {:?} at id {i}", p.piece)))
                }
                PieceKind::Unknown => unk_id = Some(id),
                PieceKind::Byte if !raw.trainer_spec.byte_fallback => {
                    return Err(bad_model(path, format!("byte piece {:?} although byte_fallback is false", p.piece)))
                }
                PieceKind::Normal => {
                    min_score = min_score.min(p.score);
                    max_score = max_score.max(p.score);
                }
                _ => {}
            }
            pieces.push(p.piece);
            scores.push(p.score);
            kinds.push(kind);
        }
        let unk_id = unk_id.ok_or_else(|| bad_model(path, "it defines no unknown piece (<unk>)"))?;

        let byte_ids = if raw.trainer_spec.byte_fallback {
            let mut ids = Box::new([0u32; 256]);
            for (b, slot) in ids.iter_mut().enumerate() {
                let name = format!("<0x{b:02X}>");
                *slot = match reserved_ids.get(&name) {
                    Some(&id) if kinds[id as usize] == PieceKind::Byte => id,
                    _ => return Err(bad_model(path, format!("byte_fallback is true but byte piece {name} is missing"))),
                };
            }
            let n_bytes = kinds.iter().filter(|&&k| k == PieceKind::Byte).count();
            if n_bytes != 256 {
                return Err(bad_model(path, format!("{n_bytes} byte pieces; expected exactly 256 of the form <0xXX>")));
            }
            Some(ids)
        } else {
            None
        };

        let trie = PieceTrie::build(normal_ids.iter().map(|(p, &id)| (p.as_bytes(), id as i32)));
        if trie.is_empty() {
            return Err(bad_model(path, "it has no normal, user-defined or unused pieces to encode with"));
        }
        let user_defined = PieceTrie::build(
            normal_ids
                .iter()
                .filter(|(_, &id)| kinds[id as usize] == PieceKind::UserDefined)
                .map(|(p, &id)| (p.as_bytes(), id as i32)),
        );
        let normalizer = SpmNormalizer::new(&raw.normalizer_spec, user_defined).map_err(|m| bad_model(path, m))?;

        let mut tok = Tokenizer {
            pieces,
            scores,
            kinds,
            normal_ids,
            reserved_ids,
            trie,
            normalizer,
            unk_id,
            min_score,
            max_score,
            byte_ids,
            specials: Vec::new(),
            options,
            sha256: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
            source: path.to_path_buf(),
        };
        tok.specials = ALBERT_SPECIALS
            .iter()
            .filter_map(|&(s, _)| tok.lookup(s).map(|id| (s.to_string(), id)))
            .collect();
        Ok(tok)
    }

    /// Number of pieces in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The piece with this id ("" for an id outside the vocabulary).
    pub fn id_to_piece(&self, id: u32) -> &str {
        self.pieces.get(id as usize).map_or("", String::as_str)
    }

    /// The piece's id, or `None` when it is not in the vocabulary.
    pub fn piece_to_id(&self, piece: &str) -> Option<u32> {
        self.lookup(piece)
    }

    fn lookup(&self, piece: &str) -> Option<u32> {
        self.reserved_ids.get(piece).or_else(|| self.normal_ids.get(piece)).copied()
    }

    /// SentencePiece's `PieceToId`: unknown pieces map to the unknown id.
    fn id_or_unk(&self, piece: &str) -> u32 {
        self.lookup(piece).unwrap_or(self.unk_id)
    }

    /// The kind of the piece with this id (`Unused` for an id outside the vocabulary).
    pub fn piece_kind(&self, id: u32) -> PieceKind {
        self.kinds.get(id as usize).copied().unwrap_or(PieceKind::Unused)
    }

    /// The piece's score in the unigram model (0 for an id outside the vocabulary).
    pub fn piece_score(&self, id: u32) -> f32 {
        self.scores.get(id as usize).copied().unwrap_or(0.0)
    }

    /// The id of the unknown piece.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
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

    /// Checks the ALBERT special symbols: `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4,
    /// with `<unk>` the unknown piece and the others control symbols.
    pub fn check_albert_specials(&self) -> Result<()> {
        let mut problems = Vec::new();
        for (piece, want) in ALBERT_SPECIALS {
            let want_kind = if piece == "<unk>" { PieceKind::Unknown } else { PieceKind::Control };
            match self.lookup(piece) {
                None => problems.push(format!("{piece} is missing (expected id {want})")),
                Some(id) if id != want => problems.push(format!("{piece} has id {id}, expected {want}")),
                Some(id) if self.piece_kind(id) != want_kind => problems.push(format!(
                    "{piece} is a {} piece, expected {}",
                    self.piece_kind(id).name(),
                    want_kind.name()
                )),
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(bad_model(
            &self.source,
            format!(
                "not an ALBERT vocabulary: {}. Train it with --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1 \
                 --control_symbols=[CLS],[SEP],[MASK] (albert-fast train-tokenizer does)",
                problems.join("; ")
            ),
        ))
    }

    /// The ids of `[CLS]`, `[SEP]`, `[MASK]`, `<pad>`, `<unk>` that exist in this vocabulary.
    pub fn special_ids(&self) -> Vec<(String, u32)> {
        self.specials.clone()
    }

    /// Token ids of one text (a line or a paragraph): preprocessing, SentencePiece and the
    /// digit-comma rule, as selected by the options.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        self.encode_with(text, &mut Scratch::default(), &mut |id, _| ids.push(id));
        ids
    }

    /// Like [`encode`](Self::encode), reusing `scratch` buffers and appending to `ids`.
    pub fn encode_into(&self, text: &str, scratch: &mut Scratch, ids: &mut Vec<u32>) {
        self.encode_with(text, scratch, &mut |id, _| ids.push(id));
    }

    /// The pieces [`encode`](Self::encode) returns ids of.
    pub fn encode_pieces(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.encode_with(text, &mut Scratch::default(), &mut |_, piece| out.push(piece.to_string()));
        out
    }

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

    /// The whole pipeline, calling `emit(id, piece)` for every output piece.
    fn encode_with(&self, text: &str, scratch: &mut Scratch, emit: &mut dyn FnMut(u32, &str)) {
        // Special tokens start with '[' or '<', and lower-casing never creates either.
        if self.options.reference_compat || self.specials.is_empty() || !text.bytes().any(|b| b == b'[' || b == b'<') {
            return self.encode_chunk(text, scratch, emit);
        }
        // Hugging Face's `PreTrainedTokenizer.tokenize`: with do_lower_case it first lower-cases
        // every character outside special tokens one at a time, then splits the text at special
        // tokens ("<PAD>" lowered to "<pad>" counts) and tokenizes the pieces in between
        // separately.
        let lowered: Cow<'_, str> =
            if self.options.normalization.lowercase { self.lowercase_outside_specials(text) } else { Cow::Borrowed(text) };
        let mut rest: &str = &lowered;
        while let Some((at, piece, id)) = self.find_special(rest) {
            self.encode_chunk(&rest[..at], scratch, emit);
            emit(id, piece);
            rest = &rest[at + piece.len()..];
        }
        self.encode_chunk(rest, scratch, emit);
    }

    /// The text preprocessing before SentencePiece (spec §2 steps 1–3): the one in
    /// `crate::text` ([`Normalization::preprocess`]), whose `replace_quotes` (set from
    /// `!reference_compat` by [`EncodeOptions::new`]) selects Hugging Face's pipeline or the
    /// original's.
    fn preprocess(&self, text: &str) -> String {
        self.options.normalization.preprocess(text)
    }

    /// The first special token in `text`: (byte offset, token, id).
    fn find_special<'a>(&'a self, text: &str) -> Option<(usize, &'a str, u32)> {
        if self.specials.is_empty() || !text.bytes().any(|b| b == b'[' || b == b'<') {
            return None;
        }
        let bytes = text.as_bytes();
        for (at, &b) in bytes.iter().enumerate() {
            if b != b'[' && b != b'<' {
                continue;
            }
            for (s, id) in &self.specials {
                if bytes[at..].starts_with(s.as_bytes()) {
                    return Some((at, s.as_str(), *id));
                }
            }
        }
        None
    }

    fn lowercase_outside_specials<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.find_special(text).is_none() {
            return lowercase_chars(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((at, piece, _)) = self.find_special(rest) {
            out.push_str(&lowercase_chars(&rest[..at]));
            out.push_str(piece);
            rest = &rest[at + piece.len()..];
        }
        out.push_str(&lowercase_chars(rest));
        Cow::Owned(out)
    }

    /// ALBERT preprocessing + SentencePiece + digit-comma rule for text without special tokens.
    fn encode_chunk(&self, text: &str, scratch: &mut Scratch, emit: &mut dyn FnMut(u32, &str)) {
        if text.is_empty() {
            return;
        }
        let pre = self.preprocess(text);
        let mut normalized = std::mem::take(&mut scratch.normalized);
        self.normalizer.normalize(&pre, &mut normalized);
        self.spm_encode(&normalized, scratch);
        for i in 0..scratch.merged.len() {
            let span = scratch.merged[i];
            if let Some(bytes) = self.byte_pieces(span) {
                for &b in &normalized.as_bytes()[span.start as usize..span.end as usize] {
                    let id = bytes[b as usize];
                    emit(id, &self.pieces[id as usize]);
                }
                continue;
            }
            let piece = &normalized[span.start as usize..span.end as usize];
            if ends_with_digit_comma(piece) {
                self.digit_comma(piece, emit);
            } else if span.id == self.unk_id {
                // A merged run of unknown characters: `PieceToId` of its text, as both
                // references do (it is the unknown id unless the run spells a reserved piece).
                emit(self.id_or_unk(piece), piece);
            } else {
                emit(span.id, piece);
            }
        }
        scratch.normalized = normalized;
    }

    /// The byte-piece table when `span` is an unknown piece of a byte-fallback model.
    fn byte_pieces(&self, span: Span) -> Option<&[u32; 256]> {
        if span.id == self.unk_id {
            self.byte_ids.as_deref()
        } else {
            None
        }
    }

    /// The digit-comma rule (spec §2 step 5) for a piece like "▁1998," or "98,": re-encode the
    /// piece without "," and without any "▁", then append ",". The intended rule (Hugging Face)
    /// drops the "▁" re-encoding adds when the piece had none; the original under Python 3
    /// compares `str` with `bytes` there, never drops it, and so starts a new word (Q2).
    fn digit_comma(&self, piece: &str, emit: &mut dyn FnMut(u32, &str)) {
        let body = piece[..piece.len() - 1].replace(SPACE_SYMBOL, "");
        let mut sub: Vec<(u32, String)> = Vec::new();
        self.encode_spm_pieces(&body, &mut |id, p| sub.push((id, p.to_string())));
        if !self.options.reference_compat && !piece.starts_with(SPACE_SYMBOL) {
            if let Some(first) = sub.first_mut() {
                if let Some(stripped) = first.1.strip_prefix(SPACE_SYMBOL) {
                    if stripped.is_empty() {
                        sub.remove(0);
                    } else {
                        *first = (self.id_or_unk(stripped), stripped.to_string());
                    }
                }
            }
        }
        for (id, p) in &sub {
            emit(*id, p);
        }
        emit(self.id_or_unk(","), ",");
    }

    /// SentencePiece's `EncodeAsPieces` followed by `PieceToId` on each piece (no ALBERT
    /// preprocessing, no digit-comma rule).
    fn encode_spm_pieces(&self, text: &str, emit: &mut dyn FnMut(u32, &str)) {
        let mut scratch = Scratch::default();
        let mut normalized = String::new();
        self.normalizer.normalize(text, &mut normalized);
        self.spm_encode(&normalized, &mut scratch);
        for span in &scratch.merged {
            if let Some(bytes) = self.byte_pieces(*span) {
                for &b in &normalized.as_bytes()[span.start as usize..span.end as usize] {
                    let id = bytes[b as usize];
                    emit(id, &self.pieces[id as usize]);
                }
                continue;
            }
            let piece = &normalized[span.start as usize..span.end as usize];
            let id = if span.id == self.unk_id { self.id_or_unk(piece) } else { span.id };
            emit(id, piece);
        }
    }

    /// SentencePiece's raw encoding of already-normalized text, for tests and tools: pieces as
    /// `EncodeAsPieces` returns them, with their ids.
    pub fn spm_encode_normalized(&self, normalized: &str) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        self.spm_encode(normalized, &mut scratch);
        for s in &scratch.merged {
            out.push((s.id, normalized[s.start as usize..s.end as usize].to_string()));
        }
        out
    }

    /// SentencePiece's `Normalize` of `text` (for tests and tools).
    pub fn spm_normalize(&self, text: &str) -> String {
        let mut out = String::new();
        self.normalizer.normalize(text, &mut out);
        out
    }

    /// Viterbi segmentation into `scratch.spans`, then runs of unknown pieces merged into
    /// `scratch.merged` (as `PopulateSentencePieceText` does).
    fn spm_encode(&self, normalized: &str, scratch: &mut Scratch) {
        self.viterbi(normalized, &mut scratch.best, &mut scratch.spans);
        scratch.merged.clear();
        let mut prev_unk = false;
        for &span in &scratch.spans {
            let is_unk = span.id == self.unk_id;
            match scratch.merged.last_mut() {
                Some(last) if is_unk && prev_unk && self.byte_ids.is_none() => last.end = span.end,
                _ => scratch.merged.push(span),
            }
            prev_unk = is_unk;
        }
    }

    /// `Model::EncodeOptimized` of `unigram_model.cc`: the best path ending at each byte
    /// position, extended by every vocabulary piece starting at each character. Scores are
    /// summed in `f32` like the C++ (user-defined symbols get `len * max_score - 0.1` computed
    /// in `f64`, compared in `f64`, stored as `f32`), and a later candidate wins only when
    /// strictly better, so ties resolve exactly as SentencePiece resolves them.
    fn viterbi(&self, normalized: &str, best: &mut Vec<BestNode>, spans: &mut Vec<Span>) {
        spans.clear();
        let bytes = normalized.as_bytes();
        let size = bytes.len();
        if size == 0 {
            return;
        }
        best.clear();
        best.resize(size + 1, BestNode { id: -1, score: 0.0, start: -1 });
        let unk_score = self.min_score - 10.0f32;
        let mut start = 0usize;
        while start < size {
            let till_here = best[start].score;
            let mblen = one_char_len(bytes[start]).min(size - start);
            let mut has_single_node = false;
            self.trie.common_prefix_search(&bytes[start..], |len, id| {
                let kind = self.kinds[id as usize];
                if kind == PieceKind::Unused {
                    return;
                }
                let target = &mut best[start + len];
                if kind == PieceKind::UserDefined {
                    let score = f64::from(len as f32 * self.max_score) - 0.1;
                    let candidate = score + f64::from(till_here);
                    if target.start == -1 || candidate > f64::from(target.score) {
                        *target = BestNode { id, score: candidate as f32, start: start as i32 };
                    }
                } else {
                    let candidate = self.scores[id as usize] + till_here;
                    if target.start == -1 || candidate > target.score {
                        *target = BestNode { id, score: candidate, start: start as i32 };
                    }
                }
                if len == mblen {
                    has_single_node = true;
                }
            });
            if !has_single_node {
                let target = &mut best[start + mblen];
                let candidate = unk_score + till_here;
                if target.start == -1 || candidate > target.score {
                    *target = BestNode { id: self.unk_id as i32, score: candidate, start: start as i32 };
                }
            }
            start += mblen;
        }
        let mut end = size;
        while end > 0 {
            let node = best[end];
            // Every character start is reachable (the unknown fallback guarantees it), so
            // `start` is never -1 here.
            let node_start = node.start.max(0) as usize;
            spans.push(Span { id: node.id as u32, start: node_start as u32, end: end as u32 });
            if node_start >= end {
                break;
            }
            end = node_start;
        }
        spans.reverse();
    }
}

/// SentencePiece's `OneCharLen`: the UTF-8 sequence length announced by a lead byte.
#[inline]
fn one_char_len(lead: u8) -> usize {
    const LEN: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LEN[(lead >> 4) as usize] as usize
}

/// `len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()`.
fn ends_with_digit_comma(piece: &str) -> bool {
    let Some(body) = piece.strip_suffix(',') else { return false };
    body.chars().next_back().is_some_and(is_python_digit)
}

#[cfg(test)]
mod tests;
