"""What pretrain's start-up data check costs (albert_fast.data_check.check_training_data: every
file's framing and checksums verified and counted, the first 32 records of each decoded), side
by side with counting the same records with TensorFlow's TFRecordDataset, and on a resumed run
(unchanged files: only their first records are read).

    PYTHONPATH=python python benches/bench_data_check.py [--instances 40000] [--shards 8] [--seq 512]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tfrecord import make_instances  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=40000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--preds", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from albert_fast.config import Config
    from albert_fast.data_check import check_training_data
    from albert_fast.dataset import find_data_files
    from albert_fast.records import RecordWriter

    config = Config.model_validate({
        "model": {"vocab_size": 30000, "max_position_embeddings": args.seq},
        "data": {"max_seq_length": args.seq, "max_predictions_per_seq": args.preds}})
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        instances = make_instances(args.instances, args.seq, args.preds)
        for k in range(args.shards):
            with RecordWriter(str(data / f"train-{k:05d}-of-{args.shards:05d}.tfrecord")) as w:
                for inst in instances[k::args.shards]:
                    w.write_example(inst)
        size = sum(p.stat().st_size for p in data.iterdir())
        files = find_data_files(str(data))
        run = Path(tmp) / "run"
        run.mkdir()
        check_training_data(files, config, run, print)  # warm the page cache

        t = time.perf_counter()
        verified = check_training_data(files, config, run, print)
        ours = time.perf_counter() - t
        from albert_fast.data_check import remember_verified

        remember_verified(run, verified)
        t = time.perf_counter()
        check_training_data(files, config, run, print)
        resumed = time.perf_counter() - t

        import tensorflow as tf

        t = time.perf_counter()
        n = int(tf.data.TFRecordDataset(files.train).reduce(0, lambda c, _: c + 1))
        theirs = time.perf_counter() - t
        assert n == args.instances

    print(f"{args.instances} records, {args.shards} files, {size / 1e6:.1f} MB, "
          f"{os.cpu_count()} CPUs")
    print("| task | seconds | MB/s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| TFRecordDataset count (TensorFlow, verifies CRCs) | {theirs:.3f} | "
          f"{size / 1e6 / theirs:.0f} | 1.00x |")
    print(f"| check_training_data, first start | {ours:.3f} | {size / 1e6 / ours:.0f} | "
          f"{theirs / ours:.2f}x |")
    print(f"| check_training_data, resumed (files unchanged) | {resumed:.3f} | - | "
          f"{theirs / resumed:.1f}x |")


if __name__ == "__main__":
    main()
