//! Unit tests on hand-built models (identity normalizer). The differential tests against the
//! `sentencepiece` package and `transformers` on real text are in `tests/test_tokenizer_parity.py`.

use std::path::Path;

use prost::Message;

use super::model_proto::{ModelProto, NormalizerSpec, SentencePiece, TrainerSpec};
use super::*;
use crate::error::Error;

const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const USER: i32 = 4;
const UNUSED: i32 = 5;
const BYTE: i32 = 6;

fn model_bytes(pieces: &[(&str, f32, i32)], byte_fallback: bool, model_type: i32) -> Vec<u8> {
    ModelProto {
        pieces: pieces
            .iter()
            .map(|&(p, s, k)| SentencePiece { piece: Some(p.into()), score: Some(s), r#type: Some(k) })
            .collect(),
        trainer_spec: Some(TrainerSpec {
            model_type: Some(model_type),
            byte_fallback: byte_fallback.then_some(true),
            ..Default::default()
        }),
        normalizer_spec: Some(NormalizerSpec { name: Some("identity".into()), ..Default::default() }),
        denormalizer_spec: None,
    }
    .encode_to_vec()
}

/// An ALBERT-shaped vocabulary: specials 0–4, user-defined "(" and "-", then learned pieces.
fn albert_pieces() -> Vec<(&'static str, f32, i32)> {
    vec![
        ("<pad>", 0.0, CONTROL),
        ("<unk>", 0.0, UNKNOWN),
        ("[CLS]", 0.0, CONTROL),
        ("[SEP]", 0.0, CONTROL),
        ("[MASK]", 0.0, CONTROL),
        ("(", 0.0, USER),
        ("-", 0.0, USER),
        ("▁", -2.0, NORMAL),
        ("▁the", -3.0, NORMAL),
        ("▁a", -4.0, NORMAL),
        ("b", -4.0, NORMAL),
        ("ab", -9.0, NORMAL),
        ("▁ab", -5.0, NORMAL),
        (",", -3.0, NORMAL),
        ("1", -5.0, NORMAL),
        ("9", -5.0, NORMAL),
        ("19", -6.0, NORMAL),
        ("▁19", -6.5, NORMAL),
        ("19,", -6.0, NORMAL),
        ("▁19,", -6.2, NORMAL),
        ("x", -5.0, NORMAL),
        ("▁x", -5.0, NORMAL),
        ("mask", -5.0, NORMAL),
        ("[", -5.0, NORMAL),
        ("]", -5.0, NORMAL),
        ("zz", -1.0, UNUSED),
        ("z", -6.0, NORMAL),
        ("▁z", -7.0, NORMAL),
        ("\"", -5.0, NORMAL),
        ("`", -5.0, NORMAL),
    ]
}

fn tok(lowercase: bool, reference_compat: bool) -> Tokenizer {
    let bytes = model_bytes(&albert_pieces(), false, 1);
    Tokenizer::from_bytes(&bytes, EncodeOptions::new(lowercase, false, reference_compat)).unwrap()
}

fn pieces(t: &Tokenizer, text: &str) -> Vec<String> {
    t.encode_pieces(text)
}

#[test]
fn vocabulary_and_kinds() {
    let t = tok(false, false);
    assert_eq!(t.vocab_size(), albert_pieces().len());
    assert_eq!(t.id_to_piece(2), "[CLS]");
    assert_eq!(t.id_to_piece(9999), "");
    assert_eq!(t.piece_to_id("▁the"), Some(8));
    assert_eq!(t.piece_to_id("nope"), None);
    assert_eq!(t.piece_kind(1), PieceKind::Unknown);
    assert_eq!(t.piece_kind(4), PieceKind::Control);
    assert_eq!(t.piece_kind(5), PieceKind::UserDefined);
    assert_eq!(t.piece_kind(25), PieceKind::Unused);
    assert_eq!(t.piece_kind(8), PieceKind::Normal);
    assert_eq!(t.unk_id(), 1);
    assert_eq!(t.model_sha256().len(), 64);
    t.check_albert_specials().unwrap();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tokenizer>();
}

#[test]
fn viterbi_picks_the_best_path() {
    let t = tok(false, false);
    // "▁ab" (-5) beats "▁a"+"b" (-8) and "▁"+"ab" (-11).
    assert_eq!(pieces(&t, "ab"), ["▁ab"]);
    assert_eq!(pieces(&t, "the ab"), ["▁the", "▁ab"]);
    // Unused pieces are never produced: "zz" is unused, so "z" "z".
    assert_eq!(pieces(&t, "zz"), ["▁z", "z"]);
}

#[test]
fn unknown_characters_merge_into_one_piece() {
    let t = tok(false, false);
    assert_eq!(pieces(&t, "aqqb"), ["▁a", "qq", "b"]);
    assert_eq!(t.encode("aqqb"), vec![9, 1, 10]);
    // A lone unknown character right after the dummy prefix.
    assert_eq!(pieces(&t, "é"), ["▁", "é"]);
}

#[test]
fn user_defined_symbols_are_whole_pieces() {
    let t = tok(false, false);
    assert_eq!(pieces(&t, "x(x-x"), ["▁x", "(", "x", "-", "x"]);
}

#[test]
fn whitespace_is_collapsed_like_python_split() {
    let t = tok(false, false);
    assert_eq!(t.encode("  the\u{1c}ab \t"), t.encode("the ab"));
    assert!(t.encode(" \u{1f}\u{a0} ").is_empty());
    assert!(t.encode("").is_empty());
}

#[test]
fn digit_comma_rule_intended_in_default_mode() {
    let t = tok(false, false);
    // A word-initial piece: "▁19," -> "▁19" + "," in both modes.
    assert_eq!(pieces(&t, "19,"), ["▁19", ","]);
    // A mid-word piece "19,": Hugging Face drops the "▁" re-encoding adds -> "19" + ",".
    assert_eq!(pieces(&t, "x19,"), ["▁x", "19", ","]);
}

#[test]
fn digit_comma_rule_q2_in_reference_mode() {
    let t = tok(false, true);
    assert_eq!(pieces(&t, "19,"), ["▁19", ","]);
    // Q2: the original never drops the "▁" under Python 3, so a new word starts mid-word.
    assert_eq!(pieces(&t, "x19,"), ["▁x", "▁19", ","]);
}

#[test]
fn special_tokens_kept_whole_only_in_default_mode() {
    let hf = tok(true, false);
    assert_eq!(pieces(&hf, "x [MASK] x"), ["▁x", "[MASK]", "▁x"]);
    assert_eq!(hf.encode("x[MASK]"), vec![21, 4]);
    // Lower-casing spares the special tokens.
    assert_eq!(pieces(&hf, "X[CLS]"), ["▁x", "[CLS]"]);
    let reference = tok(true, true);
    assert_eq!(pieces(&reference, "x [MASK] x"), ["▁x", "▁", "[", "mask", "]", "▁x"]);
}

#[test]
fn quotes_replaced_only_in_default_mode_q3() {
    let hf = tok(false, false);
    assert_eq!(pieces(&hf, "``x''"), ["▁", "\"", "x", "\""]);
    let reference = tok(false, true);
    assert_eq!(pieces(&reference, "``x"), ["▁", "`", "`", "x"]);
}

#[test]
fn byte_fallback_splits_unknown_characters_into_bytes() {
    let mut p = albert_pieces();
    let names: Vec<String> = (0..256).map(|b| format!("<0x{b:02X}>")).collect();
    for n in &names {
        p.push((n.as_str(), 0.0, BYTE));
    }
    let t = Tokenizer::from_bytes(&model_bytes(&p, true, 1), EncodeOptions::new(false, false, false)).unwrap();
    assert_eq!(pieces(&t, "aé"), ["▁a", "<0xC3>", "<0xA9>"]);
    assert_eq!(t.piece_kind(t.piece_to_id("<0xC3>").unwrap()), PieceKind::Byte);
}

#[test]
fn decode_is_sentencepiece_decode_ids() {
    let t = tok(false, false);
    let ids = |ps: &[&str]| ps.iter().map(|p| t.piece_to_id(p).unwrap()).collect::<Vec<u32>>();
    // Control pieces vanish, the unknown piece is " ⁇ ", "▁" is a space, the text's leading
    // "▁" goes (also after leading control pieces), user-defined and unused pieces are text.
    assert_eq!(t.decode(&ids(&["[CLS]", "▁the", "▁ab", "(", "zz", "[SEP]"])).unwrap(), "the ab(zz");
    assert_eq!(t.decode(&ids(&["▁a", "<unk>", "b"])).unwrap(), "a \u{2047} b");
    assert_eq!(t.decode(&ids(&["<unk>", "▁a"])).unwrap(), " \u{2047}  a");
    // remove_extra_whitespaces: every leading "▁"-only piece goes, not just the first.
    assert_eq!(t.decode(&ids(&["▁", "▁", "▁a", "▁"])).unwrap(), "a ");
    assert_eq!(t.decode(&[]).unwrap(), "");
    assert!(t.decode(&[9999]).unwrap_err().to_string().contains("9999"));
}

#[test]
fn decode_joins_byte_pieces_into_utf8() {
    let mut p = albert_pieces();
    let names: Vec<String> = (0..256).map(|b| format!("<0x{b:02X}>")).collect();
    for n in &names {
        p.push((n.as_str(), 0.0, BYTE));
    }
    let t = Tokenizer::from_bytes(&model_bytes(&p, true, 1), EncodeOptions::new(false, false, false)).unwrap();
    let ids = t.encode("aé b");
    assert_eq!(t.decode(&ids).unwrap(), "aé b");
    let byte = |b: u8| t.piece_to_id(&format!("<0x{b:02X}>")).unwrap();
    // A truncated sequence: one U+FFFD per byte, then the next piece.
    let a = t.piece_to_id("▁a").unwrap();
    assert_eq!(t.decode(&[byte(0xE2), byte(0x82), a]).unwrap(), "\u{FFFD}\u{FFFD} a");
    // Bytes first: the text is no longer empty, so "▁a" keeps its space.
    assert_eq!(t.decode(&[byte(b'x'), a]).unwrap(), "x a");
}

#[test]
fn batch_is_ordered_and_independent_of_threads() {
    let t = tok(true, false);
    let texts: Vec<String> = (0..200).map(|i| format!("The ab {i}, x19, [MASK] qq{i}")).collect();
    let one = t.encode_batch(&texts, Some(1)).unwrap();
    let two = t.encode_batch(&texts, Some(2)).unwrap();
    assert_eq!(one, two);
    assert_eq!(one[7], t.encode(&texts[7]));
    assert!(t.encode_batch(&texts, Some(0)).is_err());
}

#[test]
fn bad_models_give_clear_errors() {
    let msg = |bytes: &[u8]| Tokenizer::from_bytes(bytes, EncodeOptions::default()).unwrap_err().to_string();
    assert!(msg(b"").contains("empty"), "{}", msg(b""));
    assert!(msg(&[0x0a, 0x50, 0x01]).contains("corrupt"));
    let bpe = model_bytes(&albert_pieces(), false, 2);
    assert!(msg(&bpe).contains("only unigram"), "{}", msg(&bpe));
    let no_unk = model_bytes(&[("a", -1.0, NORMAL)], false, 1);
    assert!(msg(&no_unk).contains("unknown piece"));
    let dup = model_bytes(&[("<unk>", 0.0, UNKNOWN), ("a", -1.0, NORMAL), ("a", -2.0, NORMAL)], false, 1);
    assert!(msg(&dup).contains("defined twice"));
    let bytes_without_flag = model_bytes(&[("<unk>", 0.0, UNKNOWN), ("<0x00>", 0.0, BYTE), ("a", -1.0, NORMAL)], false, 1);
    assert!(msg(&bytes_without_flag).contains("byte_fallback"));
    let err = Tokenizer::from_file(Path::new("/nonexistent/x.model"), EncodeOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
}

#[test]
fn albert_specials_are_checked() {
    let p = vec![("<unk>", 0.0, UNKNOWN), ("<pad>", 0.0, CONTROL), ("a", -1.0, NORMAL)];
    let t = Tokenizer::from_bytes(&model_bytes(&p, false, 1), EncodeOptions::default()).unwrap();
    let err = t.check_albert_specials().unwrap_err().to_string();
    assert!(err.contains("<pad> has id 1, expected 0"), "{err}");
    assert!(err.contains("[CLS] is missing"), "{err}");
}
