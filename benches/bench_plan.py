"""create-data's pass 1 alone (the shard plan a cluster's driver makes while its workers build):
CPU and wall time to read the input and close every shard, in interleaved rounds, for this
checkout and optionally another one side by side (`--baseline DIR`, a checkout with its built
extension). Each measurement is its own process: create-data is started as on a cluster (the
planned path on threads here) and stopped as soon as pass 1 has ended.

    python benches/bench_plan.py --mb 1000 --rounds 3 --baseline ../other-checkout

Corpus: benches/make_tech_corpus.py (`tech-sentences-NNmb.txt`), tokenizer as bench_cluster.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from bench_cluster import tokenizer  # noqa: E402
from bench_create_data import FLAGS, record  # noqa: E402
from make_tech_corpus import build  # noqa: E402

RUN = r"""
import importlib, json, sys, time
cd, cl = (importlib.import_module(f"albert_fast.{m}") for m in ("create_data", "cluster"))
from albert_fast import _core
args = json.loads(sys.argv[1])
Plan = _core.CreateDataPlan
class Timed:  # the module's _core with CreateDataPlan timed to the end of pass 1
    def __getattr__(self, name):
        return getattr(_core, name)
    @staticmethod
    def CreateDataPlan(**kw):
        t, c = time.monotonic(), time.process_time()
        p = Plan(**kw)
        while not p.poll(0.5)[1]:
            pass
        print(json.dumps({"seconds": time.monotonic() - t, "cpu_seconds": time.process_time() - c,
                          "shards": p.expected_shards}), flush=True)
        raise SystemExit(0)
cd._core = Timed()
cd.parse_cluster = lambda c: c  # the planned path on threads here, without Dask
cd.starting_executor = lambda c, *a, **k: cl.starting_executor(None, *a, **k)
cd.create_pretraining_data(args["inputs"], args["tokenizer"], args["out"], threads=1, cluster="threads",
                           max_line_tokens=0, eval_fraction=args["eval_fraction"], **args["flags"])
"""


def run(repo: Path, spec: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(repo / "python"))
    r = subprocess.run([sys.executable, "-c", RUN, json.dumps(spec)], capture_output=True, text=True, env=env)
    if r.returncode != 0 or not r.stdout.strip():
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--eval-fraction", type=float, default=0.0)
    ap.add_argument("--baseline", type=Path, help="a checkout of another commit to run side by side")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    corpus = build(args.mb, "sentences")
    tok = tokenizer(corpus, 25000)
    out = HERE / "out" / "plan"
    checkouts = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    runs: dict = {name: [] for name in checkouts}
    for r in range(args.rounds):
        for name, repo in checkouts.items():
            shutil.rmtree(out, ignore_errors=True)
            m = run(repo, {"inputs": [str(corpus)], "tokenizer": str(tok), "out": str(out), "flags": FLAGS,
                           "eval_fraction": args.eval_fraction})
            print(json.dumps({"round": r, "checkout": name, **m}), flush=True)
            runs[name].append(m)
    shutil.rmtree(out, ignore_errors=True)
    size = corpus.stat().st_size / 1e6
    lines = [f"\n## create-data's pass 1 alone ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n",
             f"Command: `python benches/bench_plan.py {' '.join(sys.argv[1:])}`; machine: {os.cpu_count()} CPUs "
             f"({platform.machine()}), load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
             f"Python {platform.python_version()}. Corpus: technical prose, {size:.0f} MB, one file; eval_fraction "
             f"{args.eval_fraction:g}; {args.rounds} interleaved rounds.\n",
             "| checkout | CPU s per round | median CPU s | MB per CPU-s | median wall s | shards |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, ms in runs.items():
        cpu = [m["cpu_seconds"] for m in ms]
        lines.append(f"| {name} ({checkouts[name].name}) | {' / '.join(f'{c:.2f}' for c in cpu)} | "
                     f"{statistics.median(cpu):.2f} | {size / statistics.median(cpu):.0f} | "
                     f"{statistics.median(m['seconds'] for m in ms):.2f} | {ms[0]['shards']} |")
    if args.baseline:
        ratio = [b["cpu_seconds"] / t["cpu_seconds"] for t, b in zip(runs["this"], runs["baseline"])]
        lines.append(f"\nBaseline / this, CPU per round: {' / '.join(f'{x:.2f}x' for x in ratio)}.")
    record("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
