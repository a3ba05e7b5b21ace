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
        ..Default::default()
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
    assert_eq!(t.unk_id(), Some(1));
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

fn tok_for(pieces: &[(&str, f32, i32)], byte_fallback: bool, version: &str) -> std::result::Result<Tokenizer, String> {
    let options = EncodeOptions::new(false, false, true).with_sentencepiece(SpmVersion::for_release(version).unwrap());
    Tokenizer::from_bytes(&model_bytes(pieces, byte_fallback, 1), options).map_err(|e| e.to_string())
}

#[test]
fn user_defined_symbols_score_as_the_selected_release_does() {
    // "-x" (-3.05) against "-" + "x" (-3): a user-defined symbol of one byte scores 0 in
    // sentencepiece ≥ 0.2.2, `1 × FLT_MIN − 0.1` before.
    let p = [("<unk>", 0.0, UNKNOWN), ("▁", -2.0, NORMAL), ("-", 0.0, USER), ("-x", -3.05, NORMAL), ("x", -3.0, NORMAL)];
    assert_eq!(tok_for(&p, false, "0.2.3").unwrap().encode_pieces("-x"), ["▁", "-", "x"]);
    assert_eq!(tok_for(&p, false, "0.2.2").unwrap().encode_pieces("-x"), ["▁", "-", "x"]);
    assert_eq!(tok_for(&p, false, "0.2.1").unwrap().encode_pieces("-x"), ["▁", "-x"]);
    assert_eq!(tok_for(&p, false, "0.2.0").unwrap().encode_pieces("-x"), ["▁", "-x"]);
}

#[test]
fn candidates_are_compared_in_f64_before_0_2_2() {
    // The f32 sums of "a" + "b" and "ab" tie (the later candidate loses); their exact sums do
    // not, and ≤ 0.2.1 compares exact sums.
    let p = [("<unk>", 0.0, UNKNOWN), ("▁", -1.0, NORMAL), ("a", -1.375_438_3, NORMAL), ("b", -1.113_389_8, NORMAL),
             ("ab", -2.488_828_2, NORMAL)];
    assert_eq!(tok_for(&p, false, "0.2.3").unwrap().encode_pieces("ab"), ["▁", "ab"]);
    assert_eq!(tok_for(&p, false, "0.2.0").unwrap().encode_pieces("ab"), ["▁", "a", "b"]);
}

#[test]
fn loading_checks_follow_the_release() {
    let base = vec![("<unk>", 0.0, UNKNOWN), ("a", -1.0, NORMAL)];
    let with = |extra: (&'static str, f32, i32)| {
        let mut p = base.clone();
        p.push(extra);
        p
    };
    // NaN or infinite scores: refused from 0.2.2 on.
    let nan = with(("b", f32::NAN, NORMAL));
    assert!(tok_for(&nan, false, "0.2.2").unwrap_err().contains("NaN"));
    assert!(tok_for(&nan, false, "0.2.1").is_ok());
    // Pieces of 8000 bytes or more: refused from 0.2.2 on.
    let long: &'static str = Box::leak("x".repeat(8000).into_boxed_str());
    assert!(tok_for(&with((long, -2.0, NORMAL)), false, "0.2.3").unwrap_err().contains("too long"));
    assert!(tok_for(&with((long, -2.0, NORMAL)), false, "0.2.1").is_ok());
    // A NUL inside a piece: refused (≤ 0.2.1 would cut the piece there).
    assert!(tok_for(&with(("b\0c", -2.0, NORMAL)), false, "0.2.3").unwrap_err().contains("NUL"));
    assert!(tok_for(&with(("b\0c", -2.0, NORMAL)), false, "0.2.0").unwrap_err().contains("cuts it"));
    // A "\0" piece: skipped by 0.2.3 when unused, refused before.
    assert!(tok_for(&with(("\0", 0.0, UNUSED)), false, "0.2.3").is_ok());
    assert!(tok_for(&with(("\0", 0.0, UNUSED)), false, "0.2.2").is_err());
    // A type outside the enum is NORMAL (proto2).
    let t = tok_for(&with(("b", -2.0, 42)), false, "0.2.3").unwrap();
    assert_eq!(t.piece_kind(2), PieceKind::Normal);
    assert_eq!(t.encode("b"), vec![0, 2]);
    // No unknown piece: allowed by 0.2.3 with byte_fallback (unknown characters become bytes).
    let mut bytes: Vec<(&str, f32, i32)> = vec![("a", -1.0, NORMAL)];
    let names: Vec<String> = (0..256).map(|b| format!("<0x{b:02X}>")).collect();
    bytes.extend(names.iter().map(|n| (n.as_str(), 0.0, BYTE)));
    let t = tok_for(&bytes, true, "0.2.3").unwrap();
    assert_eq!(t.unk_id(), None);
    assert_eq!(t.encode_pieces("aé"), ["<0xE2>", "<0x96>", "<0x81>", "a", "<0xC3>", "<0xA9>"]);
    assert!(tok_for(&bytes, true, "0.2.2").unwrap_err().contains("no unknown piece"));
    // A .vocab file.
    let err = Tokenizer::from_bytes(b"<pad>\t0\n<unk>\t0\n\xe2\x96\x81the\t-3.125\n", EncodeOptions::default()).unwrap_err();
    assert!(err.to_string().contains("looks like a .vocab file"), "{err}");
}

fn model_with(pieces: &[(&str, f32, i32)], edit: impl FnOnce(&mut ModelProto)) -> Vec<u8> {
    let mut m: ModelProto = crate::protobuf::decode(&model_bytes(pieces, false, 1)).unwrap();
    edit(&mut m);
    m.encode_to_vec()
}

#[test]
fn self_test_samples_run_up_to_0_2_2_and_the_denormalizer_is_checked_from_0_2_3() {
    use super::model_proto::{SelfTestData, SelfTestSample};
    let p = [("<unk>", 0.0, UNKNOWN), ("▁", -1.0, NORMAL), ("a", -1.0, NORMAL), ("▁a", -1.5, NORMAL)];
    let sample = |expected: &str| SelfTestData {
        samples: vec![SelfTestSample { input: Some("a".into()), expected: Some(expected.into()) }],
    };
    let load = |bytes: &[u8], v: &str| {
        let options = EncodeOptions::default().with_sentencepiece(SpmVersion::for_release(v).unwrap());
        Tokenizer::from_bytes(bytes, options).map_err(|e| e.to_string())
    };
    let passing = model_with(&p, |m| m.self_test_data = Some(sample("▁a").encode_to_vec()));
    let failing = model_with(&p, |m| m.self_test_data = Some(sample("▁ a").encode_to_vec()));
    assert!(load(&passing, "0.2.2").is_ok());
    assert!(load(&failing, "0.2.2").unwrap_err().contains("self-test"));
    assert!(load(&failing, "0.2.3").is_ok(), "0.2.3 reserves the field");
    let bad_denormalizer = model_with(&p, |m| {
        m.denormalizer_spec = Some(NormalizerSpec { precompiled_charsmap: Some(vec![1, 2, 3, 4, 5]), ..Default::default() })
    });
    assert!(load(&bad_denormalizer, "0.2.3").unwrap_err().contains("denormalizer_spec.precompiled_charsmap is invalid"));
    let older = load(&bad_denormalizer, "0.2.2").unwrap();
    assert!(older.encode("a").len() == 1, "encoding does not use the denormalizer");
    assert!(older.decode(&[2]).unwrap_err().to_string().contains("denormalizer_spec.precompiled_charsmap is invalid"));
}
