"""Unit tests of `albert_fast.Tokenizer`: the preprocessing rules one by one (each checked
against the independent oracles), tokenizer directories and their config, and error handling.
The line-by-line corpus comparisons are in `test_tokenizer_parity.py`."""

from __future__ import annotations

import json
import shutil

import pytest

import albert_fast
from albert_fast import ConfigError, InputError, ModelError
from albert_fast.tokenizer import TOKENIZER_CONFIG, Tokenizer, load_tokenizer_config
from tokenizer_oracles import hf_tokenizer, reference_ids_batch


@pytest.fixture(scope="module")
def sp(albert_spm_model):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(albert_spm_model))


def both(model, lowercase=False, strip_accents=False):
    """(reference_compat tokenizer, default tokenizer)."""
    return (Tokenizer(model, lowercase=lowercase, strip_accents=strip_accents, reference_compat=True),
            Tokenizer(model, lowercase=lowercase, strip_accents=strip_accents))


# -- preprocessing rules ----------------------------------------------------------------------

@pytest.mark.parametrize("sep", ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
                                 "\u00a0", "\u1680", "\u2000", "\u2028", "\u2029", "\u202f", "\u3000"])
def test_whitespace_is_pythons_str_split_set(albert_spm_model, sp, sep):
    assert sep.isspace()
    for tok in both(albert_spm_model):
        assert tok.encode(f"{sep}Tom{sep}{sep}Sawyer {sep}") == tok.encode("Tom Sawyer")
    ref = both(albert_spm_model)[0]
    assert ref.encode(f"a{sep}b") == reference_ids_batch(sp, [f"a{sep}b"], False, False)[0]


def test_non_whitespace_is_left_to_sentencepiece(albert_spm_model, sp):
    """Characters Python does not split on reach SentencePiece's own normalizer unchanged."""
    ref = both(albert_spm_model)[0]
    for ch in ["\u200b", "\ufeff", "\u180e", "\u00ad"]:
        assert not ch.isspace()
        for text in [f"a{ch}b", f"{ch}", f" {ch} a {ch}"]:
            assert ref.encode(text) == reference_ids_batch(sp, [text], False, False)[0]


def test_accents_stripped_only_when_asked_q1(albert_spm_model):
    for tok in both(albert_spm_model, strip_accents=True):
        assert tok.encode("Bäume café") == tok.encode("Baume cafe")
        assert tok.tokenize("naïve") == tok.tokenize("naive")
    for tok in both(albert_spm_model, strip_accents=False):
        assert tok.encode("Bäume") != tok.encode("Baume")


def test_lowercase(albert_spm_model):
    for tok in both(albert_spm_model, lowercase=True):
        assert tok.encode("THE Fox") == tok.encode("the fox")
    for tok in both(albert_spm_model, lowercase=False):
        assert tok.encode("THE") != tok.encode("the")


def test_final_sigma_differs_between_references(albert_spm_model):
    """Python's `str.lower` (the original) applies the final-sigma rule; Hugging Face lower-cases
    character by character first, so it never produces "ς"."""
    ref, hf = both(albert_spm_model, lowercase=True)
    assert "ς" in "".join(ref.tokenize("ΣΟΦΟΣ"))
    assert "ς" not in "".join(hf.tokenize("ΣΟΦΟΣ"))
    assert hf.tokenize("ΣΟΦΟΣ") == hf_tokenizer(albert_spm_model, True, False).tokenize("ΣΟΦΟΣ")


def test_quotes_replaced_only_by_default_q3(albert_spm_model):
    ref, hf = both(albert_spm_model)
    assert hf.encode("``Hi''") == hf.encode('"Hi"')
    assert ref.encode("``Hi''") != ref.encode('"Hi"')


def test_special_tokens_in_text(albert_spm_model):
    """Hugging Face keeps special tokens whole (and spares them from lower-casing); the original
    encodes them as ordinary text."""
    ref, hf = both(albert_spm_model, lowercase=True)
    mask = hf.piece_to_id("[MASK]")
    assert mask == 4
    assert mask in hf.encode("The [MASK] sat.")
    assert mask not in ref.encode("The [MASK] sat.")
    assert hf.encode("The [MASK] sat.") == hf_tokenizer(albert_spm_model, True, False).encode(
        "The [MASK] sat.", add_special_tokens=False)


def test_digit_comma_rule_q2(digit_comma_model):
    """"x19," inside a word: the original (Q2) starts a new word ("▁19"), Hugging Face does not."""
    import sentencepiece as spm

    sp_dc = spm.SentencePieceProcessor(model_file=str(digit_comma_model))
    raw = sp_dc.encode("x19,", out_type=str)
    assert raw[-1] == "19,"  # the rule fires on a mid-word piece
    n = len(raw) - 1
    ref, hf = both(digit_comma_model)
    ref_pieces, hf_pieces = ref.tokenize("x19,"), hf.tokenize("x19,")
    assert ref_pieces[-1] == hf_pieces[-1] == ","
    assert ref_pieces[:n] == hf_pieces[:n] == raw[:n]
    assert ref_pieces[n].startswith("\u2581")  # Q2: an extra word start
    assert not any(p.startswith("\u2581") for p in hf_pieces[n:])
    assert "".join(ref_pieces[n:]).replace("\u2581", "") == "".join(hf_pieces[n:]) == "19,"
    assert ref.encode("x19,") == reference_ids_batch(sp_dc, ["x19,"], False, False)[0]
    assert hf.encode("x19,") == hf_tokenizer(digit_comma_model, False, False).encode("x19,", add_special_tokens=False)
    # At a word start both agree: "▁1998," is re-encoded without the comma, then ",".
    assert ref.encode("in 1998, we") == hf.encode("in 1998, we")
    assert ref.tokenize("in 1998, we")[-2] == ","


@pytest.fixture(scope="module")
def digit_comma_model(tmp_path_factory, albert_spm_model):
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    proto = model_pb2.ModelProto()
    proto.ParseFromString(albert_spm_model.read_bytes())
    for piece in ["19,", "\u258119,", "98,", "\u25811998,"]:
        proto.pieces.add(piece=piece, score=-2.0, type=model_pb2.ModelProto.SentencePiece.NORMAL)
    out = tmp_path_factory.mktemp("dc") / "spiece.model"
    out.write_bytes(proto.SerializeToString())
    return out


def test_empty_and_blank_text(albert_spm_model):
    for tok in both(albert_spm_model):
        assert tok.encode("") == [] and tok.encode(" \t\u3000") == [] and tok.tokenize("") == []
        assert tok.encode_batch([]) == []


def test_bytes_input_and_batch(albert_spm_model):
    tok = Tokenizer(albert_spm_model)
    texts = ["Tom Sawyer", "Die Bäume", "Les arbres, 1860,", ""] * 50
    assert tok.encode("Die Bäume".encode()) == tok.encode("Die Bäume")
    batch1 = tok.encode_batch(texts, threads=1)
    assert batch1 == tok.encode_batch(texts, threads=2) == [tok.encode(t) for t in texts]
    assert tok.encode_batch(t for t in texts[:3]) == batch1[:3]


# -- vocabulary ---------------------------------------------------------------------------------

def test_vocabulary_and_specials(albert_spm_model, sp):
    tok = Tokenizer(albert_spm_model)
    assert tok.vocab_size == len(tok) == sp.get_piece_size() == 4000
    assert tok.pieces() == [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    assert tok.id_to_piece(2) == "[CLS]" and tok.piece_to_id("[SEP]") == 3
    assert tok.piece_to_id("definitely-not-a-piece") is None
    assert [tok.piece_kind(i) for i in range(5)] == ["control", "unknown", "control", "control", "control"]
    assert tok.piece_kind(5) == "user_defined" and tok.id_to_piece(5) == "("
    assert tok.piece_kind(100) == "normal"
    assert tok.special_ids() == {"<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
    assert tok.unk_id == 1
    tok.check_albert_specials()
    with pytest.raises(IndexError, match="outside the vocabulary"):
        tok.id_to_piece(4000)
    with pytest.raises(IndexError):
        tok.piece_kind(-1)


def test_core_exposes_the_albert_specials_and_model_file_name(albert_spm_model):
    from albert_fast import _core

    assert _core.ALBERT_SPECIALS == (("<pad>", 0), ("<unk>", 1), ("[CLS]", 2), ("[SEP]", 3), ("[MASK]", 4))
    assert _core.MODEL_FILE == "spiece.model"
    assert Tokenizer(albert_spm_model).special_ids() == dict(_core.ALBERT_SPECIALS)


def test_check_albert_specials_names_the_problem(tmp_path, literature_dir):
    from conftest import train_albert_spm

    model = train_albert_spm(literature_dir, tmp_path, vocab_size=1000, control_symbols="[CLS],[MASK]",
                             bos_id=-1, user_defined_symbols="")
    tok = Tokenizer(model)
    with pytest.raises(ModelError, match=r"\[MASK\] has id 3, expected 4.*\[SEP\] is missing|"
                                         r"\[SEP\] is missing.*\[MASK\] has id 3, expected 4"):
        tok.check_albert_specials()


# -- tokenizer directories and config --------------------------------------------------------------

def _tokenizer_dir(tmp_path, model, **config):
    d = tmp_path / "tok"
    d.mkdir()
    shutil.copy(model, d / "spiece.model")
    if config is not None:
        (d / TOKENIZER_CONFIG).write_text(json.dumps(config))
    return d


def test_directory_config_sets_normalization(tmp_path, albert_spm_model):
    d = _tokenizer_dir(tmp_path, albert_spm_model, lowercase=False, strip_accents=True,
                       model_file="spiece.model", spiece_sha256=Tokenizer(albert_spm_model).model_sha256)
    tok = Tokenizer(d)
    assert (tok.lowercase, tok.strip_accents, tok.reference_compat) == (False, True, False)
    assert tok.config["lowercase"] is False
    # Explicit arguments override the recorded values.
    tok = Tokenizer(d, lowercase=True, strip_accents=False, reference_compat=True)
    assert (tok.lowercase, tok.strip_accents, tok.reference_compat) == (True, False, True)
    # The .model inside the directory reads the config beside it.
    assert Tokenizer(d / "spiece.model").strip_accents is True
    assert load_tokenizer_config(d)["strip_accents"] is True


def test_defaults_without_config(tmp_path, albert_spm_model):
    d = tmp_path / "bare"
    d.mkdir()
    shutil.copy(albert_spm_model, d / "spiece.model")
    assert load_tokenizer_config(d) is None
    tok = Tokenizer(d)
    assert (tok.lowercase, tok.strip_accents, tok.reference_compat) == (True, False, False)
    assert len(tok.model_sha256) == 64


def test_bad_config_values(tmp_path, albert_spm_model):
    d = _tokenizer_dir(tmp_path, albert_spm_model, lowercase="yes")
    with pytest.raises(ConfigError, match="lowercase.*'yes'"):
        Tokenizer(d)
    (d / TOKENIZER_CONFIG).write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Tokenizer(d)
    (d / TOKENIZER_CONFIG).write_text(json.dumps({"spiece_sha256": "0" * 64}))
    with pytest.raises(ModelError, match="does not match spiece_sha256"):
        Tokenizer(d)
    with pytest.raises(ConfigError, match="strip_accents"):
        Tokenizer(albert_spm_model, strip_accents="no")
    with pytest.raises(ConfigError, match="threads"):
        Tokenizer(albert_spm_model).encode_batch(["a"], threads=0)


# -- errors -------------------------------------------------------------------------------------------

def test_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.model"):
        Tokenizer(tmp_path / "nope.model")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(FileNotFoundError, match="spiece.model"):
        Tokenizer(tmp_path / "empty_dir")


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"this is a text file, not a SentencePiece model\n" * 3, "not a usable SentencePiece model"),
    (b"\x0a\xff\xff\xff\x0f", "corrupt"),
])
def test_corrupt_model(tmp_path, content, message):
    bad = tmp_path / "bad.model"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match=message) as info:
        Tokenizer(bad)
    assert str(bad) in str(info.value)


def test_truncated_model(tmp_path, albert_spm_model):
    bad = tmp_path / "truncated.model"
    bad.write_bytes(albert_spm_model.read_bytes()[:5000])
    with pytest.raises(ModelError, match="truncated.model"):
        Tokenizer(bad)


def test_bpe_model_is_refused_clearly(tmp_path, literature_dir):
    from conftest import train_albert_spm

    model = train_albert_spm(literature_dir, tmp_path, vocab_size=500, model_type="bpe")
    with pytest.raises(ModelError, match="bpe.*only unigram"):
        Tokenizer(model)


def test_invalid_text_input(albert_spm_model):
    tok = Tokenizer(albert_spm_model)
    with pytest.raises(InputError, match="not valid UTF-8"):
        tok.encode(b"abc\xff")
    with pytest.raises(InputError, match="surrogate"):
        tok.encode("abc\ud800")
    with pytest.raises(InputError, match=r"texts\[1\]"):
        tok.encode_batch(["ok", b"\xc3"])
    with pytest.raises(TypeError, match="str or bytes"):
        tok.encode(42)
    with pytest.raises(TypeError, match="sequence of texts"):
        tok.encode_batch("a single string")


def test_pickle_round_trip(albert_spm_model):
    import pickle

    tok = Tokenizer(albert_spm_model, lowercase=False, strip_accents=True, reference_compat=True)
    back = pickle.loads(pickle.dumps(tok))
    assert (back.lowercase, back.strip_accents, back.reference_compat) == (False, True, True)
    assert back.encode("Bäume, 1998, ``x''") == tok.encode("Bäume, 1998, ``x''")


def test_public_api_exported():
    assert albert_fast.Tokenizer is Tokenizer
    assert "Tokenizer" in albert_fast.__all__
