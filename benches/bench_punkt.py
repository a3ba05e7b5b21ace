"""Punkt sentence splitting: albert_fast's Rust splitter side by side with NLTK 3.10's
PunktSentenceTokenizer, same parameters, same text, one run. Also Punkt training (NLTK's
PunktTrainer) time and peak memory on the sample, and prepare-corpus end to end.

    python benches/bench_punkt.py [--mb 40] [--sample-mb 10] [--lang en,de]

Each measurement runs in its own child process so that peak RSS (ru_maxrss) is its own and the
Rust thread count can be fixed (RAYON_NUM_THREADS). Prints a Markdown block for RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_corpus import build, paragraphs  # noqa: E402


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(mode: str, corpus: Path, params: Path, sample_mb: float, out: Path) -> dict:
    res: dict = {"mode": mode, "mb": corpus.stat().st_size / 2**20}
    if mode != "prepare":  # prepare_corpus streams the file itself: its peak RSS is its own
        text = corpus.read_text(encoding="utf-8")
        docs = paragraphs(text)
        res["docs"] = len(docs)
    if mode == "baseline":
        import nltk.tokenize.punkt  # noqa: F401
        from albert_fast import _core  # noqa: F401
    elif mode == "train":
        from albert_fast.prepare_corpus import train_punkt

        sample = text[: int(sample_mb * 2**20)]
        t, c = time.perf_counter(), _cpu()
        train_punkt(sample, params)
        res.update(seconds=time.perf_counter() - t, cpu=_cpu() - c, sample_mb=len(sample.encode()) / 2**20)
    elif mode == "nltk":
        from albert_fast.prepare_corpus import save_punkt_params  # noqa: F401
        from nltk.tabdata import PunktDecoder
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        dec, p = PunktDecoder(), PunktParameters()
        with open(params / "abbrev_types.txt") as f:
            p.abbrev_types = dec.txt2set(f)
        with open(params / "collocations.tab") as f:
            p.collocations = set(dec.tab2tups(f))
        with open(params / "sent_starters.txt") as f:
            p.sent_starters = dec.txt2set(f)
        with open(params / "ortho_context.tab") as f:
            p.ortho_context = dec.tab2intdict(f)
        tok = PunktSentenceTokenizer(p)
        t, c = time.perf_counter(), _cpu()
        sents = [tok.tokenize(d) for d in docs]
        res.update(seconds=time.perf_counter() - t, cpu=_cpu() - c)
        out.write_text(json.dumps(sents))
    elif mode == "rust":
        from albert_fast import _core

        splitter = _core.PunktSplitter(str(params))
        t, c = time.perf_counter(), _cpu()
        sents = splitter.tokenize_many(docs)
        res.update(seconds=time.perf_counter() - t, cpu=_cpu() - c)
        out.write_text(json.dumps(sents))
    elif mode == "prepare":
        import albert_fast

        t, c = time.perf_counter(), _cpu()
        stats = albert_fast.prepare_corpus([corpus], out, punkt_params=str(params), dedup=False,
                                           threads=int(os.environ.get("RAYON_NUM_THREADS", "0")))
        res.update(seconds=time.perf_counter() - t, cpu=_cpu() - c, sentences=stats["sentences"])
    res["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def run_child(mode: str, corpus: Path, params: Path, sample_mb: float, out: Path, threads: int | None = None) -> dict:
    env = dict(os.environ)
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, __file__, "--child", mode, "--corpus", str(corpus), "--params", str(params),
           "--sample-mb", str(sample_mb), "--out", str(out)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=40)
    ap.add_argument("--sample-mb", type=float, default=10)
    ap.add_argument("--lang", default="en,de")
    ap.add_argument("--child")
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--params", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.corpus, args.params, args.sample_mb, args.out)))
        return

    import shutil

    corpus = build(args.mb, args.lang.split(","))
    work = HERE / "out" / "punkt"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    params = work / "params"
    cores = os.cpu_count() or 1
    base = run_child("baseline", corpus, params, args.sample_mb, work / "x")
    train = run_child("train", corpus, params, args.sample_mb, work / "x")
    nltk = run_child("nltk", corpus, params, args.sample_mb, work / "nltk.json")
    rust1 = run_child("rust", corpus, params, args.sample_mb, work / "rust1.json", threads=1)
    rustn = run_child("rust", corpus, params, args.sample_mb, work / "rustn.json", threads=cores)
    prep1 = run_child("prepare", corpus, params, args.sample_mb, work / "prep1", threads=1)
    prepn = run_child("prepare", corpus, params, args.sample_mb, work / "prepn", threads=cores)

    a = json.loads((work / "nltk.json").read_text())
    b = json.loads((work / "rust1.json").read_text())
    c = json.loads((work / "rustn.json").read_text())
    agree = sum(x == y for x, y in zip(a, b)) / len(a)
    assert b == c, "thread count changed the output"
    mb = nltk["mb"]

    def row(what: str, r: dict, one_thread: bool) -> str:
        # One-thread rows compare CPU time (robust when other jobs share the cores); N-thread
        # rows compare wall-clock time, which is what parallelism buys.
        basis = r["cpu"] if one_thread else r["seconds"]
        nltk_basis = nltk["cpu"] if one_thread else nltk["seconds"]
        return (f"| {what} | {r['seconds']:.2f} s | {r['cpu']:.2f} s | {mb / basis:.1f} MB/s "
                f"({'CPU' if one_thread else 'wall'}) | {nltk_basis / basis:.1f}x | {r['maxrss_mib']:.0f} MiB |")

    lines = [
        f"### Punkt sentence splitting vs NLTK — {datetime.date.today().isoformat()}",
        "",
        f"Command: `python benches/bench_punkt.py --mb {args.mb:g} --sample-mb {args.sample_mb:g} --lang {args.lang}`; "
        f"machine: {platform.machine()}, {cores} cores shared with other jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}. "
        f"Text: {mb:.1f} MB built by `benches/make_corpus.py` from ../shared/corpora/literature ({args.lang}), "
        f"repeated text; {nltk['docs']:,} documents (blank-line blocks). Same Punkt parameters for both "
        f"(NLTK PunktTrainer on the first {train['sample_mb']:.1f} MB).",
        "",
        "| what | wall | CPU | throughput | vs NLTK | peak RSS |",
        "|---|---|---|---|---|---|",
        row("NLTK 3.10 `PunktSentenceTokenizer.tokenize` per document", nltk, True),
        row("albert_fast `PunktSplitter.tokenize_many`, 1 thread", rust1, True),
        row(f"albert_fast `PunktSplitter.tokenize_many`, {cores} threads", rustn, False),
        row("`prepare_corpus` end to end (read, clean, split, write), 1 thread", prep1, True),
        row(f"`prepare_corpus` end to end, {cores} threads", prepn, False),
        f"| NLTK `PunktTrainer` on {train['sample_mb']:.1f} MB sample | {train['seconds']:.2f} s | {train['cpu']:.2f} s | "
        f"{train['sample_mb'] / train['cpu']:.2f} MB/s (CPU) | | {train['maxrss_mib']:.0f} MiB "
        f"({train['maxrss_mib'] - base['maxrss_mib']:.0f} MiB over the {base['maxrss_mib']:.0f} MiB baseline of Python + NLTK + the text) |",
        "",
        f"Agreement with NLTK on these documents: {agree * 100:.3f}% identical sentence lists; "
        "1 and N threads give identical output. `tokenize_many` times include converting the "
        "Python lists in and out and hold all documents in memory; `prepare_corpus` streams "
        "with bounded memory (no de-duplication here: the text repeats).",
        "",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
