"""Start-up of ``albert-fast create-data``: CPU seconds of the whole process on a tiny input
(interpreter, imports, config, Unicode tables, model load, the run, the manifest), side by side
for several builds.

    python benches/bench_startup.py --python BEFORE_DIR python --rounds 10

Each ``--python`` directory holds an ``albert_fast`` package with its extension; the rounds
alternate between them and every run is its own process (CPU seconds: the child's user +
system time). The input is the first ``--kb`` kB of ``--corpus`` (cut at a line end), so the
run itself costs a few milliseconds and the rest is what every create-data run pays once.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_create_data_reference import FLAGS  # noqa: E402 - the tutorial's flags, one home


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", type=Path, nargs="+", default=[HERE.parent / "python"])
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "tech-sentences-30mb.txt")
    ap.add_argument("--tokenizer", type=Path, default=HERE / "data" / "tok-tech-25k")
    ap.add_argument("--kb", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        tiny = work / "tiny.txt"
        with open(args.corpus, "rb") as f:
            head = f.read(args.kb * 1000)
        tiny.write_bytes(head[: head.rfind(b"\n") + 1])
        for py in args.python:  # as a wheel install ships them
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(py / "albert_fast")], check=True,
                           stdout=subprocess.DEVNULL)
        cpu: dict[Path, list[float]] = {py: [] for py in args.python}
        for _ in range(args.rounds):
            for b, py in enumerate(args.python):
                out = work / f"out-{b}"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, "-m", "albert_fast", "create-data", str(tiny), "--tokenizer", str(args.tokenizer),
                       "-o", str(out), "--threads", "1", "--no-progress", *FLAGS]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(py)), check=True, stderr=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[py].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"albert-fast create-data on {args.kb} kB, CPU ms over {args.rounds} alternating rounds "
          f"(load average {os.getloadavg()[0]:.1f} at the end):")
    for py, v in cpu.items():
        v.sort()
        print(f"  {py}: min {v[0] * 1e3:.0f}, median {v[len(v) // 2] * 1e3:.0f}")


if __name__ == "__main__":
    main()
