"""prepare-corpus: raw text -> one sentence per line, a blank line between documents.

Reading, cleaning, de-duplication, Punkt splitting, sharded atomic output and resume are in the
Rust core; this module decides where the Punkt parameters come from (given, installed
``nltk_data``, or trained on a bounded sample by the Rust trainer — the parameters NLTK's
``PunktTrainer`` learns — and saved to ``OUT/punkt/``). docs/prepare-corpus.md."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from albert_fast import _core, storage
from albert_fast.cluster import (DEFAULT_CONNECT_TIMEOUT, STDIN_ON_A_CLUSTER, Executor, open_executor,
                                parse_cluster, reads_local_files, run_tasks)
from albert_fast.config import FIELD_ALIASES, Config, CorpusConfig, as_config
from albert_fast.errors import ConfigError, InputError
from albert_fast.io_utils import STDIN, atomic_write_json, ensure_output_dir, name_stdin, stdin_spooled
from albert_fast.progress import Bar, run_with_progress, run_with_status
from albert_fast.unicode_tables import tables_id

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


def _write_trained(directory: Path, train: Callable[[Path], dict[str, Any]], extra_info: dict[str, Any] | None) -> dict[str, Any]:
    """Runs ``train(tmp)`` (which writes the parameter files into ``tmp``), adds
    ``training.json`` and moves the directory to ``directory``: it appears complete or not at all."""
    tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        info = {"source": "trained", **train(tmp), **(extra_info or {})}
        atomic_write_json(tmp / "training.json", info)
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def train_punkt(text: str, directory: str | Path, extra_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trains Punkt on ``text`` -- the parameters NLTK's ``PunktTrainer().train(text)`` learns,
    computed in Rust -- and saves them to ``directory`` (appearing complete or not at all).
    Returns what was learned and how long it took."""
    if not text.strip():
        raise InputError("no text to train Punkt on: the inputs hold no text after cleaning")

    def train(tmp: Path) -> dict[str, Any]:
        start = time.perf_counter()
        (abbrevs, collocations, starters, ortho), (tokens, types, breaks) = _core.train_punkt(text)
        seconds = time.perf_counter() - start
        _core.save_punkt_params(str(tmp), abbrevs, collocations, starters, ortho)
        return {"sample_bytes": len(text.encode("utf-8")), "train_seconds": round(seconds, 3),
                "tokens": tokens, "types": types, "sentence_breaks": breaks,
                "abbrev_types": len(abbrevs), "collocations": len(collocations),
                "sent_starters": len(starters), "ortho_context": len(ortho)}

    return _write_trained(Path(directory), train, extra_info)


def _has_punkt_files(directory: Path) -> bool:
    return directory.is_dir() and all((directory / f).is_file() for f in PUNKT_FILES)


def _installed_punkt(language: str) -> Path | None:
    """The installed ``nltk_data`` ``punkt_tab`` model of ``language``, if there is one. NLTK is
    only asked where its data lies; whatever goes wrong inside it is said in our words."""
    try:
        import nltk.data
    except Exception as err:  # not installed, or broken on import
        raise ConfigError(
            f"punkt_language {language!r}: NLTK, which finds installed punkt_tab models, cannot be "
            f"imported ({_one_line(err)}); install nltk or pass --punkt-params DIR") from None
    try:
        return Path(str(nltk.data.find(f"tokenizers/punkt_tab/{language}/")))
    except (LookupError, ValueError, OSError):
        return None
    except Exception as err:  # e.g. a damaged .zip on NLTK_DATA's path
        raise InputError(
            f"punkt_language {language!r}: NLTK failed searching its data path "
            f"({os.pathsep.join(map(str, nltk.data.path))}) for punkt_tab: {_one_line(err)}; "
            "fix the path (NLTK_DATA) or pass --punkt-params DIR") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def load_punkt_splitter(params_dir: str | Path) -> "_core.PunktSplitter":
    """The Rust Punkt splitter with the parameters of a ``punkt_tab`` directory."""
    return _core.PunktSplitter(str(params_dir))


def _resolve_params(inputs: list[str], out: Path | str, cfg: CorpusConfig,
                    progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """The Punkt parameters' directory and where they came from. For an output in object
    storage the trained parameters are kept in ``OUT/punkt/`` there too (``training.json``
    last), and reused from there."""
    if not storage.is_url(out) or cfg.punkt_params or (cfg.punkt_language and _installed_punkt(cfg.punkt_language)):
        return _resolve_local_params(inputs, Path(out), cfg, progress=progress)
    remote = storage.join(out, "punkt")
    local = storage.cache_dir("punkt", hashlib.sha256(remote.encode()).hexdigest()[:16])
    shutil.rmtree(local, ignore_errors=True)
    if storage.exists(storage.join(remote, "training.json")):
        storage.fetch_dir(remote, [*PUNKT_FILES, "training.json"], local=local / "punkt")
    earlier = any(storage.exists(storage.join(out, f))
                  for f in (_core.PREPARED_STATS_FILE, _core.PREPARED_STATE_FILE))
    d, info = _resolve_local_params(inputs, local, cfg, earlier, shown=out, progress=progress)
    if info.get("source") == "trained" and not info.get("reused"):
        storage.upload_dir(d, remote, last=["training.json"])
    return d, info


def _resolve_local_params(inputs: list[str], out: Path, cfg: CorpusConfig,
                          earlier_output: bool | None = None, shown: Any = None,
                          progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """:func:`_resolve_params` with the parameters kept in ``out/punkt``; ``earlier_output``:
    whether the output holds an earlier run's shards (default: look in ``out``)."""
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
        "target_document_kb": cfg.target_document_kb,
        "jsonl_field": cfg.jsonl_field,
        "clean": [cfg.clean, cfg.nfc, cfg.remove_control, cfg.collapse_whitespace, cfg.min_line_chars],
    }
    info_path = d / "training.json"
    if _has_punkt_files(d) and info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if info.get("sample_settings") == sample_settings:
            info["reused"] = True
            return d, info
    if _core.prepared_output_exists(str(out)) if earlier_output is None else earlier_output:
        # Retraining would overwrite the Punkt parameters an earlier run's shards were made with.
        raise InputError(
            f"{shown or out}: holds the output of an earlier prepare-corpus run with other inputs or "
            "settings; choose another output directory or remove it"
        )

    def train(tmp: Path) -> dict[str, Any]:
        info = _core.train_punkt_sample(inputs, int(cfg.punkt_sample_mb * 1024 * 1024), str(tmp),
                                        **_reading_settings(cfg))
        info["train_seconds"] = round(info["train_seconds"], 3)
        return info

    # Sampling and training report nothing while they run: a status line says what is going on
    # and for how long.
    return d, run_with_status(
        lambda: _write_trained(d, train, {"sample_settings": sample_settings}),
        f"training Punkt on a {cfg.punkt_sample_mb:g} MB sample of the input", show=progress,
        name="albert-fast-punkt")


def _reading_settings(cfg: CorpusConfig) -> dict[str, Any]:
    """How inputs are cut into documents and cleaned: the same for the Punkt training sample and
    for the corpus itself."""
    return dict(
        doc_boundary=cfg.doc_boundary,
        target_document_kb=cfg.target_document_kb,
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
    cluster: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Turns raw text into ``OUT/corpus-NNNNN.txt`` shards (one sentence per line, a blank line
    after each document) plus ``OUT/stats.json``, and returns those statistics.

    ``inputs``: files, directories (recursive) and globs; plain, ``.gz``, ``.zst`` or ``.bz2``;
    Parquet and Arrow files and Hugging Face ``datasets`` directories (``save_to_disk``), the
    text from the column ``jsonl_field`` (alias ``text_column``); ``-`` for standard input.
    ``config``: a :class:`Config` (its ``corpus`` section is used), a config file path or dict,
    or a :class:`CorpusConfig`;
    any field of :class:`CorpusConfig` can also be given as a keyword (``doc_boundary="jsonl"``,
    ``clean=False``, ``punkt_params="dir"``, ...). ``threads``: 0 uses all cores. A re-run with
    the same inputs and settings resumes (finished shards are kept) or, if the run finished,
    returns the recorded statistics.

    ``cluster``: run the work as tasks on Dask -- ``"local"``, ``"local:N"``, a scheduler address
    (``tcp://host:port``) or a ``distributed.Client``; default: the config's
    ``cluster.address``, else this process. The shards and statistics are the same either way
    (docs/cluster.md). ``inputs`` and ``output`` may be URLs (``gs://``, ``s3://``).
    """
    timeout = DEFAULT_CONNECT_TIMEOUT
    if isinstance(config, CorpusConfig):
        cfg = config
    else:
        full = as_config(config)
        cfg = full.corpus
        cluster = full.cluster.address if cluster is None else cluster
        timeout = full.cluster.connect_timeout
    aliases = {a: f for (section, f), names in FIELD_ALIASES.items() if section == "corpus" for a in names}
    overrides = {aliases.get(k, k): v for k, v in overrides.items()}
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
    if STDIN not in input_list:
        return _prepare(input_list, output, cfg, cluster, timeout, threads, progress)
    if not reads_local_files(cluster):
        raise ConfigError(STDIN_ON_A_CLUSTER)
    out = output if storage.is_url(output) else ensure_output_dir(output)
    with stdin_spooled(input_list, storage.stdin_spool_dir(out)) as input_list:
        stats = name_stdin(_prepare(input_list, out, cfg, cluster, timeout, threads, progress))
        storage.write_json(storage.join(out, "stats.json"), stats)
        return stats


def _prepare(inputs: list[str], output: str | os.PathLike[str], cfg: CorpusConfig, cluster: Any,
             timeout: float, threads: int, progress: bool) -> dict[str, Any]:
    """:func:`prepare_corpus` on named inputs: here, or planned on ``cluster`` / for a URL
    output."""
    input_list, url_hidden = storage.expand_inputs(inputs)
    out = storage.ensure_output(output)
    params_dir, punkt_info = _resolve_params(input_list, out, cfg, progress)
    options = dict(_reading_settings(cfg), dedup=cfg.dedup, shard_size_mb=cfg.shard_size_mb,
                   max_document_mb=cfg.max_document_mb, threads=threads)
    if parse_cluster(cluster) is not None or storage.is_url(out):
        location = storage.join(out, "punkt") if punkt_info.get("source") == "trained" and storage.is_url(out) else str(params_dir)
        return _prepare_planned(input_list, url_hidden, out, params_dir, location, punkt_info, options,
                                cluster, timeout, threads, progress)
    out = Path(out)
    return run_with_progress(
        lambda p: _core.prepare_corpus(input_list, str(out), str(params_dir), progress=p,
                                       extra_stats=_extra_stats(punkt_info),
                                       **options),
        lambda s: Bar(s["bytes_read"], s["bytes_total"], "prepare-corpus"),
        show=progress, name="albert-fast-prepare")


def _extra_stats(punkt_info: dict[str, Any]) -> dict[str, Any]:
    """What ``stats.json`` records besides the core's statistics, local and planned runs alike."""
    return {"punkt": punkt_info, "unicode_tables": tables_id()}


# ------------------------------------------------------------------------------------------
# A planned run (docs/cluster.md): read, clean and split each input file once into its staged
# text, plan the shards here, copy each shard together from the staged texts where it runs
# (albert_fast_core::prepare_corpus::plan)

#: The staging area of a planned run, inside the output directory until it finishes: per input
#: file an index and its staged text (the documents as the shards will hold them; for a bucket
#: output with the tasks on this machine, in a local cache directory), and a marker per
#: finished shard.
PLAN_DIR = ".prepare-plan"


def _prepare_planned(inputs: list[str], url_hidden: int, out: str, params_dir: Path, params_location: str,
                     punkt_info: dict, options: dict[str, Any], cluster: Any, timeout: float,
                     threads: int, progress: bool) -> dict[str, Any]:
    """prepare-corpus as planned steps on ``cluster`` (or threads here): the same shards and
    ``stats.json`` as the single-process run, with the same resume rules."""
    splitter = _core.PunktSplitter(str(params_dir))
    fp, files, hidden = _core.prepare_fingerprint(inputs, splitter, **options)
    files = [str(f) for f in files]
    previous = _previous_run(out, fp)
    if isinstance(previous, dict) and "documents" in previous:
        return previous
    journal_done = previous or []
    plan_dir = storage.join(out, PLAN_DIR)
    # The indexes and staged texts lie under the output, where every worker reaches them; for a
    # bucket output whose tasks all run on this machine (threads, local:N), in a local cache
    # directory of that output instead: the text is not uploaded and read back.
    stage_dir = plan_dir
    if storage.is_url(out) and reads_local_files(cluster):
        stage_dir = str(storage.cache_dir("prepare-plan", hashlib.sha256(str(out).encode()).hexdigest()[:16]))
    # ("index2": an index of the format before staged text, left by an interrupted run of an
    # earlier release, is not taken for one of these.)
    indexes = [storage.join(stage_dir, f"index2-{fp[:16]}-{i:05d}.bin") for i in range(len(files))]
    texts = [storage.join(stage_dir, f"text-{fp[:16]}-{i:05d}.txt") for i in range(len(files))]

    def remove_staging() -> None:
        storage.remove_tree(plan_dir)
        storage.remove_tree(stage_dir)

    def stage(ex: Executor, todo: list[int]) -> None:
        run_tasks(ex, _index_task,
                  [(files[i], i, indexes[i], texts[i], params_location, fp,
                    dict(options, threads=ex.task_threads(len(todo)))) for i in todo],
                  key="prepare-index", weights=[_size_or_1(files[i]) for i in todo],
                  desc="prepare-corpus (reading)", show=progress)

    if not storage.is_url(stage_dir):
        Path(stage_dir).mkdir(parents=True, exist_ok=True)
    with open_executor(cluster, threads, timeout) as ex:
        # 1. Every input file read, cleaned and split once: its index and staged text (kept from
        # an interrupted run of the same fingerprint: the index is written after the text).
        fresh = [i for i, p in enumerate(indexes) if not storage.exists(p)]
        try:
            stage(ex, fresh)
        except Exception:
            if not journal_done:  # a failed fresh run leaves nothing behind (an interrupted one resumes)
                remove_staging()
            raise
        # 2. The plan; the journal marks the directory as this run's from now on.
        plan, tasks = _core.prepare_plan(indexes, texts, fp, **options)
        if not tasks:  # nothing to write: the statistics say so, as the local run does
            remove_staging()
            return _core.prepare_stats(plan, [], [], str(out), len(files), hidden + url_hidden, 0,
                                       extra_stats=_extra_stats(punkt_info), **options)
        _write_journal(out, fp, journal_done)
        # 3. The shards, copied from the staged texts (those the journal lists as finished are
        # kept, as the local run does). A file's staged text is removed once the shards that
        # need it are built, so the staging area does not hold the whole output at the end.
        finished = {r["file"]: (r, d) for r, d in _verified(out, journal_done)}
        todo = [t for t in tasks if t["shard"]["file_name"] not in finished]
        # An interrupted run may have removed texts that a shard it did not finish still needs:
        # they are staged again (the same bytes).
        fresh_set, present, restage = set(fresh), {}, set()
        for t in todo:
            for i in _shard_files(t):
                if i not in fresh_set and i not in present:
                    present[i] = storage.exists(texts[i])
            gone = [i for i in _shard_files(t) if i not in fresh_set and not present[i]]
            if gone and _finished_marker(out, t, fp) is None:
                restage.update(gone)
        stage(ex, sorted(restage))
        users = [0] * len(files)
        for t in todo:
            for i in _shard_files(t):
                users[i] += 1
        for i in range(len(files)):
            if not users[i]:
                storage.remove(texts[i])

        groups = _groups(todo, ex.width)

        def built_group(k: int, _results: Any) -> None:
            for t in groups[k]:
                for i in _shard_files(t):
                    users[i] -= 1
                    if not users[i]:
                        storage.remove(texts[i])

        built = run_tasks(ex, _shards_task, [(g, fp, out) for g in groups],
                          key="prepare-shards", weights=[sum(t["shard"]["cleaned_bytes"] for t in g) for g in groups],
                          desc="prepare-corpus", show=progress, on_done=built_group)
        built = [r for rs in built for r in rs]
    records = dict(finished)
    resumed = len(finished)
    for t, (record, documents, was_done) in zip(todo, built):
        records[t["shard"]["file_name"]] = (record, documents)
        resumed += was_done
    ordered = [records[t["shard"]["file_name"]] for t in tasks]
    # 4. The statistics, written last; the journal lists every shard.
    stats = _core.prepare_stats(plan, [r for r, _ in ordered], [d for _, d in ordered], str(out), len(files),
                                hidden + url_hidden, resumed, extra_stats=_extra_stats(punkt_info), **options)
    _write_journal(out, fp, ordered)
    storage.write_bytes(storage.join(out, _core.PREPARED_STATS_FILE),
                        _core.prepared_json_text(stats).encode("utf-8"))
    remove_staging()
    return stats


#: Cleaned text per shard-building task at most: copying a shard takes milliseconds, so a task
#: holds several, keeping the cluster's cost per task small next to the work.
_GROUP_BYTES = 64 << 20


def _groups(tasks: list[dict], width: int) -> list[list[dict]]:
    """``tasks`` (shards) in runs of consecutive ones of up to ``_GROUP_BYTES`` of cleaned
    text, smaller when that gives fewer than 4 runs per worker thread (to spread the work)."""
    total = sum(t["shard"]["cleaned_bytes"] for t in tasks)
    limit = max(1, min(_GROUP_BYTES, total // (4 * max(1, width))))
    groups: list[list[dict]] = []
    size = limit
    for t in tasks:
        if size >= limit:
            groups.append([])
            size = 0
        groups[-1].append(t)
        size += t["shard"]["cleaned_bytes"]
    return groups


def _shard_files(task: dict) -> range:
    """The input files (their indices) whose staged texts a shard task reads."""
    shard = task["shard"]
    return range(shard["first"][0], shard["last"][0] + 1)


def _size_or_1(path: str) -> int:
    try:
        return max(1, storage.size(path))
    except OSError:
        return 1


def _previous_run(out: str, fp: str) -> dict | list:
    """What an earlier run left in ``out``, by the local run's rules: its statistics when it
    finished with this fingerprint, the shards its journal lists (``(record, documents)``
    pairs), or an error for any other run's output."""
    stats = storage.read_json(storage.join(out, _core.PREPARED_STATS_FILE))
    if isinstance(stats, dict):
        if stats.get("fingerprint") == fp:
            stats["resumed"] = "already complete"
            return stats
        raise InputError(f"{out}: holds the output of an earlier prepare-corpus run with other inputs "
                         "or settings; choose another output directory or remove it")
    journal = storage.read_json(storage.join(out, _core.PREPARED_STATE_FILE))
    if isinstance(journal, dict):
        if journal.get("fingerprint") != fp:
            raise InputError(f"{out}: holds an unfinished prepare-corpus run with other inputs or "
                             "settings; choose another output directory or remove it")
        # A shard without its documents' statistics (a journal of an older release) is rebuilt.
        return list(zip(journal.get("shards") or [], journal.get("documents") or []))
    for name in storage.listdir(out):
        if name.startswith("corpus-") and name.endswith(".txt"):
            raise InputError(f"{out}: already holds {name} from another run; choose another output "
                             "directory or remove it")
    return []


def _verified(out: str, records: list) -> list:
    """The journal's leading ``(record, documents)`` pairs whose shard is still there with its
    recorded size."""
    kept = []
    for i, (rec, documents) in enumerate(records):
        if rec.get("file") != f"corpus-{i:05d}.txt":
            break
        try:
            if storage.size(storage.join(out, rec["file"])) != rec["bytes"]:
                break
        except OSError:
            break
        kept.append((rec, documents))
    return kept


def _write_journal(out: str, fp: str, records: list) -> None:
    """The journal the local run keeps, from ``(record, documents)`` pairs."""
    text = _core.prepared_json_text({"fingerprint": fp, "shards": [r for r, _ in records],
                                     "documents": [d for _, d in records]})
    storage.write_bytes(storage.join(out, _core.PREPARED_STATE_FILE), text.encode("utf-8"))


def _index_task(path: str, i: int, index: str, text: str, params: str, fp: str, options: dict) -> int:
    """Step 1 on a worker: input file ``i`` read, cleaned and split with the Punkt parameters
    at ``params``; its staged text written to ``text``, then its index to ``index``."""
    splitter = _worker_splitter(params, fp)
    if not storage.is_url(index):  # (into the driver's directory: gone if the run has failed meanwhile)
        return _core.prepare_index(path, i, index, text, fp, splitter, **options)
    with storage.temp_dir() as tmp:
        local_index, local_text = Path(tmp) / "index.bin", Path(tmp) / "text.txt"
        n = _core.prepare_index(path, i, str(local_index), str(local_text), fp, splitter, **options)
        storage.put_file(local_text, text)
        storage.put_file(local_index, index)
    return n


_SPLITTERS: dict[tuple[str, str], Any] = {}


def _worker_splitter(location: str, fp: str) -> Any:
    """This process's Punkt splitter for the parameters at ``location`` (fetched once when it
    is a URL)."""
    if (location, fp) not in _SPLITTERS:
        local = storage.fetch_dir(location, PUNKT_FILES) if storage.is_url(location) else Path(location)
        _SPLITTERS[(location, fp)] = _core.PunktSplitter(str(local))
    return _SPLITTERS[(location, fp)]


def _finished_marker(out: str, task: dict, fp: str) -> dict | None:
    """The marker of a shard an earlier attempt built: it has this run's fingerprint and the
    shard file its size."""
    name = task["shard"]["file_name"]
    marker = storage.read_json(storage.join(out, PLAN_DIR, f"{name}.done"))
    if isinstance(marker, dict) and marker.get("fingerprint") == fp and "documents" in marker:
        try:
            if storage.size(storage.join(out, name)) == marker["record"]["bytes"]:
                return marker
        except OSError:
            pass
    return None


def _shards_task(tasks: list[dict], fp: str, out: str) -> list[tuple[dict, dict, bool]]:
    """Step 3 on a worker: :func:`_shard_task` for each shard of ``tasks``."""
    return [_shard_task(t, fp, out) for t in tasks]


def _shard_task(task: dict, fp: str, out: str) -> tuple[dict, dict, bool]:
    """Copies one shard together from the staged texts into ``out`` (or finds it finished
    there: :func:`_finished_marker`); returns its record, its documents' statistics and whether
    it was found finished."""
    marker = _finished_marker(out, task, fp)
    if marker is not None:
        return marker["record"], marker["documents"], True
    name = task["shard"]["file_name"]
    target = storage.join(out, name)
    if storage.is_url(out):
        with storage.temp_dir() as tmp:
            local = Path(tmp) / name
            record, documents = _core.prepare_build_shard(task, str(local))
            storage.put_file(local, target)
    else:
        record, documents = _core.prepare_build_shard(task, target)
    storage.write_json(storage.join(out, PLAN_DIR, f"{name}.done"),
                       {"fingerprint": fp, "record": record, "documents": documents})
    return record, documents, False
