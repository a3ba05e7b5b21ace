"""Shared test fixtures: paths of the bundled corpus and of the shared corpora."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "corpus"
# ../shared/corpora sits beside the checkout on developer machines and in CI.
SHARED_LITERATURE = REPO.parent / "shared" / "corpora" / "literature"
# Worktrees that do not sit beside ../shared can point at the corpora explicitly.
if os.environ.get("ALBERT_FAST_LITERATURE"):
    SHARED_LITERATURE = Path(os.environ["ALBERT_FAST_LITERATURE"])


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def literature_dir() -> Path:
    """The full shared corpora (English, German, French). Required, not optional: the
    differential tests are only meaningful on real text."""
    if not SHARED_LITERATURE.is_dir():
        pytest.fail(f"shared corpora not found at {SHARED_LITERATURE}")
    return SHARED_LITERATURE


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Runs `python -m albert_fast ARGS` in a subprocess, as a user would run the CLI."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "albert_fast", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=900,
    )
