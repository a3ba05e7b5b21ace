"""create-data: masked-LM + sentence-order pretraining data, the Python face of
``albert_fast_core::create_data``.

:func:`create_pretraining_data` (the original tool's name) does what the original
``create_pretraining_data.py`` does -- same flags, feature names, dtypes and lengths -- but
streaming, in parallel and seeded, with the reference's defects fixed unless
``reference_compat`` is set. See ``docs/create-data.md``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from albert_fast import _core, storage
from albert_fast.cluster import (STDIN_ON_A_CLUSTER, _cpu_count, parse_cluster, reads_local_files, run_tasks,
                                 starting_executor)
from albert_fast.config import Config, DataConfig, as_config, check_vocab_size
from albert_fast.errors import AlbertFastError, ConfigError, ModelError
from albert_fast.io_utils import (STDIN, atomic_write_text, file_sha256,
                                  human_size, is_stdin_spool, stdin_spooled)
from albert_fast.progress import Bar, run_with_progress
from albert_fast.records import feature_spec
from albert_fast.tokenizer import (TOKENIZER_CONFIG, Tokenizer, resolve_tokenizer_paths,
                                 sentencepiece_behaviour)
from albert_fast.unicode_tables import tables_id

__all__ = ["create_pretraining_data", "check_vocab_file", "MANIFEST", "default_shard_size"]

PathLike = Union[str, "os.PathLike[str]"]

#: The manifest written (last, atomically) into the output directory.
MANIFEST = "manifest.json"
#: What each shard counts (besides ``records``), summed into the manifest's totals.
_SHARD_COUNTS = ("documents", "sentences", "single_sentence_documents", "input_tokens",
                 "instances", "real_tokens", "masked_positions", "label_ones",
                 "random_document_pairs", "skipped_chunks")


def default_shard_size(dupe_factor: int) -> int:
    """Raw input bytes per shard: 16 MiB of (input x dupe_factor), between 64 KiB and 4 MiB, so
    one shard's instances stay around 50 MB in memory whatever the dupe factor."""
    return max(64 << 10, min(4 << 20, (16 << 20) // max(1, dupe_factor)))


def _tokenizer_path_for_manifest(model: Path, out: Path | str, given: str) -> str:
    """Where ``manifest.json`` says the tokenizer model is (read by
    :func:`albert_fast.records.tokenizer_from_manifest`): relative to the data directory when the
    model lies inside it, so the two move together, absolute otherwise, so the data directory
    can move on its own; a tokenizer or output in object storage is named by its URL."""
    if storage.is_url(given):
        return given if given.endswith(".model") else storage.join(given, model.name)
    if storage.is_url(out):
        return str(model.resolve())
    model, out = model.resolve(), Path(out).resolve()
    try:
        return model.relative_to(out).as_posix()
    except ValueError:
        return str(model)


def _normalization(cfg: Config, explicit: bool, recorded: Mapping[str, Any], model: Path) -> tuple[bool, bool]:
    """Lower-casing and accent stripping: the tokenizer's recorded ones, which an explicit config
    must agree with (Q1: one normalization everywhere)."""
    lowercase, strip = cfg.text.lowercase, cfg.text.strip_accents
    problems = []
    for key, ours in (("lowercase", lowercase), ("strip_accents", strip)):
        if key in recorded:
            theirs = recorded[key]
            if not isinstance(theirs, bool):
                raise ConfigError(f"{model.parent / TOKENIZER_CONFIG}: invalid value for {key}: {theirs!r}")
            if explicit and theirs != ours:
                problems.append(f"text.{key} is {ours} in the config but the tokenizer was trained with {key}={theirs}")
            if key == "lowercase":
                lowercase = theirs
            else:
                strip = theirs
    if problems:
        raise ModelError(f"{model}: normalization mismatch: {'; '.join(problems)}. The data must be "
                         "normalized as the tokenizer's training text was (Q1)")
    return lowercase, strip


#: Warn when the estimated output is this many times the input, or larger than LARGE_OUTPUT.
LARGE_OUTPUT_RATIO = 20
LARGE_OUTPUT_BYTES = 10 << 30


def estimate_output(profile: Mapping[str, Any], input_bytes: int, token_ids: Sequence[Sequence[int]],
                    data: DataConfig) -> dict[str, Any]:
    """What create-data will write, estimated before the run from a sample of the input: the
    sample's tokens per byte and documents per byte scaled to ``input_bytes``; instances as the
    reference makes them (a document yields about one instance per ~0.9 x max_seq_length tokens,
    plus its short last one), ``dupe_factor`` times; a record padded to ``max_seq_length``
    (input_ids 1-3 bytes per id, three 0/1 features of one byte per position, the masked_lm_*
    features, names and framing)."""
    sample = profile.get("sample", [])
    sample_bytes = sum(len(line.encode("utf-8")) + 1 for line in sample) or 1
    tokens = sum(len(ids) for ids in token_ids)
    documents = max(1, sum(1 for a, b in zip(sample, sample[1:] + [""]) if a.strip() and not b.strip()))
    scale = input_bytes / sample_bytes
    total_tokens, total_docs = tokens * scale, documents * scale
    per_pass = total_tokens / (0.9 * max(data.max_seq_length - 3, 1)) + total_docs / 2
    instances = data.dupe_factor * per_pass
    record = data.max_seq_length * 5 + data.max_predictions_per_seq * 8 * (1 + int(data.do_permutation)) + 220
    out = instances * record
    return {"instances": int(instances), "bytes": int(out), "bytes_per_instance": record,
            "ratio": out / max(input_bytes, 1), "tokens": int(total_tokens), "documents": int(total_docs)}


def _check_input(input_specs: list[str], tokenizer: Any, data: DataConfig) -> Optional[dict[str, Any]]:
    """One-line warnings before a long run: input that is not one sentence per line, and an
    output much larger than the input (the reference's defaults, dupe_factor 40 at
    max_seq_length 512, write ~100x the text). Returns the estimate (None without text)."""
    profile = _core.profile_text(input_specs)
    lines = [line for line in profile["sample"] if line.strip()]
    if not lines:
        return None
    summary = profile["summary"]
    if profile["layout"] not in ("sentences", "short"):
        warnings.warn(
            f"the input looks like {profile['description']} (mean line {summary['mean_line_bytes']:.0f} bytes, "
            f"{summary['lines_per_block']:.1f} lines per document), not one sentence per line with blank lines "
            "between documents: run albert-fast prepare-corpus on it first", stacklevel=3)
    input_bytes = sum(storage.size(p) for p in _core.expand_inputs(input_specs)[0])
    estimate = estimate_output(profile, input_bytes, tokenizer.encode_batch(lines), data)
    if estimate["ratio"] >= LARGE_OUTPUT_RATIO or estimate["bytes"] >= LARGE_OUTPUT_BYTES:
        warnings.warn(
            f"the output will be about {human_size(estimate['bytes'])} ({estimate['ratio']:.0f}x the "
            f"{human_size(input_bytes)} input, ~{estimate['instances']:,} instances): dupe_factor "
            f"{data.dupe_factor} at max_seq_length {data.max_seq_length}; lower --dupe_factor (or use "
            "masked_lm_budget for dynamic masking at pretraining) to write less", stacklevel=3)
    return estimate


def _empty_named_shards(out: Path | str, names: Sequence[str], shards: Sequence[Mapping[str, Any]],
                        compression: str) -> list[dict[str, Any]]:
    """The ``output_files`` the training text did not reach (fewer documents than files): valid
    empty TFRecord files, as the original leaves them, listed like the others."""
    import gzip

    written = {s["file"] for s in shards}
    empty = []
    for k, name in enumerate(names):
        if name in written:
            continue
        data = gzip.compress(b"", mtime=0) if compression == "gzip" else b""
        storage.write_bytes(storage.join(out, name), data)  # whole or not at all, on disk or in a bucket
        empty.append({"split": "train", "index": k, "file": name, "records": 0,
                      **{key: 0 for key in _SHARD_COUNTS}, "resumed": False})
    return empty


def check_vocab_file(vocab_file: PathLike, tokenizer: PathLike) -> None:
    """The original's required ``--vocab_file``: with a SentencePiece model its vocabulary is
    the model's (Q4), so the file must list the model's pieces in id order (``spiece.vocab``:
    ``piece<TAB>score`` per line; a plain one-piece-per-line file works too). ConfigError
    naming the first line that differs."""
    import sentencepiece as spm

    model, _ = resolve_tokenizer_paths(tokenizer)
    path = Path(vocab_file)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise ConfigError(f"--vocab_file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--vocab_file {path}: cannot read it ({err})") from None
    if lines and lines[-1] == "":
        lines.pop()
    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    for i, (line, piece) in enumerate(zip(lines, pieces)):
        if line.split("\t", 1)[0] != piece:
            raise ConfigError(f"--vocab_file {path}: line {i + 1} is {line.split(chr(9))[0]!r} "
                              f"but piece {i} of {model} is {piece!r}; the vocabulary file "
                              "belongs to another model")
    if len(lines) != len(pieces):
        raise ConfigError(f"--vocab_file {path}: {len(lines)} lines but {model} has "
                          f"{len(pieces)} pieces; the vocabulary file belongs to another model")


def _bar(s: dict[str, Any]) -> Bar:
    """Planning: the input read so far; building: the text of the documents done (the shard
    count is known after planning; a run that reads its input once learns it at the end)."""
    if s["phase"] == "planning":
        return Bar(s["bytes_read"], s["bytes_total"], "create-data (counting shards)")
    shards = f"{s['shards_done']}/{s['shards_total']}" if s["shards_total"] else str(s["shards_done"])
    return Bar(s["bytes_done"], s["bytes_total"], "create-data",
               dict(docs=s["documents"], instances=s["instances"], shards=shards))


def create_pretraining_data(
    inputs: Union[PathLike, Sequence[PathLike]],
    tokenizer: PathLike,
    output_dir: PathLike,
    config: Union[Config, PathLike, Mapping[str, Any], None] = None,
    threads: Optional[int] = None,
    *,
    eval_fraction: float = 0.0,
    compression: str = "none",
    shard_size_bytes: Optional[int] = None,
    max_line_tokens: Optional[int] = None,
    progress: bool = False,
    strict_normalization: Optional[bool] = None,
    sentencepiece_version: Optional[str] = None,
    output_files: Optional[Sequence[str]] = None,
    cluster: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Builds MLM + SOP pretraining instances from text and writes sharded TFRecords.

    Args:
        inputs: files, directories or glob patterns (plain, ``.gz``, ``.zst`` or ``.bz2``) in
            the reference format: one sentence per line, a blank line between documents.
        tokenizer: a tokenizer directory (``spiece.model`` + ``tokenizer_config.json``) or a
            ``.model`` file with ALBERT's special symbols.
        output_dir: where ``train-XXXXX-of-YYYYY.tfrecord`` (and ``eval-...``) and
            ``manifest.json`` go; created if missing. Re-running resumes: finished shards of the
            same run are kept.
        config: a :class:`~albert_fast.config.Config`, a config file path or a dict; ``None``
            for the defaults (``data`` section: the original tool's flags).
        threads: worker threads (default: all CPUs). The output does not depend on it.
        eval_fraction: share of documents held out into ``eval-*`` files (by a hash of each
            document's text: deterministic).
        compression: ``"none"`` or ``"gzip"`` (files end in ``.tfrecord.gz``).
        shard_size_bytes: raw input bytes per shard (default :func:`default_shard_size`).
        max_line_tokens: a line with more tokens is an error (default 16 x max_seq_length; 0
            disables the check); so is a line of more than 256 bytes per token of the limit,
            found while reading (memory stays bounded for any line length).
        progress: draw a progress bar on stderr (when it is a terminal).
        strict_normalization: whether the config's ``text`` settings must equal those recorded
            with the tokenizer (error otherwise); when false the tokenizer's recorded settings
            win. Default: strict when a ``config`` is given.
        sentencepiece_version: the ``sentencepiece`` release whose scoring the tokenizer
            reproduces (default: the installed one; docs/tokenizer.md). Recorded in the manifest;
            a resumed run with another one starts over.
        output_files: the original's ``--output_file`` list: names of files in ``output_dir``
            that are the train shards (the training text split evenly over them; a name the
            text does not reach becomes an empty file) instead of ``train-*`` shards of
            ``shard_size_bytes``.
        cluster: run the shards as tasks on Dask: ``"local"``, ``"local:N"``, a scheduler
            address (``tcp://host:port``) or a ``distributed.Client``; default: the config's
            ``cluster.address``, else this process. The files are the same either way
            (docs/cluster.md). Inputs, ``tokenizer`` and ``output_dir`` may be URLs
            (``gs://``, ``s3://``).
        **overrides: any ``data`` field under its original name (``max_seq_length=128``,
            ``dupe_factor=2``, ``reference_compat=True``, ...), or ``"section.field"`` keys.

    Returns:
        A summary: ``instances``, ``tokens`` (real tokens in instances), ``input_tokens``,
        ``masked_positions``, ``label_balance`` (share of SOP label 1), ``documents``,
        ``files``, ``seconds`` and ``manifest`` (its path).
    """
    start = time.monotonic()
    explicit = config is not None if strict_normalization is None else bool(strict_normalization)
    cfg = as_config(config, {(k if "." in k else f"data.{k}"): v for k, v in overrides.items()})
    data: DataConfig = cfg.data
    if not 0.0 <= float(eval_fraction) < 1.0:
        raise ConfigError(f"invalid value for eval_fraction: {eval_fraction} (expected 0 <= F < 1)")
    cluster = cfg.cluster.address if cluster is None else cluster
    tokenizer_given = os.fspath(tokenizer)
    model, recorded = resolve_tokenizer_paths(tokenizer)
    recorded = recorded or {}
    lowercase, strip_accents = _normalization(cfg, explicit, recorded, model)
    model_sha = file_sha256(model)
    if recorded.get("spiece_sha256") and str(recorded["spiece_sha256"]).lower() != model_sha:
        raise ModelError(f"{model}: SHA-256 {model_sha} does not match spiece_sha256 recorded in "
                         f"{model.parent / TOKENIZER_CONFIG}; the model was replaced after training")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    input_specs, _ = storage.expand_inputs([os.fspath(p) for p in inputs])
    out = storage.ensure_output(output_dir)
    local_out = not storage.is_url(out)
    if local_out:
        out = Path(out)
    threads = int(threads) if threads else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if threads < 1:
        raise ConfigError(f"invalid value for threads: {threads} (expected at least 1)")
    if not -(2**63) <= data.random_seed < 2**63:
        raise ConfigError(f"invalid value for random_seed: {data.random_seed} (must fit in 64 bits)")
    names = [str(n) for n in output_files or []]
    if names and shard_size_bytes is not None:
        raise ConfigError("output_files and shard_size_bytes exclude each other: the files "
                          "named are the shards")
    if shard_size_bytes is not None and int(shard_size_bytes) < 1:
        raise ConfigError(f"invalid value for shard_size_bytes: {shard_size_bytes} (expected at least 1)")
    if max_line_tokens is not None and int(max_line_tokens) < 0:
        raise ConfigError(f"invalid value for max_line_tokens: {max_line_tokens} (expected 0 or more)")
    shard_size = int(shard_size_bytes) if shard_size_bytes else default_shard_size(data.dupe_factor)
    line_limit = 16 * data.max_seq_length if max_line_tokens is None else int(max_line_tokens)
    compression = (compression or "none").lower()
    if compression not in ("none", "gzip"):
        raise ConfigError(f"invalid value for compression: {compression!r} (expected none or gzip)")
    if data.do_permutation:
        warnings.warn("do_permutation: masked_lm_* features hold 2 x max_predictions_per_seq entries; "
                      "the original run_pretraining.py cannot read them (Q14); albert-fast pretrain "
                      "reads the length from manifest.json", stacklevel=2)

    scoring = sentencepiece_behaviour(sentencepiece_version)
    settings = {
        "data": data.model_dump(mode="json"),
        "text": {"lowercase": lowercase, "strip_accents": strip_accents},
        "eval_fraction": float(eval_fraction),
        "shard_size_bytes": shard_size,
        "compression": compression,
        "max_line_tokens": line_limit,
    }
    options = dict(
        inputs=input_specs, model_path=str(model), output_dir=str(out),
        lowercase=lowercase, strip_accents=strip_accents, reference_compat=data.reference_compat,
        sentencepiece_version=scoring,
        max_seq_length=data.max_seq_length, max_predictions_per_seq=data.max_predictions_per_seq,
        random_seed=data.random_seed, dupe_factor=data.dupe_factor, masked_lm_prob=data.masked_lm_prob,
        short_seq_prob=data.short_seq_prob, do_permutation=data.do_permutation,
        random_next_sentence=data.random_next_sentence, do_whole_word_mask=data.do_whole_word_mask,
        favor_shorter_ngram=data.favor_shorter_ngram, ngram=data.ngram,
        eval_fraction=float(eval_fraction), shard_size_bytes=shard_size, threads=threads,
        compression=compression, max_line_tokens=line_limit, output_files=names,
    )
    show = progress and sys.stderr.isatty()
    if STDIN in input_specs and not reads_local_files(cluster):
        raise ConfigError(STDIN_ON_A_CLUSTER)
    with stdin_spooled(input_specs, storage.stdin_spool_dir(out)) as options["inputs"]:
        # One model load for the estimate and a local run.
        encoder = Tokenizer(model, lowercase, strip_accents, data.reference_compat, sentencepiece_version=scoring)
        estimate = _check_input(options["inputs"], encoder, data)
        if parse_cluster(cluster) is not None or not local_out:
            worker_model = tokenizer_given if storage.is_url(tokenizer_given) else str(model.resolve())
            result = _create_data_planned(options, cluster, cfg.cluster.connect_timeout, threads,
                                          worker_model, model_sha, show)
        else:
            result = run_with_progress(lambda p: _core.create_data(progress=p, tokenizer=encoder._core, **options),
                                       _bar, show=show, name="albert-fast-create-data")
        input_sizes = {p: storage.size(p) for p in result["inputs"]}

    shards = result["shards"] + _empty_named_shards(out, names, result["shards"], compression)
    totals = {k: sum(s[k] for s in shards) for k in ("records", *_SHARD_COUNTS)}
    if totals["documents"] and totals["single_sentence_documents"] == totals["documents"]:
        warnings.warn("every document has a single sentence: sentence-order pairs are made by splitting "
                      "sentences at a word start (is the input one sentence per line, with blank lines "
                      "between documents?)", stacklevel=2)
    try:
        check_vocab_size(cfg, result["vocab_size"])
    except ConfigError as err:
        if explicit:
            warnings.warn(str(err), stacklevel=2)

    manifest = {
        "format": "albert_fast.pretraining_data",
        "version": _core.__version__,
        "config": settings["data"],
        "random_seed": data.random_seed,
        "reference_compat": data.reference_compat,
        "text": settings["text"],
        "tokenizer": {"path": _tokenizer_path_for_manifest(model, out, tokenizer_given), "model_file": model.name,
                      "spiece_sha256": model_sha, "vocab_size": result["vocab_size"],
                      "sentencepiece_version": scoring, "unicode_tables": tables_id()},
        "eval_fraction": settings["eval_fraction"],
        "shard_size_bytes": shard_size,
        "compression": compression,
        "max_line_tokens": line_limit,
        "masked_lm_length": data.max_predictions_per_seq * (1 + int(data.do_permutation)),
        "feature_spec": {name: {"dtype": dtype, "length": length} for name, (dtype, length) in
                         feature_spec(data.max_seq_length, data.max_predictions_per_seq, data.do_permutation).items()},
        "inputs": [{"path": STDIN if is_stdin_spool(p) else p, "bytes": input_sizes[p]} for p in result["inputs"]],
        "input_bytes": result["input_bytes"],
        "files": {
            split: [{"file": s["file"], "records": s["records"], "documents": s["documents"]}
                    for s in shards if s["split"] == split]
            for split in ("train", "eval")
        },
        "totals": totals,
    }
    manifest_path = storage.join(out, MANIFEST)
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    if local_out:
        atomic_write_text(manifest_path, text)
    else:
        storage.write_bytes(manifest_path, text.encode("utf-8"))

    return {
        "instances": totals["instances"],
        "train_instances": sum(s["records"] for s in shards if s["split"] == "train"),
        "eval_instances": sum(s["records"] for s in shards if s["split"] == "eval"),
        "tokens": totals["real_tokens"],
        "input_tokens": totals["input_tokens"],
        "masked_positions": totals["masked_positions"],
        "label_balance": totals["label_ones"] / totals["instances"] if totals["instances"] else 0.0,
        "documents": totals["documents"],
        "input_bytes": result["input_bytes"],
        "files": [s["file"] for s in shards],
        "resumed_files": sum(1 for s in shards if s["resumed"]),
        "output_bytes": sum(storage.size(storage.join(out, s["file"])) for s in shards),
        "estimated_output_bytes": estimate["bytes"] if estimate else None,
        "seconds": time.monotonic() - start,
        "manifest": str(manifest_path),
    }


# ------------------------------------------------------------------------------------------
# A planned run: the driver plans, tasks build shards where they run (docs/cluster.md)

#: Input per task at most (several shards of one task share the work of opening a model).
_TASK_BYTES = 64 << 20


def _create_data_planned(options: dict[str, Any], cluster: Any, connect_timeout: float,
                         threads: int, worker_model: str, model_sha: str, show: bool) -> dict[str, Any]:
    """create-data as a plan (pass 1, here) and tasks of consecutive shards (on the cluster,
    or on threads here for an output in object storage): the same files and summary as
    ``_core.create_data``. Pass 1 starts at once, while the cluster is reached or started and
    its workers load the model; into a fresh local (or shared) output each shard is handed to
    the cluster as soon as pass 1 closes it."""
    out = options["output_dir"]
    local_out = not storage.is_url(out)
    with starting_executor(cluster, threads, connect_timeout,
                           warm=(_warm_worker, (worker_model, model_sha, options))) as executor:
        plan = _core.CreateDataPlan(local_output=local_out, fresh=not local_out and not _remote_markers(out),
                                    **options)
        try:
            while (ex := executor.wait(_CLUSTER_WAIT)) is None:
                plan.poll(0)  # pass 1's error (a bad input file) is said at once
            tasks = _ShardTasks(plan, ex.width, options["shard_size_bytes"],
                                lambda task, threads: (task, worker_model, model_sha, out, plan.fingerprint,
                                                       dict(options, threads=threads)))
            built = run_tasks(ex, _create_data_task, tasks, key="create-data", desc="create-data", show=show)
        finally:
            plan.close()
    results = [r for rs in built for r in rs]
    try:
        shards = plan.finish(results, str(out) if local_out else None)
    except AlbertFastError:  # a corpus with no instance at all: nothing of this run is kept
        if not local_out:
            for r in results:
                _remove_remote_shard(out, r["file"])
        raise
    if not local_out:
        built_as = {(r["split"], r["index"]): r["file"] for r in results}
        _name_remote_shards(out, [(built_as[(s["split"], s["index"])], s["file"]) for s in shards])
        _remove_stale_remote_shards(out, {s["file"] for s in shards})
    return {"shards": shards, "inputs": [str(p) for p in plan.inputs], "vocab_size": plan.vocab_size,
            "input_bytes": plan.input_bytes, "num_train_shards": plan.num_train_shards,
            "num_eval_shards": plan.num_eval_shards}


#: Seconds between looks at pass 1 while the cluster starts.
_CLUSTER_WAIT = 0.05


class _ShardTasks:
    """create-data's tasks (a :class:`~albert_fast.cluster.TaskSource`) as pass 1 closes the
    shards: consecutive shards in closing order, one per task unless there are many (the
    scheduler's cost per task stays small next to the work), at most ``_TASK_BYTES`` of input
    per task. The last ``width`` tasks are held back until pass 1 ends, so that they can be
    given more threads (:func:`_task_threads`); pass 1 runs far ahead of the building, so the
    cluster never waits for them."""

    def __init__(self, plan: Any, width: int, shard_size: int, args: Callable[[dict, int], tuple]) -> None:
        self.plan, self.width, self.shard_size, self.args = plan, width, max(1, shard_size), args
        self.cut = 0  # shards made into tasks
        self.made: list[tuple[int, int]] = []  # tasks' shard ranges
        self.sent = 0  # tasks handed out

    @property
    def expected_weight(self) -> int:
        return self.plan.expected_bytes

    def poll(self, timeout: float) -> tuple[list[tuple[tuple, int]], bool]:
        known, over = self.plan.poll(timeout)
        n = self.plan.expected_shards
        shard_bytes = self.plan.input_bytes / n if over else self.shard_size
        per = max(1, min(n // (50 * self.width), int(_TASK_BYTES // max(1, shard_bytes))))
        while known - self.cut >= per or (over and self.cut < known):
            end = min(known, self.cut + per)
            self.made.append((self.cut, end))
            self.cut = end
        ready = len(self.made) if over else max(self.sent, len(self.made) - self.width)
        new = []
        for i in range(self.sent, ready):
            task = self.plan.task(*self.made[i])
            threads = _task_threads(i, len(self.made), self.width) if over else 1
            new.append((self.args(task, threads), task["input_bytes"]))
        self.sent = ready
        return new, over


def _task_threads(i: int, tasks: int, width: int) -> int:
    """Rust threads for task ``i`` of ``tasks`` on ``width`` task slots: one (every slot runs a
    task), but each of the last ``width`` may use up to ``width`` (capped by its machine's
    cores where it runs): when the other slots have run out of tasks, their cores finish the
    last ones instead of idling. The files do not depend on it."""
    return width if i >= tasks - width else 1


#: This process's ``CreateDataBuilder``s (a model loaded once per worker process, not per task),
#: by model, its SHA-256 and the options the model is loaded with; the last few only.
_BUILDERS: dict[tuple, Any] = {}
_BUILDERS_KEPT = 2
_BUILDERS_LOCK = threading.Lock()


def _worker_builder(model: str, sha: str, options: dict[str, Any]) -> Any:
    """This process's ``CreateDataBuilder`` for the model (fetched once when it is a URL); a
    driver with another model (another SHA-256) gets a new one."""
    key = (model, sha, options["lowercase"], options["strip_accents"], options["reference_compat"],
           options.get("sentencepiece_version"))
    with _BUILDERS_LOCK:  # the tasks of one process (its threads, the warm-up) load it once
        if key not in _BUILDERS:
            local, _ = resolve_tokenizer_paths(model)
            if file_sha256(local) != sha:
                raise ModelError(f"{model}: SHA-256 differs from the driver's model {sha}; the "
                                 "workers must see the same spiece.model")
            while len(_BUILDERS) >= _BUILDERS_KEPT:
                del _BUILDERS[next(iter(_BUILDERS))]
            _BUILDERS[key] = _core.CreateDataBuilder(**dict(options, model_path=str(local)))
        return _BUILDERS[key]


def _warm_worker(model: str, sha: str, options: dict[str, Any]) -> None:
    """Ahead of the tasks, while the driver plans: the Unicode tables and the model."""
    from albert_fast.cluster import output_environment

    output_environment()
    _worker_builder(model, sha, options)


def _create_data_task(task: dict, model: str, sha: str, out: str, fingerprint: str,
                      options: dict[str, Any]) -> list[dict]:
    """One task (runs on a worker): builds each shard of ``task`` into ``out``, or finds it
    finished there; returns the shards' results."""
    builder = _worker_builder(model, sha, options)
    options = dict(options, threads=max(1, min(options["threads"], _cpu_count())))
    results = []
    for k in range(len(task["shards"])):
        if storage.is_url(out):
            results.append(_build_to_url(builder, task, k, out, fingerprint, options))
        else:
            results.append(builder.build(task, k, fingerprint, **dict(options, output_dir=out)))
    return results


#: What a marker holds besides the shard's result (see rust/core/src/create_data/resume.rs).
_MARKER_KEYS = ("fingerprint", "file_bytes", "file_crc32c", "object_version")


def _marker_url(out: str, name: str) -> str:
    return storage.join(out, _core.CREATE_DATA_PROGRESS_DIR, f"{name}.done")


def _finished_remote(out: str, name: str, shard: dict, fingerprint: str) -> Optional[dict]:
    """The marker of shard ``shard`` under ``name`` if it belongs to this run and its object
    is the one it recorded (size and version), else None."""
    marker = storage.read_json(_marker_url(out, name))
    if (isinstance(marker, dict) and marker.get("fingerprint") == fingerprint
            and [marker.get(k) for k in ("split", "index", "input_bytes")] ==
            [shard["split"], shard["index"], shard["input_bytes"]]):
        try:
            if (storage.size(storage.join(out, name)) == marker["file_bytes"]
                    and storage.version(storage.join(out, name)) == marker.get("object_version")):
                return marker
        except FileNotFoundError:
            pass
    return None


def _build_to_url(builder: Any, task: dict, k: int, out: str, fingerprint: str,
                  options: dict[str, Any]) -> dict:
    """Builds shard ``k`` locally and uploads it, then its marker (the marker also records the
    object's version, so a replaced object is not taken for the finished shard). A shard that
    a stopped run uploaded under its provisional name is found there and moved."""
    shard = task["shards"][k]
    name = shard["file_name"]
    marker = _finished_remote(out, name, shard, fingerprint)
    if marker is None and not _core.is_provisional_file_name(name):
        provisional = _core.provisional_file_name(shard["split"], shard["index"], options["compression"])
        if _finished_remote(out, provisional, shard, fingerprint) is not None:
            _move_remote_shard(out, provisional, name)
            marker = _finished_remote(out, name, shard, fingerprint)
    if marker is not None:
        return dict({k: v for k, v in marker.items() if k not in _MARKER_KEYS}, resumed=True)
    marker_url = _marker_url(out, name)
    with storage.temp_dir() as tmp:
        result = builder.build(task, k, fingerprint, **dict(options, output_dir=tmp))
        storage.put_file(Path(tmp) / name, storage.join(out, name))
        local_marker = Path(tmp) / _core.CREATE_DATA_PROGRESS_DIR / f"{name}.done"
        marker = json.loads(local_marker.read_text(encoding="utf-8"))
        marker["object_version"] = storage.version(storage.join(out, name))
        storage.write_json(marker_url, marker)
    return result


def _remote_markers(out: str) -> bool:
    """Whether the output in object storage holds a marker of any finished shard (a run to
    resume, whose shards are then looked up by their names)."""
    return any(name.endswith(".done") and _is_shard_object(name[:-len(".done")])
               for name in storage.listdir(storage.join(out, _core.CREATE_DATA_PROGRESS_DIR)))


def _is_shard_object(name: str) -> bool:
    return _core.is_shard_file_name(name) or _core.is_provisional_file_name(name)


def _move_remote_shard(out: str, src: str, dst: str) -> None:
    """Moves shard object ``src`` to ``dst`` and then its marker, which records the new
    object's version (stopped in between, the shard is built again: never taken whole when
    it is not)."""
    storage.move(storage.join(out, src), storage.join(out, dst))
    marker = storage.read_json(_marker_url(out, src))
    marker.update(file=dst, object_version=storage.version(storage.join(out, dst)))
    storage.write_json(_marker_url(out, dst), marker)
    storage.remove(_marker_url(out, src))


#: Objects moved to their final names at once (each move is a copy inside the store).
_MOVES_AT_ONCE = 16


def _name_remote_shards(out: str, moves: list[tuple[str, str]]) -> None:
    """The shards uploaded under provisional names get their final ones."""
    from concurrent.futures import ThreadPoolExecutor

    moves = [(a, b) for a, b in moves if a != b]
    with ThreadPoolExecutor(max_workers=min(_MOVES_AT_ONCE, max(1, len(moves)))) as pool:
        list(pool.map(lambda m: _move_remote_shard(out, *m), moves))


def _remove_stale_remote_shards(out: str, keep: set[str]) -> None:
    """As the local run does: shard objects (and markers) of an earlier run with other
    settings go, so that a reader of the prefix does not take them for this run's, and so do
    provisional objects left."""
    for name in storage.listdir(out):
        if _is_shard_object(name) and name not in keep:
            _remove_remote_shard(out, name)


def _remove_remote_shard(out: str, name: str) -> None:
    """Removes shard object ``name`` of ``out`` and its marker (either may be missing)."""
    storage.remove(storage.join(out, name))
    storage.remove(_marker_url(out, name))
