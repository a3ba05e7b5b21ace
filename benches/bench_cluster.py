"""The cluster path's overhead at equal cores, side by side in one run (docs/cluster.md):
create-data and prepare-corpus on 100 MB+ of technical prose, each

  local    -- the single-process run, --threads N (the machine's N cores)
  threads  -- the planned path (the driver's plan, one task per shard) on N threads in the
              process, without Dask: the cost of splitting the work, apart from Dask's
  local:N  -- a LocalCluster of N one-thread worker processes started by the command
  workers  -- an existing `dask scheduler` + N `dask worker --nthreads 1` processes (started
              here before the runs, as a user's cluster would be)

in rounds (the modes interleaved, so a noisy neighbour hits them alike; the best round counts),
and the CPU a local cluster's processes use at rest, with Dask's default housekeeping rates and
with those albert-fast sets for local:N (cluster.LOCAL_CLUSTER_CONFIG).
Every mode's output files must be byte-identical, or the bench fails. `--baseline DIR` (a checkout
of another commit, with its built extension) adds the same modes run from that checkout's
python/, named `base:MODE`, to compare before and after in one run (their files must match too). Each run is its own
process; the phases (the driver's plan before its first task, the tasks) are timed there
(create-data's driver hands out shards as pass 1 closes them: no plan phase of its own).

    python benches/bench_cluster.py --mb 100 --rounds 2

Corpora: benches/make_tech_corpus.py (`tech-raw-NNmb.txt` for prepare-corpus, split here into
--files files at document boundaries, as a large corpus comes; `tech-sentences-NNmb.txt` for
create-data). The tokenizer (25k pieces) and the Punkt parameters are trained once and kept in
benches/data/. The numbers feed docs/cluster.md's estimate for 1 TB on many machines.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from bench_create_data import FLAGS, record  # noqa: E402  (the tutorial's flags)
from make_tech_corpus import DATA, build  # noqa: E402

RUN = r"""
import importlib, json, resource, sys, time
# (the package exports functions under the modules' names: take the modules themselves)
cd, pc, cl = (importlib.import_module(f"albert_fast.{m}") for m in ("create_data", "prepare_corpus", "cluster"))
from albert_fast import _core
stage, args = sys.argv[1], json.loads(sys.argv[2])
phases = {}
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.monotonic()
        try:
            return fn(*a, **k)
        finally:
            key = k.get("key", name) if name == "tasks" else name
            phases[key] = phases.get(key, 0.0) + time.monotonic() - t
    return wrapper
cd.run_tasks = pc.run_tasks = timed("tasks", cl.run_tasks)
if args["cluster"] == "threads":  # the planned path (plan + tasks) on threads here, without Dask
    cd.parse_cluster = pc.parse_cluster = lambda c: c
    cd.open_executor = pc.open_executor = lambda c, *a: cl.open_executor(None, *a)
    cd.starting_executor = lambda c, *a, **k: cl.starting_executor(None, *a, **k)
if hasattr(_core, "create_data_plan"):  # a baseline whose driver planned before its first task
    _core.create_data_plan = timed("plan", _core.create_data_plan)
_core.prepare_plan = timed("plan", _core.prepare_plan)
t = time.monotonic()
if stage == "create-data":
    s = cd.create_pretraining_data(args["inputs"], args["tokenizer"], args["out"], threads=args["threads"],
                                   cluster=args["cluster"], max_line_tokens=0, **args["flags"])
    size = s["input_bytes"]
else:
    s = pc.prepare_corpus(args["inputs"], args["out"], threads=args["threads"], cluster=args["cluster"],
                          punkt_params=args["punkt"], shard_size_mb=args["shard_mb"])
    size = s["input"]["bytes"]
seconds = time.monotonic() - t
u, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
# CPU of this process and of the children it waited for (local:N's worker processes)
print(json.dumps({"seconds": seconds, "bytes": size, "cpu_seconds": u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime,
                  "phases": phases, "max_rss_mib": u.ru_maxrss / 1024}))
"""

STARTUP = r"""
import sys, time
from albert_fast.cluster import open_executor
t = time.monotonic()
with open_executor(sys.argv[1]) as ex:
    started = time.monotonic() - t
print(started, time.monotonic() - t)
"""

#: CPU of a local cluster's processes (the driver with its scheduler and nannies, the workers)
#: at rest: Dask's housekeeping, with its default rates and with cluster.LOCAL_CLUSTER_CONFIG.
AT_REST = r"""
import sys, time, psutil
from albert_fast import cluster
if sys.argv[2] == "defaults":
    cluster.LOCAL_CLUSTER_CONFIG = {}
with cluster.open_executor(sys.argv[1]) as ex:
    time.sleep(2)
    procs = [psutil.Process()] + psutil.Process().children(recursive=True)
    before = [sum(p.cpu_times()[:4]) for p in procs]
    time.sleep(float(sys.argv[3]))
    print(sum(sum(p.cpu_times()[:4]) - b for p, b in zip(procs, before)) / float(sys.argv[3]))
"""


def env(repo: Path = REPO) -> dict:
    return dict(os.environ, PYTHONPATH=str(repo / "python"))


def run_json(code: str, *args: str, repo: Path = REPO) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env(repo))
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def copy_of(src: Path, k: int) -> Path:
    """A hard link to ``src`` under another name (input files are de-duplicated by path)."""
    link = src.with_name(f"{src.stem}.copy{k}{src.suffix}")
    if not link.exists():
        os.link(src, link)
    return link


def split_corpus(src: Path, files: int, dest: Path) -> list[str]:
    """``src`` in ``files`` pieces of about equal size, cut at blank lines (document ends)."""
    if dest.is_dir() and len(list(dest.glob("part-*.txt"))) == files:
        return sorted(str(p) for p in dest.glob("part-*.txt"))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    target = src.stat().st_size / files
    out, n, size = None, 0, 0
    with open(src, "rb") as f:
        for line in f:
            if out is None or (size >= target and not line.strip() and n < files):
                if out is not None:
                    out.close()
                out, size = open(dest / f"part-{n:03d}.txt", "wb"), 0
                n += 1
            out.write(line)
            size += len(line)
    out.close()
    return sorted(str(p) for p in dest.glob("part-*.txt"))


def tokenizer(sentences: Path, vocab: int) -> Path:
    out = DATA / f"tok-tech-{vocab}"
    if not (out / "tokenizer_config.json").exists():
        from albert_fast.train_tokenizer import train_tokenizer

        train_tokenizer([sentences], out, config={"tokenizer": {"vocab_size": vocab, "input_sentence_size": 300_000},
                                                  "model": {"vocab_size": vocab}}, progress=False)
    return out


def punkt(raw: Path) -> Path:
    out = DATA / "punkt-tech"
    if not out.is_dir():
        from albert_fast.prepare_corpus import train_punkt

        with open(raw, encoding="utf-8") as f:
            train_punkt(f.read(10 << 20), out)
    return out


def digest(d: Path, pattern: str) -> str:
    h = hashlib.sha256()
    for p in sorted(d.glob(pattern)):
        h.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


class Workers:
    """`dask scheduler` + `n` one-thread `dask worker`s on 127.0.0.1."""

    def __init__(self, n: int, log: Path, repo: Path = REPO) -> None:
        dask = str(Path(sys.executable).parent / "dask")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                        "--no-dashboard"], stdout=out, stderr=out, env=env(repo))]
        self.procs += [subprocess.Popen([dask, "worker", self.address, "--nthreads", "1", "--no-nanny",
                                         "--no-dashboard", "--memory-limit", "0"], stdout=out, stderr=out, env=env(repo))
                       for _ in range(n)]
        from distributed import Client

        with Client(self.address, timeout=60) as c:
            c.wait_for_workers(n, timeout=120)

    def cpu_seconds(self) -> float:
        """CPU time the scheduler and the workers have used so far."""
        import psutil

        return sum(sum(psutil.Process(p.pid).cpu_times()[:4]) for p in self.procs)

    def close(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


#: The machine's load when the bench started (the header says it next to the load at the end).
LOAD_AT_START = os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--files", type=int, default=16, help="prepare-corpus input files")
    ap.add_argument("--stages", nargs="+", default=["create-data", "prepare-corpus"])
    ap.add_argument("--vocab-size", type=int, default=25000)
    ap.add_argument("--baseline", type=Path, help="a checkout of another commit to run side by side (base:MODE)")
    ap.add_argument("--copies", type=int, default=1,
                    help="create-data reads the corpus this many times over (hard links: a larger input "
                         "without more disk; the fixed and the per-byte overhead apart)")
    args = ap.parse_args()
    sentences, raw = build(args.mb, "sentences"), build(args.mb, "raw")
    work = HERE / "out" / "cluster"
    copies = [sentences] + [copy_of(sentences, k) for k in range(1, args.copies)]
    inputs = {"create-data": [str(c) for c in copies],
              "prepare-corpus": split_corpus(raw, args.files, DATA / f"tech-raw-{args.mb:g}mb-{args.files}files")}
    tok = tokenizer(sentences, args.vocab_size) if "create-data" in args.stages else None
    params = punkt(raw) if "prepare-corpus" in args.stages else None
    n = args.cores
    startup = [float(x) for x in subprocess.run([sys.executable, "-c", STARTUP, f"local:{n}"], capture_output=True,
                                                 text=True, env=env(), check=True).stdout.split()]
    at_rest = {rates: float(subprocess.run([sys.executable, "-c", AT_REST, f"local:{n}", rates, "10"],
                                           capture_output=True, text=True, env=env(), check=True).stdout)
               for rates in ("defaults", "ours")}
    workers = Workers(n, HERE / "out" / "dask-workers.log")
    # mode -> (cluster, checkout, its external workers)
    modes = {"local": (None, REPO, workers), "threads": ("threads", REPO, workers),
             f"local:{n}": (f"local:{n}", REPO, workers), "workers": (workers.address, REPO, workers)}
    pools = [workers]
    if args.baseline:
        base = args.baseline.resolve()
        pools.append(Workers(n, HERE / "out" / "dask-workers-base.log", base))
        modes.update({f"base:{m}": (pools[1].address if m == "workers" else c, base, pools[1])
                      for m, (c, _, _) in list(modes.items())})
    results: dict = {s: {m: [] for m in modes} for s in args.stages}
    digests: dict = {}
    try:
        for r in range(args.rounds):
            for stage in args.stages:
                for mode, (cluster, repo, pool) in modes.items():
                    out = work / f"{stage}-{mode.replace(':', '')}"
                    shutil.rmtree(out, ignore_errors=True)
                    spec = {"inputs": inputs[stage], "out": str(out), "threads": n, "cluster": cluster,
                            "tokenizer": str(tok), "flags": FLAGS, "punkt": str(params), "shard_mb": 4.0}
                    before = pool.cpu_seconds()
                    m = run_json(RUN, stage, json.dumps(spec), repo=repo)
                    if mode.endswith("workers"):  # the work ran in the external processes
                        m["cpu_seconds"] += pool.cpu_seconds() - before
                    digests.setdefault(stage, {})[mode] = digest(out, "*.tfrecord" if stage == "create-data" else "corpus-*.txt")
                    results[stage][mode].append(m)
                    print(json.dumps({"round": r, "stage": stage, "mode": mode, **m}), flush=True)
                    shutil.rmtree(out, ignore_errors=True)
                if len(set(digests[stage].values())) != 1:
                    raise SystemExit(f"{stage}: outputs differ between modes: {digests[stage]}")
    finally:
        for pool in pools:
            pool.close()
    report(results, startup, at_rest, args)


def report(results: dict, startup: list[float], at_rest: dict, args: argparse.Namespace) -> None:
    n = args.cores
    cmd = "python benches/bench_cluster.py " + " ".join(sys.argv[1:])
    lines = [f"\n## Cluster path vs local at equal cores ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n",
             f"Command: `{cmd}`; machine: {os.cpu_count()} CPUs ({platform.machine()}), load average "
             f"{LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (compare ratios, not times); Python "
             f"{platform.python_version()}. Corpus: technical prose (benches/make_tech_corpus.py), {args.mb:g} MB"
             f"{f' (create-data: {args.copies} copies of it, {args.copies * args.mb:g} MB)' if args.copies > 1 else ''}; "
             f"create-data with the tutorial's flags ({', '.join(f'{k} {v}' for k, v in FLAGS.items())}, "
             "max_line_tokens 0: the corpus has a few very long lines), "
             f"{args.vocab_size}-piece tokenizer; prepare-corpus on the raw text in {args.files} files, Punkt "
             f"parameters given, 4 MB shards. Best of {args.rounds} interleaved rounds; every mode's files "
             f"byte-identical (checked). local:{n} includes starting its {n} worker processes "
             f"({startup[0]:.1f} s to start, {startup[1]:.1f} s with the stop, measured alone). Its processes at "
             f"rest use {at_rest['defaults']:.1%} of a core with Dask's default housekeeping rates, "
             f"{at_rest['ours']:.1%} with those albert-fast sets (cluster.LOCAL_CLUSTER_CONFIG).\n",
             "Wall time on a shared machine measures the neighbours as much as us, so the overhead is also "
             "given in CPU time of every process the mode uses (the driver, local:N's worker processes, the "
             "external scheduler and workers): that is the cost per core the estimate in docs/cluster.md "
             "scales.\n",
             "Per round, each mode is also compared with the local run of the same round (the host's share "
             "drifts between rounds more than between neighbouring runs): those paired ratios, and their median.\n",
             "| stage | mode | wall s | vs local | CPU s (all processes) | MB per CPU-s | vs local | driver: plan s | tasks s "
             "| wall vs local, per round (median) | CPU vs local, per round (median) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for stage, by_mode in results.items():
        best = {m: min(runs, key=lambda x: x["seconds"]) for m, runs in by_mode.items()}
        cpu = {m: min(x["cpu_seconds"] for x in runs) for m, runs in by_mode.items()}
        for mode, m in best.items():
            ref = "base:local" if mode.startswith("base:") else "local"  # each checkout against its own local run
            base, base_cpu = best[ref]["seconds"], cpu[ref]
            plan = m["phases"].get("plan", 0.0)
            tasks = sum(v for k, v in m["phases"].items() if k not in ("plan",))
            paired = {key: [x[key] / y[key] - 1 for x, y in zip(by_mode[mode], by_mode[ref])]
                      for key in ("seconds", "cpu_seconds")}
            per_round = {key: " / ".join(f"{v:+.0%}" for v in vs) + f" ({statistics.median(vs):+.0%})"
                         for key, vs in paired.items()}
            lines.append(f"| {stage} | {mode} | {m['seconds']:.1f} | {m['seconds'] / base - 1:+.0%} | "
                         f"{cpu[mode]:.1f} | {m['bytes'] / 1e6 / cpu[mode]:.1f} | {cpu[mode] / base_cpu - 1:+.0%} | "
                         f"{plan:.1f} | {tasks:.1f} | {per_round['seconds']} | {per_round['cpu_seconds']} |")
    record("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
