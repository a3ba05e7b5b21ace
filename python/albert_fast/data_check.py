"""Pretraining TFRecords checked without TensorFlow, so that bad data is one clear line instead
of a TensorFlow traceback hours into a run: at start-up every file's framing and checksums are
verified and its records counted (against ``manifest.json``), the first records of each file
are decoded and checked against the config; when reading still fails mid-run (a file changed
under the run, a bad record deep in a file) the bad record is located. Messages name the file,
the record and its byte offset, as ``albert-fast inspect`` does (docs/pretraining.md, "Errors")."""

from __future__ import annotations

import contextlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

from albert_fast import storage
from albert_fast.config import Config
from albert_fast.create_data import MANIFEST
from albert_fast.dataset import DataFiles, is_remote
from albert_fast.errors import InputError
from albert_fast.io_utils import atomic_write_json
from albert_fast.records import RecordReader, decode_example, feature_spec

#: Records decoded and checked at the start of every file (the rest is verified and counted).
HEAD_RECORDS = 32
#: In a run directory: the files a run verified (size, mtime, records), so that resuming does
#: not read unchanged files again.
VERIFIED_FILES = ".data-verified.json"
# The int64 features in the order inspect's statistics (rust/core/src/record_stats.rs) check
# their types, so both name the same feature first.
_INT_FEATURES = ("input_ids", "input_mask", "masked_lm_positions", "masked_lm_ids",
                 "next_sentence_labels", "token_boundary", "segment_ids")


def data_specs(config: Config) -> tuple[dict, dict]:
    """The feature specs the trainer parses: training (with ``token_boundary`` when
    ``masked_lm_budget > 0`` re-masks batches, Q16) and evaluation (stored masks)."""
    d = config.data
    dynamic = config.pretraining.masked_lm_budget > 0
    return (feature_spec(d.max_seq_length, d.max_predictions_per_seq, token_boundary=dynamic),
            feature_spec(d.max_seq_length, d.max_predictions_per_seq, token_boundary=False))


# --------------------------------------------------------------------------------------------
# One instance

def instance_problem(example: Mapping[str, Any], spec: Mapping[str, tuple[str, int]],
                     config: Config) -> tuple[Optional[str], bool]:
    """What is wrong with one decoded instance (``decode_example(..., numpy=True)``) for the
    trainer, or None; and whether it is corrupt data (True) rather than data made with other
    settings than the config's (False)."""
    import numpy as np

    for name in _INT_FEATURES:
        kind = _kind(example.get(name))
        if kind not in (None, "int64"):
            return (f"not an ALBERT pretraining instance: feature {json.dumps(name)} is a {kind} "
                    "list, expected int64", True)
    kind = _kind(example.get("masked_lm_weights"))
    if kind not in (None, "float"):
        return (f"not an ALBERT pretraining instance: feature \"masked_lm_weights\" is a {kind} "
                "list, expected float", True)
    d, m = config.data, config.model
    for name, (_, length) in spec.items():
        if name not in example:
            hint = (" (dynamic masking, masked_lm_budget > 0, needs token_boundary)"
                    if name == "token_boundary" else "")
            return f"records have no feature {name!r}; not ALBERT pretraining data?{hint}", False
        got = len(example[name])
        if got == length:
            continue
        if name == "next_sentence_labels":
            return f"next_sentence_labels has {got} values, expected 1", True
        what = ("max_seq_length" if length == d.max_seq_length and not name.startswith("masked_lm")
                else "max_predictions_per_seq")
        return (f"feature {name} has length {got} but the config's data.{what} gives {length}; "
                f"set data.{what} to the value the data was created with (data made with "
                "do_permutation has twice the masked_lm slots, Q14)", False)
    ids = np.concatenate([example["input_ids"], example["masked_lm_ids"]])
    if ids.size and (ids.min() < 0 or ids.max() >= m.vocab_size):
        bad = int(ids.max()) if ids.max() >= m.vocab_size else int(ids.min())
        return (f"token id {bad} is outside model.vocab_size = {m.vocab_size}; the data was made "
                "with a larger vocabulary (Q5)", False)
    positions = example["masked_lm_positions"]
    if positions.size and (positions.min() < 0 or positions.max() >= d.max_seq_length):
        return (f"masked_lm_positions holds {int(positions.max())}, outside the sequence of "
                f"{d.max_seq_length}", True)
    segments = example.get("segment_ids")
    if segments is not None and segments.size and (
            segments.min() < 0 or segments.max() >= m.type_vocab_size):
        return (f"segment_ids holds {int(segments.max())}, outside model.type_vocab_size = "
                f"{m.type_vocab_size}", True)
    return None, False


def _kind(values: Any) -> Optional[str]:
    if values is None:
        return None
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return "bytes"
    return "int64" if dtype.kind == "i" else "float"


def _records(path: str) -> Iterator[tuple[int, int, bytes]]:
    """(index, byte offset, data) of each record; a framing or checksum error is inspect's
    InputError."""
    reader = RecordReader(path)
    while True:
        offset = reader.offset
        data = next(reader, None)
        if data is None:
            return
        yield reader.records_read - 1, offset, data


def _check_record(path: str, index: int, offset: int, data: bytes, spec: dict,
                  config: Config) -> None:
    where = f"{path}: record {index} at byte {offset}"
    try:
        example = decode_example(data, numpy=True)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None
    problem, corrupt = instance_problem(example, spec, config)
    if problem is not None:
        raise (InputError if corrupt else ValueError)(f"{where}: {problem}")


def scan_file(path: str, spec: dict, config: Config, head: Optional[int] = HEAD_RECORDS,
              known_records: Optional[int] = None) -> int:
    """Verifies one file and returns its record count: every record's framing and checksums,
    the first ``head`` records (all with ``None``) decoded and checked against the config.
    With ``known_records`` (a count verified before) only the head is read."""
    count = 0
    for index, offset, data in _records(path):
        if head is None or index < head:
            _check_record(path, index, offset, data, spec, config)
        elif known_records is not None:
            return known_records
        count = index + 1
    return count


# --------------------------------------------------------------------------------------------
# At start-up

def check_training_data(files: DataFiles, config: Config, run_dir: str | os.PathLike,
                        warn: Callable[[str], None]) -> dict:
    """Fails early, naming the file (and record and byte), when the data is damaged or was
    made for another ``max_seq_length``, ``max_predictions_per_seq`` or vocabulary than the
    config says; warns where a file's record count differs from ``manifest.json``. Returns
    what :func:`remember_verified` records in the run directory."""
    d, m = config.data, config.model
    for key, want in (("max_seq_length", d.max_seq_length),
                      ("max_predictions_per_seq", d.max_predictions_per_seq)):
        got = _manifest_value(files.manifest, key)
        if got is not None and int(got) != want:
            raise ValueError(f"data manifest says {key} = {got} but the config has "
                             f"data.{key} = {want}")
    vocab = _manifest_value(files.manifest, "vocab_size")
    if vocab is not None and int(vocab) != m.vocab_size:
        raise ValueError(f"the data's tokenizer has {vocab} pieces but model.vocab_size is "
                         f"{m.vocab_size} (Q5: they must agree)")
    train_spec, eval_spec = data_specs(config)
    # Files in a bucket (gs://, s3://) are read by TensorFlow alone; it checks their records as
    # it reads them.
    paths = [p for p in dict.fromkeys([*files.train, *files.eval]) if not is_remote(p)]
    specs = {p: eval_spec for p in files.eval}
    specs.update({p: train_spec for p in files.train})
    known = _read_verified(Path(run_dir))
    stamps = {p: _stamp(p) for p in paths}

    def scan(path: str) -> int:
        entry = known.get(_key(path))
        ok = entry is not None and entry.get("stamp") == stamps[path]
        return scan_file(path, specs[path], config, known_records=entry["records"] if ok else None)

    # The reader releases the GIL while it reads and verifies, so files are read in parallel;
    # the first failing file (in order) is the error, and files not started yet are skipped.
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(paths), os.cpu_count() or 1)))
    try:
        counts = dict(zip(paths, pool.map(scan, paths)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for split, names in (("training", files.train), ("evaluation", files.eval)):
        if all(p in counts for p in names) and not any(counts[p] for p in names):
            raise ValueError(f"the {split} files hold no records: {', '.join(names)}")
    for line in count_mismatches(counts):
        warn(f"warning: {line}")
    return {_key(p): {"stamp": stamps[p], "records": n} for p, n in counts.items()}


def remember_verified(run_dir: Path, verified: dict) -> None:
    """Records the files :func:`check_training_data` verified (see :data:`VERIFIED_FILES`)."""
    if verified and verified != _read_verified(run_dir):
        atomic_write_json(run_dir / VERIFIED_FILES, verified)


def _key(path: str) -> str:
    """A data file's name in :data:`VERIFIED_FILES` and in manifest listings: its resolved
    path, or its URL (``gs://``: TensorFlow reads it from the bucket)."""
    return path if storage.is_url(path) else str(Path(path).resolve())


def _parent(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[0] if storage.is_url(path) else str(Path(path).resolve().parent)


def _stamp(path: str) -> list:
    if storage.is_url(path):  # an object's version stands in for the modification time
        return [storage.size(path), storage.version(path)]
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _read_verified(run_dir: Path) -> dict:
    try:
        data = json.loads((run_dir / VERIFIED_FILES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _manifest_value(manifest: dict, key: str) -> Any:
    """Looks ``key`` up at the top of the manifest or one section down."""
    if key in manifest and not isinstance(manifest[key], dict):
        return manifest[key]
    for value in manifest.values():
        if isinstance(value, dict):
            found = _manifest_value(value, key)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------
# Record counts against manifest.json

def manifest_record_counts(directory: Path | str) -> dict[str, int]:
    """The record count of every shard create-data listed in ``DIR/manifest.json``, by
    resolved path or URL (empty when there is no such manifest)."""
    try:
        manifest = storage.read_json(storage.join(directory, MANIFEST))
    except (OSError, ValueError):
        return {}
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    out: dict[str, int] = {}
    if isinstance(listed, dict):
        for entries in listed.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("records"), int):
                    out[_key(storage.join(directory, str(entry.get("file"))))] = entry["records"]
    return out


def count_mismatches(counts: Mapping[str, int]) -> list[str]:
    """One line per file whose record count differs from what the ``manifest.json`` beside it
    lists."""
    listed: dict[str, int] = {}
    for directory in dict.fromkeys(_parent(p) for p in counts):
        listed.update(manifest_record_counts(directory))
    lines = []
    for path, n in counts.items():
        want = listed.get(_key(path))
        if want is not None and want != n:
            lines.append(f"{path}: {n} records, but {MANIFEST} lists {want} (changed since "
                         "create-data wrote it?)")
    return lines


def count_records(path: str | os.PathLike) -> int:
    """The records of one file, each one's framing and checksums verified."""
    return sum(1 for _ in _records(str(path)))


# --------------------------------------------------------------------------------------------
# Mid-run

def locate_bad_record(files: DataFiles, config: Config) -> Optional[str]:
    """The first record of the run's files that the trainer cannot read or parse, as inspect
    names it (every record is read), or None."""
    train_spec, eval_spec = data_specs(config)
    jobs = [(p, train_spec) for p in files.train if not is_remote(p)]
    jobs += [(p, eval_spec) for p in files.eval if p not in files.train and not is_remote(p)]
    for path, spec in jobs:
        try:
            scan_file(path, spec, config, head=None)
        except (InputError, ValueError) as err:
            return str(err)
    return None


@contextlib.contextmanager
def stop_cleanly_on_bad_records(files: DataFiles, config: Config, run_dir: Path,
                                emit: Callable[[str], None]) -> Iterator[None]:
    """Turns TensorFlow's failure to read or parse a record during training or evaluation
    into inspect's one-line message, saying which checkpoint the run can resume from (no
    checkpoint is written after the failure, so the last one stays intact)."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
        if isinstance(err, tf.errors.InvalidArgumentError) and not _is_input_failure(err):
            raise
        emit("reading the data failed; looking for the bad record")
        found = locate_bad_record(files, config)
        if found is None:
            raise
        latest = tf.train.latest_checkpoint(str(run_dir))
        resume = (f"the last checkpoint, {latest}, is intact: replace or remove the file and run "
                  "the same command again to resume" if latest else
                  "no checkpoint had been saved yet")
        raise InputError(f"{found} (read during the run; {resume})") from None


def _is_input_failure(err: Exception) -> bool:
    """An InvalidArgumentError from the input pipeline or from a lookup of an id the data
    holds (as opposed to a bug elsewhere in the step)."""
    text = str(err)
    return any(mark in text for mark in ("IteratorGetNext", "ParseExample", "is not in [0,"))

