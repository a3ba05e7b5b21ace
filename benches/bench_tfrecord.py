"""TFRecord I/O and `inspect --stats`, albert_fast vs TensorFlow / plain Python, side by side.

    PYTHONPATH=python python benches/bench_tfrecord.py [--instances 20000] [--seq 512]

Measures, on the same files in one run:
  write    albert_fast RecordWriter.write_example      vs tf.train.Example + tf.io.TFRecordWriter
  read     albert_fast RecordReader (CRC-verified)     vs tf.data.TFRecordDataset (counting records)
  decode   albert_fast decode_example (lists, numpy)   vs tf.train.Example.FromString (lazy)
  stats    albert_fast dataset_stats (Rust, parallel)  vs the same statistics in Python over
           tf.io.parse_example batches (numpy)
for plain and GZIP files, and prints times and ratios (TensorFlow or Python time / ours).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np


def make_instances(n: int, seq: int, preds: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = seq if rng.random() > 0.1 else rng.randint(8, seq)
        ids = [2] + [rng.randint(5, 29999) for _ in range(length - 2)] + [3]
        k = min(preds, max(1, round(length * 0.15)))
        positions = sorted(rng.sample(range(1, length - 1), k))
        labels = [ids[p] for p in positions]
        for p in positions:
            ids[p] = 4 if rng.random() < 0.8 else ids[p]
        pad = seq - length
        out.append({
            "input_ids": ("int64", ids + [0] * pad),
            "input_mask": ("int64", [1] * length + [0] * pad),
            "segment_ids": ("int64", [0] * (length // 2) + [1] * (length - length // 2) + [0] * pad),
            "token_boundary": ("int64", [rng.randint(0, 1) for _ in range(length)] + [0] * pad),
            "masked_lm_positions": ("int64", positions + [0] * (preds - k)),
            "masked_lm_ids": ("int64", labels + [0] * (preds - k)),
            "masked_lm_weights": ("float", [1.0] * k + [0.0] * (preds - k)),
            "next_sentence_labels": ("int64", [rng.randint(0, 1)]),
        })
    return out


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def python_stats(tf, path: str, spec: dict, gzip: bool) -> dict:
    """The headline statistics computed with TensorFlow's parser and numpy, batch-wise."""
    from albert_fast.records import tf_feature_spec

    ds = tf.data.TFRecordDataset([path], compression_type="GZIP" if gzip else "").batch(1024)
    lengths, masked = [], []
    rep = np.zeros(3, dtype=np.int64)
    labels = np.zeros(2, dtype=np.int64)
    for batch in ds:
        ex = {k: v.numpy() for k, v in tf.io.parse_example(batch, tf_feature_spec(spec)).items()}
        lengths.append(ex["input_mask"].sum(1))
        w = ex["masked_lm_weights"] > 0
        masked.append(w.sum(1))
        shown = np.take_along_axis(ex["input_ids"], ex["masked_lm_positions"], 1)
        is_mask = (shown == 4) & w
        kept = (shown == ex["masked_lm_ids"]) & w & ~is_mask
        rep += [is_mask.sum(), kept.sum(), w.sum() - is_mask.sum() - kept.sum()]
        labels += np.bincount(ex["next_sentence_labels"][:, 0], minlength=2)
    lengths = np.concatenate(lengths)
    return {"instances": len(lengths), "p50": float(np.percentile(lengths, 50)), "rep": rep.tolist(), "sop": labels.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=20000)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--preds", type=int, default=20)
    args = ap.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from albert_fast import _core
    from albert_fast.records import dataset_stats, feature_spec

    spec = feature_spec(args.seq, args.preds)
    instances = make_instances(args.instances, args.seq, args.preds)
    plain_inst = [{k: v for k, (_, v) in inst.items()} for inst in instances]
    print(f"{args.instances} instances, max_seq_length {args.seq}, max_predictions_per_seq {args.preds}, "
          f"{os.cpu_count()} cores, TensorFlow {tf.__version__}")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for comp in ["none", "gzip"]:
            ours = str(Path(d) / f"ours.{comp}.tfrecord")
            theirs = str(Path(d) / f"tf.{comp}.tfrecord")

            def write_ours():
                with _core.RecordWriter(ours, comp) as w:
                    for inst in instances:
                        w.write_example(inst)

            def write_tf():
                opts = tf.io.TFRecordOptions(compression_type="GZIP" if comp == "gzip" else "")
                with tf.io.TFRecordWriter(theirs, opts) as w:
                    for inst in plain_inst:
                        feats = {}
                        for k, v in inst.items():
                            if k == "masked_lm_weights":
                                feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=v))
                            else:
                                feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                        w.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())

            t_ours, _ = timed(write_ours)
            t_tf, _ = timed(write_tf)
            rows.append((f"write ({comp})", t_tf, t_ours))

            t_ours, n_ours = timed(lambda: sum(1 for _ in _core.RecordReader(ours)))
            ds = tf.data.TFRecordDataset([ours], compression_type="GZIP" if comp == "gzip" else "")
            t_tf, n_tf = timed(lambda: int(ds.reduce(np.int64(0), lambda n, _: n + 1)))
            assert n_ours == n_tf == args.instances
            rows.append((f"read+verify ({comp}), size {os.path.getsize(ours) / 1e6:.1f} MB", t_tf, t_ours))

            if comp == "none":
                records = list(_core.RecordReader(ours))
                t_ours, _ = timed(lambda: [_core.decode_example(r) for r in records])
                t_tf, _ = timed(lambda: [tf.train.Example.FromString(r) for r in records])
                rows.append(("decode Example (to Python lists)", t_tf, t_ours))
                from albert_fast.records import decode_example
                t_ours, _ = timed(lambda: [decode_example(r, numpy=True) for r in records])
                rows.append(("decode Example (numpy=True)", t_tf, t_ours))

            t_ours, s = timed(lambda: dataset_stats([ours]))
            t_py, p = timed(lambda: python_stats(tf, ours, spec, comp == "gzip"))
            r = s["replacement"]
            assert s["instances"] == p["instances"] and [r["mask"], r["kept"], r["random"]] == p["rep"]
            assert s["length"]["p50"] == p["p50"]
            rows.append((f"stats ({comp}) vs tf.io.parse_example + numpy", t_py, t_ours))

    print(f"{'task':52s} {'other s':>9s} {'ours s':>9s} {'ratio':>7s}")
    for name, other, ours in rows:
        print(f"{name:52s} {other:9.3f} {ours:9.3f} {other / ours:7.2f}x")


if __name__ == "__main__":
    main()
