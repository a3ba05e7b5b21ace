"""Small file helpers shared by every stage: outputs appear under their final name only when
complete (write to a temporary sibling, fsync, rename)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; on success the file written there is fsynced
    and renamed to ``path``, on error it is removed."""
    final = Path(path)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yields a hidden temporary sibling directory of ``path``; on success its files are fsynced
    and it replaces ``path``, on error it is removed (nothing half-written under the final
    name). Staging directories that killed earlier runs left behind are removed first."""
    final = Path(path)
    if final.exists() and not final.is_dir():
        raise FileExistsError(17, "output exists and is not a directory", str(final))
    ensure_output_dir(final.parent if str(final.parent) else Path("."))
    for stale in final.parent.glob(f".{final.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def ensure_output_dir(path: str | Path) -> Path:
    """Creates ``path`` (and parents) and checks it is writable, so a run fails at once with a
    clear message instead of after hours of work."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot create output directory: {err.strerror}", str(out)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(13, "output directory is not writable", str(out))
    return out


@contextlib.contextmanager
def no_empty_dirs_left_on_failure(paths: list[str | Path]) -> Iterator[None]:
    """On failure (an exception, Ctrl-C included), removes the directories at and around each
    of ``paths`` that did not exist before and hold no file: the empty output directory,
    ``.progress/``, ``punkt/`` or run directory a failed command made. Directories that were
    there before, and anything holding a file, stay."""
    snapshots = []
    for p in paths:
        root = Path(os.path.abspath(p))
        while not root.parent.exists() and root.parent != root:
            root = root.parent
        existing = {d for d, _, _ in os.walk(root)} if root.is_dir() else set()
        snapshots.append((root, existing))
    try:
        yield
    except BaseException:
        for root, existing in snapshots:
            for d, _, _ in os.walk(root, topdown=False):
                if d not in existing:
                    with contextlib.suppress(OSError):
                        os.rmdir(d)  # only succeeds on an empty directory
        raise


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def human_size(n: float) -> str:
    """``n`` bytes for people: ``512 B``, ``1.5 KB``, ``3.2 MB``, ``1.0 GB`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


#: The input name that means standard input.
STDIN = "-"
#: Name prefix of the copy of standard input in an output directory.
STDIN_SPOOL_PREFIX = ".stdin-"


@contextlib.contextmanager
def stdin_spooled(inputs: list[str], directory: str | Path, stream: Any = None) -> Iterator[list[str]]:
    """``inputs`` with ``-`` replaced by a copy of standard input (``stream``, default
    ``sys.stdin.buffer``) in ``directory``, removed on exit.

    Every stage reads its input more than once (Punkt's sample, create-data's two passes), which
    a pipe does not allow, so the text is copied first (disk as large as the input; memory
    bounded). The copy is named after its SHA-256 and its mtime is fixed, so that its resume
    stamp (path, size, mtime) stands for its content: re-running a command with the same text
    on standard input resumes it like any other input."""
    if STDIN not in inputs:
        yield inputs
        return
    if inputs.count(STDIN) > 1:
        raise ValueError("'-' (standard input) is named more than once")
    import sys

    src = stream if stream is not None else sys.stdin.buffer
    directory = Path(directory)
    tmp = directory / f"{STDIN_SPOOL_PREFIX}tmp-{os.getpid()}"
    spool = None
    try:
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        spool = directory / f"{STDIN_SPOOL_PREFIX}{digest.hexdigest()[:16]}.txt"
        os.replace(tmp, spool)
        os.utime(spool, ns=(0, 0))
        yield [str(spool) if i == STDIN else i for i in inputs]
    finally:
        for p in (tmp, spool):
            if p is not None and p.exists():
                p.unlink()


def is_stdin_spool(path: str | Path) -> bool:
    """True for the copy of standard input that :func:`stdin_spooled` makes."""
    return Path(path).name.startswith(STDIN_SPOOL_PREFIX)


def name_stdin(value: Any) -> Any:
    """``value`` (JSON-like statistics) with every path of a standard-input copy replaced by
    ``-`` (also inside ``file:line`` references): the copy is gone after the run."""
    if isinstance(value, dict):
        return {k: name_stdin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [name_stdin(v) for v in value]
    if isinstance(value, str) and STDIN_SPOOL_PREFIX in value:
        return re.sub(r"\S*" + re.escape(STDIN_SPOOL_PREFIX) + r"[0-9a-f]{16}\.txt", STDIN, value)
    return value
