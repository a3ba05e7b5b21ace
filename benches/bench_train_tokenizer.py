"""Tokenizer training: sampling speed and peak memory, side by side in one run.

Compared, each in its own process (peak RSS from wait4):

* ``rust-sample``   albert_fast's Rust sampler alone (read, normalize, bottom-k sample);
* ``python-sample`` the same in plain Python (str.split/lower + reservoir sampling);
* ``spm-direct``    the tutorial's way: SentencePiece reads the files itself with
                    ``input_sentence_size`` + ``shuffle_input_sentence`` (it loads every sentence
                    first, no normalization);
* ``albert-fast``   ``albert_fast.train_tokenizer`` end to end (sample + SentencePiece).

The corpus is the shared literature corpus concatenated ``--copies`` times (written once to
benches/data/, git-ignored). Usage::

    python benches/bench_train_tokenizer.py --copies 8 --sample 20000 --vocab 4000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Beside the checkout (CI, /work/main) or the shared folder of a worktree setup.
LITERATURE = next((p for p in (REPO.parent / "shared" / "corpora" / "literature",
                               REPO.parent.parent / "shared" / "corpora" / "literature")
                   if p.is_dir()), REPO.parent / "shared" / "corpora" / "literature")
DATA = REPO / "benches" / "data"


def build_corpus(copies: int) -> Path:
    out = DATA / f"literature-x{copies}.txt"
    if not out.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        parts = [p.read_bytes() for p in sorted(LITERATURE.glob("*.txt"))]
        if not parts:
            raise SystemExit(f"no corpus files in {LITERATURE}")
        tmp = out.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for _ in range(copies):
                for part in parts:
                    f.write(part)
                    f.write(b"\n\n")
        tmp.replace(out)
    return out


def run_mode(mode: str, corpus: Path, sample: int, vocab: int) -> dict:
    """Runs one mode in this process (called in a child); imports are not timed."""
    import sentencepiece  # noqa: F401

    import albert_fast  # noqa: F401

    t0 = time.perf_counter()
    if mode == "rust-sample":
        from albert_fast import _core

        s, stats = _core.sample_sentences([str(corpus)], lowercase=True, strip_accents=False,
                                          replace_quotes=True, max_sentences=sample, seed=12345)
        n = len(s)
    elif mode == "python-sample":
        rng = random.Random(12345)
        kept: list[str] = []
        seen = 0
        with open(corpus, encoding="utf-8", errors="replace") as f:
            for line in f:
                text = " ".join(line.split())
                if not text:
                    continue
                text = text.replace("``", '"').replace("''", '"').lower()
                seen += 1
                if len(kept) < sample:
                    kept.append(text)
                else:
                    j = rng.randrange(seen)
                    if j < sample:
                        kept[j] = text
        n = len(kept)
    elif mode == "spm-direct":
        import io

        import sentencepiece as spm

        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_writer=buf, vocab_size=vocab, pad_id=0, unk_id=1, bos_id=-1,
            eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"], model_type="unigram",
            input_sentence_size=sample, shuffle_input_sentence=True, num_threads=16,
            minloglevel=2)
        n = sample
    elif mode == "albert-fast":
        import tempfile

        from albert_fast import train_tokenizer

        with tempfile.TemporaryDirectory() as d:
            summary = train_tokenizer(
                [str(corpus)], Path(d) / "tok", vocab_size=vocab, progress=False,
                config={"model": {"vocab_size": vocab},
                        "tokenizer": {"input_sentence_size": sample}})
        n = summary["sentences"]
    else:
        raise SystemExit(f"unknown mode {mode}")
    return {"mode": mode, "seconds": time.perf_counter() - t0, "sentences": n}


def measure(mode: str, corpus: Path, sample: int, vocab: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--corpus", str(corpus),
           "--sample", str(sample), "--vocab", str(vocab)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{mode} failed with status {status}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--sample", type=int, default=20000)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--modes", default="rust-sample,python-sample,spm-direct,albert-fast")
    ap.add_argument("--child")
    ap.add_argument("--corpus")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, Path(args.corpus), args.sample, args.vocab)))
        return
    corpus = build_corpus(args.copies)
    mb = corpus.stat().st_size / 1e6
    print(f"corpus {corpus.name}: {mb:.1f} MB; sample {args.sample}; vocab {args.vocab}; "
          f"{os.cpu_count()} cores; {platform.processor() or platform.machine()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    results = [measure(m, corpus, args.sample, args.vocab) for m in args.modes.split(",")]
    base = {r["mode"]: r for r in results}
    print(f"| mode | seconds | MB/s | peak RSS (MiB) | sentences |")
    print(f"| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['mode']} | {r['seconds']:.2f} | {mb / r['seconds']:.1f} | "
              f"{r['peak_rss_mib']:.0f} | {r['sentences']} |")
    if "rust-sample" in base and "python-sample" in base:
        print(f"sampling speed-up rust/python: "
              f"{base['python-sample']['seconds'] / base['rust-sample']['seconds']:.1f}x")
    if "albert-fast" in base and "spm-direct" in base:
        print(f"peak RSS spm-direct/albert-fast: "
              f"{base['spm-direct']['peak_rss_mib'] / base['albert-fast']['peak_rss_mib']:.2f}x; "
              f"time: {base['spm-direct']['seconds'] / base['albert-fast']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
