"""`Tokenizer.decode`: ids back to text exactly as the `sentencepiece` package's `decode_ids`,
on the ids of real corpus lines and on random id sequences (control symbols, `<unk>`,
user-defined symbols, byte pieces that are not valid UTF-8), for an ALBERT model, a
byte-fallback model, and a model with its own unk_surface, denormalization rules and no dummy
prefix."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sentencepiece as spm

import albert_fast
from conftest import train_albert_spm
from tokenizer_oracles import read_lines


@pytest.fixture(scope="module")
def corpus_lines(literature_dir) -> list[str]:
    lines = read_lines(literature_dir)
    return lines[::20] + ["Ἀθῆναι, Москва, 東京, ﬁne ligatures ＡＢＣ ① (a) - \"b\" – £5 €3",
                          "  lots   of\tspaces ", "[CLS] a [MASK] b [SEP] <unk> <pad>", ""]


@pytest.fixture(scope="module")
def special_model(tmp_path_factory, literature_dir):
    """unk_surface "<?>", denormalization rules ("." -> "..."), no dummy prefix, extra
    whitespace kept."""
    out = tmp_path_factory.mktemp("spm_decode")
    rules = out / "denorm.tsv"
    rules.write_text("2E\t2E 2E 2E\n", encoding="utf-8")
    return train_albert_spm(literature_dir, out, vocab_size=2000, unk_surface="<?>",
                            denormalization_rule_tsv=str(rules), add_dummy_prefix=False,
                            remove_extra_whitespaces=False, byte_fallback=True)


def _random_ids(n_pieces: int, rng: random.Random, sp) -> list[list[int]]:
    """Sequences mixing every kind of piece, byte pieces in runs (valid and broken UTF-8)."""
    kinds: dict[str, list[int]] = {}
    for i in range(n_pieces):
        kind = ("control" if sp.is_control(i) else "unknown" if sp.is_unknown(i)
                else "byte" if sp.is_byte(i) else "normal")
        kinds.setdefault(kind, []).append(i)
    out = []
    for _ in range(400):
        seq: list[int] = []
        for _ in range(rng.randint(0, 12)):
            kind = rng.choice(sorted(kinds))
            if kind == "byte":
                seq.extend(rng.choice(kinds["byte"]) for _ in range(rng.randint(1, 5)))
            else:
                seq.append(rng.choice(kinds[kind]))
        out.append(seq)
    return out


def _check(model, texts_ids: list[list[int]]) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(model))
    tok = albert_fast.Tokenizer(model, lowercase=False)
    ours = tok.decode_batch(texts_ids)
    want = [sp.decode_ids(ids) for ids in texts_ids]
    bad = [(ids, o, w) for ids, o, w in zip(texts_ids, ours, want) if o != w]
    assert not bad, f"{len(bad)} of {len(texts_ids)} differ, first: {bad[0]}"
    assert ours[:50] == [tok.decode(ids) for ids in texts_ids[:50]]


def test_decode_of_corpus_ids_is_sentencepiece_decode(albert_spm_model, corpus_lines):
    tok = albert_fast.Tokenizer(albert_spm_model, lowercase=False)
    ids = tok.encode_batch(corpus_lines)
    assert any(tok.piece_kind(i) == "user_defined" for seq in ids for i in seq)
    assert any(i == tok.unk_id for seq in ids for i in seq)
    _check(albert_spm_model, ids)


def test_decode_of_random_ids_is_sentencepiece_decode(albert_spm_model):
    sp = spm.SentencePieceProcessor(model_file=str(albert_spm_model))
    _check(albert_spm_model, _random_ids(sp.get_piece_size(), random.Random(1), sp))


def test_decode_byte_fallback(albert_spm_model_byte_fallback, corpus_lines):
    model = albert_spm_model_byte_fallback
    tok = albert_fast.Tokenizer(model, lowercase=False)
    ids = tok.encode_batch(corpus_lines)
    assert any(tok.piece_kind(i) == "byte" for seq in ids for i in seq)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    _check(model, ids + _random_ids(sp.get_piece_size(), random.Random(2), sp))


def test_decode_unk_surface_denormalizer_and_whitespace_flags(special_model, corpus_lines):
    sp = spm.SentencePieceProcessor(model_file=str(special_model))
    assert sp.decode_ids([1]) == "<?>" and "..." in sp.decode_ids(sp.encode_as_ids("a. b"))
    ids = [sp.encode_as_ids(line) for line in corpus_lines[:2000]]
    _check(special_model, ids + _random_ids(sp.get_piece_size(), random.Random(3), sp))


def test_decode_arguments(albert_spm_model):
    tok = albert_fast.Tokenizer(albert_spm_model)
    ids = tok.encode("The quick brown fox.")
    assert tok.decode(np.asarray(ids, dtype=np.int64)) == "the quick brown fox."
    assert tok.decode([2, *ids, 3, 0, 0]) == "the quick brown fox."  # specials vanish
    for bad in ([tok.vocab_size], [-1]):
        with pytest.raises(IndexError, match="outside the vocabulary"):
            tok.decode(bad)
    with pytest.raises(IndexError):
        tok.decode_batch([ids, [10**6]])
    with pytest.raises(albert_fast.ConfigError):
        tok.decode_batch([ids], threads=0)
    assert tok.decode_batch([ids, []], threads=2) == ["the quick brown fox.", ""]
