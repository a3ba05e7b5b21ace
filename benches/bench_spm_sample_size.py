"""How much SentencePiece sample does a vocabulary need? train-tokenizer at several
``tokenizer.input_sentence_size`` values on a corpus of UNIQUE sentences, side by side in one run.

For each sample size ``albert-fast train-tokenizer`` runs in its own process, one at a time
(ALBERT's flags: the config defaults = the tutorial's ``spm_train`` flags; ``--vocab`` pieces,
30000 as the tutorial by default). Reported per size: wall time, CPU-seconds (``wait4``; on a
shared machine the comparable figure) and the main thread's share of them (the serial part),
peak RSS of the training process, the time/memory estimate the command printed before training
(to check it), and vocabulary quality on held-out documents — tokens per byte (lower = the
vocabulary fits the text better), the share of pieces shared with the largest sample's model,
the share of held-out tokens whose piece the largest model also has, and the share of held-out
words the two models split identically.

The corpus is ``make_tech_corpus.py --unique`` (Debian documentation packages + the shared
literature corpus, every sentence once, ~10.5M sentences; ~3 MB of held-out documents kept apart,
each package held out in proportion to its bytes): a sample of N sentences
is N different sentences, so growing the sample really adds text. The bottom-k sampler makes
each smaller sample a subset of the larger ones (same seed). The largest size is trained first
and each row is printed (and saved with ``--json``) as soon as its size is done. The estimate
columns are ``estimate_training`` for the drawn sample: wall seconds on the CPUs used (what the
command printed), CPU-seconds on one CPU (to compare with the measured CPU-s) and MiB. Usage::

    nice python benches/bench_spm_sample_size.py --sizes 500000,1000000,2000000,5000000,10000000
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "python"))

# The module (the package's name train_tokenizer is the function): the estimate the command prints.
_tt = importlib.import_module("albert_fast.train_tokenizer")


def train(corpus: Path, out: Path, size: int, vocab: int, cpus: int | None = None) -> dict:
    """One train-tokenizer run in a child process (on ``cpus`` CPUs if given): wall seconds,
    CPU-seconds (all threads, and the main thread alone), peak RSS and the estimate line it
    printed. A run already measured into ``out`` (``--keep``) is read back, not repeated."""
    record = out / "run.json"
    if record.exists():
        return json.loads(record.read_text())
    cmd = [sys.executable, "-m", "albert_fast", "train-tokenizer", str(corpus), "-o", str(out),
           "--vocab-size", str(vocab), "--set", f"tokenizer.input_sentence_size={size}", "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    pin = (lambda: os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])) if cpus else None
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, text=True, env=env, preexec_fn=pin)
        main_cpu = 0.0
        while True:  # the main thread's CPU time, read until it exits: the serial share
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            main_cpu = _thread_cpu_seconds(proc.pid) or main_cpu
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        so.seek(0), se.seek(0)
        stdout, stderr = so.read(), se.read()
    if status != 0:
        raise SystemExit(f"train-tokenizer at {size} failed:\n{stderr}")
    summary = json.loads(stdout)
    estimate = next((line for line in stderr.splitlines() if "estimate" in line), "")
    sample_bytes = _tt.sampled_bytes(summary["input"])  # what the printed estimate was made for
    cpus_used = cpus or len(os.sched_getaffinity(0))
    guess = _tt.estimate_training(sample_bytes, vocab, cpus_used)
    run = {"size": size, "vocab": vocab, "cpus": cpus_used,
           "sentences": summary["sentences"], "seconds": seconds,
           "cpu_seconds": usage.ru_utime + usage.ru_stime, "main_thread_cpu_seconds": main_cpu,
           "peak_rss_mib": usage.ru_maxrss / 1024, "estimate": estimate.strip(),
           "sample_bytes": sample_bytes, "estimate_seconds": guess.seconds,
           "estimate_cpu_seconds": _tt.estimate_training(sample_bytes, vocab, 1).seconds,
           "estimate_mib": guess.peak_bytes / 2**20,
           "model": str(out / "spiece.model")}
    record.write_text(json.dumps(run, indent=2))
    return run


def _thread_cpu_seconds(pid: int) -> float | None:
    """utime + stime of thread ``pid`` of process ``pid`` (its main thread), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def heldout_pieces(model: str, lines: list[str]) -> list[list[str]]:
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=model).encode(lines, out_type=str)


def words(pieces: list[str]) -> list[tuple[str, ...]]:
    """Pieces grouped into words (a word starts at a piece beginning with U+2581)."""
    out: list[list[str]] = []
    for p in pieces:
        if p.startswith("\u2581") or not out:
            out.append([p])
        else:
            out[-1].append(p)
    return [tuple(w) for w in out]


def quality(model: str, ref_model: str, lines: list[str], nbytes: int) -> dict:
    import sentencepiece as spm

    def pieces(path: str) -> set[str]:
        sp = spm.SentencePieceProcessor(model_file=path)
        return {sp.id_to_piece(i) for i in range(sp.get_piece_size())}

    vocab, ref_vocab = pieces(model), pieces(ref_model)
    mine, theirs = heldout_pieces(model, lines), heldout_pieces(ref_model, lines)
    tokens = sum(len(p) for p in mine)
    in_ref = sum(1 for line in mine for p in line if p in ref_vocab)
    same = total = 0
    for a, b in zip(mine, theirs):
        wa, wb = words(a), words(b)
        if len(wa) == len(wb):
            same += sum(x == y for x, y in zip(wa, wb))
        total += len(wb)
    return {"tokens_per_byte": tokens / nbytes, "vocab_overlap": len(vocab & ref_vocab) / len(ref_vocab),
            "token_overlap": in_ref / tokens, "same_words": same / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="500000,1000000,2000000",
                    help="sample sizes (sentences), comma-separated; the largest is the reference")
    ap.add_argument("--vocab", type=int, default=30000, help="vocabulary size (tutorial: 30000)")
    ap.add_argument("--probe", type=int, metavar="SIZE",
                    help="also train SIZE sentences on 1 CPU and with a quarter of --vocab (to "
                    "calibrate the estimate's thread and vocabulary terms)")
    ap.add_argument("--keep", metavar="DIR", help="keep the trained models under DIR; a re-run "
                    "with the same DIR reuses the sizes measured there (to add a size later; the same corpus "
                    "and --vocab only: delete DIR after rebuilding the corpus)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()

    import make_tech_corpus

    from albert_fast import _core

    corpus, heldout = make_tech_corpus.build_unique()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    available = sum(1 for _ in open(corpus, encoding="utf-8"))
    if sizes[-1] > available:
        raise SystemExit(f"{corpus.name} has {available:,} unique sentences; the largest size "
                         f"asked for is {sizes[-1]:,}")
    raw = [line.rstrip("\n") for line in open(heldout, encoding="utf-8") if line.strip()]
    nbytes = sum(len(line.encode("utf-8")) for line in raw)
    # Encoded as create-data encodes: after the config's normalization (lowercase, Q3 quotes).
    lines = [_core.normalize_text(line, lowercase=True, strip_accents=False, replace_quotes=True)
             for line in raw]
    print(f"corpus {corpus.name}: {available:,} unique sentences, {corpus.stat().st_size / 1e6:.1f} MB; "
          f"held-out {heldout.name}: {len(raw):,} sentences, {nbytes / 1e6:.2f} MB; vocab {args.vocab}; "
          f"{os.cpu_count()} cores (shared); {platform.processor() or platform.machine()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", flush=True)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="spm-sizes-"))
    runs: list[dict] = []
    probes: list[dict] = []

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps({"runs": runs, "probes": probes}, indent=2))

    # The largest (the reference) first, so that each smaller size's row is printed, and saved,
    # as soon as it is trained: a run stopped part-way keeps the rows it finished.
    print("| sample (sentences) | MB | wall s | CPU-s | peak RSS MiB | estimate: wall s, CPU-s on 1 "
          "CPU, MiB | tokens/byte | vs largest | pieces shared | held-out tokens in largest vocab "
          "| words split as largest |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ref = largest_tpb = None
    for size in reversed(sizes):
        r = train(corpus, work / f"s{size}", size, args.vocab)
        ref = ref or r["model"]
        r.update(quality(r["model"], ref, lines, nbytes))
        largest_tpb = largest_tpb or r["tokens_per_byte"]
        r["sample_mb"] = r["sample_bytes"] / 1e6
        print(f"| {r['sentences']:,} | {r['sample_mb']:.1f} | {r['seconds']:.1f} | "
              f"{r['cpu_seconds']:.1f} | {r['peak_rss_mib']:.0f} | {r['estimate_seconds']:.0f}, "
              f"{r['estimate_cpu_seconds']:.0f}, {r['estimate_mib']:.0f} | "
              f"{r['tokens_per_byte']:.4f} | {r['tokens_per_byte'] / largest_tpb - 1:+.2%} | "
              f"{r['vocab_overlap']:.1%} | {r['token_overlap']:.2%} | {r['same_words']:.2%} |",
              flush=True)
        print(f"    ({r['main_thread_cpu_seconds']:.1f} CPU-s in the main thread; printed: "
              f"{r['estimate']})", flush=True)
        runs.append(r)
        save()
    if args.probe:
        for cpus, vocab in ((1, args.vocab), (None, args.vocab // 4)):
            r = train(corpus, work / f"probe-{cpus}-{vocab}", args.probe, vocab, cpus)
            print(f"  probe {args.probe:,} on {r['cpus']} CPU(s), vocab {vocab}: {r['seconds']:.1f} s wall, "
                  f"{r['cpu_seconds']:.1f} CPU-s, "
                  f"{r['peak_rss_mib']:.0f} MiB; {r['estimate']}", flush=True)
            probes.append(r)
            save()
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
