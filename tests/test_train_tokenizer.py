"""`albert-fast train-tokenizer` / `albert_fast.train_tokenizer` (issue §3, §5; spec §4).

Trained models are checked with the independent `sentencepiece` package."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import importlib
import json
import shutil
import unicodedata
from pathlib import Path

import pytest
import sentencepiece as spm

from albert_fast import ConfigError, InputError, _core, train_tokenizer
from albert_fast.config import DEFAULT_USER_DEFINED_SYMBOLS
from conftest import run_cli

VOCAB = 800
SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]


def _load(out: Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(out / "spiece.model"))


def _pieces(sp: spm.SentencePieceProcessor) -> list[str]:
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def _learned(sp: spm.SentencePieceProcessor) -> list[str]:
    """Pieces SentencePiece learned (not the specials or user-defined symbols)."""
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())
            if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i))
            and i >= len(SPECIALS) + len(DEFAULT_USER_DEFINED_SYMBOLS)]


@pytest.fixture(scope="session")
def default_tok(tmp_path_factory, examples_dir) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tok") / "default"
    summary = train_tokenizer(examples_dir, out, vocab_size=VOCAB, progress=False)
    return out, summary


@pytest.fixture(scope="session")
def stripped_tok(tmp_path_factory, examples_dir) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tok") / "stripped"
    cfg = {"text": {"lowercase": False, "strip_accents": True}}
    summary = train_tokenizer([examples_dir], out, config=cfg, vocab_size=VOCAB, progress=False)
    return out, summary


# ------------------------------------------------------------------------------------------
# The model's layout


def test_albert_specials_have_ids_0_to_4(default_tok):
    sp = _load(default_tok[0])
    assert _pieces(sp)[:5] == SPECIALS
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, -1, -1)
    assert all(sp.is_control(i) for i in (2, 3, 4))
    # Control symbols are never produced from text, even when the text spells them.
    assert 2 not in sp.encode("[CLS] x [SEP]")


def test_vocab_size_is_the_total_including_specials_q5(default_tok):
    out, summary = default_tok
    sp = _load(out)
    assert sp.get_piece_size() == VOCAB == summary["vocab_size"]
    assert len((out / "spiece.vocab").read_text(encoding="utf-8").splitlines()) == VOCAB


def test_user_defined_symbols_follow_the_specials(default_tok):
    sp = _load(default_tok[0])
    n = len(SPECIALS)
    assert _pieces(sp)[n:n + len(DEFAULT_USER_DEFINED_SYMBOLS)] == DEFAULT_USER_DEFINED_SYMBOLS
    from albert_fast import Tokenizer

    tok = Tokenizer(default_tok[0])  # checks spiece_sha256 against tokenizer_config.json
    tok.check_albert_specials()
    kinds = [tok.piece_kind(i) for i in range(n + len(DEFAULT_USER_DEFINED_SYMBOLS) + 1)]
    assert kinds == ["unknown" if i == 1 else "control" for i in range(n)] \
        + ["user_defined"] * len(DEFAULT_USER_DEFINED_SYMBOLS) + ["normal"]
    # A user-defined symbol is always one piece, even inside a word.
    assert "€" in sp.encode("preis: 5€.", out_type=str)


def test_tokenizer_config_records_normalization_and_checksum(default_tok):
    out, summary = default_tok
    cfg = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert set(cfg) == {"lowercase", "strip_accents", "vocab_size", "model_type", "model_file",
                        "special_tokens", "user_defined_symbols", "spiece_sha256",
                        "albert_fast_version"}
    assert cfg["lowercase"] is True and cfg["strip_accents"] is False
    assert cfg["vocab_size"] == VOCAB and cfg["model_type"] == "unigram"
    assert cfg["model_file"] == "spiece.model"
    assert cfg["special_tokens"] == {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]",
                                     "sep": "[SEP]", "mask": "[MASK]"}
    assert cfg["user_defined_symbols"] == DEFAULT_USER_DEFINED_SYMBOLS
    assert cfg["spiece_sha256"] == hashlib.sha256((out / "spiece.model").read_bytes()).hexdigest()
    assert cfg["albert_fast_version"] == _core.__version__
    assert sorted(p.name for p in out.iterdir()) == ["spiece.model", "spiece.vocab",
                                                    "tokenizer_config.json"]


def test_vocab_file_matches_the_model(default_tok):
    out, _ = default_tok
    sp = _load(out)
    rows = [line.split("\t") for line in (out / "spiece.vocab").read_text(encoding="utf-8").splitlines()]
    assert [r[0] for r in rows] == _pieces(sp)
    assert all(abs(float(r[1]) - sp.get_score(i)) < 1e-4 for i, r in enumerate(rows))


def test_vocab_file_is_byte_identical_to_sentencepieces_own(tmp_path, examples_dir):
    """We write spiece.vocab ourselves (the model comes from memory); SentencePiece's own
    model_prefix output must be the same bytes."""
    from albert_fast.train_tokenizer import vocab_text

    lines = (examples_dir / "en-twain4.txt").read_text(encoding="utf-8").splitlines()
    spm.SentencePieceTrainer.train(sentence_iterator=iter([l for l in lines if l.strip()]),
                                   model_prefix=str(tmp_path / "ref"), vocab_size=300,
                                   minloglevel=2, num_threads=1)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "ref.model"))
    assert vocab_text(sp) == (tmp_path / "ref.vocab").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------
# One normalization (Q1): the training text is normalized exactly as data creation normalizes it


def test_lowercase_is_applied_before_training(default_tok, stripped_tok):
    assert not [p for p in _learned(_load(default_tok[0])) if any(c.isupper() for c in p)]
    # Without lowercase the same corpus does give upper-case pieces: the check above can fail.
    assert [p for p in _learned(_load(stripped_tok[0])) if any(c.isupper() for c in p)]


def _has_accent(piece: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFKD", piece))


def test_strip_accents_is_applied_before_training_q1(default_tok, stripped_tok):
    assert not [p for p in _pieces(_load(stripped_tok[0])) if _has_accent(p)]
    # The German texts do have accented pieces when accents are kept.
    assert [p for p in _learned(_load(default_tok[0])) if _has_accent(p)]


def test_no_unk_on_normalized_training_text_q1(stripped_tok, examples_dir):
    """With accents stripped at training time, text stripped the same way (as data creation
    will) encodes without <unk> — the tutorial's recipe (raw-text vocab, stripped data) maps
    words to pieces that cannot occur."""
    sp = _load(stripped_tok[0])
    text = (examples_dir / "de-grimm2.txt").read_text(encoding="utf-8").splitlines()[:300]
    norm = [_core.normalize_text(t, lowercase=False, strip_accents=True, replace_quotes=True)
            for t in text]
    ids = [i for line in sp.encode(norm) for i in line]
    assert ids and ids.count(sp.unk_id()) == 0


def test_data_pipeline_tokenizer_reaches_the_vocab_q1(stripped_tok, default_tok, examples_dir):
    """Through albert_fast.Tokenizer (the encoder create-data uses, reading the normalization
    from tokenizer_config.json): raw German text encodes without <unk> and without an accented
    piece. Counter-check, the tutorial's recipe: a vocabulary trained on unstripped text, used
    with strip_accents, holds accented pieces that can never be produced."""
    from albert_fast import Tokenizer

    raw = (examples_dir / "de-HMann3.txt").read_text(encoding="utf-8").splitlines()[:400]
    tok = Tokenizer(stripped_tok[0])
    assert (tok.lowercase, tok.strip_accents) == (False, True)
    ids = [i for line in tok.encode_batch(raw) for i in line]
    assert ids and tok.unk_id not in ids

    tutorial = Tokenizer(default_tok[0], strip_accents=True)
    accented = {i for i, p in enumerate(tutorial.pieces()) if _has_accent(p)}
    used = {i for line in tutorial.encode_batch(raw) for i in line}
    assert accented and not accented & used


def test_unreachable_user_defined_symbol_is_refused(tmp_path, examples_dir):
    cfg = {"tokenizer": {"user_defined_symbols": ["(", "ABC"]}}  # lowercase is on by default
    with pytest.raises(ConfigError, match="'ABC' can never occur.*'abc'"):
        train_tokenizer(examples_dir, tmp_path / "o", config=cfg, vocab_size=VOCAB, progress=False)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------
# Sampling: bounded and deterministic


def test_input_sentence_size_bounds_the_sample(tmp_path, examples_dir):
    cfg = {"tokenizer": {"input_sentence_size": 300}}
    summary = train_tokenizer(examples_dir, tmp_path / "o", config=cfg, vocab_size=500,
                              progress=False)
    assert summary["sentences"] == 300
    assert summary["input"]["lines"] - summary["input"]["blank_lines"] > 300
    assert _load(tmp_path / "o").get_piece_size() == 500


def test_sample_is_deterministic_for_any_thread_count(examples_dir):
    files = sorted(str(p) for p in examples_dir.iterdir())

    def draw(threads: int, seed: int = 3) -> list[str]:
        sample, stats = _core.sample_sentences(files, lowercase=True, strip_accents=False,
                                               replace_quotes=True, max_sentences=500,
                                               seed=seed, threads=threads)
        assert len(sample) == 500 == stats["sampled"]
        return list(sample)

    one = draw(1)
    assert one == draw(2) == draw(5)
    assert one != draw(1, seed=4)


def test_model_bytes_are_identical_for_any_thread_count(tmp_path, examples_dir, default_tok):
    """SentencePiece's result depends on its own num_threads; it always runs with a fixed
    count, so --threads only changes our reading and the model is byte-identical."""
    train_tokenizer(examples_dir, tmp_path / "t1", vocab_size=VOCAB, threads=1, progress=False)
    assert (tmp_path / "t1" / "spiece.model").read_bytes() == \
        (default_tok[0] / "spiece.model").read_bytes()


def test_compressed_inputs_give_the_same_model(tmp_path, examples_dir, default_tok):
    src = tmp_path / "src"
    src.mkdir()
    for i, f in enumerate(sorted(examples_dir.iterdir())):
        data = f.read_bytes()
        if i % 2:
            (src / (f.name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (src / (f.name + ".bz2")).write_bytes(bz2.compress(data))
    summary = train_tokenizer([str(src / "*")], tmp_path / "o", vocab_size=VOCAB, progress=False)
    assert summary["spiece_sha256"] == default_tok[1]["spiece_sha256"]


# ------------------------------------------------------------------------------------------
# The CLI, and errors (§5): non-zero exit, one clear line, no traceback, nothing half-written


def test_cli_trains_and_prints_a_summary(tmp_path, examples_dir, default_tok):
    out = tmp_path / "cli"
    r = run_cli("train-tokenizer", str(examples_dir), "-o", str(out), "--vocab-size", str(VOCAB),
                "--json", "--threads", "2")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["vocab_size"] == VOCAB and summary["sentences"] == default_tok[1]["sentences"]
    assert summary["spiece_sha256"] == default_tok[1]["spiece_sha256"]
    assert "reading 3 files" in r.stderr  # the progress bar


def test_cli_flags_override_the_config(tmp_path, examples_dir):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("model:\n  vocab_size: 700\ntext:\n  lowercase: true\n", encoding="utf-8")
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(examples_dir / "en-twain4.txt"), "-o", str(out),
                "--config", str(cfg), "--lowercase=false", "--user-defined-symbols", "@,#",
                "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "model.vocab_size" not in r.stderr  # no Q5 note: the sizes agree
    tc = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tc["lowercase"] is False and tc["vocab_size"] == 700
    assert tc["user_defined_symbols"] == ["@", "#"]
    assert _pieces(_load(out))[5:7] == ["@", "#"]


def test_cli_notes_a_vocab_size_the_model_does_not_share_q5(tmp_path, examples_dir):
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(examples_dir / "en-twain4.txt"), "-o", str(out),
                "--config", "configs/tiny.yaml", "--vocab-size", "600", "--no-progress",
                cwd=Path(__file__).resolve().parent.parent)
    assert r.returncode == 0, r.stderr
    assert "model.vocab_size is 2000; set model.vocab_size to 600" in r.stderr
    assert json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))["vocab_size"] == 600


def _assert_clean_failure(r, out: Path, *needles: str) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "panicked" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_cli_missing_input(tmp_path):
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(tmp_path / "nope.txt"), "-o", str(out), "--no-progress")
    _assert_clean_failure(r, out, "nope.txt", "No such file")


def test_cli_glob_matching_nothing(tmp_path):
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(tmp_path / "*.txt"), "-o", str(out), "--no-progress")
    _assert_clean_failure(r, out, "*.txt", "matches no files")


def test_cli_empty_input(tmp_path):
    (tmp_path / "empty.txt").write_text("\n   \n\n", encoding="utf-8")
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(tmp_path / "empty.txt"), "-o", str(out), "--no-progress")
    _assert_clean_failure(r, out, "empty.txt", "no usable text")


def test_cli_binary_input(tmp_path, examples_dir):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(examples_dir / "en-twain4.txt", d / "a.txt")
    (d / "b.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(d), "-o", str(out), "--no-progress")
    _assert_clean_failure(r, out, "b.bin", "not a text file")


def test_cli_vocab_too_large_for_corpus(tmp_path):
    (tmp_path / "small.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 20,
                                        encoding="utf-8")
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(tmp_path / "small.txt"), "-o", str(out),
                "--vocab-size", "5000", "--no-progress")
    _assert_clean_failure(r, out, "vocab_size = 5000 is too large", "smaller --vocab-size")


def test_cli_existing_output_survives_a_failed_run(tmp_path, default_tok):
    out = tmp_path / "o"
    shutil.copytree(default_tok[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "small.txt").write_text("tiny corpus\n", encoding="utf-8")
    r = run_cli("train-tokenizer", str(tmp_path / "small.txt"), "-o", str(out),
                "--vocab-size", "5000", "--no-progress")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before, "no temp files, no changes"


def test_cli_unwritable_output_dir(tmp_path, examples_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    r = run_cli("train-tokenizer", str(examples_dir), "-o", str(blocker / "out"), "--no-progress")
    _assert_clean_failure(r, blocker / "out", "cannot create output directory", str(blocker / "out"))


def test_cli_bad_config_values(tmp_path, examples_dir):
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(examples_dir), "-o", str(out), "--character-coverage",
                "1.5", "--no-progress")
    _assert_clean_failure(r, out, "character_coverage")
    r = run_cli("train-tokenizer", str(examples_dir), "-o", str(out), "--vocab-size", "7",
                "--no-progress")
    _assert_clean_failure(r, out, "vocab_size = 7 is too small")
    r = run_cli("train-tokenizer", str(examples_dir), "-o", str(out), "--threads", "0",
                "--no-progress")
    _assert_clean_failure(r, out, "threads")


def test_invalid_utf8_is_replaced_with_a_counted_warning(tmp_path, examples_dir):
    data = (examples_dir / "en-twain4.txt").read_bytes()
    (tmp_path / "bad.txt").write_bytes(b"broken \xff\xfe bytes here\n" + data + b"\nmore \xc3(\n")
    out = tmp_path / "o"
    r = run_cli("train-tokenizer", str(tmp_path / "bad.txt"), "-o", str(out), "--vocab-size", "600",
                "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    # \xff and \xfe are two sequences (as Python's errors="replace" counts them), \xc3 one.
    assert "3 invalid UTF-8 sequence(s)" in r.stderr
    assert json.loads(r.stdout)["input"]["invalid_utf8"] == 3


def test_python_api_errors_are_typed(tmp_path):
    (tmp_path / "blank.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="no usable text"):
        train_tokenizer(tmp_path / "blank.txt", tmp_path / "o", vocab_size=VOCAB, progress=False)
    with pytest.raises(FileNotFoundError):
        train_tokenizer(tmp_path / "missing", tmp_path / "o", vocab_size=VOCAB, progress=False)
    with pytest.raises(ConfigError, match="threads"):
        train_tokenizer(tmp_path / "blank.txt", tmp_path / "o", threads=0, progress=False)


# ------------------------------------------------------------------------------------------
# The corpus bindings other stages use


def test_open_lines_reads_compressed_text_with_stats(tmp_path):
    import zstandard

    text = b"eins\r\nzwei \xff\n\ndrei"
    (tmp_path / "a.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(text))
    it = _core.open_lines(str(tmp_path / "a.txt.zst"))
    assert list(it) == ["eins", "zwei \ufffd", "", "drei"]
    stats = it.stats()
    assert (stats["lines"], stats["invalid_utf8"], stats["files"]) == (4, 1, 1)


def test_expand_inputs_binding(tmp_path):
    (tmp_path / "b.txt").write_text("b", encoding="utf-8")
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    (tmp_path / ".hidden").write_text("h", encoding="utf-8")
    files, skipped = _core.expand_inputs([str(tmp_path), str(tmp_path / "a.txt")])
    assert [Path(f).name for f in files] == ["a.txt", "b.txt"] and skipped == 1
    with pytest.raises(FileNotFoundError):
        _core.expand_inputs([str(tmp_path / "missing")])


def test_cancelled_sampling_raises_keyboard_interrupt(examples_dir):
    progress = _core.Progress()
    progress.cancel()
    with pytest.raises(KeyboardInterrupt):
        _core.sample_sentences([str(p) for p in sorted(examples_dir.iterdir())], lowercase=True,
                               strip_accents=False, replace_quotes=True, max_sentences=10,
                               progress=progress)


# ------------------------------------------------------------------------------------------
# The cost estimate printed before SentencePiece trains

_tt = importlib.import_module("albert_fast.train_tokenizer")


def test_estimate_grows_with_the_sample_and_shrinks_with_cpus():
    small = _tt.estimate_training(10_000_000, 30000, cpus=2)
    large = _tt.estimate_training(100_000_000, 30000, cpus=2)
    assert large.seconds > small.seconds > 0 and large.peak_bytes > small.peak_bytes > 0
    assert _tt.estimate_training(100_000_000, 30000, cpus=8).seconds < large.seconds
    # The fitted formula, not a stand-in, gives the numbers: on 1 CPU the wall time is the CPU time.
    assert large.peak_bytes == int((_tt.MEM_BASE_MIB + _tt.MEM_MIB_PER_MB * 100) * 2**20)
    one = _tt.estimate_training(100_000_000, 30000, cpus=1)
    assert one.seconds == pytest.approx(_tt.CPU_S_AT_1MB * 100 ** _tt.CPU_EXPONENT)
    assert large.seconds == pytest.approx(one.seconds * (_tt.SERIAL_SHARE + (1 - _tt.SERIAL_SHARE) / 2))
    # The bench's measurements (benches/RESULTS.md, "to 10M distinct sentences"): the CPU time
    # at the tutorial's 10M sentences (761.5 MB, 2431 CPU-seconds, one of the runs the
    # CPU constants are fitted on), the memory at 5M (380.7 MB, 7722 MiB), 30000 pieces.
    assert _tt.estimate_training(761489537, 30000, cpus=1).seconds == pytest.approx(2431, rel=0.1)
    assert _tt.estimate_training(380744768, 30000).peak_bytes / 2**20 == pytest.approx(7722, rel=0.05)


def test_available_memory_is_read_from_the_system():
    available = _tt.available_memory_bytes()
    assert available is not None and 0 < available


def test_estimate_line_is_printed_before_training(tmp_path, examples_dir, capsys, caplog):
    summary = train_tokenizer(examples_dir, tmp_path / "o", vocab_size=VOCAB, progress=True)
    err = capsys.readouterr().err
    expected = _tt.estimate_training(_tt.sampled_bytes(summary["input"]), VOCAB)
    assert f"on {summary['sentences']:,} sentences; {expected.describe()}" in err
    assert "estimated " in expected.describe() and " GiB peak memory" in expected.describe()
    assert "is estimated to need" not in caplog.text  # the tiny sample fits


@pytest.mark.parametrize("room", [-1, +1])
def test_memory_warning_when_the_estimate_exceeds_available_ram(tmp_path, examples_dir, caplog,
                                                                 monkeypatch, room):
    cfg = {"tokenizer": {"input_sentence_size": 300}}
    probe = train_tokenizer(examples_dir, tmp_path / "probe", config=cfg, vocab_size=500, progress=False)
    peak = _tt.estimate_training(_tt.sampled_bytes(probe["input"]), 500).peak_bytes
    monkeypatch.setattr(_tt, "available_memory_bytes", lambda: peak + room)
    caplog.clear()
    train_tokenizer(examples_dir, tmp_path / "o", config=cfg, vocab_size=500, progress=False)
    warned = "SentencePiece is estimated to need" in caplog.text
    assert warned == (room < 0), caplog.text
    if warned:
        assert "tokenizer.input_sentence_size" in caplog.text
