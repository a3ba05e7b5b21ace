"""Cost of dynamic masking (Q16, ``masked_lm_budget``) in the training input pipeline: the same
tf.data pipeline over the same create-data shards, read with the stored masks and re-masked on
the fly, side by side in one process.

    python benches/bench_dynamic_masking.py [--seq 128,512] [--batch 64] [--batches 200]

The shards are made first from the bundled corpus (examples/corpus) with albert_fast's own
prepare-corpus -> train-tokenizer -> create-data, under benches/out/dynmask/. Prints
examples/s of both pipelines and the slowdown ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))


def make_shards(out: Path, seq: int) -> Path:
    from albert_fast.prepare_corpus import prepare_corpus
    from albert_fast.create_data import create_pretraining_data
    from albert_fast.train_tokenizer import train_tokenizer

    data = out / f"data-{seq}"
    if (data / "manifest.json").is_file():
        return data
    if not (out / "tok" / "spiece.model").is_file():
        prepare_corpus([str(REPO / "examples" / "corpus")], out / "corpus", doc_boundary="file")
        train_tokenizer([str(out / "corpus")], out / "tok", vocab_size=4000, progress=False)
    create_pretraining_data([str(out / "corpus")], out / "tok" / "spiece.model", data,
                            config={"model": {"vocab_size": 4000},
                                    "data": {"max_seq_length": seq, "dupe_factor": 2,
                                             "max_predictions_per_seq": round(seq * 0.15)}})
    return data


def examples_per_sec(files: list[str], seq: int, batch: int, batches: int, masking) -> float:
    from albert_fast.dataset import make_dataset
    from albert_fast.records import feature_spec

    spec = feature_spec(seq, round(seq * 0.15), token_boundary=True)
    ds = make_dataset(files, spec, batch, True, seed=1, masking=masking, deterministic=True)
    it = iter(ds)
    for _ in range(5):  # warm up: tracing, file opening, shuffle buffer fill
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)["input_ids"].numpy()
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", default="128,512")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()

    from albert_fast.dynamic_masking import DynamicMasking

    out = REPO / "benches" / "out" / "dynmask"
    print(f"{'seq':>5} {'batch':>5} {'stored masks ex/s':>18} {'dynamic ex/s':>13} {'ratio':>6}")
    for seq in (int(s) for s in args.seq.split(",")):
        files = sorted(str(p) for p in make_shards(out, seq).glob("train-*.tfrecord"))
        masking = DynamicMasking(rate=0.15, max_predictions_per_seq=round(seq * 0.15),
                                 vocab_size=4000)
        static = examples_per_sec(files, seq, args.batch, args.batches, None)
        dynamic = examples_per_sec(files, seq, args.batch, args.batches, masking)
        print(f"{seq:>5} {args.batch:>5} {static:>18.0f} {dynamic:>13.0f} {static / dynamic:>6.2f}")


if __name__ == "__main__":
    main()
