"""Differential tests: the Rust Punkt trainer (`_core.train_punkt`) against NLTK's
`PunktTrainer` (the real implementation, the oracle) — every parameter, set for set: abbreviation
types, collocations, sentence starters and the orthographic context table (its 0 entries, which
NLTK's defaultdict leaves behind on lookup, included)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from nltk.tokenize.punkt import PunktTrainer

from albert_fast import _core


def nltk_params(text: str) -> tuple[list, list, list, list]:
    trainer = PunktTrainer()
    trainer.train(text, finalize=True)
    p = trainer.get_params()
    return (sorted(p.abbrev_types), sorted(tuple(c) for c in p.collocations), sorted(p.sent_starters),
            sorted((k, int(v)) for k, v in p.ortho_context.items()))


def rust_params(text: str) -> tuple[list, list, list, list]:
    (abbrevs, collocations, starters, ortho), _counts = _core.train_punkt(text)
    return abbrevs, [tuple(c) for c in collocations], starters, [tuple(o) for o in ortho]


def assert_same(text: str, what: str) -> tuple[list, list, list, list]:
    theirs, ours = nltk_params(text), rust_params(text)
    for name, a, b in zip(("abbrev_types", "collocations", "sent_starters", "ortho_context"), theirs, ours):
        assert a == b, (f"{what}: {name}: NLTK only {sorted(set(a) - set(b))[:10]}, "
                        f"ours only {sorted(set(b) - set(a))[:10]}")
    return theirs


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_trainer_matches_nltk_on_each_book(literature_dir: Path, language: str):
    files = sorted(literature_dir.glob(f"{language}-*.txt"))
    assert files
    learned = [assert_same(f.read_text(encoding="utf-8"), f.name) for f in files]
    # Every kind of parameter is exercised somewhere in the language's books.
    assert all(any(p[k] for p in learned) for k in (0, 2, 3)), [list(map(len, p)) for p in learned]


def test_trainer_matches_nltk_on_all_books_together(literature_dir: Path):
    text = "\n\n".join(f.read_text(encoding="utf-8") for f in sorted(literature_dir.glob("*.txt")))
    abbrevs, collocations, starters, ortho = assert_same(text, "all books")
    assert len(abbrevs) > 50 and len(collocations) > 20 and len(starters) > 50 and len(ortho) > 50_000


def test_trainer_matches_nltk_on_technical_text(examples_dir: Path):
    # Software documentation: versions, paths, option names, e.g./i.e., numbered lists.
    rng = random.Random(7)
    parts = []
    for _ in range(3000):
        v = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}"
        parts.append(rng.choice([
            f"See section {rng.randint(1, 12)}. The option --foo sets it.",
            f"Version {v}. was released, e.g. for Linux, i.e. the kernel {v}.",
            "Use the -v flag. It prints more, cf. the man page (see ls(1).)",
            "The struct stat.st_mode field holds the mode. Call stat() first.",
            f"Item {rng.randint(1, 9)}. Set PATH=/usr/bin. Then run make.",
            "Dr. Knuth wrote TeX. Prof. D. E. Knuth, Stanford Univ. wrote it.",
            "It returns -1 on error, and errno is set appropriately.",
            "\n", "\n\n",
        ]))
    assert_same(" ".join(parts), "technical")


_PIECES = ["Dr.", "Mr.", "S.", "Bach", "e.g.", "U.S.", "etc.", "J.", "3.", "12.", "1,000.", "The", "the",
           "word", "Word", "WORD", "...", ". . .", "--", ",", ";", ":", "!", "?", ".", "(", ")", "\"", "'",
           "«", "»", "“", "”", "İstanbul.", "ΟΔΟΣ.", "Σ.", "ß.", "Ünd", "é.", "##number##", "##number##x.",
           "a-b.", "x-dr.", "-", "_", "²", "½.", "٣.", "foo_bar.", "\u00a0", "\x1c", "\t", "\r", "\x85"]
_SEPARATORS = [" "] * 12 + ["\n"] * 3 + ["\n\n", "\n \n", "\n\x1c\n", "  ", "\u2009"]


@pytest.mark.parametrize("seed", range(6))
def test_trainer_matches_nltk_on_adversarial_text(seed: int):
    # Random sequences of abbreviation-, initial- and number-like tokens, odd case, Unicode
    # whitespace that Python's str.strip() and the regex engine disagree about, blank-ish lines.
    rng = random.Random(seed)
    weights = [rng.random() ** 3 for _ in _PIECES]
    n = 40_000
    words = rng.choices(_PIECES, weights, k=n)
    seps = rng.choices(_SEPARATORS, k=n)
    text = "".join(w + s for w, s in zip(words, seps))
    assert_same(text, f"seed {seed}")


def test_trainer_edge_cases():
    for text in ["", " ", "\n\n", "Hello.", "a. b. c.", "\n\nStart. of text.", "x" * 1000 + ".", "... ... .",
                 "Mr. X met Mrs. Y. They left.\n\nMr. X returned."]:
        assert_same(text, repr(text))


def test_counts_are_reported():
    text = "One two. Three four.\n\nFive."
    _params, (tokens, types, breaks) = _core.train_punkt(text)
    assert (tokens, types, breaks) == (5, 5, 3)
