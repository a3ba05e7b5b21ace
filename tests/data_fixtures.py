"""Test inputs for create-data: real text in the reference format (one sentence per line, a blank
line between documents) and a small ALBERT-style SentencePiece model trained on it with the
``sentencepiece`` package (an independent implementation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201c\u201d\u00bb\u00ab]?\s+(?=[\"'\u201e\u00bb\u00ab(]?[A-Z\u00c4\u00d6\u00dc])")


def to_reference_format(text: str, paragraphs_per_document: int = 4, max_sentences: int = 30) -> str:
    """Paragraphs -> sentences (a simple regex split, enough for fixtures), every
    ``paragraphs_per_document`` paragraphs one document of at most ``max_sentences`` sentences
    (a book's dialogue can otherwise make one 800-sentence "document", and the number of
    instances a document yields then dominates every statistic of a small corpus)."""
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if p]
    docs = []
    for i in range(0, len(paras), paragraphs_per_document):
        sentences: list[str] = []
        for p in paras[i:i + paragraphs_per_document]:
            sentences += [s.strip() for s in _SENTENCE_END.split(p) if s.strip()]
        for k in range(0, len(sentences), max_sentences):
            docs.append("\n".join(sentences[k:k + max_sentences]))
    return "\n\n".join(docs) + "\n"


def write_corpus(sources: list[Path], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        dst = out_dir / src.name
        dst.write_text(to_reference_format(src.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(dst)
    return written


def train_albert_spm(files: list[Path], out_dir: Path, vocab_size: int = 4000, *,
                     lowercase: bool = True, control_symbols: str = "[CLS],[SEP],[MASK]") -> Path:
    """An ALBERT-style unigram model (pad 0, unk 1, [CLS] 2, [SEP] 3, [MASK] 4) plus a
    ``tokenizer_config.json`` recording its normalization."""
    import sentencepiece as spm
    from conftest import ALBERT_USER_DEFINED_SYMBOLS

    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        input=",".join(str(f) for f in files), model_prefix=str(out_dir / "spiece"),
        vocab_size=vocab_size, pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
        control_symbols=control_symbols, user_defined_symbols=ALBERT_USER_DEFINED_SYMBOLS,
        character_coverage=0.99995, model_type="unigram", minloglevel=2,
        normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
        num_threads=2)
    (out_dir / "tokenizer_config.json").write_text(json.dumps(
        {"model_file": "spiece.model", "lowercase": lowercase, "strip_accents": False}))
    return out_dir


# -- shared pytest fixtures (imported by the create-data test modules) --------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The bundled corpus (English + German) in the reference format."""
    from conftest import EXAMPLES

    d = tmp_path_factory.mktemp("corpus")
    write_corpus(sorted(EXAMPLES.glob("*.txt")), d)
    return d


@pytest.fixture(scope="session")
def spm_dir(tmp_path_factory, corpus_dir) -> Path:
    return train_albert_spm(sorted(corpus_dir.glob("*.txt")), tmp_path_factory.mktemp("tok"))


# -- prepare-corpus (test_prepare_corpus.py, test_corpus_inputs.py) -------------------------------


@pytest.fixture(scope="session")
def punkt_dir(examples_dir: Path, tmp_path_factory) -> Path:
    """Punkt parameters trained (NLTK-identically) on one bundled English book."""
    from albert_fast.prepare_corpus import train_punkt

    d = tmp_path_factory.mktemp("punkt") / "en"
    train_punkt((examples_dir / "en-twain4.txt").read_text(encoding="utf-8"), d)
    return d


def prep(inputs, out, punkt_dir, **kw):
    import albert_fast

    return albert_fast.prepare_corpus(inputs, out, punkt_params=str(punkt_dir), **kw)


def read_docs(out: Path) -> list[list[str]]:
    """The documents of all shards, each a list of sentences (lines)."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(out.glob("corpus-*.txt")))
    return [block.split("\n") for block in text.split("\n\n") if block.strip("\n")]
