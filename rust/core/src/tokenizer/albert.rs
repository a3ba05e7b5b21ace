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
        self.encode_with(text, &mut Scratch::default(), &mut |_, piece| out.push(piece.to_string()));
        out
    }

    /// The whole pipeline, calling `emit(id, piece)` for every output piece.
    fn encode_with(&self, text: &str, scratch: &mut Scratch, emit: &mut dyn FnMut(u32, &str)) {
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
            emit(id, piece);
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
    fn encode_chunk(&self, text: &str, scratch: &mut Scratch, emit: &mut dyn FnMut(u32, &str)) {
        if text.is_empty() {
            return;
        }
        let pre = self.preprocess(text);
        let mut normalized = std::mem::take(&mut scratch.normalized);
        self.normalizer.normalize(&pre, &mut normalized);
        self.vocab.spm_encode(&normalized, scratch);
        for i in 0..scratch.merged.len() {
            let span = scratch.merged[i];
            if let Some(bytes) = self.byte_pieces(span) {
                for &b in &normalized.as_bytes()[span.start as usize..span.end as usize] {
                    let id = bytes[b as usize];
                    emit(id, &self.vocab.pieces[id as usize]);
                }
                continue;
            }
            let piece = &normalized[span.start as usize..span.end as usize];
            if ends_with_digit_comma(piece) {
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

    /// The byte-piece table when `span` is an unknown piece of a byte-fallback model.
    fn byte_pieces(&self, span: Span) -> Option<&[u32; 256]> {
        if span.id == self.vocab.unk_id {
            self.vocab.byte_ids.as_deref()
        } else {
            None
        }
    }

    /// The digit-comma rule (docs/tokenizer.md) for a piece like "▁1998," or "98,": re-encode
    /// the piece without "," and without any "▁", then append ",". The intended rule (Hugging Face)
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
                        *first = (self.vocab.id_or_unk(stripped), stripped.to_string());
                    }
                }
            }
        }
        for (id, p) in &sub {
            emit(*id, p);
        }
        emit(self.vocab.id_or_unk(","), ",");
    }

    /// SentencePiece's `EncodeAsPieces` followed by `PieceToId` on each piece (no ALBERT
    /// preprocessing, no digit-comma rule).
    fn encode_spm_pieces(&self, text: &str, emit: &mut dyn FnMut(u32, &str)) {
        let mut scratch = Scratch::default();
        let mut normalized = String::new();
        self.normalizer.normalize(text, &mut normalized);
        self.vocab.spm_encode(&normalized, &mut scratch);
        for span in &scratch.merged {
            if let Some(bytes) = self.byte_pieces(*span) {
                for &b in &normalized.as_bytes()[span.start as usize..span.end as usize] {
                    let id = bytes[b as usize];
                    emit(id, &self.vocab.pieces[id as usize]);
                }
                continue;
            }
            let piece = &normalized[span.start as usize..span.end as usize];
            let id = if span.id == self.vocab.unk_id { self.vocab.id_or_unk(piece) } else { span.id };
            emit(id, piece);
        }
    }
}

/// `len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()`.
fn ends_with_digit_comma(piece: &str) -> bool {
    let Some(body) = piece.strip_suffix(',') else { return false };
    body.chars().next_back().is_some_and(is_python_digit)
}

