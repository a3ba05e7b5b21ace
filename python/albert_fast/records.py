"""TFRecord files of ALBERT pretraining instances: reading, the reference feature spec, the
tokenizer a data directory's manifest names, the original tool's log format and dataset
statistics.

The reading, checksum verification, decompression and per-record statistics run in Rust
(``albert_fast._core``); this module holds what is easier to read in Python. It does not import
TensorFlow, so the training pipeline can take :func:`feature_spec` from here without paying for
TensorFlow twice, and ``albert-fast inspect`` runs without it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from albert_fast import _core, storage
from albert_fast.errors import AlbertFastError, InputError
from albert_fast.io_utils import file_sha256
from albert_fast.tokenizer import ALBERT_SPECIAL_IDS, Tokenizer, resolve_tokenizer_paths

__all__ = [
    "FEATURE_NAMES",
    "RecordReader",
    "RecordWriter",
    "decode_example",
    "encode_example",
    "feature_spec",
    "is_record_file_name",
    "tf_feature_spec",
    "read_records",
    "read_examples",
    "record_files",
    "format_instance",
    "piece_lookup",
    "tokenizer_from_manifest",
    "dataset_stats",
]

RecordReader = _core.RecordReader
RecordWriter = _core.RecordWriter
encode_example = _core.encode_example

_NUMPY_DTYPES = {"int64": "<i8", "float": "<f4"}


def decode_example(data: bytes, numpy: bool = False) -> dict[str, Any]:
    """Parses a serialized ``tf.train.Example``: dict name -> list of ints, floats or bytes, in
    stored order; with ``numpy=True`` int64 and float lists are ``numpy`` arrays (int64,
    float32) made without a Python object per value. Malformed input raises ``InputError``."""
    if not numpy:
        return _core.decode_example(data)
    import numpy as np

    out: dict[str, Any] = {}
    for name, (kind, value) in _core.decode_example_packed(data).items():
        out[name] = np.frombuffer(value, dtype=_NUMPY_DTYPES[kind]) if kind in _NUMPY_DTYPES else value
    return out

# The features of one instance, in the order the original `write_instance_to_example_files`
# writes (and logs) them (docs/data-format.md).
FEATURE_NAMES: tuple[str, ...] = (
    "input_ids",
    "input_mask",
    "segment_ids",
    "token_boundary",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
    "next_sentence_labels",
)

# Suffixes `record_files` treats as TFRecord files when given a directory.
_RECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrec", ".record", ".records")
_GZIP_SUFFIXES = (".gz", ".gzip")


def feature_spec(
    max_seq_length: int,
    max_predictions_per_seq: int,
    do_permutation: bool = False,
    *,
    token_boundary: bool = True,
) -> dict[str, tuple[str, int]]:
    """The fixed-length features of one instance: name -> (dtype, length), dtype "int64" or
    "float32", in the order they are written (docs/data-format.md).

    ``do_permutation`` doubles the ``masked_lm_*`` lengths, as the original writer does; the
    original ``run_pretraining.py`` parses them with length ``max_predictions_per_seq`` and so
    cannot read such data (Q14). ``token_boundary=False`` leaves out ``token_boundary``, giving
    exactly the spec ``run_pretraining.py`` parses (without ``--masked_lm_budget``, Q16).
    """
    if max_seq_length < 1 or max_predictions_per_seq < 0:
        raise ValueError(
            f"feature_spec: max_seq_length must be >= 1 and max_predictions_per_seq >= 0, "
            f"got {max_seq_length} and {max_predictions_per_seq}"
        )
    slots = max_predictions_per_seq * (2 if do_permutation else 1)
    spec = {
        "input_ids": ("int64", max_seq_length),
        "input_mask": ("int64", max_seq_length),
        "segment_ids": ("int64", max_seq_length),
        "token_boundary": ("int64", max_seq_length),
        "masked_lm_positions": ("int64", slots),
        "masked_lm_ids": ("int64", slots),
        "masked_lm_weights": ("float32", slots),
        "next_sentence_labels": ("int64", 1),
    }
    if not token_boundary:
        del spec["token_boundary"]
    return spec


def tf_feature_spec(spec: Mapping[str, tuple[str, int]]) -> dict[str, Any]:
    """``feature_spec(...)`` as ``tf.io.FixedLenFeature``s for ``tf.io.parse_single_example``
    (imports TensorFlow, only when called)."""
    import tensorflow as tf

    return {name: tf.io.FixedLenFeature([length], tf.as_dtype(dtype)) for name, (dtype, length) in spec.items()}


def record_files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Expands files and directories into the TFRecord files to read. A directory contributes
    its (non-hidden) files named ``*.tfrecord``, ``*.tfrecords``, ``*.tfrec``, ``*.record`` —
    optionally followed by ``.gz`` — or ``*-of-*`` shard names, sorted by name."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and is_record_file_name(f.name))
            if not found:
                raise InputError(f"{p}: no TFRecord files in this directory (looked for *.tfrecord, *.tfrecord.gz, *-of-*)")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(2, "No such file or directory", str(p))
    return out


def is_record_file_name(name: str) -> bool:
    """Whether a file in a data directory is read as TFRecords: not hidden (unfinished outputs
    are ``.NAME.tmp-PID``), named ``*.tfrecord`` and the like, optionally ``.gz``, or a shard
    name ``*-of-*``."""
    if name.startswith("."):  # hidden, including unfinished `.NAME.tmp-PID` outputs
        return False
    base = name
    for gz in _GZIP_SUFFIXES:
        if base.endswith(gz):
            base = base[: -len(gz)]
    return base.endswith(_RECORD_SUFFIXES) or "-of-" in base


def read_records(path: str | Path, compression: str | None = None) -> Iterator[bytes]:
    """The verified records of one file (GZIP detected unless ``compression`` is given)."""
    yield from RecordReader(str(path), compression)


def read_examples(path: str | Path, compression: str | None = None, numpy: bool = False) -> Iterator[dict[str, Any]]:
    """The records of one file decoded as ``tf.train.Example``: dicts name -> list of ints,
    floats or bytes (numpy arrays with ``numpy=True``, see :func:`decode_example`), in stored
    order. Malformed records raise ``InputError`` naming the file, the record's index and its
    byte offset."""
    reader = RecordReader(str(path), compression)
    while True:
        offset = reader.offset
        try:
            data = next(reader)
        except StopIteration:
            return
        try:
            yield decode_example(data, numpy=numpy)
        except InputError as err:
            raise InputError(f"{path}: record {reader.records_read - 1} at byte {offset}: {err}") from None


# ---------------------------------------------------------------------------------------------
# Pieces for display


def piece_lookup(tokenizer: Any) -> Callable[[int], str]:
    """A function id -> piece from: a sequence of pieces (the vocabulary), an object with
    ``id_to_piece`` (``albert_fast.Tokenizer``, ``sentencepiece.SentencePieceProcessor``), one
    with ``convert_ids_to_tokens`` (Hugging Face), a path to a SentencePiece model (a
    ``.model`` file or a tokenizer directory, loaded as ``albert_fast.Tokenizer``), or such a
    function itself."""
    if isinstance(tokenizer, (str, Path)):
        tokenizer = Tokenizer(tokenizer)
    if isinstance(tokenizer, Sequence):
        vocab = tokenizer
        return lambda i: vocab[i] if 0 <= i < len(vocab) else f"<id {i}>"
    if hasattr(tokenizer, "id_to_piece"):
        size = _vocab_size(tokenizer)
        return lambda i: tokenizer.id_to_piece(i) if size is None or 0 <= i < size else f"<id {i}>"
    if hasattr(tokenizer, "convert_ids_to_tokens"):
        return lambda i: tokenizer.convert_ids_to_tokens(i)
    if callable(tokenizer):
        return tokenizer
    raise TypeError(f"cannot map ids to pieces with a {type(tokenizer).__name__}")


def _vocab_size(tokenizer: Any) -> int | None:
    for attr in ("get_piece_size", "vocab_size", "__len__"):
        fn = getattr(tokenizer, attr, None)
        if fn is not None:
            value = fn() if callable(fn) else fn
            if isinstance(value, int):
                return value
    return None


def tokenizer_from_manifest(record_file: str | Path) -> tuple[Path | None, str | None]:
    """The tokenizer model named by ``manifest.json`` beside ``record_file`` (as create-data
    writes it), checked against the manifest's ``spiece_sha256``. Returns (model path, None),
    or (None, reason) when there is no usable one."""
    if storage.is_url(record_file):  # gs:// data, read by TensorFlow from the bucket
        manifest: Any = storage.join(str(record_file).rsplit("/", 1)[0], "manifest.json")
        try:
            if not storage.exists(manifest):
                return None, None
            data = json.loads(storage.read_bytes(manifest))
        except (OSError, ValueError) as err:
            return None, f"{manifest}: unreadable ({err})"
        return _manifest_tokenizer(manifest, data)
    manifest = Path(record_file).parent / "manifest.json"
    if not manifest.is_file():
        return None, None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return None, f"{manifest}: unreadable ({err})"
    return _manifest_tokenizer(manifest, data)


def _manifest_tokenizer(manifest: Any, data: Any) -> tuple[Path | None, str | None]:
    entry = data.get("tokenizer") if isinstance(data, dict) else None
    sha = data.get("spiece_sha256") if isinstance(data, dict) else None
    if isinstance(entry, dict):
        sha = entry.get("spiece_sha256", entry.get("sha256", sha))
        entry = entry.get("path") or entry.get("model") or entry.get("model_file")
    if not isinstance(entry, str) or not entry:
        return None, f"{manifest}: no \"tokenizer\" path"
    if storage.is_url(entry):  # a tokenizer in object storage (fetched once, cached)
        model: Any = entry
    elif storage.is_url(manifest):
        model = storage.join(str(manifest).rsplit("/", 1)[0], entry)
    else:
        model = Path(entry)
        if not model.is_absolute():
            model = manifest.parent / model
    try:
        model = resolve_tokenizer_paths(model)[0]
    except FileNotFoundError:
        return None, f"{manifest}: tokenizer {entry} not found (relative paths are relative to the manifest's directory)"
    except (OSError, ValueError, AlbertFastError) as err:
        return None, f"{manifest}: tokenizer {entry} is not usable ({err})"
    if sha:
        actual = file_sha256(model)
        if actual != sha:
            return None, f"{manifest}: tokenizer {model} has changed since the data was made (sha256 {actual[:12]}…, manifest says {str(sha)[:12]}…)"
    return model, None


# ---------------------------------------------------------------------------------------------
# The original tool's log format


def _fmt_value(v: Any) -> str:
    if isinstance(v, bytes):
        return repr(v)
    return str(v)


def format_instance(example: Mapping[str, Sequence], tokenizer: Any = None) -> str:
    """One instance as the original ``write_instance_to_example_files`` logs it::

        *** Example ***
        tokens: [CLS] ▁the ▁[MASK] ...
        input_ids: 2 13 4 ...
        ...
        next_sentence_labels: 0

    ``tokens`` lists the real tokens (``input_mask == 1``) as pieces — what the model sees,
    with ``[MASK]`` and random replacements — when ``tokenizer`` is given (anything
    :func:`piece_lookup` accepts), as ids otherwise; with a tokenizer, ``masked_lm_labels``
    then gives each masked position with the piece it must be predicted as
    (``position:piece``, the entries of weight 1). Then every feature in stored order, values
    separated by spaces, floats as Python prints them (``1.0``)."""
    ids = list(example.get("input_ids", []))
    mask = example.get("input_mask")
    real = sum(1 for m in mask if m) if mask is not None else len(ids)
    lookup = piece_lookup(tokenizer) if tokenizer is not None else (lambda i: str(i))
    tokens = [lookup(int(i)) for i in ids[:real]]
    lines = ["*** Example ***", "tokens: " + " ".join(tokens)]
    if tokenizer is not None and "masked_lm_ids" in example:
        # What the model must predict, readable: position:original piece, for each real label.
        weights = example.get("masked_lm_weights")
        if weights is None:
            weights = [1.0] * len(example["masked_lm_ids"])
        labels = [f"{int(p)}:{lookup(int(i))}" for p, i, w in
                  zip(example.get("masked_lm_positions", []), example["masked_lm_ids"], weights) if w]
        lines.append("masked_lm_labels: " + " ".join(labels))
    for name, values in example.items():
        lines.append(f"{name}: " + " ".join(_fmt_value(v) for v in values))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Statistics

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def _percentile(hist: Mapping[int, int], q: float) -> float:
    """NumPy's default ('linear') percentile of the values a histogram counts."""
    n = sum(hist.values())
    rank = (n - 1) * q / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    v_lo = v_hi = None
    seen = 0
    for value, count in sorted(hist.items()):
        if v_lo is None and lo < seen + count:
            v_lo = value
        if hi < seen + count:
            v_hi = value
            break
        seen += count
    assert v_lo is not None and v_hi is not None
    return v_lo + (v_hi - v_lo) * (rank - lo)


def _summary(hist: Mapping[int, int]) -> dict[str, Any]:
    n = sum(hist.values())
    if n == 0:
        return {"count": 0}
    out: dict[str, Any] = {"count": n, "mean": sum(k * v for k, v in hist.items()) / n}
    for q in PERCENTILES:
        name = {0: "min", 100: "max"}.get(q, f"p{q}")
        out[name] = _percentile(hist, q)
    return out


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _single_or_all(hist: Mapping[int, int]) -> int | list[int] | None:
    keys = sorted(hist)
    if not keys:
        return None
    return keys[0] if len(keys) == 1 else keys


def _mask_id_of(tokenizer: Any) -> int:
    if tokenizer is None:
        return ALBERT_SPECIAL_IDS["[MASK]"]
    if isinstance(tokenizer, (str, Path)):
        tokenizer = Tokenizer(tokenizer)
    found = None
    if hasattr(tokenizer, "piece_to_id"):
        found = tokenizer.piece_to_id("[MASK]")
    elif hasattr(tokenizer, "convert_tokens_to_ids"):
        found = tokenizer.convert_tokens_to_ids("[MASK]")
    if isinstance(found, int) and found >= 0:
        return found
    if isinstance(tokenizer, Sequence) and "[MASK]" in tokenizer:
        return list(tokenizer).index("[MASK]")
    return ALBERT_SPECIAL_IDS["[MASK]"]


def length_histogram(paths: Iterable[str | Path]) -> dict[int, int]:
    """Real length (``sum(input_mask)``) -> instances over the given TFRecord files (the Rust
    pass behind :func:`dataset_stats`, all files in parallel)."""
    files = [str(p) for p in paths]
    return dict(_core.dataset_stats_raw(files, 4)["lengths"]) if files else {}


def dataset_stats(paths: str | Path | Iterable[str | Path], tokenizer: Any = None, mask_id: int | None = None) -> dict[str, Any]:
    """Statistics of ALBERT instances in TFRecord files (directories expand as in
    :func:`record_files`), as a JSON-ready dict. Definitions (docs/data-format.md):

    * ``length``: real tokens per instance (``sum(input_mask)``): mean and percentiles
      (NumPy's linear interpolation); ``full_length_share``: instances filling max_seq_length.
    * ``masked_per_instance``: predictions (``masked_lm_weights > 0``) per instance;
      ``mask_rate``: predictions / real tokens.
    * ``replacement``: at each prediction's position, ``input_ids == [MASK]`` -> mask, else
      ``== masked_lm_ids`` -> kept, else random (a random draw of the original piece counts as
      kept). ``[MASK]``'s id comes from ``tokenizer`` or ``mask_id``, default 4.
    * ``masked_spans``: maximal runs of consecutive predicted positions; length in words, where
      a position with ``token_boundary == 1`` starts a word and ``0`` continues the previous
      one; also in pieces, and how many spans start or end inside a word.
    * ``sop``: ``next_sentence_labels`` counts (1 = swapped segments).
    * ``token_boundary_share``: real tokens with ``token_boundary == 1`` / real tokens.

    The per-record work runs in Rust over all files in parallel.
    """
    files = record_files(paths)
    if mask_id is None:
        mask_id = _mask_id_of(tokenizer)
    raw = _core.dataset_stats_raw([str(f) for f in files], mask_id)
    n = raw["instances"]
    preds = raw["predictions"]
    lengths = raw["lengths"]
    padded = raw["padded_lengths"]
    max_len = max(padded) if padded else None
    spans_w = raw["span_words"]
    n_spans = sum(spans_w.values())
    classified = raw["replaced_mask"] + raw["kept"] + raw["random"]
    sop = raw["sop_labels"]
    return {
        "files": [{"path": p, "instances": c} for p, c in raw["files"]],
        "instances": n,
        "max_seq_length": _single_or_all(padded),
        "prediction_slots": _single_or_all(raw["prediction_slots"]),
        "mask_id": mask_id,
        "length": _summary(lengths),
        "full_length_share": _share(lengths.get(max_len, 0), n) if max_len is not None else None,
        "real_tokens": raw["real_tokens"],
        "masked_per_instance": _summary(raw["masked_per_instance"]),
        "predictions": preds,
        "mask_rate": _share(preds, raw["real_tokens"]),
        "replacement": {
            "mask": raw["replaced_mask"],
            "kept": raw["kept"],
            "random": raw["random"],
            "mask_share": _share(raw["replaced_mask"], classified),
            "kept_share": _share(raw["kept"], classified),
            "random_share": _share(raw["random"], classified),
        },
        "positions_out_of_range": raw["positions_out_of_range"],
        "masked_spans": {
            "count": n_spans,
            "words": _summary(spans_w),
            "words_histogram": dict(sorted(spans_w.items())),
            "words_share": {k: v / n_spans for k, v in sorted(spans_w.items())},
            "pieces": _summary(raw["span_pieces"]),
            "starting_mid_word": raw["spans_starting_mid_word"],
            "ending_mid_word": raw["spans_ending_mid_word"],
        },
        "sop": {
            "labels": dict(sorted(sop.items())),
            "swapped_share": _share(sop.get(1, 0), n),
        },
        "token_boundary_share": (
            _share(raw["boundary_tokens"], raw["real_tokens"]) if raw["without_token_boundary"] < n else None
        ),
        "instances_without_token_boundary": raw["without_token_boundary"],
        "segment_b_share": _share(raw["segment_b_tokens"], raw["real_tokens"]),
    }
