"""Benchmark of `albert_fast.Tokenizer.encode_batch` against the `sentencepiece` package, with a
full parity check over the bench corpus.

Side by side in one run, on the same lines (every non-blank line of a reproducible corpus built
from ../shared/corpora/literature, English + German + French; the text repeats):

* `sentencepiece` single-threaded: `sp.encode(lines, num_threads=1)` (raw SentencePiece, no ALBERT
  preprocessing: a lower bound for any pipeline built on it), and the original ALBERT pipeline
  in Python (`preprocess_text` + `encode_pieces` + `PieceToId`, as `create_pretraining_data.py`
  runs it);
* albert_fast `encode_batch` at 1 and 2 threads, default (Hugging Face) and `reference_compat`.

Then the mismatch count over the whole corpus: `reference_compat` against the Python rendering of
the original (sentencepiece), and the default against transformers' `AlbertTokenizer`. Both must
be 0. Results are appended to benches/RESULTS.md with `--record`.

    python benches/bench_tokenizer.py --mb 10 --record
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # the oracles shared with the parity tests

from tokenizer_oracles import hf_ids, hf_tokenizer, reference_ids_batch  # noqa: E402


def _literature() -> Path:
    env = os.environ.get("ALBERT_FAST_LITERATURE")
    if env:
        return Path(env)
    for base in (REPO.parent, REPO.parent.parent):
        cand = base / "shared" / "corpora" / "literature"
        if cand.is_dir():
            return cand
    raise SystemExit("shared corpora not found; set ALBERT_FAST_LITERATURE")


def build_corpus(mb: float, langs: list[str], seed: int = 12345) -> Path:
    """The bench corpus: `benches/make_corpus.py` (shared by all benches) when present, else the
    same recipe here: paragraphs grouped into documents, shuffled with a fixed seed, repeated."""
    try:
        sys.path.insert(0, str(HERE))
        from make_corpus import build  # type: ignore[import-not-found]

        return build(mb, langs, _literature())
    except ImportError:
        pass
    import random

    out = HERE / "data" / f"tokenizer-{'-'.join(langs)}-{mb:g}mb.txt"
    if out.exists():
        return out
    rng = random.Random(seed)
    docs: list[str] = []
    for f in sorted(p for lang in langs for p in _literature().glob(f"{lang}-*.txt")):
        paras = [p for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        i = 0
        while i < len(paras):
            n = rng.randint(1, 20)
            docs.append("\n\n".join(paras[i:i + n]))
            i += n
    target, written = int(mb * 1024 * 1024), 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        while written < target:
            rng.shuffle(docs)
            for d in docs:
                fh.write(d + "\n\n")
                written += len(d.encode("utf-8")) + 2
                if written >= target:
                    break
    tmp.replace(out)
    return out


def bench_model(vocab_size: int) -> Path:
    """A SentencePiece model trained once with ALBERT's flags on the whole literature."""
    out = HERE / "data" / f"bench_spm_{vocab_size}"
    model = out / "spiece.model"
    if model.exists():
        return model
    from conftest import ALBERT_SPM_FLAGS
    import sentencepiece as spm

    out.mkdir(parents=True, exist_ok=True)
    text = out / "train.txt"
    with open(text, "w", encoding="utf-8") as fh:
        for f in sorted(_literature().glob("*.txt")):
            fh.write(f.read_text(encoding="utf-8"))
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(out / "spiece"), vocab_size=vocab_size,
                                   num_threads=2, minloglevel=2, **ALBERT_SPM_FLAGS)
    return model


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU time of this process (all its threads) for one call: less sensitive than wall time to
    other jobs on a shared machine."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--lang", default="en,de,fr")
    ap.add_argument("--vocab-size", type=int, default=30000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-hf", action="store_true", help="skip the (slow) transformers parity check")
    ap.add_argument("--record", action="store_true", help="append the results to benches/RESULTS.md")
    args = ap.parse_args()

    import sentencepiece as spm

    import albert_fast

    corpus = build_corpus(args.mb, args.lang.split(","))
    lines = [line for line in corpus.read_text(encoding="utf-8").split("\n") if line.strip()]
    mb = sum(len(line.encode("utf-8")) + 1 for line in lines) / 1e6
    model = bench_model(args.vocab_size)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    lower, strip = True, False  # the tutorial's do_lower_case, accents kept (albert_fast's default)
    ours = albert_fast.Tokenizer(model, lowercase=lower, strip_accents=strip)
    ours_ref = albert_fast.Tokenizer(model, lowercase=lower, strip_accents=strip, reference_compat=True)
    print(f"corpus {corpus.name}: {len(lines):,} lines, {mb:.1f} MB; model {model} (vocab {sp.get_piece_size()})")

    # Candidates run interleaved, round by round, and each keeps its best round: on a shared
    # machine this keeps load changes from favouring whichever ran at a quiet moment.
    candidates: list[tuple[str, Callable[[], object]]] = [
        ("sentencepiece encode, 1 thread (raw, no preprocessing)", lambda: sp.encode(lines, num_threads=1)),
    ]
    for threads in (1, 2):
        candidates.append((f"albert_fast encode_batch, default (HF), {threads} thread(s)",
                           lambda threads=threads: ours.encode_batch(lines, threads=threads)))
        candidates.append((f"albert_fast encode_batch, reference_compat, {threads} thread(s)",
                           lambda threads=threads: ours_ref.encode_batch(lines, threads=threads)))
    load_before = os.getloadavg()[0]
    best = {name: float("inf") for name, _ in candidates}
    cpu = {name: float("inf") for name, _ in candidates}
    for _ in range(args.repeats):
        for name, fn in candidates:
            best[name] = min(best[name], best_of(fn, 1))
            cpu[name] = min(cpu[name], cpu_seconds(fn))
    t_ref = best_of(lambda: reference_ids_batch(sp, lines, lower, strip), 1)
    load_after = os.getloadavg()[0]
    rows = [(name, mb / best[name], mb / cpu[name]) for name, _ in candidates]
    rows.insert(1, ("original ALBERT pipeline in Python (sentencepiece), 1 thread", mb / t_ref, float("nan")))
    for name, v, c in rows:
        print(f"  {name:<62} {v:8.2f} MB/s  {c:8.2f} MB/CPU-s", flush=True)

    want_ref = reference_ids_batch(sp, lines, lower, strip)
    got_ref = ours_ref.encode_batch(lines)
    mismatch_ref = sum(a != b for a, b in zip(got_ref, want_ref))
    print(f"  mismatches reference_compat vs original pipeline: {mismatch_ref} of {len(lines):,} lines")
    mismatch_hf = None
    if not args.no_hf:
        t0 = time.perf_counter()
        want_hf = hf_ids(hf_tokenizer(model, lower, strip), lines)
        hf_secs = time.perf_counter() - t0
        rows.append(("transformers AlbertTokenizer (slow, for reference), 1 thread", mb / hf_secs, float("nan")))
        got_hf = ours.encode_batch(lines)
        mismatch_hf = sum(a != b for a, b in zip(got_hf, want_hf))
        print(f"  transformers AlbertTokenizer: {mb / hf_secs:.2f} MB/s; mismatches default vs HF: "
              f"{mismatch_hf} of {len(lines):,} lines")

    if args.record:
        base, base_cpu = rows[0][1], rows[0][2]
        cmd = "python benches/bench_tokenizer.py " + " ".join(sys.argv[1:])
        lines_md = [
            "",
            f"## Tokenizer encoding ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
            "",
            f"`{cmd}` on {platform.machine()}, {os.cpu_count()} cores, shared with other jobs (load average "
            f"{load_before:.1f} before / {load_after:.1f} after the timings: with more runnable jobs than "
            f"cores, 2 threads cannot show their scaling and absolute numbers are low; the side-by-side "
            f"ratios are what this measures). Best of {args.repeats} interleaved rounds. Corpus: {mb:.1f} MB, {len(lines):,} non-blank lines "
            f"of en/de/fr literature (repeated text). Model: ALBERT flags, vocab {sp.get_piece_size()}. "
            f"lowercase={lower}, strip_accents={strip}.",
            "",
            "| what | MB/s (wall) | vs sentencepiece 1 thread | MB per CPU-second | vs sentencepiece |",
            "|---|---:|---:|---:|---:|",
            *[f"| {name} | {v:.2f} | {v / base:.2f}x | "
              + ("-" if c != c else f"{c:.2f}") + " | " + ("-" if c != c else f"{c / base_cpu:.2f}x") + " |"
              for name, v, c in rows],
            "",
            f"Mismatched lines over the whole corpus: reference_compat vs original pipeline = {mismatch_ref}"
            + ("" if mismatch_hf is None else f"; default vs transformers AlbertTokenizer = {mismatch_hf}")
            + f" (of {len(lines):,}).",
        ]
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines_md) + "\n")
        print("appended to benches/RESULTS.md")
    if mismatch_ref or mismatch_hf:
        raise SystemExit("MISMATCH")


if __name__ == "__main__":
    main()
