"""`albert-fast prepare-corpus INPUT... -o OUT`: raw text -> one sentence per line, a blank line
between documents (the input format of train-tokenizer and create-data)."""

from __future__ import annotations

import argparse
import json
import sys

from albert_fast.commands._options import add_config_arguments, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare-corpus",
        help="split raw text into one sentence per line, a blank line between documents",
        description="Read raw text (files, directories, globs; plain, .gz, .zst, .bz2; JSON Lines; "
        "WikiExtractor <doc> files), clean it, split it into sentences with Punkt (identical to "
        "NLTK's PunktSentenceTokenizer) and write OUT/corpus-NNNNN.txt shards plus OUT/stats.json. "
        "Punkt parameters come from --punkt-params DIR (a punkt_tab directory), an installed "
        "nltk_data model (--language LANG), or by default from NLTK's PunktTrainer run on a "
        "--punkt-sample-mb sample of the input (saved to OUT/punkt/). --no-clean turns all "
        "cleaning off. A re-run with the same inputs and settings resumes. See "
        "docs/prepare-corpus.md.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="worker threads (default: all cores); the output does not depend on it")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the full statistics as JSON")
    add_config_arguments(p, sections=("corpus", "cluster"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.prepare_corpus import prepare_corpus

    stats = prepare_corpus(args.inputs, args.output, config=config_from_args(args),
                           threads=args.threads, progress=args.progress and sys.stderr.isatty())
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
    else:
        _summary(stats)
    sys.stdout.flush()
    return 0


def _summary(stats: dict) -> None:
    dropped = {k: v for k, v in stats.get("dropped", {}).items() if v}
    inp = stats.get("input", {})
    done = " (already complete)" if stats.get("resumed") == "already complete" else ""
    print(f"{stats['output']}: {len(stats['shards'])} shard(s), {stats['documents']:,} documents, "
          f"{stats['sentences']:,} sentences, {stats['bytes']:,} bytes{done}")
    if dropped:
        print("  dropped: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in dropped.items()))
    if inp.get("invalid_utf8_sequences"):
        print(f"warning: {inp['invalid_utf8_sequences']:,} invalid UTF-8 sequence(s) replaced by U+FFFD",
              file=sys.stderr)
    if inp.get("long_lines_split"):
        print(f"warning: {inp['long_lines_split']:,} over-long line(s) split", file=sys.stderr)
    for w in stats.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    punkt = stats.get("punkt", {})
    if punkt.get("source") == "trained":
        how = "reused" if punkt.get("reused") else f"trained in {punkt.get('train_seconds')} s"
        print(f"  punkt: {how} on {punkt.get('sample_bytes', 0):,} bytes of sample text")
    else:
        print(f"  punkt: {punkt.get('source')} parameters from {punkt.get('path')}")
