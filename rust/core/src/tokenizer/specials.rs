//! ALBERT's special symbols: the ids they must have (docs/tokenizer.md), the check that a
//! vocabulary has them, and finding them in text, where the Hugging Face pipeline keeps them
//! whole.

use std::borrow::Cow;

use super::model::{bad_model, Tokenizer};
use super::vocab::{PieceKind, Vocab};
use crate::error::Result;
use crate::text::lowercase_chars;

/// The ALBERT special symbols and the ids they must have.
pub const ALBERT_SPECIALS: [(&str, u32); 5] = [("<pad>", 0), ("<unk>", 1), ("[CLS]", 2), ("[SEP]", 3), ("[MASK]", 4)];

/// The special symbols `vocab` has, with their ids there.
pub(super) fn present(vocab: &Vocab) -> Vec<(String, u32)> {
    ALBERT_SPECIALS.iter().filter_map(|&(s, _)| vocab.lookup(s).map(|id| (s.to_string(), id))).collect()
}

impl Tokenizer {
    /// Checks the ALBERT special symbols: `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4,
    /// with `<unk>` the unknown piece and the others control symbols.
    pub fn check_albert_specials(&self) -> Result<()> {
        let mut problems = Vec::new();
        for (piece, want) in ALBERT_SPECIALS {
            let want_kind = if piece == "<unk>" { PieceKind::Unknown } else { PieceKind::Control };
            match self.piece_to_id(piece) {
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
            self.source(),
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

    /// The first special token in `text`: (byte offset, token, id).
    pub(super) fn find_special<'a>(&'a self, text: &str) -> Option<(usize, &'a str, u32)> {
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

    /// Hugging Face's lower-casing: one character at a time, special tokens spared.
    pub(super) fn lowercase_outside_specials<'a>(&self, text: &'a str) -> Cow<'a, str> {
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
}
