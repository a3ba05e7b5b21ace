//! The two ALBERT text pipelines around SentencePiece: Hugging Face's `AlbertTokenizer` by
//! default (special tokens kept whole, Q3 quotes, the intended digit-comma rule), or the original
//! `FullTokenizer` with `reference_compat` (Q2). docs/tokenizer.md; checked line by line against
//! `sentencepiece` and `transformers` in tests/test_tokenizer_parity.py.

use std::borrow::Cow;

use super::model::Tokenizer;
use super::normalizer::SPACE_SYMBOL;
use super::pydigit::is_python_digit;
use super::viterbi::{Scratch, Span};

impl Tokenizer {
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
        self.encode_with(text, &mut Scratch::default(), &mut |_, piece| out.push(piece_string(piece)));
        out
    }

    /// The whole pipeline, calling `emit(id, piece)` for every output piece.
    fn encode_with(&self, text: &str, scratch: &mut Scratch, emit: &mut Emit<'_>) {
        if self.options.reference_compat || !self.specials.may_occur_in(text) {
            return self.encode_chunk(text, scratch, emit);
        }
        // Hugging Face's `PreTrainedTokenizer.tokenize`: with do_lower_case it first lower-cases
        // every character outside special tokens one at a time, then splits the text at special
        // tokens ("<PAD>" lowered to "<pad>" counts) and tokenizes the pieces in between
        // separately.
        let lowered: Cow<'_, str> =
            if self.options.normalization.lowercase { self.specials.lowercase_outside(text) } else { Cow::Borrowed(text) };
        let mut rest: &str = &lowered;
        while let Some((at, piece, id)) = self.specials.find(rest) {
            self.encode_chunk(&rest[..at], scratch, emit);
            emit(id, piece.as_bytes());
            rest = &rest[at + piece.len()..];
        }
        self.encode_chunk(rest, scratch, emit);
    }

    /// The text preprocessing before SentencePiece (docs/tokenizer.md): the one in
    /// `crate::text` ([`crate::text::Normalization::preprocess`]), whose `replace_quotes` (set from
    /// `!reference_compat` by [`EncodeOptions::new`]) selects Hugging Face's pipeline or the
    /// original's.
    fn preprocess(&self, text: &str) -> String {
        self.options.normalization.preprocess(text)
    }

    /// ALBERT preprocessing + SentencePiece + digit-comma rule for text without special tokens.
    fn encode_chunk(&self, text: &str, scratch: &mut Scratch, emit: &mut Emit<'_>) {
        if text.is_empty() {
            return;
        }
        let pre = self.preprocess(text);
        let mut normalized = std::mem::take(&mut scratch.normalized);
        self.normalizer.normalize(pre.as_bytes(), &mut normalized);
        self.vocab.spm_encode(&normalized, self.options.sentencepiece, scratch);
        for i in 0..scratch.merged.len() {
            let span = scratch.merged[i];
            let piece = &normalized[span.start as usize..span.end as usize];
            if self.emit_bytes(span, piece, emit) {
                continue;
            }
            if let Some(piece) = digit_comma_piece(piece) {
                self.digit_comma(piece, emit);
            } else if span.id == self.vocab.unk_id {
                // A merged run of unknown characters: `PieceToId` of its text, as both
                // references do (it is the unknown id unless the run spells a reserved piece).
                emit(self.vocab.id_or_unk(piece), piece);
            } else {
                emit(span.id, piece);
            }
        }
        scratch.normalized = normalized;
    }

    /// Emits the byte pieces of `bytes` when `span` is an unknown piece of a byte-fallback
    /// model; false otherwise.
    fn emit_bytes(&self, span: Span, bytes: &[u8], emit: &mut Emit<'_>) -> bool {
        let Some(table) = self.vocab.byte_ids.as_deref().filter(|_| span.id == self.vocab.unk_id) else { return false };
        for &b in bytes {
            let id = table[b as usize];
            emit(id, self.vocab.pieces[id as usize].as_bytes());
        }
        true
    }

    /// The digit-comma rule (docs/tokenizer.md) for a piece like "▁1998," or "98,": re-encode
    /// the piece without "," and without any "▁", then append ",". The intended rule (Hugging Face)
    /// drops the "▁" re-encoding adds when the piece had none; the original under Python 3
    /// compares `str` with `bytes` there, never drops it, and so starts a new word (Q2).
    fn digit_comma(&self, piece: &str, emit: &mut Emit<'_>) {
        let body = piece[..piece.len() - 1].replace(SPACE_SYMBOL, "");
        let mut sub: Vec<(u32, String)> = Vec::new();
        self.encode_spm_pieces(&body, &mut |id, p| sub.push((id, piece_string(p))));
        if !self.options.reference_compat && !piece.starts_with(SPACE_SYMBOL) {
            if let Some(first) = sub.first_mut() {
                if let Some(stripped) = first.1.strip_prefix(SPACE_SYMBOL) {
                    if stripped.is_empty() {
                        sub.remove(0);
                    } else {
                        *first = (self.vocab.id_or_unk(stripped.as_bytes()), stripped.to_string());
                    }
                }
            }
        }
        for (id, p) in &sub {
            emit(*id, p.as_bytes());
        }
        emit(self.vocab.id_or_unk(b","), b",");
    }

    /// SentencePiece's `EncodeAsPieces` followed by `PieceToId` on each piece (no ALBERT
    /// preprocessing, no digit-comma rule).
    pub(super) fn encode_spm_pieces(&self, text: &str, emit: &mut Emit<'_>) {
        let mut scratch = Scratch::default();
        let mut normalized = Vec::new();
        self.normalizer.normalize(text.as_bytes(), &mut normalized);
        self.vocab.spm_encode(&normalized, self.options.sentencepiece, &mut scratch);
        for span in &scratch.merged {
            let piece = &normalized[span.start as usize..span.end as usize];
            if self.emit_bytes(*span, piece, emit) {
                continue;
            }
            let id = if span.id == self.vocab.unk_id { self.vocab.id_or_unk(piece) } else { span.id };
            emit(id, piece);
        }
    }
}

/// Receives each output piece: its id and its bytes (the normalized text's, which is UTF-8 unless
/// the model's charsmap writes bytes that are not).
pub(super) type Emit<'a> = dyn FnMut(u32, &[u8]) + 'a;

/// A piece as text (U+FFFD for bytes that are not UTF-8).
pub(super) fn piece_string(piece: &[u8]) -> String {
    String::from_utf8_lossy(piece).into_owned()
}

/// The piece, as text, when the digit-comma rule applies to it:
/// `len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()`.
#[inline]
fn digit_comma_piece(piece: &[u8]) -> Option<&str> {
    if piece.len() < 2 || piece[piece.len() - 1] != b',' {
        return None;
    }
    let piece = std::str::from_utf8(piece).ok()?;
    ends_with_digit_comma(piece).then_some(piece)
}

/// `len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()`.
fn ends_with_digit_comma(piece: &str) -> bool {
    let Some(body) = piece.strip_suffix(',') else { return false };
    body.chars().next_back().is_some_and(is_python_digit)
}

