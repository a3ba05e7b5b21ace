"""Shared test fixtures: paths of the bundled corpus and of the shared corpora."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# transformers imports PyTorch whenever it is installed, and PyTorch (triton) and TensorFlow abort
# when their LLVM copies meet in one process. The test process uses transformers' tokenizers and
# TF classes only; the PyTorch side of the export check runs in its own process (export.py).
os.environ.setdefault("USE_TORCH", "0")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "corpus"
# ../shared/corpora sits beside the checkout on developer machines and in CI.
SHARED_LITERATURE = REPO.parent / "shared" / "corpora" / "literature"
# A git worktree of the checkout sits one level deeper (worktrees/<name>) during development.
if not SHARED_LITERATURE.is_dir() and (REPO.parent.parent / "shared" / "corpora" / "literature").is_dir():
    SHARED_LITERATURE = REPO.parent.parent / "shared" / "corpora" / "literature"


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def literature_dir() -> Path:
    """The full shared corpora (English, German, French): ``../shared/corpora/literature``
    beside the checkout, or ``$ALBERT_FAST_LITERATURE`` where the checkout sits elsewhere
    (helper worktrees). Required, not optional: the differential tests are only meaningful on
    real text."""
    for candidate in (SHARED_LITERATURE, os.environ.get("ALBERT_FAST_LITERATURE")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    pytest.fail(f"shared corpora not found at {SHARED_LITERATURE} (or $ALBERT_FAST_LITERATURE)")


@pytest.fixture(scope="session")
def twain_data(tmp_path_factory, literature_dir) -> Path:
    """Pretraining TFRecords from real text (tests/pretrain_data.py): train shards from two
    Twain novels, the held-out split from a third."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pretrain_data

    out = tmp_path_factory.mktemp("twain_data")
    return pretrain_data.build_dataset(out, [literature_dir / "en-twain1.txt",
                                             literature_dir / "en-twain2.txt"],
                                       [literature_dir / "en-twain4.txt"])


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Runs `python -m albert_fast ARGS` in a subprocess, as a user would run the CLI."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "albert_fast", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=900,
    )


# The tutorial's user-defined symbols. A list, not the flag's comma-separated string: the
# sentencepiece wrapper reads a string as CSV, where '"' opens a quoted field that swallows the
# rest ('(,),",-,...' gives the three symbols "(", ")" and ",-,.,–,£,€").
ALBERT_USER_DEFINED_SYMBOLS = ["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac"]
# SentencePiece flags of the ALBERT README / tutorial (spec section 4), minus vocab_size.
ALBERT_SPM_FLAGS = dict(
    pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
    control_symbols="[CLS],[SEP],[MASK]",
    user_defined_symbols=ALBERT_USER_DEFINED_SYMBOLS,
    shuffle_input_sentence=True, input_sentence_size=10_000_000,
    character_coverage=0.99995, model_type="unigram",
)
# ~200 KB from each language: enough for a realistic 4000-piece model, trained in a few seconds.
SPM_TRAINING_FILES = ("en-twain1.txt", "de-HMann1.txt", "fr-Verne-2ans.txt")
SPM_TRAINING_BYTES_PER_FILE = 200_000


def train_albert_spm(literature_dir: Path, out_dir: Path, vocab_size: int = 4000, **overrides) -> Path:
    """Trains a SentencePiece model with ALBERT's flags on raw English, German and French text
    (no lower-casing, accents kept) with the `sentencepiece` package; returns the .model path."""
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    text = out_dir / "spm_train.txt"
    with open(text, "w", encoding="utf-8") as out:
        for name in SPM_TRAINING_FILES:
            data = (literature_dir / name).read_text(encoding="utf-8")[:SPM_TRAINING_BYTES_PER_FILE]
            out.write(data.rsplit("\n", 1)[0] + "\n")
    flags = dict(ALBERT_SPM_FLAGS, **overrides)
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(out_dir / "spiece"), vocab_size=vocab_size,
        num_threads=2, minloglevel=2, **flags)
    return out_dir / "spiece.model"


@pytest.fixture(scope="session")
def albert_spm_model(tmp_path_factory, literature_dir) -> Path:
    """A `.model` trained with ALBERT's flags (ids: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3,
    [MASK] 4, then the user-defined symbols) on raw en+de+fr literature, vocab 4000."""
    return train_albert_spm(literature_dir, tmp_path_factory.mktemp("albert_spm"))


@pytest.fixture(scope="session")
def albert_spm_model_byte_fallback(tmp_path_factory, literature_dir) -> Path:
    """Like `albert_spm_model` but with `--byte_fallback` and a lower character coverage, so
    that rare characters of the corpora become byte pieces."""
    return train_albert_spm(literature_dir, tmp_path_factory.mktemp("albert_spm_bytes"),
                            byte_fallback=True, character_coverage=0.995)
