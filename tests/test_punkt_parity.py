"""Differential tests: the Rust Punkt splitter against NLTK's PunktSentenceTokenizer (the real,
independent implementation) with identical parameters, on real English and German text."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer, PunktTrainer

from albert_fast import _core
from albert_fast.prepare_corpus import PUNKT_FILES, save_punkt_params


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks (how the book files mark paragraphs), lines kept as they are:
    the documents of the parity measurement."""
    out, block = [], []
    for line in text.split("\n"):
        if line.strip():
            block.append(line)
        elif block:
            out.append("\n".join(block))
            block = []
    if block:
        out.append("\n".join(block))
    return out


def _train(texts: list[str], directory: Path) -> PunktParameters:
    trainer = PunktTrainer()
    trainer.train("\n\n".join(texts), finalize=True)
    params = trainer.get_params()
    save_punkt_params(params, directory)
    return params


@pytest.fixture(scope="session")
def english(literature_dir: Path, tmp_path_factory) -> tuple[PunktParameters, Path, list[Path]]:
    files = sorted(literature_dir.glob("en-*.txt"))
    d = tmp_path_factory.mktemp("punkt-en")
    return _train([f.read_text(encoding="utf-8") for f in files], d), d, files


@pytest.fixture(scope="session")
def german(literature_dir: Path, tmp_path_factory) -> tuple[PunktParameters, Path, list[Path]]:
    files = sorted(literature_dir.glob("de-*.txt"))
    d = tmp_path_factory.mktemp("punkt-de")
    # Trained on the two smaller novels and the short tales to keep the test quick; split all.
    train = [f for f in files if f.name in ("de-HMann1.txt", "de-HMann3.txt", "de-grimm2.txt")]
    return _train([f.read_text(encoding="utf-8") for f in train], d), d, files


def _agreement(params: PunktParameters, params_dir: Path, files: list[Path]) -> tuple[int, list]:
    nltk = PunktSentenceTokenizer(params)
    ours = _core.PunktSplitter(str(params_dir))
    total, differences = 0, []
    for f in files:
        text = f.read_text(encoding="utf-8")
        docs = paragraphs(text)
        total += len(docs)
        for doc, theirs, mine in zip(docs, (nltk.tokenize(d) for d in docs), ours.tokenize_many(docs)):
            if theirs != mine:
                differences.append((f.name, doc[:200], theirs, mine))
        # The whole book as one text, too: long documents, paragraph breaks inside.
        if nltk.tokenize(text) != ours.tokenize(text):
            differences.append((f.name, "<whole file>", None, None))
    return total, differences


def test_punkt_matches_nltk_on_english_paragraphs(english):
    total, diffs = _agreement(*english)
    assert total > 5000
    rate = 1 - len(diffs) / total
    assert rate >= 0.999, diffs[:5]
    assert diffs == [], f"agreement {rate:.5f}: {diffs[:3]}"


def test_punkt_matches_nltk_on_german_paragraphs(german):
    total, diffs = _agreement(*german)
    assert total > 3800
    rate = 1 - len(diffs) / total
    assert rate >= 0.999, diffs[:5]
    assert diffs == [], f"agreement {rate:.5f}: {diffs[:3]}"


def test_span_tokenize_gives_nltk_character_offsets(english):
    params, d, _ = english
    text = "Über den Fluß. «Ja!» sagte er. Dr. Müller kam... Und dann? Nichts."
    assert _core.PunktSplitter(str(d)).span_tokenize(text) == list(PunktSentenceTokenizer(params).span_tokenize(text))


# Characters that exercise every rule: end marks, closing quotes/brackets for realignment,
# non-word characters, multi-character punctuation, Unicode whitespace that the `regex` engine
# and Python's str.strip() disagree about, case, initials, numbers, known abbreviations.
_ALPHABET = list("aAbZ .?!,;:'\"()[]{}-–‘’“”«»\n\t\u00a0\u2009\x1c\x85`&#*@…1234") + [
    "Dr.", "Mr.", "S.", "Bach", "e.g.", "The", "the", "I", "J.", "3.", "...", ". . .", "--",
    "U.S.", "Ünd", "É", "ß", "İ", "Σ", "tom", "Tom",
]


def test_punkt_matches_nltk_on_adversarial_strings(english, tmp_path):
    params, _, _ = english
    # Add what the corpus did not teach, so that every heuristic fires.
    params = PunktParameters()
    params.abbrev_types = set(english[0].abbrev_types) | {"dr", "mr", "e.g", "u.s"}
    params.collocations = set(english[0].collocations) | {("s", "bach")}
    params.sent_starters = set(english[0].sent_starters) | {"the"}
    params.ortho_context = defaultdict(int, english[0].ortho_context)
    save_punkt_params(params, tmp_path)
    nltk = PunktSentenceTokenizer(params)
    ours = _core.PunktSplitter(str(tmp_path))
    rng = random.Random(1234)
    texts = ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(20000)]
    mismatches = [(t, nltk.tokenize(t), m) for t, m in zip(texts, ours.tokenize_many(texts)) if nltk.tokenize(t) != m]
    assert mismatches == []


def test_saved_params_load_in_nltk_unchanged(english):
    # NLTK's load_punkt_params refuses paths outside its data sandbox; its decoder is what it uses.
    from nltk.tabdata import PunktDecoder

    params, d, _ = english
    assert sorted(p.name for p in d.iterdir() if p.name in PUNKT_FILES) == sorted(PUNKT_FILES)
    dec = PunktDecoder()
    with open(d / "collocations.tab", encoding="utf-8") as f:
        assert set(dec.tab2tups(f)) == params.collocations
    with open(d / "sent_starters.txt", encoding="utf-8") as f:
        assert dec.txt2set(f) == params.sent_starters
    with open(d / "abbrev_types.txt", encoding="utf-8") as f:
        assert dec.txt2set(f) == params.abbrev_types
    with open(d / "ortho_context.tab", encoding="utf-8") as f:
        # NLTK's tokenizer inserts 0 entries into its defaultdict on lookup: 0 means "absent".
        assert dict(dec.tab2intdict(f)) == {k: v for k, v in params.ortho_context.items() if v}
    assert _core.PunktSplitter(str(d)).stats() == (
        len(params.abbrev_types), len(params.collocations), len(params.sent_starters),
        sum(1 for v in params.ortho_context.values() if v),
    )


def test_bad_punkt_dir_is_a_clear_error(tmp_path):
    from albert_fast.errors import InputError

    with pytest.raises(InputError, match="not a punkt_tab directory"):
        _core.PunktSplitter(str(tmp_path / "missing"))
    for name in PUNKT_FILES:
        (tmp_path / name).write_text("")
    (tmp_path / "ortho_context.tab").write_text("word\tnot-a-number\n")
    with pytest.raises(InputError, match=r"ortho_context.tab: line 1"):
        _core.PunktSplitter(str(tmp_path))
