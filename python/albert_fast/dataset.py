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
from albert_fast.records import (feature_spec, is_record_file_name, length_histogram,
                                 tf_feature_spec)

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


def is_remote(path: str) -> bool:
    """A URL, not a local path (after :func:`storage.for_tensorflow`, one of TensorFlow's own
    file systems: ``gs://``, ``ram://``)."""
    return "://" in str(path)


def _expand_remote(spec: str) -> list[str]:
    """:func:`_expand` through ``tf.io.gfile`` (data in a bucket, e.g. for a Cloud TPU)."""
    import tensorflow as tf

    gfile = tf.io.gfile
    if gfile.isdir(spec):
        base = spec.rstrip("/")
        return sorted(f"{base}/{name}" for name in gfile.listdir(spec)
                      if is_record_file_name(name.rstrip("/")) and not name.endswith("/"))
    if any(ch in spec for ch in "*?["):
        return sorted(gfile.glob(spec))
    if gfile.exists(spec):
        return [spec]
    raise FileNotFoundError(2, "No such file or directory", spec)


def _read_manifest(spec: str) -> Optional[dict]:
    """``SPEC/manifest.json`` of a data directory (local or remote), if there is one."""
    if is_remote(spec):
        import tensorflow as tf

        path = f"{spec.rstrip('/')}/manifest.json"
        if not tf.io.gfile.exists(path):
            return None
        with tf.io.gfile.GFile(path, "r") as f:
            return json.loads(f.read())
    m = Path(spec) / "manifest.json"
    return json.loads(m.read_text(encoding="utf-8")) if Path(spec).is_dir() and m.is_file() else None


def _expand(spec: str) -> list[str]:
    spec = storage.for_tensorflow(spec)  # s3:// staged to a local cache; gs:// as it is
    if is_remote(spec):  # read by TensorFlow itself (gs://, ram://)
        return _expand_remote(spec)
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
        manifest = _read_manifest(local) or manifest
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


def train_record_count(files: DataFiles) -> Optional[int]:
    """Instances in the training files, from create-data's ``manifest.json`` (the record count
    of each file); ``None`` when the manifest does not list every training file."""
    listed = {Path(e["file"]).name: e.get("records") for e in files.manifest.get("files", {}).get("train", [])}
    counts = [listed.get(Path(f).name) for f in files.train]
    if not counts or any(not isinstance(c, int) for c in counts):
        return None
    return sum(counts)


def compression(path: str) -> str:
    """tf.data's ``compression_type`` for one file."""
    return "GZIP" if path.endswith(".gz") else ""


def compression_of(files: Sequence[str]) -> str:
    """tf.data's ``compression_type`` for a list of files read by one dataset."""
    return "GZIP" if all(f.endswith(".gz") for f in files) else ""


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
                 deterministic: bool = False, masking: Optional[Callable] = None,
                 bins: Optional["SequenceBins"] = None, repeat_draws: int = 1) -> Any:
    """tf.data over the shards as the reference reads them: the file list repeated and
    shuffled, records interleaved from ``min(4, files)`` files in parallel, shuffled, parsed
    with the exact feature spec, batched and prefetched. Evaluation reads each file once, in
    order. ``masking`` (a :class:`~albert_fast.dynamic_masking.DynamicMasking`) re-masks every
    batch, seeded by (seed, input pipeline, batch number). ``bins`` (training only): batches of
    one sequence bin each, cut to its length (:func:`binned_batches`)."""
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
    gzip = compression_of(files)
    if is_training:
        ds = ds.repeat().shuffle(max(1, n_files), seed=seed)
        ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type=gzip),
                           cycle_length=max(1, min(4, n_files)), num_parallel_calls=auto,
                           deterministic=deterministic)
    else:
        ds = ds.flat_map(lambda f: tf.data.TFRecordDataset(f, compression_type=gzip))
    if pipelines > 1 and not by_file:
        ds = ds.shard(pipelines, pipeline_id)
    if bins is not None:
        return binned_batches(ds, spec, batch_size, bins, seed=seed, pipeline_id=pipeline_id,
                              shuffle_buffer=shuffle_buffer, masking=masking,
                              repeat_draws=repeat_draws)
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


# --------------------------------------------------------------------------------------------
# Sequence bins (docs/pretraining.md, "Fast training")

#: Features with one value per token position: cut to the bin's length.
TOKEN_FEATURES = ("input_ids", "input_mask", "segment_ids", "token_boundary")
#: A bin kept under record-level sharding needs this many instances per input pipeline.
MIN_BIN_INSTANCES_PER_PIPELINE = 8


@dataclass(frozen=True)
class SequenceBins:
    """Sequence-length bins of a training set: ``lengths`` (increasing upper bounds of the real
    length, the last = max_seq_length) and ``counts`` (training instances per bin, over all
    files). A batch of bin ``k`` holds instances with ``lengths[k-1] < length <= lengths[k]``,
    cut to ``lengths[k]``; bins are drawn with probability ``counts[k] / sum(counts)``."""

    lengths: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def shares(self) -> list[float]:
        total = sum(self.counts)
        return [c / total for c in self.counts]

    def mean_length(self) -> float:
        """Positions per instance a binned epoch computes (padding included)."""
        return sum(s * n for s, n in zip(self.shares, self.lengths))

    def to_json(self) -> dict:
        return {"lengths": list(self.lengths), "counts": list(self.counts),
                "shares": [round(s, 6) for s in self.shares]}


def bin_lengths(bins: Sequence[int], max_seq_length: int) -> list[int]:
    """The configured bins with ``max_seq_length`` as the last one (added when missing), so no
    instance is cut."""
    lengths = [b for b in bins if b < max_seq_length]
    return lengths + [max_seq_length]


def count_bins(files: Sequence[str], lengths: Sequence[int], pipelines: int = 1,
               histogram: Optional[dict[int, int]] = None) -> tuple[SequenceBins, list[str]]:
    """Counts the training instances of each bin (one Rust pass over ``files``, or the given
    ``histogram`` of real lengths) and merges every bin some input pipeline would have no
    instance of into the next longer one (its stream would never yield a batch). Returns the
    bins and a note per merge."""
    by_file = pipelines > 1 and len(files) >= pipelines
    # Each input pipeline reads files[i::pipelines] (make_dataset's file sharding).
    parts = ([lengths_of(files[i::pipelines]) for i in range(pipelines)] if by_file
             else [histogram if histogram is not None else lengths_of(files)])

    def counts_of(hist: dict[int, int]) -> list[int]:
        out = [0] * len(lengths)
        for length, n in hist.items():
            out[next((k for k, b in enumerate(lengths) if length <= b), len(lengths) - 1)] += n
        return out

    per_part = [counts_of(h) for h in parts]
    need = 1 if by_file or pipelines == 1 else MIN_BIN_INSTANCES_PER_PIPELINE * pipelines
    kept_lengths: list[int] = []
    kept_counts: list[int] = []
    notes: list[str] = []
    carry = [0] * len(per_part)
    for k, length in enumerate(lengths):
        carry = [c + part[k] for c, part in zip(carry, per_part)]
        last = k == len(lengths) - 1
        if not last and min(carry) < need:
            if sum(carry):
                notes.append(f"sequence bin {length} merged into the next: too few instances "
                             f"({min(carry)}) in the files of some input pipeline")
            continue
        kept_lengths.append(length)
        kept_counts.append(sum(carry))
        carry = [0] * len(per_part)
    if not sum(kept_counts):
        raise ValueError(f"{files[0]}...: no training instances to bin")
    return SequenceBins(tuple(kept_lengths), tuple(kept_counts)), notes


def _first_record(path: str) -> bytes:
    import tensorflow as tf

    for raw in tf.data.TFRecordDataset(path, compression_type=compression(path)).take(1):
        return raw.numpy()
    raise ValueError(f"{path}: contains no records")


def lengths_of(files: Sequence[str]) -> dict[int, int]:
    """Real length -> instances over ``files``: one Rust pass for local files, a tf.data pass
    (``input_mask`` parsed alone) for files in a bucket."""
    if not any(is_remote(f) for f in files):
        return length_histogram(files)
    import numpy as np
    import tensorflow as tf

    first = tf.train.Example.FromString(_first_record(files[0]))
    width = len(first.features.feature["input_mask"].int64_list.value)
    spec = {"input_mask": tf.io.FixedLenFeature([width], tf.int64)}
    ds = tf.data.Dataset.from_tensor_slices(list(files)).flat_map(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression_of(files)))
    ds = ds.batch(1024).map(lambda r: tf.reduce_sum(tf.cast(
        tf.io.parse_example(r, spec)["input_mask"] > 0, tf.int32), axis=1),
        num_parallel_calls=tf.data.AUTOTUNE)
    counts = np.bincount(np.concatenate(list(ds.as_numpy_iterator())))
    return {int(n): int(c) for n, c in enumerate(counts) if c}


def cut_to_length(features: dict, length: int) -> dict:
    """A parsed instance (or batch) with its per-token features cut to ``length`` positions;
    the real tokens come first, so only padding goes."""
    return {k: (v[..., :length] if k in TOKEN_FEATURES else v) for k, v in features.items()}


def bin_schedule(bins: SequenceBins, seed: Optional[int], repeat_draws: int = 1) -> Any:
    """The bin of every batch: an endless dataset of bin indices drawn with probability
    ``bins.shares``, each draw a stateless function of (seed, draw number) so that every
    input pipeline (worker) draws the same sequence; each draw repeated ``repeat_draws`` times
    (one per replica fed by the pipeline, when each replica takes its own batch)."""
    import tensorflow as tf

    logits = tf.math.log(tf.constant([bins.shares], tf.float32))
    base = tf.constant([seed or 0, 1], tf.int64)

    def draw(i: Any) -> Any:
        seed_i = tf.random.experimental.stateless_fold_in(base, i)
        return tf.random.stateless_categorical(logits, 1, seed_i, dtype=tf.int64)[0, 0]

    draws = tf.data.Dataset.counter().map(draw)
    if repeat_draws > 1:
        draws = draws.flat_map(lambda b: tf.data.Dataset.from_tensors(b).repeat(repeat_draws))
    return draws


def binned_batches(records: Any, spec: dict, batch_size: int, bins: SequenceBins, *,
                   seed: Optional[int], pipeline_id: int = 0,
                   shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
                   masking: Optional[Callable] = None, repeat_draws: int = 1) -> Any:
    """Training batches of one bin each from the endless stream of serialized ``records``:
    one stream per bin (the records whose real length falls in it, shuffled, parsed, cut to
    the bin's length, batched, re-masked), and :func:`bin_schedule` picking the stream of each
    batch. Every shape is static within a bin; each bin stream reads the whole record stream,
    so its instances recur at the rate they do without bins."""
    import tensorflow as tf

    auto = tf.data.AUTOTUNE
    max_len = spec["input_mask"][1]
    mask_only = {"input_mask": tf.io.FixedLenFeature([max_len], tf.int64)}
    parse = parser(spec)
    fold_in = tf.random.experimental.stateless_fold_in
    mask_base = fold_in(tf.constant([seed or 0, 0], tf.int64), pipeline_id)

    def with_length(record: Any) -> tuple:
        mask = tf.io.parse_single_example(record, mask_only)["input_mask"]
        return record, tf.reduce_sum(tf.cast(mask > 0, tf.int32))

    measured = records.map(with_length, num_parallel_calls=auto, deterministic=True)
    streams = []
    low = 0
    for k, (length, share) in enumerate(zip(bins.lengths, bins.shares)):
        ds = measured.filter(lambda r, n, lo=low, hi=length: (n > lo) & (n <= hi))
        ds = ds.map(lambda r, n: r)
        # A bin's share of the buffer spans the same stretch of the record stream as the
        # whole buffer does without bins (same memory, same mixing, quick to fill).
        buffer = max(1, round(shuffle_buffer * share))
        ds = ds.shuffle(buffer, seed=None if seed is None else seed + k)
        ds = ds.map(lambda r, n=length: cut_to_length(parse(r), n), num_parallel_calls=auto,
                    deterministic=True)
        ds = ds.batch(batch_size, drop_remainder=True)
        if masking is not None:
            bin_base = fold_in(mask_base, k)
            ds = ds.enumerate().map(lambda i, f, b=bin_base: masking(f, fold_in(b, i)),
                                    num_parallel_calls=auto, deterministic=True)
        streams.append(ds)
        low = length
    ds = tf.data.Dataset.choose_from_datasets(streams, bin_schedule(bins, seed, repeat_draws))
    return ds.prefetch(auto)
