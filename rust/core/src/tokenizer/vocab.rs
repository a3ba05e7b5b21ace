//! The vocabulary of a unigram model: pieces, scores and kinds in id order, checked once at load
//! time, with the lookups SentencePiece makes (`PieceToId`, the trie of encodable pieces, the
//! byte-fallback pieces).

use std::collections::HashMap;

use super::model_proto::SentencePiece;
use super::spm_version::SpmVersion;
use super::trie::{self, PieceTrie};

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
    /// The kind of a `Type` value; SentencePiece's proto2 parser reads a value outside the enum
    /// as the field's default, NORMAL.
    fn from_proto(value: i32) -> PieceKind {
        match value {
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            _ => PieceKind::Normal,
        }
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

/// `unk_id` of a model without an unknown piece: SentencePiece's -1, as the Viterbi stores ids.
pub(super) const NO_UNK: u32 = u32::MAX;

/// Pieces longer than this are refused by sentencepiece ≥ 0.2.2 (`kMaxPieceSize`).
const MAX_PIECE_BYTES: usize = 8000;

/// The pieces of a model and their indexes. Immutable after loading.
#[derive(Debug, Clone)]
pub(super) struct Vocab {
    pub(super) pieces: Vec<String>,
    pub(super) scores: Vec<f32>,
    pub(super) kinds: Vec<PieceKind>,
    /// Normal, user-defined and unused pieces (SentencePiece's `pieces_`).
    normal_ids: HashMap<String, u32>,
    /// Unknown, control and byte pieces (SentencePiece's `reserved_id_map_`), looked up first.
    reserved_ids: HashMap<String, u32>,
    /// The normal, user-defined and unused pieces, for the Viterbi lattice.
    pub(super) trie: PieceTrie,
    /// The unknown piece; [`NO_UNK`] in a byte-fallback model without one (sentencepiece 0.2.3
    /// allows that: its unknown characters are always byte pieces).
    pub(super) unk_id: u32,
    /// Lowest and highest score of a normal piece (the unknown and user-defined scores use them).
    pub(super) min_score: f32,
    pub(super) max_score: f32,
    /// The longest piece in the trie, in bytes.
    pub(super) max_piece_bytes: usize,
    /// `byte_ids[b]` is the id of `<0xBB>` when the model uses byte fallback.
    pub(super) byte_ids: Option<Box<[u32; 256]>>,
}

impl Vocab {
    /// Checks and indexes the pieces of a model as sentencepiece `version` does
    /// (`ModelInterface::InitializePieces`, `unigram::Model::Model`); an error is the reason it
    /// cannot be used.
    pub(super) fn new(raw: Vec<SentencePiece>, byte_fallback: bool, version: SpmVersion) -> Result<Vocab, String> {
        let n = raw.len();
        if n > trie::MAX_VALUE as usize {
            return Err(format!("{n} pieces; at most {} are supported", trie::MAX_VALUE));
        }
        let checks_0_2_2 = version >= SpmVersion::V0_2_2;
        let mut pieces = Vec::with_capacity(n);
        let mut scores = Vec::with_capacity(n);
        let mut kinds = Vec::with_capacity(n);
        let mut normal_ids = HashMap::with_capacity(n);
        let mut reserved_ids = HashMap::new();
        let mut unk_id = None;
        let mut min_score = f32::MAX;
        // SentencePiece starts from FLT_MIN (the smallest positive float), not -FLT_MAX; the
        // user-defined symbol score `length * max_score - 0.1` of ≤ 0.2.1 depends on it.
        let mut max_score = f32::MIN_POSITIVE;
        for (i, p) in raw.into_iter().enumerate() {
            let id = i as u32;
            let (score, type_value) = (p.score(), p.r#type());
            let piece = p.piece.unwrap_or_default();
            let mut kind = PieceKind::from_proto(type_value);
            if checks_0_2_2 && piece.len() >= MAX_PIECE_BYTES {
                return Err(format!("piece {i} is too long ({} bytes; sentencepiece allows fewer than {MAX_PIECE_BYTES})", piece.len()));
            }
            if piece.is_empty() {
                return Err(format!("piece {i} is empty"));
            }
            // sentencepiece 0.2.3 treats a "\0" piece as unused with byte_fallback (converters
            // add one beside <0x00>) and skips an unused one: it is in no lookup table.
            let skipped = version >= SpmVersion::V0_2_3 && piece == "\0" && (byte_fallback || kind == PieceKind::Unused);
            if skipped {
                kind = PieceKind::Unused;
            } else if piece.contains('\0') {
                return Err(if checks_0_2_2 {
                    format!("piece {i} ({piece:?}) contains a NUL character")
                } else {
                    format!(
                        "piece {i} ({piece:?}) contains a NUL character: sentencepiece {version} cuts it there \
                         (later releases refuse it); albert_fast refuses it"
                    )
                });
            }
            if !skipped {
                let map = match kind {
                    PieceKind::Normal | PieceKind::UserDefined | PieceKind::Unused => &mut normal_ids,
                    _ => &mut reserved_ids,
                };
                if map.insert(piece.clone(), id).is_some() {
                    return Err(format!("piece {piece:?} is defined twice"));
                }
            }
            match kind {
                PieceKind::Unknown if unk_id.is_some() => return Err(format!("a second unknown piece {piece:?} at id {i}")),
                PieceKind::Unknown => unk_id = Some(id),
                PieceKind::Byte if !byte_fallback => {
                    return Err(format!("byte piece {piece:?} although byte_fallback is false"))
                }
                _ => {}
            }
            if checks_0_2_2 && !score.is_finite() {
                return Err(format!("piece {i} ({piece:?}) has score {score}: sentencepiece refuses NaN and infinite scores"));
            }
            if kind == PieceKind::Normal {
                min_score = min_score.min(score);
                max_score = max_score.max(score);
            }
            pieces.push(piece);
            scores.push(score);
            kinds.push(kind);
        }
        let unk_id = match unk_id {
            Some(id) => id,
            None if byte_fallback && version >= SpmVersion::V0_2_3 => NO_UNK,
            None => return Err("it defines no unknown piece (<unk>)".into()),
        };

        let byte_ids = if byte_fallback {
            let mut ids = Box::new([0u32; 256]);
            for (b, slot) in ids.iter_mut().enumerate() {
                let name = format!("<0x{b:02X}>");
                *slot = match reserved_ids.get(&name) {
                    Some(&id) if kinds[id as usize] == PieceKind::Byte => id,
                    _ => return Err(format!("byte_fallback is true but byte piece {name} is missing")),
                };
            }
            let n_bytes = kinds.iter().filter(|&&k| k == PieceKind::Byte).count();
            if n_bytes != 256 {
                return Err(format!("{n_bytes} byte pieces; expected exactly 256 of the form <0xXX>"));
            }
            Some(ids)
        } else {
            None
        };

        let trie = PieceTrie::build(normal_ids.iter().map(|(p, &id)| (p.as_bytes(), id as i32)));
        let max_piece_bytes = normal_ids.keys().map(String::len).max().unwrap_or(0);
        if trie.is_empty() {
            return Err("it has no normal, user-defined or unused pieces to encode with".into());
        }
        Ok(Vocab { pieces, scores, kinds, normal_ids, reserved_ids, trie, unk_id, min_score, max_score, max_piece_bytes, byte_ids })
    }

    /// The user-defined symbols, which the normalizer passes through untouched.
    pub(super) fn user_defined_trie(&self) -> PieceTrie {
        PieceTrie::build(
            self.normal_ids
                .iter()
                .filter(|(_, &id)| self.kinds[id as usize] == PieceKind::UserDefined)
                .map(|(p, &id)| (p.as_bytes(), id as i32)),
        )
    }

    pub(super) fn lookup(&self, piece: &str) -> Option<u32> {
        self.reserved_ids.get(piece).or_else(|| self.normal_ids.get(piece)).copied()
    }

    /// SentencePiece's `PieceToId`: unknown pieces map to the unknown id. Bytes that are not
    /// UTF-8 (from a charsmap with such replacements) are no piece.
    pub(super) fn id_or_unk(&self, piece: &[u8]) -> u32 {
        std::str::from_utf8(piece).ok().and_then(|p| self.lookup(p)).unwrap_or(self.unk_id)
    }

    /// The unigram score of pieces joined by spaces, as `unigram::Model::VerifyOutputsEquivalent`
    /// of sentencepiece ≤ 0.2.2 computes it for the self-test (`f32` sum; `version`'s
    /// user-defined symbol score).
    pub(super) fn path_score(&self, joined: &str, version: SpmVersion) -> f32 {
        let unk_score = self.min_score - 10.0f32;
        let mut total = 0.0f32;
        for piece in joined.split(' ') {
            let id = self.id_or_unk(piece.as_bytes());
            if id == self.unk_id {
                total += unk_score;
            } else if self.kind(id) == PieceKind::UserDefined {
                let len = piece.len();
                total = if version.f32_scoring() {
                    total + (0.1 * (len as f64 - 1.0)) as f32
                } else {
                    (f64::from(total) + (f64::from(len as f32 * self.max_score) - 0.1)) as f32
                };
            } else {
                total += self.scores[id as usize];
            }
        }
        total
    }

    pub(super) fn kind(&self, id: u32) -> PieceKind {
        self.kinds.get(id as usize).copied().unwrap_or(PieceKind::Unused)
    }
}
