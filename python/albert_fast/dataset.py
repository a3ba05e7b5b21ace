"""The pretraining data as TensorFlow reads it: which TFRecord files a run trains and evaluates
on and the ``tf.data`` pipeline that parses them. Used by the trainer and by export-hf's
verification batch; the checks that the files fit the config are in :mod:`albert_fast.data_check`."""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from albert_fast import storage
from albert_fast.records import feature_spec, is_record_file_name, tf_feature_spec

DEFAULT_SHUFFLE_BUFFER = 1000  # the reference's 100 barely mixes neighbouring instances.


# --------------------------------------------------------------------------------------------
# Which files

@dataclass
class DataFiles:
    """The training and evaluation TFRecord files of a run."""

    train: list[str]
    eval: list[str]
    eval_is_train: bool = False  # Q15: no held-out split given, evaluating on training data
    manifest: dict = field(default_factory=dict)


def _expand(spec: str) -> list[str]:
    spec = storage.for_tensorflow(spec)
    if storage.is_url(spec):  # read by tf.data itself (gs://)
        found, _ = storage.expand_inputs([spec])
        names = [f for f in found if is_record_file_name(f.rsplit("/", 1)[-1])]
        return names if names or any(c in spec for c in "*?[") else found
    path = Path(spec)
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and is_record_file_name(p.name))
    if any(ch in spec for ch in "*?["):
        return sorted(glob.glob(spec))
    if path.is_file():
        return [str(path)]
    raise FileNotFoundError(2, "No such file or directory", spec)


def find_data_files(data: str | Sequence[str], eval_data: Optional[str | Sequence[str]] = None
                    ) -> DataFiles:
    """Resolves ``--data`` (a create-data output directory with ``train-*``/``eval-*`` shards
    and a manifest, any directory of TFRecords, a glob, or files; comma-separated allowed) and
    the optional ``--eval-data``."""
    specs = [data] if isinstance(data, str) else list(data)
    specs = [s for spec in specs for s in str(spec).split(",") if s]
    files: list[str] = []
    manifest: dict = {}
    for spec in specs:
        local = storage.for_tensorflow(spec)
        files.extend(_expand(local))
        if storage.is_url(local):
            manifest = storage.read_json(storage.join(local, "manifest.json")) or manifest
            continue
        m = Path(local) / "manifest.json"
        if Path(local).is_dir() and m.is_file():
            manifest = json.loads(m.read_text(encoding="utf-8"))
    if not files:
        raise ValueError(f"--data {','.join(specs)}: no TFRecord files found")
    train = [f for f in files if f.rsplit("/", 1)[-1].startswith("train-")]
    held_out = [f for f in files if f.rsplit("/", 1)[-1].startswith("eval-")]
    if not train:  # not a split layout: every file trains
        train, held_out = files, []
    if eval_data:
        evals = [eval_data] if isinstance(eval_data, str) else list(eval_data)
        held_out = [f for spec in evals for s in str(spec).split(",") if s for f in _expand(s)]
        if not held_out:
            raise ValueError(f"--eval-data {eval_data}: no TFRecord files found")
    if held_out:
        return DataFiles(train, held_out, False, manifest)
    return DataFiles(train, train, True, manifest)


def compression(path: str) -> str:
    """tf.data's ``compression_type`` for one file."""
    return "GZIP" if path.endswith(".gz") else ""


# --------------------------------------------------------------------------------------------
# Parsing

def parser(spec: dict[str, tuple[str, int]]) -> Callable:
    """The record -> features function of the input pipeline for a :func:`feature_spec`."""
    import tensorflow as tf

    features = tf_feature_spec(spec)

    def parse(record: Any) -> dict:
        example = tf.io.parse_single_example(record, features)
        # int64 -> int32 as the reference (TPUs have no int64); labels become a scalar.
        out = {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}
        out["next_sentence_labels"] = tf.reshape(out["next_sentence_labels"], [])
        return out

    return parse


def first_batch(path: str, spec: dict, size: int) -> Optional[dict]:
    """The first ``size`` instances of one file, parsed, as numpy arrays (None if it is empty)."""
    import tensorflow as tf

    ds = tf.data.TFRecordDataset(path, compression_type=compression(path))
    for feats in ds.take(size).map(parser(spec)).batch(size):
        return {k: v.numpy() for k, v in feats.items()}
    return None


# --------------------------------------------------------------------------------------------
# The input pipeline

def make_dataset(files: Sequence[str], spec: dict, batch_size: int, is_training: bool,
                 seed: Optional[int] = None, shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
                 drop_remainder: bool = True, input_context: Any = None,
                 deterministic: bool = False, masking: Optional[Callable] = None) -> Any:
    """tf.data over the shards as the reference reads them: the file list repeated and
    shuffled, records interleaved from ``min(4, files)`` files in parallel, shuffled, parsed
    with the exact feature spec, batched and prefetched. Evaluation reads each file once, in
    order. ``masking`` (a :class:`~albert_fast.dynamic_masking.DynamicMasking`) re-masks every
    batch, seeded by (seed, input pipeline, batch number)."""
    import tensorflow as tf

    auto = tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices(list(files))
    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
    # Each input pipeline (worker) reads its own files; with fewer files than workers, every
    # worker reads all files and keeps its share of the records.
    by_file = pipelines > 1 and len(files) >= pipelines
    if by_file:
        ds = ds.shard(pipelines, pipeline_id)
    n_files = len(files) // pipelines if by_file else len(files)
    gzip = "GZIP" if all(f.endswith(".gz") for f in files) else ""
    if is_training:
        ds = ds.repeat().shuffle(max(1, n_files), seed=seed)
        ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type=gzip),
                           cycle_length=max(1, min(4, n_files)), num_parallel_calls=auto,
                           deterministic=deterministic)
    else:
        ds = ds.flat_map(lambda f: tf.data.TFRecordDataset(f, compression_type=gzip))
    if pipelines > 1 and not by_file:
        ds = ds.shard(pipelines, pipeline_id)
    if is_training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.map(parser(spec), num_parallel_calls=auto, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if masking is not None:
        fold_in = tf.random.experimental.stateless_fold_in
        base = fold_in(tf.constant([seed or 0, 0], tf.int64), pipeline_id)
        ds = ds.enumerate().map(lambda i, f: masking(f, fold_in(base, i)),
                                num_parallel_calls=auto, deterministic=True)
    return ds.prefetch(auto)
