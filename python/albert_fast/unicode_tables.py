"""The running interpreter's Unicode data for the Rust core (docs/tokenizer.md, "Unicode
versions").

Every Unicode-dependent step of albert_fast reproduces the Python object it stands for: the
tokenizer pipeline's lower-casing and accent stripping (``str.lower``, ``unicodedata``), the
digit-comma rule's ``str.isdigit``, create-data's category test, prepare-corpus's NFC, and Punkt's
``str.islower``/``isupper`` and ``\\w \\s \\d`` (of the regex engine NLTK compiles Punkt's patterns
with: the third-party ``regex`` module in NLTK releases that route patterns through
``nltk.redos``, the standard ``re`` before). Rust's own Unicode tables are newer than most
interpreters'; these sets tell the core what this interpreter does not know yet.

:func:`install` computes the sets once (about a second), caches them on disk by interpreter and
package versions (``$ALBERT_FAST_CACHE_DIR``, else ``$XDG_CACHE_HOME/albert_fast``, else
``~/.cache/albert_fast``; nothing is cached when that is not writable) and hands them to the core.
The bindings call it before the first text is processed, so users never need to.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import threading
import unicodedata
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from albert_fast import _core

__all__ = ["install", "tables_id", "compute_tables"]

#: Bumped when the cached layout or the way the sets are computed changes.
_FORMAT = 2
_LOCK = threading.Lock()
_installed: Optional[str] = None


def _version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cache_key() -> str:
    """What the sets depend on: the interpreter (its ``unicodedata``) and NLTK's regex engine."""
    return (f"format {_FORMAT}; python {platform.python_implementation()} {platform.python_version()} "
            f"unicodedata {unicodedata.unidata_version}; nltk {_version('nltk')}; regex {_version('regex')}")


def _runs(flags: bytes) -> list[tuple[int, int]]:
    """Inclusive (first, last) code point ranges of the 1-bytes of ``flags`` (one per code point)."""
    return [(m.start(), m.end() - 1) for m in re.finditer(rb"\x01+", flags)]


def _punkt_engine() -> Optional[tuple[str, Any]]:
    """The regex module NLTK's Punkt compiles its patterns with, or ``None`` without NLTK."""
    try:
        from nltk.tokenize import punkt
    except ImportError:
        return None
    if getattr(punkt, "redos", None) is not None:
        import regex

        return f"regex {regex.__version__}", regex
    return f"re (python {platform.python_version()})", re


def _final_sigma_context(every: str, unassigned: list[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """``str.lower()``'s final-sigma context (``_PyUnicode_IsCaseIgnorable``, ``_PyUnicode_IsCased``
    are not exposed): probed with sigma itself. ``c + "Σ"`` ends in "ς" iff ``c`` is cased and not
    case-ignorable; ``"aΣ" + c + "b"`` has "ς" iff ``c`` is neither. (Whether a case-ignorable
    character is cased never matters.) Unassigned characters are neither."""
    flags = bytearray(len(every))  # 1: cased (not ignorable), 2: ignorable
    starts = [hi + 1 for _, hi in unassigned]
    ends = [lo for lo, _ in unassigned] + [len(every)]
    for lo, hi in zip([0] + starts, ends):  # the assigned runs
        chunk = every[lo:hi]
        before = [x[-1] == "\u03c2" for x in map(str.lower, map("{}\u03a3".format, chunk))]
        after = [x[1] == "\u03c2" for x in map(str.lower, map("a\u03a3{}b".format, chunk))]
        flags[lo:hi] = bytes(1 if b else (0 if a else 2) for b, a in zip(before, after))
    return {"cased": _runs(bytes(f == 1 for f in flags)), "case_ignorable": _runs(bytes(f == 2 for f in flags))}


def compute_tables() -> dict[str, Any]:
    """The interpreter's sets as inclusive code point ranges: ``unassigned`` (category Cn),
    ``isdigit``, ``islower``, ``isupper``, ``cased`` and ``case_ignorable`` (the final-sigma rule),
    and Punkt's ``re_word``, ``re_space``, ``re_digit`` (``None`` without NLTK); ``id`` names the
    data."""
    every = "".join(map(chr, range(0x110000)))  # lone surrogates included; every test is false there
    categories = "".join(map(unicodedata.category, every))  # two letters each; "Cn" only at even offsets
    unassigned = [(m.start() // 2, m.end() // 2 - 1) for m in re.finditer("(?:Cn)+", categories)]
    tables: dict[str, Any] = {
        "unassigned": unassigned,
        "isdigit": _runs(bytes(map(str.isdigit, every))),
        "islower": _runs(bytes(map(str.islower, every))),
        "isupper": _runs(bytes(map(str.isupper, every))),
    }
    tables.update(_final_sigma_context(every, unassigned))
    engine = _punkt_engine()
    for key, pattern in (("re_word", r"\w+"), ("re_space", r"\s+"), ("re_digit", r"\d+")):
        tables[key] = None if engine is None else [(m.start(), m.end() - 1) for m in engine[1].finditer(pattern, every)]
    tables["id"] = (f"python {platform.python_version()} unicodedata {unicodedata.unidata_version}; "
                    f"punkt {engine[0] if engine else 'built-in'}")
    return tables


def _cache_dir() -> Path:
    root = os.environ.get("ALBERT_FAST_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "albert_fast"


def _load_or_compute() -> dict[str, Any]:
    key = _cache_key()
    path = _cache_dir() / f"unicode-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["tables"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    tables = compute_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "tables": tables}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: computed again by the next process
    return tables


def install() -> str:
    """Hands this interpreter's sets to the Rust core (once per process) and returns their id.
    Warns when the interpreter knows characters this build's Rust tables do not."""
    global _installed
    with _LOCK:
        if _installed is None:
            tables = _load_or_compute()
            ranges = {k: [tuple(r) for r in v] if v is not None else None for k, v in tables.items() if k != "id"}
            _installed, python_only = _core.install_unicode_tables(tables["id"], **ranges)
            if python_only:
                warnings.warn(f"Python's Unicode {unicodedata.unidata_version} assigns {python_only} characters "
                              "that albert_fast's Rust tables do not know; they are treated as unassigned "
                              "(docs/tokenizer.md)", stacklevel=2)
    return _installed


def tables_id() -> str:
    """The id of the tables the core uses (installing them first): recorded with the data."""
    return install()
