//! Ids back to text exactly as SentencePiece's `DecodeIds` turns them into text
//! (`sentencepiece_processor.cc`, `Decode`): control pieces vanish, the unknown piece becomes
//! the model's `unk_surface` (" ⁇ "), "▁" becomes a space, the leading "▁" of the text is
//! dropped, runs of byte pieces are joined into UTF-8 (each invalid byte becomes U+FFFD), and a
//! model trained with denormalization rules has them applied last. Hand-written, as the rest of
//! the tokenizer: the ALBERT pipelines only encode, and no crate decodes like SentencePiece.

use super::model::Tokenizer;
use super::normalizer::{SpmNormalizer, SPACE_SYMBOL};
use super::vocab::PieceKind;
use crate::error::{Error, Result};

/// SentencePiece's `kReplacementCharacter`, the surface of a byte that is not valid UTF-8.
const REPLACEMENT: &str = "\u{FFFD}";

/// What decoding needs from the model besides the vocabulary.
#[derive(Debug, Clone)]
pub(super) struct DecodeSpec {
    /// `trainer_spec.unk_surface`.
    pub unk_surface: String,
    /// The text's leading "▁" is dropped (`add_dummy_prefix || remove_extra_whitespaces`).
    pub strip_leading_space: bool,
    /// Every leading "▁"-only piece is dropped, not just the first one
    /// (`remove_extra_whitespaces`).
    pub strip_all_leading_space: bool,
    /// The model's `denormalizer_spec`, when it has rules; `Err` names why its charsmap is
    /// invalid (sentencepiece ≤ 0.2.2 loads such a model and decodes every text to "").
    pub denormalizer: Option<std::result::Result<SpmNormalizer, String>>,
}

impl Tokenizer {
    /// The text of `ids`, as `sentencepiece.SentencePieceProcessor.decode_ids` gives it; an id
    /// outside the vocabulary is an error naming it.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let n = self.vocab.pieces.len();
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= n) {
            return Err(Error::invalid_arg("ids", format!("id {bad} is outside the vocabulary (0..{n})")));
        }
        let spec = &self.decode_spec;
        let mut text = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        // Whether the next piece may still lose its leading "▁": true until some text is out or a
        // piece has consumed it.
        let mut at_start = true;
        let mut leading_consumed = false;
        for &id in ids {
            let kind = self.vocab.kind(id);
            let piece = self.vocab.pieces[id as usize].as_str();
            if kind == PieceKind::Byte {
                bytes.push(byte_of(piece));
                continue;
            }
            push_bytes(&mut text, &mut bytes);
            if leading_consumed || !text.is_empty() {
                at_start = false;
            }
            leading_consumed = false;
            match kind {
                PieceKind::Control => {}
                PieceKind::Unknown => text.push_str(&spec.unk_surface),
                _ => {
                    let mut piece = piece;
                    if at_start && spec.strip_leading_space {
                        if let Some(rest) = piece.strip_prefix(SPACE_SYMBOL) {
                            piece = rest;
                            leading_consumed = !spec.strip_all_leading_space;
                        }
                    }
                    text.push_str(&piece.replace(SPACE_SYMBOL, " "));
                }
            }
        }
        push_bytes(&mut text, &mut bytes);
        if let Some(denormalizer) = &spec.denormalizer {
            let denormalizer = denormalizer.as_ref().map_err(|m| {
                Error::invalid_arg("ids", format!("the model's denormalizer_spec.precompiled_charsmap is invalid ({m}): its text cannot be decoded"))
            })?;
            // A denormalization rule may write bytes that are not UTF-8: shown as U+FFFD.
            let mut out = Vec::with_capacity(text.len());
            denormalizer.normalize(text.as_bytes(), &mut out);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        Ok(text)
    }
}

/// The byte of a byte piece `<0xXX>` (the vocabulary checked the form at load time).
fn byte_of(piece: &str) -> u8 {
    piece.get(3..5).and_then(|hex| u8::from_str_radix(hex, 16).ok()).unwrap_or(0)
}

/// Appends a run of byte pieces as text: every valid UTF-8 sequence as its character, every
/// other byte as U+FFFD (SentencePiece's `DecodeUTF8`: overlong forms, surrogates and code
/// points above U+10FFFF are invalid; one replacement per byte, not per maximal subpart).
fn push_bytes(text: &mut String, bytes: &mut Vec<u8>) {
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        match utf8_prefix(rest) {
            Some((c, len)) => {
                text.push(c);
                rest = &rest[len..];
            }
            None => {
                text.push_str(REPLACEMENT);
                rest = &rest[1..];
            }
        }
    }
    bytes.clear();
}

/// The character a valid UTF-8 sequence at the start of `b` encodes, and its length.
fn utf8_prefix(b: &[u8]) -> Option<(char, usize)> {
    let lead = b[0];
    let (len, min, init) = match lead {
        0x00..=0x7F => return Some((lead as char, 1)),
        _ if lead & 0xE0 == 0xC0 => (2, 0x80, u32::from(lead & 0x1F)),
        _ if lead & 0xF0 == 0xE0 => (3, 0x800, u32::from(lead & 0x0F)),
        _ if lead & 0xF8 == 0xF0 => (4, 0x10000, u32::from(lead & 0x07)),
        _ => return None,
    };
    let tail = b.get(1..len)?;
    if !tail.iter().all(|&t| t & 0xC0 == 0x80) {
        return None;
    }
    let cp = tail.iter().fold(init, |cp, &t| (cp << 6) | u32::from(t & 0x3F));
    // char::from_u32 refuses surrogates and values above U+10FFFF, as IsValidCodepoint does.
    if cp < min {
        return None;
    }
    char::from_u32(cp).map(|c| (c, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_bytes(b: &[u8]) -> String {
        let mut text = String::new();
        push_bytes(&mut text, &mut b.to_vec());
        text
    }

    #[test]
    fn byte_runs_decode_like_sentencepiece() {
        assert_eq!(decode_bytes("aé€😀".as_bytes()), "aé€😀");
        // Overlong "/" (C0 AF), a surrogate (ED A0 80), a truncated sequence (E2 82), a stray
        // continuation byte and F5: one U+FFFD per byte.
        assert_eq!(decode_bytes(&[0xC0, 0xAF]), "\u{FFFD}\u{FFFD}");
        assert_eq!(decode_bytes(&[0xED, 0xA0, 0x80]), "\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(decode_bytes(&[0xE2, 0x82, b'x']), "\u{FFFD}\u{FFFD}x");
        assert_eq!(decode_bytes(&[0x80, 0xF5, 0x80, 0x80, 0x80]), "\u{FFFD}".repeat(5));
        assert_eq!(decode_bytes(&[0xEF, 0xBF, 0xBD]), "\u{FFFD}"); // U+FFFD itself is valid
    }
}
