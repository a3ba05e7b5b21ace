"""create-data, whole process, side by side with the original ``create_pretraining_data.py``
(google-research/albert) on technical text, with the tutorial's flags and a 25k-piece vocabulary.

    python benches/bench_create_data_reference.py --reference /path/to/parent-of-albert \\
        --corpus benches/data/tech-sentences-30mb.txt --tokenizer benches/data/tok-tech-25k

``--reference`` is a directory holding the original ``albert/`` package (its
``create_pretraining_data.py`` and ``tokenization.py``); it runs in this interpreter with
TensorFlow (``tensorflow.compat.v1``). ``tensorflow_hub``, which ``tokenization.py`` imports but
does not use with a SentencePiece model, is stubbed when it is not installed.

``--python DIR ...`` compares builds side by side (e.g. a copy of main's ``python/`` before a
change and this tree's after): each is a directory holding an ``albert_fast`` package with its
extension; the rounds alternate between them.

The original is single-threaded and runs at about 0.1 MB/s, so it runs on the first
``--reference-mb`` MB of the corpus and its time is scaled per MB; albert_fast runs the
``albert-fast create-data`` command (interpreter start-up, imports, model load, both passes,
manifest: everything a user waits for) on the whole corpus with 1 and 2 threads, best of
``--rounds``, alternating. Every run is its own process; CPU seconds are the child's user +
system time. On a shared machine the wall-clock ratios move with the load; CPU seconds per MB
move much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# The tutorial's flags (google-research/albert README), under the original's names.
FLAGS = ["--max_seq_length=512", "--max_predictions_per_seq=20", "--masked_lm_prob=0.15",
         "--random_seed=12345", "--dupe_factor=2", "--short_seq_prob=0.2", "--ngram=3",
         "--do_whole_word_mask", "--favor_shorter_ngram", "--do_lower_case"]


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict:
    """Runs `cmd`, returns wall and CPU seconds (user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[:4]}... failed:\n{r.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def timed_pair(cmds: list[list[str]], env: dict[str, str]) -> float:
    """Runs `cmds` at once; the wall seconds until the last one ends."""
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for c, p in zip(cmds, procs):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{c[:4]}... failed:\n{err[-3000:]}")
    return time.monotonic() - t0


def head_mb(corpus: Path, mb: float, out: Path) -> int:
    """The first `mb` MB of `corpus`, cut at a document end (a blank line)."""
    limit = int(mb * 1e6)
    size = 0
    with open(corpus, "rb") as f, open(out, "wb") as g:
        for line in f:
            g.write(line)
            size += len(line)
            if size >= limit and not line.strip():
                break
    return size


#: The machine's load when the bench started (the header says it next to the load at the end).
LOAD_AT_START = os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, required=True, help="directory holding the original albert/ package")
    ap.add_argument("--corpus", type=Path, default=HERE / "data" / "tech-sentences-30mb.txt")
    ap.add_argument("--tokenizer", type=Path, default=HERE / "data" / "tok-tech-25k")
    ap.add_argument("--reference-mb", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ceiling", action="store_true",
                    help="each round also runs two 1-thread runs at once: how much of two cores' work this "
                         "machine gives such a job (the most a 1 -> 2 thread speed-up can reach here)")
    ap.add_argument("--python", type=Path, nargs="+", default=[REPO / "python"],
                    help="directories holding the albert_fast package to run (side by side)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cd-ref-"))
    try:
        # An installed wheel holds byte-compiled modules; a source tree may not (and
        # PYTHONDONTWRITEBYTECODE may keep it so), which would charge compilation to start-up.
        for py in args.python:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(py / "albert_fast")], check=True,
                           stdout=subprocess.DEVNULL)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        corpus_bytes = args.corpus.stat().st_size

        # The original, on the first MB.
        ref_in = work / "ref-input.txt"
        ref_bytes = head_mb(args.corpus, args.reference_mb, ref_in)
        ref_path = [str(args.reference)]
        try:
            import tensorflow_hub  # noqa: F401
        except ImportError:
            stub = work / "stubs" / "tensorflow_hub"
            stub.mkdir(parents=True)
            (stub / "__init__.py").write_text("# stub: unused with a SentencePiece model\n")
            ref_path.append(str(stub.parent))
        ref_env = dict(env, PYTHONPATH=os.pathsep.join(ref_path))
        ref_cmd = [sys.executable, "-m", "albert.create_pretraining_data", f"--input_file={ref_in}",
                   f"--output_file={work / 'ref.tfrecord'}", f"--spm_model_file={args.tokenizer / 'spiece.model'}",
                   f"--vocab_file={args.tokenizer / 'spiece.vocab'}", *FLAGS]
        ref = timed(ref_cmd, ref_env)
        ref_mb = ref_bytes / 1e6
        print(json.dumps({"reference": ref, "mb": ref_mb}), flush=True)

        # albert_fast, whole process, alternating builds and thread counts, best of the rounds.
        ours: dict[tuple[str, int], dict] = {}
        pairs: list[float] = []
        rounds: dict[tuple[str, int], list[float]] = {}  # wall seconds per round
        for _ in range(args.rounds):
            for b, py in enumerate(args.python):
                for t in args.threads:
                    out = work / f"out-{b}-t{t}"
                    shutil.rmtree(out, ignore_errors=True)
                    cmd = [sys.executable, "-m", "albert_fast", "create-data", str(args.corpus), "--tokenizer",
                           str(args.tokenizer), "-o", str(out), "--threads", str(t), "--no-progress",
                           "--max-line-tokens", "0", *FLAGS]
                    r = timed(cmd, dict(env, PYTHONPATH=str(py)))
                    print(json.dumps({"python": str(py), "threads": t, **r}), flush=True)
                    rounds.setdefault((str(py), t), []).append(r["wall"])
                    best = ours.setdefault((str(py), t), dict(r))
                    best["wall"] = min(best["wall"], r["wall"])
                    best["cpu"] = min(best["cpu"], r["cpu"])
            if args.ceiling:
                cmds = [[sys.executable, "-m", "albert_fast", "create-data", str(args.corpus), "--tokenizer",
                         str(args.tokenizer), "-o", str(work / f"pair-{k}"), "--threads", "1", "--no-progress",
                         "--max-line-tokens", "0", *FLAGS] for k in range(2)]
                for k in range(2):
                    shutil.rmtree(work / f"pair-{k}", ignore_errors=True)
                pair = timed_pair(cmds, dict(env, PYTHONPATH=str(args.python[-1])))
                print(json.dumps({"pair_of_1_thread_runs": pair}), flush=True)
                pairs.append(pair)
        first = work / f"out-0-t{args.threads[0]}"
        names = sorted(p.name for p in first.glob("*.tfrecord"))
        same = all(sorted(p.name for p in (work / f"out-{b}-t{t}").glob("*.tfrecord")) == names
                   and all((first / n).read_bytes() == (work / f"out-{b}-t{t}" / n).read_bytes() for n in names)
                   for b in range(len(args.python)) for t in args.threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, ref, ref_mb, ours, corpus_bytes / 1e6, same, pairs, rounds)


def report(args: argparse.Namespace, ref: dict, ref_mb: float, ours: dict[tuple[str, int], dict], mb: float, same: bool,
           pairs: list[float], rounds: dict[tuple[str, int], list[float]]) -> None:
    ref_cpu_per_mb = ref["cpu"] / ref_mb
    ref_scaled = ref_cpu_per_mb * mb  # the original is single-threaded: on an idle core, wall = CPU
    cmd = "python benches/bench_create_data_reference.py " + " ".join(sys.argv[1:])
    lines = [f"\n## create-data vs the original create_pretraining_data.py, technical text ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n",
             f"Command: `{cmd}`; machine: {os.cpu_count()} CPUs ({platform.machine()}), load average "
             f"{LOAD_AT_START:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; Python "
             f"{platform.python_version()}. Corpus: `{args.corpus.name}` ({mb:.1f} MB), tokenizer `{args.tokenizer.name}`; "
             f"flags `{' '.join(FLAGS)}`. albert_fast: the whole `albert-fast create-data` process, best of "
             f"{args.rounds} alternating rounds. Outputs of every build and thread count byte-identical: {same}.\n",
             f"Original on the first {ref_mb:.1f} MB: {ref['wall']:.1f} s wall, {ref['cpu']:.1f} CPU s "
             f"({1 / ref_cpu_per_mb:.3f} MB per CPU-second); scaled to {mb:.1f} MB: {ref_scaled:.0f} s on an idle core.\n",
             "| run | wall s | CPU s | MB per CPU-s | x original (wall vs its idle-core time) | x original (per CPU-s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for (py, t), r in ours.items():
        lines.append(f"| `{py}`, {t} thread(s) | {r['wall']:.2f} | {r['cpu']:.2f} | {mb / r['cpu']:.1f} | "
                     f"{ref_scaled / r['wall']:.0f}x | {ref_cpu_per_mb * mb / r['cpu']:.0f}x |")
    for py in args.python:
        one, two = ours.get((str(py), 1)), ours.get((str(py), 2))
        if one and two:
            per_round = ", ".join(f"{a / b:.2f}x" for a, b in zip(rounds[(str(py), 1)], rounds[(str(py), 2)]))
            lines.append(f"\n`{py}`: speed-up 1 -> 2 threads (wall) {one['wall'] / two['wall']:.2f}x (best of each); "
                         f"per round (its 1- and 2-thread runs back to back): {per_round}.")
    alone = ours.get((str(args.python[-1]), 1))
    if pairs and alone:
        lines.append(f"\nTwo 1-thread runs of `{args.python[-1]}` at once: {min(pairs):.2f} s for both (best of "
                     f"{len(pairs)}) against {alone['wall']:.2f} s for one alone: this machine gives "
                     f"{2 * alone['wall'] / min(pairs):.2f}x one core's work on two for this job, the most a "
                     "1 -> 2 thread speed-up can reach here.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
