"""create-data throughput and memory, side by side in one run: albert_fast (1 and 2 threads) vs
the plain-Python oracle of the spec (tests/oracle.py: the reference's algorithm, minus TF
serialization) on the same text, with the tutorial's flags (max_seq_length 512,
max_predictions_per_seq 20, dupe_factor 2, masked_lm_prob 0.15, short_seq_prob 0.2, ngram 3,
whole-word, favor shorter). Each measurement runs in its own process; peak RSS is that
process's ru_maxrss.

    python benches/bench_create_data.py --mb 10 40 --oracle-mb 10

The corpus (benches/make_data_corpus.py) is literature text repeated to size; the tokenizer is a
SentencePiece unigram model with ALBERT's specials trained on the literature.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from make_data_corpus import LITERATURE, build  # noqa: E402

FLAGS = dict(max_seq_length=512, max_predictions_per_seq=20, dupe_factor=2, masked_lm_prob=0.15,
             short_seq_prob=0.2, ngram=3, do_whole_word_mask=True, favor_shorter_ngram=True)

OURS = r"""
import json, resource, sys
from albert_fast.create_data import create_pretraining_data
corpus, tok, out, threads, flags = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
s = create_pretraining_data([corpus], tok, out, threads=threads, **flags)
u = resource.getrusage(resource.RUSAGE_SELF)
s["max_rss_mib"] = u.ru_maxrss / 1024
s["cpu_seconds"] = u.ru_utime + u.ru_stime
print(json.dumps(s))
"""

ORACLE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[5])
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from oracle import Oracle, OracleConfig
corpus, model, limit, flags = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
t0 = time.monotonic()
proto = pb.ModelProto(); proto.ParseFromString(open(model, "rb").read())
sp = spm.SentencePieceProcessor(model_file=model)
lines, size = [], 0
with open(corpus, encoding="utf-8") as f:
    for line in f:
        size += len(line.encode("utf-8"))
        lines.append(line)
        if size >= limit and not line.strip():
            break
encode = lambda l: sp.encode(" ".join(l.split()).lower())
docs = Oracle.read_documents([lines], encode, merge_across_files=False)
o = Oracle([p.piece for p in proto.pieces], [p.type for p in proto.pieces], OracleConfig(**flags))
n = len(o.create_instances(docs))
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"instances": n, "input_bytes": size, "seconds": time.monotonic() - t0,
                  "cpu_seconds": u.ru_utime + u.ru_stime, "max_rss_mib": u.ru_maxrss / 1024}))
"""


def tokenizer(vocab_size: int) -> Path:
    """An ALBERT-style SentencePiece model trained on the literature (English + German)."""
    out = HERE / "data" / f"tok-literature-{vocab_size}"
    if (out / "spiece.model").exists():
        return out
    import sentencepiece as spm

    out.mkdir(parents=True, exist_ok=True)
    files = sorted(str(f) for lang in ("en", "de") for f in LITERATURE.glob(f"{lang}-*.txt"))
    spm.SentencePieceTrainer.train(
        input=",".join(files), model_prefix=str(out / "spiece"), vocab_size=vocab_size, pad_id=0, unk_id=1,
        eos_id=-1, bos_id=-1, control_symbols="[CLS],[SEP],[MASK]",
        user_defined_symbols=["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac"], character_coverage=0.99995,
        model_type="unigram", normalization_rule_name="nmt_nfkc_cf", minloglevel=2, num_threads=2)
    (out / "tokenizer_config.json").write_text(json.dumps({"model_file": "spiece.model", "lowercase": True, "strip_accents": False}))
    return out


def run_json(code: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[10, 40])
    ap.add_argument("--oracle-mb", type=float, default=10, help="oracle input size (0: skip); its "
                    "throughput is per MB, so it runs on the first N MB of each corpus")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--keep", action="store_true", help="keep the output directories")
    args = ap.parse_args()
    tok = tokenizer(args.vocab_size)
    rows = []
    oracle = None
    for mb in args.mb:
        corpus = build(mb, ["en", "de"])
        row = {"mb": mb, "input_mb": corpus.stat().st_size / 1e6}
        for threads in args.threads:
            out = HERE / "out" / f"create-data-{mb:g}mb-t{threads}"
            shutil.rmtree(out, ignore_errors=True)
            s = run_json(OURS, str(corpus), str(tok), str(out), str(threads), json.dumps(FLAGS))
            row[f"t{threads}"] = {"seconds": s["seconds"], "mb_s": s["input_bytes"] / 1e6 / s["seconds"],
                                  "mb_cpu_s": s["input_bytes"] / 1e6 / s["cpu_seconds"],
                                  "instances_s": s["instances"] / s["seconds"], "instances": s["instances"],
                                  "max_rss_mib": s["max_rss_mib"], "files": len(s["files"])}
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        if args.oracle_mb > 0 and oracle is None:
            o = run_json(ORACLE, str(corpus), str(tok / "spiece.model"), str(int(args.oracle_mb * 1e6)),
                         json.dumps(FLAGS), str(REPO / "tests"))
            oracle = {"input_mb": o["input_bytes"] / 1e6, "seconds": o["seconds"],
                      "mb_cpu_s": o["input_bytes"] / 1e6 / o["cpu_seconds"],
                      "mb_s": o["input_bytes"] / 1e6 / o["seconds"], "instances_s": o["instances"] / o["seconds"],
                      "max_rss_mib": o["max_rss_mib"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    report(rows, oracle, args)


def report(rows: list[dict], oracle: dict | None, args: argparse.Namespace) -> None:
    cmd = "python benches/bench_create_data.py " + " ".join(sys.argv[1:])
    lines = [f"\n## create-data throughput ({time.strftime('%Y-%m-%d', time.gmtime())})\n",
             f"Command: `{cmd}`; machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
             f"shared with other jobs (load average {os.getloadavg()[0]:.1f} at the end); Python {platform.python_version()}. Flags: the tutorial's "
             f"({', '.join(f'{k} {v}' for k, v in FLAGS.items())}). Corpus: literature (en+de) in "
             "sentence-per-line format, repeated to size (benches/make_data_corpus.py); tokenizer: "
             f"SentencePiece unigram, {args.vocab_size} pieces. Tokenization included.\n"]
    if oracle:
        lines.append(f"Oracle (tests/oracle.py, plain Python, one core, no TF serialization) on the first "
                     f"{oracle['input_mb']:.1f} MB: {oracle['mb_s']:.3f} MB/s ({oracle['mb_cpu_s']:.3f} MB per CPU-second), "
                     f"{oracle['instances_s']:.0f} "
                     f"instances/s, peak RSS {oracle['max_rss_mib']:.0f} MiB.\n")
    head = ("| input | threads | seconds | MB/s | MB per CPU-s | instances/s | peak RSS MiB | files "
            "| x oracle (MB/s) | x oracle (per CPU-s) |")
    lines += [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for t in args.threads:
            m = r[f"t{t}"]
            ratio = f"{m['mb_s'] / oracle['mb_s']:.0f}x" if oracle else "-"
            cpu_ratio = f"{m['mb_cpu_s'] / oracle['mb_cpu_s']:.0f}x" if oracle else "-"
            lines.append(f"| {r['input_mb']:.1f} MB | {t} | {m['seconds']:.1f} | {m['mb_s']:.2f} | "
                         f"{m['mb_cpu_s']:.2f} | {m['instances_s']:.0f} | {m['max_rss_mib']:.0f} | "
                         f"{m['files']} | {ratio} | {cpu_ratio} |")
        if len(args.threads) >= 2:
            a, b = r[f"t{args.threads[0]}"], r[f"t{args.threads[1]}"]
            lines.append(f"| | speed-up {args.threads[0]}->{args.threads[1]} threads: "
                         f"{a['seconds'] / b['seconds']:.2f}x (wall clock) | | | | | | | | |")
    record("\n".join(lines) + "\n")


def record(text: str) -> None:
    """Prints a bench's result section and appends it to benches/RESULTS.md."""
    print(text)
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
