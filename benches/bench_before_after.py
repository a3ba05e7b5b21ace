"""The data verbs of two checkouts side by side, alternating on the same input: create-data (1 and
2 threads), the tokenizer sample (``_core.sample_sentences``) and prepare-corpus (given Punkt
parameters, so NLTK's trainer is not timed). Each run is its own process; the score is CPU
seconds (user + sys, robust on a shared machine) and wall seconds, best of ``--rounds``.

    python benches/bench_before_after.py --base ../wt-base --mb 20 --rounds 3

Both checkouts need their extension built into ``python/albert_fast/``; the corpus is
benches/make_data_corpus.py's (literature text repeated to size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_data_corpus import build  # noqa: E402

# Timed inside the process (the call only, not the imports): the sample takes well under a second.
SAMPLE = r"""
import json, resource, sys, time
from albert_fast import _core
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0 = cpu(), time.monotonic()
s, stats = _core.sample_sentences([sys.argv[1]], lowercase=True, strip_accents=False, replace_quotes=True,
                                  max_sentences=int(sys.argv[2]), seed=12345, threads=int(sys.argv[3]))
assert len(s) == stats["sampled"]
print(json.dumps({"cpu": cpu() - c0, "wall": time.monotonic() - t0}))
"""


def timed(tree: Path, args: list[str]) -> tuple[float, float]:
    """(cpu, wall) seconds of ``python ARGS`` with ``tree``'s package first on the path, or what
    the child printed as ``{"cpu": .., "wall": ..}`` when it times itself."""
    env = dict(os.environ, PYTHONPATH=str(tree / "python"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.stdout.startswith("{"):
        own = json.loads(r.stdout)
        return own["cpu"], own["wall"]
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (the 'before')")
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokenizer", type=Path, required=True, help="tokenizer directory for create-data")
    ap.add_argument("--punkt", type=Path, required=True, help="punkt_tab directory for prepare-corpus")
    ap.add_argument("--raw", type=Path, nargs="+", required=True, help="raw text for prepare-corpus")
    ap.add_argument("--only", default="", help="run only the jobs whose name contains this")
    a = ap.parse_args()
    trees = {"before": a.base.resolve(), "after": HERE.parent}
    corpus = build(a.mb, ["en", "de"])
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    jobs = {
        "create-data 1 thread": lambda out: ["-m", "albert_fast", "create-data", str(corpus), "--tokenizer", str(a.tokenizer),
                                             "-o", str(out), "--threads", "1", "--dupe_factor", "2", "--max_seq_length", "512",
                                             "--no-progress"],
        "create-data 2 threads": lambda out: ["-m", "albert_fast", "create-data", str(corpus), "--tokenizer", str(a.tokenizer),
                                              "-o", str(out), "--threads", "2", "--dupe_factor", "2", "--max_seq_length", "512",
                                              "--no-progress"],
        "tokenizer sample 2 threads": lambda out: ["-c", SAMPLE, str(corpus), "1000000", "2"],
        "prepare-corpus 2 threads": lambda out: ["-m", "albert_fast", "prepare-corpus", *map(str, a.raw), "-o", str(out),
                                                 "--punkt-params", str(a.punkt), "--threads", "2", "--no-progress"],
    }
    jobs = {name: job for name, job in jobs.items() if a.only in name}
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for _ in range(a.rounds):
        for job, args in jobs.items():
            for name, tree in trees.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                cpu, wall = timed(tree, args(out))
                prev = best.get((job, name), (float("inf"), float("inf")))
                best[(job, name)] = (min(prev[0], cpu), min(prev[1], wall))
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for job in jobs:
        (cb, wb), (ca, wa) = best[(job, "before")], best[(job, "after")]
        rows.append({"job": job, "cpu_before": round(cb, 2), "cpu_after": round(ca, 2), "wall_before": round(wb, 2),
                     "wall_after": round(wa, 2), "cpu_after_over_before": round(ca / cb, 3)})
    print(json.dumps({"corpus_mb": a.mb, "rounds": a.rounds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
