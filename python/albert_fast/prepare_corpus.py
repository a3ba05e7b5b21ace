"""prepare-corpus: raw text -> one sentence per line, a blank line between documents.

Reading, cleaning, de-duplication, Punkt splitting, sharded atomic output and resume are in the
Rust core; this module decides where the Punkt parameters come from (given, installed
``nltk_data``, or trained on a bounded sample and saved to ``OUT/punkt/``). docs/prepare-corpus.md."""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from albert_fast import _core
from albert_fast.config import Config, CorpusConfig, as_config
from albert_fast.errors import ConfigError, InputError
from albert_fast.io_utils import atomic_write_json, ensure_output_dir
from albert_fast.progress import Bar, run_with_progress

PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")

__all__ = ["prepare_corpus", "train_punkt", "save_punkt_params", "load_punkt_splitter", "PUNKT_FILES"]


def save_punkt_params(params: Any, directory: str | Path) -> Path:
    """Writes NLTK ``PunktParameters`` as a ``punkt_tab`` directory (sorted lines, each file
    written atomically). NLTK's own ``save_punkt_params`` only writes inside its data sandbox."""
    directory = Path(directory)
    _core.save_punkt_params(
        str(directory),
        sorted(params.abbrev_types),
        sorted(tuple(c) for c in params.collocations),
        sorted(params.sent_starters),
        sorted((k, int(v)) for k, v in params.ortho_context.items()),
    )
    return directory


def train_punkt(text: str, directory: str | Path, extra_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trains NLTK's ``PunktTrainer`` on ``text`` and saves the parameters to ``directory``
    (appearing complete or not at all). Returns what was learned and how long it took."""
    from nltk.tokenize.punkt import PunktTrainer

    if not text.strip():
        raise InputError("no text to train Punkt on: the inputs hold no text after cleaning")
    directory = Path(directory)
    start = time.perf_counter()
    trainer = PunktTrainer()
    trainer.train(text, finalize=True)
    params = trainer.get_params()
    seconds = time.perf_counter() - start
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_punkt_params(params, tmp)
    info = {
        "source": "trained",
        "sample_bytes": len(text.encode("utf-8")),
        "train_seconds": round(seconds, 3),
        "abbrev_types": len(params.abbrev_types),
        "collocations": len(params.collocations),
        "sent_starters": len(params.sent_starters),
        "ortho_context": len(params.ortho_context),
        **(extra_info or {}),
    }
    atomic_write_json(tmp / "training.json", info)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    return info


def _has_punkt_files(directory: Path) -> bool:
    return directory.is_dir() and all((directory / f).is_file() for f in PUNKT_FILES)


def _installed_punkt(language: str) -> Path | None:
    """The installed ``nltk_data`` ``punkt_tab`` model of ``language``, if there is one."""
    try:
        import nltk.data

        return Path(str(nltk.data.find(f"tokenizers/punkt_tab/{language}/")))
    except (LookupError, ValueError, OSError):
        return None


def load_punkt_splitter(params_dir: str | Path) -> "_core.PunktSplitter":
    """The Rust Punkt splitter with the parameters of a ``punkt_tab`` directory."""
    return _core.PunktSplitter(str(params_dir))


def _resolve_params(inputs: list[str], out: Path, cfg: CorpusConfig) -> tuple[Path, dict[str, Any]]:
    if cfg.punkt_params:
        d = Path(cfg.punkt_params)
        if not _has_punkt_files(d):
            raise ConfigError(
                f"punkt_params: {d} is not a punkt_tab directory (needs {', '.join(PUNKT_FILES)})"
            )
        return d, {"source": "user", "path": str(d)}
    if cfg.punkt_language:
        d = _installed_punkt(cfg.punkt_language)
        if d is not None and _has_punkt_files(d):
            return d, {"source": "nltk_data", "language": cfg.punkt_language, "path": str(d)}
        warnings.warn(
            f"no installed NLTK punkt_tab model for {cfg.punkt_language!r}; training Punkt on a "
            f"{cfg.punkt_sample_mb:g} MB sample of the input instead",
            stacklevel=3,
        )
    d = out / "punkt"
    sample_settings = {
        "inputs": inputs,
        "punkt_sample_mb": cfg.punkt_sample_mb,
        "doc_boundary": cfg.doc_boundary,
        "jsonl_field": cfg.jsonl_field,
        "clean": [cfg.clean, cfg.nfc, cfg.remove_control, cfg.collapse_whitespace, cfg.min_line_chars],
    }
    info_path = d / "training.json"
    if _has_punkt_files(d) and info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if info.get("sample_settings") == sample_settings:
            info["reused"] = True
            return d, info
    if _core.prepared_output_exists(str(out)):
        # Retraining would overwrite the Punkt parameters an earlier run's shards were made with.
        raise InputError(
            f"{out}: holds the output of an earlier prepare-corpus run with other inputs or "
            "settings; choose another output directory or remove it"
        )
    text = _core.sample_text(
        inputs,
        int(cfg.punkt_sample_mb * 1024 * 1024),
        **_reading_settings(cfg),
    )
    return d, train_punkt(text, d, {"sample_settings": sample_settings})


def _reading_settings(cfg: CorpusConfig) -> dict[str, Any]:
    """How inputs are cut into documents and cleaned: the same for the Punkt training sample and
    for the corpus itself."""
    return dict(
        doc_boundary=cfg.doc_boundary,
        jsonl_field=cfg.jsonl_field,
        clean=cfg.clean,
        nfc=cfg.nfc,
        remove_control=cfg.remove_control,
        collapse_whitespace=cfg.collapse_whitespace,
        min_line_chars=cfg.min_line_chars,
    )


def prepare_corpus(
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: Config | CorpusConfig | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    threads: int = 0,
    progress: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Turns raw text into ``OUT/corpus-NNNNN.txt`` shards (one sentence per line, a blank line
    after each document) plus ``OUT/stats.json``, and returns those statistics.

    ``inputs``: files, directories (recursive) and globs; plain, ``.gz``, ``.zst`` or ``.bz2``.
    ``config``: a :class:`Config` (its ``corpus`` section is used), a config file path or dict,
    or a :class:`CorpusConfig`;
    any field of :class:`CorpusConfig` can also be given as a keyword (``doc_boundary="jsonl"``,
    ``clean=False``, ``punkt_params="dir"``, ...). ``threads``: 0 uses all cores. A re-run with
    the same inputs and settings resumes (finished shards are kept) or, if the run finished,
    returns the recorded statistics.
    """
    cfg = config if isinstance(config, CorpusConfig) else as_config(config).corpus
    unknown = sorted(set(overrides) - set(CorpusConfig.model_fields))
    if unknown:
        raise ConfigError(f"unknown prepare_corpus option(s): {', '.join(unknown)}")
    if overrides:
        cfg = CorpusConfig.model_validate({**cfg.model_dump(), **overrides})
    if threads < 0:
        raise ConfigError(f"threads: {threads} is negative (0 uses all cores)")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    input_list = [os.fspath(i) for i in inputs]
    out = ensure_output_dir(output)
    params_dir, punkt_info = _resolve_params(input_list, out, cfg)
    options = dict(_reading_settings(cfg), dedup=cfg.dedup, shard_size_mb=cfg.shard_size_mb,
                   max_document_mb=cfg.max_document_mb, threads=threads)
    return run_with_progress(
        lambda p: _core.prepare_corpus(input_list, str(out), str(params_dir), progress=p,
                                       extra_stats={"punkt": punkt_info}, **options),
        lambda s: Bar(s["bytes_read"], s["bytes_total"], "prepare-corpus"),
        show=progress, name="albert-fast-prepare")
