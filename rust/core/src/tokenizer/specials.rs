//! ALBERT's special symbols: the ids they must have (docs/tokenizer.md), the check that a
//! vocabulary has them, and finding them in text, where the Hugging Face pipeline keeps them
//! whole.

use std::borrow::Cow;

use super::vocab::{PieceKind, Vocab};
use crate::text::lowercase_chars;

/// The ALBERT special symbols and the ids they must have.
pub const ALBERT_SPECIALS: [(&str, u32); 5] = [("<pad>", 0), ("<unk>", 1), ("[CLS]", 2), ("[SEP]", 3), ("[MASK]", 4)];

/// Why `vocab` is not an ALBERT vocabulary, if it is not: `<pad>`=0, `<unk>`=1, `[CLS]`=2,
/// `[SEP]`=3, `[MASK]`=4, with `<unk>` the unknown piece and the others control symbols.
pub(super) fn check(vocab: &Vocab) -> Result<(), String> {
    let mut problems = Vec::new();
    for (piece, want) in ALBERT_SPECIALS {
        let want_kind = if piece == "<unk>" { PieceKind::Unknown } else { PieceKind::Control };
        match vocab.lookup(piece) {
            None => problems.push(format!("{piece} is missing (expected id {want})")),
            Some(id) if id != want => problems.push(format!("{piece} has id {id}, expected {want}")),
            Some(id) if vocab.kind(id) != want_kind => {
                problems.push(format!("{piece} is a {} piece, expected {}", vocab.kind(id).name(), want_kind.name()))
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not an ALBERT vocabulary: {}. Train it with --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1 \
         --control_symbols=[CLS],[SEP],[MASK] (albert-fast train-tokenizer does)",
        problems.join("; ")
    ))
}

/// The special symbols a vocabulary has, with their ids there.
#[derive(Debug, Clone)]
pub(super) struct Specials(Vec<(String, u32)>);

impl Specials {
    pub(super) fn of(vocab: &Vocab) -> Specials {
        Specials(ALBERT_SPECIALS.iter().filter_map(|&(s, _)| vocab.lookup(s).map(|id| (s.to_string(), id))).collect())
    }

    pub(super) fn list(&self) -> &[(String, u32)] {
        &self.0
    }

    /// Whether `text` may hold one: special tokens start with '[' or '<', and lower-casing never
    /// creates either.
    pub(super) fn may_occur_in(&self, text: &str) -> bool {
        !self.0.is_empty() && text.bytes().any(|b| b == b'[' || b == b'<')
    }

    /// The first special token in `text`: (byte offset, token, id).
    pub(super) fn find<'a>(&'a self, text: &str) -> Option<(usize, &'a str, u32)> {
        if !self.may_occur_in(text) {
            return None;
        }
        let bytes = text.as_bytes();
        for (at, &b) in bytes.iter().enumerate() {
            if b != b'[' && b != b'<' {
                continue;
            }
            for (s, id) in &self.0 {
                if bytes[at..].starts_with(s.as_bytes()) {
                    return Some((at, s.as_str(), *id));
                }
            }
        }
        None
    }

    /// Hugging Face's lower-casing: one character at a time, special tokens spared.
    pub(super) fn lowercase_outside<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.find(text).is_none() {
            return lowercase_chars(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some((at, piece, _)) = self.find(rest) {
            out.push_str(&lowercase_chars(&rest[..at]));
            out.push_str(piece);
            rest = &rest[at + piece.len()..];
        }
        out.push_str(&lowercase_chars(rest));
        Cow::Owned(out)
    }
}
