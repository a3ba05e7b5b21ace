"""The Unicode rule (docs/tokenizer.md, "Unicode versions"): every Unicode-dependent step follows
the running interpreter (`unicodedata`, `str` methods) and, for Punkt, the regex engine NLTK
compiles its patterns with, not the newer tables compiled into Rust. Checked against the real
references on characters assigned after Python 3.10's Unicode 13 (U+1E030, U+10EFD, U+A7CB,
...): whatever this interpreter knows of them, the results must be its own.
"""

from __future__ import annotations

import unicodedata

import pytest
from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

import albert_fast
from albert_fast import _core
from albert_fast.prepare_corpus import save_punkt_params
from albert_fast.unicode_tables import compute_tables, tables_id
from tokenizer_oracles import hf_ids, hf_tokenizer, reference_ids_batch, reference_preprocess

# Assigned in Unicode 15-17 (none in Python 3.11's 14.0): a modifier letter with a compatibility
# decomposition, combining marks (ccc 220/230), capital letters with lower-case mappings, digits,
# letters Rust calls alphabetic. U+0295 changed from Ll to Lo (no longer lower-case) in 15.0.
NEW_CHARACTERS = ["\U0001e030", "\U00010efd", "\u05c8", "\u0897", "\ua7cb", "\ua7dc", "\U00010d50",
                  "\U0001e4d0", "\U00011f50", "\U00016d40", "\u0cf3", "\U0001e5d1", "\u0295", "\u10fc"]


def _lines() -> list[str]:
    lines = []
    for c in NEW_CHARACTERS:
        lines += [f"Der {c}Bär lief", f"{c}{c} ÄPFEL {c}x", f"e{c}\u0301 a\u0323{c}\u0301 o\u0308{c}",
                  f"ΟΔΟΣ{c} ΣΟΦΟΣ {c}Σ", f"1{c}0, 2{c}, x{c}9,", f"İ{c}Ǆ ǅ{c} ﬁ{c}"]
    return lines


def test_these_characters_are_new_to_rust_or_to_this_interpreter():
    """The test characters are ones where the two can disagree: each is unassigned in this
    interpreter or changed after Unicode 14 (so on 3.10/3.11 they all exercise the rule)."""
    if unicodedata.unidata_version.startswith(("13.", "14.")):
        assert sum(unicodedata.category(c) == "Cn" for c in NEW_CHARACTERS) >= 12
    assert tables_id().startswith("python ") and unicodedata.unidata_version in tables_id()


@pytest.mark.parametrize("lowercase,strip_accents", [(True, False), (False, True), (True, True)])
def test_tokenizer_pipelines_follow_the_interpreter(albert_spm_model_byte_fallback, lowercase, strip_accents):
    """Byte fallback makes every unknown character visible in the ids."""
    import sentencepiece as spm

    model = albert_spm_model_byte_fallback
    lines = _lines()
    tok = albert_fast.Tokenizer(model, lowercase=lowercase, strip_accents=strip_accents)
    hf = hf_tokenizer(model, lowercase, strip_accents)
    assert tok.encode_batch(lines) == hf_ids(hf, lines)
    assert [tok.tokenize(x) for x in lines] == [hf.tokenize(x) for x in lines]
    ref = albert_fast.Tokenizer(model, lowercase=lowercase, strip_accents=strip_accents, reference_compat=True)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert ref.encode_batch(lines) == reference_ids_batch(sp, lines, lowercase, strip_accents)


def test_text_normalization_and_nfc_cleaning_follow_unicodedata(tmp_path):
    lines = _lines()
    for lower, strip in [(True, False), (False, True), (True, True)]:
        want = [reference_preprocess(x, lower, strip) for x in lines]
        got = [_core.normalize_text(x, lowercase=lower, strip_accents=strip, replace_quotes=False) for x in lines]
        assert got == want, (lower, strip)
    # prepare-corpus's NFC cleaning.
    src = tmp_path / "in.txt"
    src.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    params = tmp_path / "punkt"
    save_punkt_params(PunktParameters(), params)
    albert_fast.prepare_corpus([src], tmp_path / "out", punkt_params=str(params), doc_boundary="blank-line",
                               min_line_chars=0, dedup=False)
    out = (tmp_path / "out" / "corpus-00000.txt").read_text(encoding="utf-8").split("\n\n")
    assert [d.strip("\n") for d in out if d.strip()] == [unicodedata.normalize("NFC", x) for x in lines]


def test_punkt_follows_nltk_and_its_regex_engine(tmp_path):
    """Initials (`[^\\W\\d]\\.`), abbreviations (looked up lower-cased) and the orthographic
    heuristic (`islower`/`isupper` of a token's first character) on the new characters."""
    chars = NEW_CHARACTERS + ["\U00018e00", "\U0003d000", "\U00018cff"]  # regex's \w is newer than Rust's
    params = PunktParameters()
    params.abbrev_types = {f"{c}b".lower() for c in chars} | {"dr", "z.b"}
    for c in chars:
        params.ortho_context[f"{c}x".lower()] = 0b0101_0000  # seen lower-case mid-sentence only
    save_punkt_params(params, tmp_path / "punkt")
    texts = []
    for c in chars:
        texts += [f"Er traf {c}. Müller am Tor. Dann ging {c}. {c}x weiter.",
                  f"Das ist {c}B. Herr sagte es. Wir sahen {c}{c}. {c.upper()}x lachte.",
                  f"Dr. {c}x kam. Sie rief: {c}! Dann {c}x. Ende. z.B. {c}y ist gut."]
    nltk = PunktSentenceTokenizer(params)
    ours = _core.PunktSplitter(str(tmp_path / "punkt"))
    want = [nltk.tokenize(t) for t in texts]
    assert ours.tokenize_many(texts) == want
    assert [ours.tokenize(t) for t in texts] == want


def test_the_tables_are_the_interpreters():
    """What the core received is what this interpreter (and NLTK's regex engine) says."""
    t = compute_tables()
    inside = lambda ranges, c: any(lo <= ord(c) <= hi for lo, hi in ranges)  # noqa: E731
    for c in NEW_CHARACTERS + ["a", "Ä", "٣", "\u00b2"]:
        assert inside(t["unassigned"], c) == (unicodedata.category(c) == "Cn"), c
        assert inside(t["islower"], c) == c.islower() and inside(t["isupper"], c) == c.isupper(), c
        assert inside(t["isdigit"], c) == c.isdigit(), c


@pytest.mark.slow
@pytest.mark.parametrize("lowercase,strip_accents", [(True, False), (False, True), (True, True)])
def test_every_code_point_normalizes_as_the_interpreter(lowercase, strip_accents):
    """Lower-casing and accent stripping of each code point on its own, and of each one after a
    letter and before a combining mark (reordering, composition), equal the reference's."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    for form in ("{}", "a{}\u0301"):
        texts = [form.format(c) for c in chars]
        got = [_core.normalize_text(t, lowercase=lowercase, strip_accents=strip_accents, replace_quotes=False)
               for t in texts]
        want = [reference_preprocess(t, lowercase, strip_accents) for t in texts]
        bad = [f"U+{ord(c):04X}" for c, g, w in zip(chars, got, want) if g != w]
        assert bad == [], f"{len(bad)} code points differ ({form!r}): {bad[:20]}"
