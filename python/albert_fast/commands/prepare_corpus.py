"""`albert-fast prepare-corpus INPUT... -o OUT`: raw text -> one sentence per line, a blank line
between documents (the input format of train-tokenizer and create-data)."""

from __future__ import annotations

import argparse
import json
import sys

DOC_BOUNDARIES = ["auto", "file", "line", "blank-line", "jsonl", "doc"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare-corpus",
        help="split raw text into one sentence per line, a blank line between documents",
        description="Read raw text (files, directories, globs; plain, .gz, .zst, .bz2; JSON Lines; "
        "WikiExtractor <doc> files), clean it, split it into sentences with Punkt (identical to "
        "NLTK's PunktSentenceTokenizer) and write OUT/corpus-NNNNN.txt shards plus OUT/stats.json. "
        "Punkt parameters come from --punkt-params, an installed nltk_data model (--language), or "
        "by default from NLTK's PunktTrainer run on a sample of the input (saved to OUT/punkt/). "
        "A re-run with the same inputs and settings resumes.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, directories or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    p.add_argument("--config", metavar="CFG", help="YAML/JSON config; its `corpus` section is used")
    p.add_argument("--language", dest="punkt_language", metavar="LANG",
                   help="use the installed nltk_data punkt_tab model of LANG (e.g. english, german) "
                   "if there is one; otherwise Punkt is trained on the input")
    p.add_argument("--punkt-params", metavar="DIR", help="a punkt_tab directory with the Punkt parameters")
    p.add_argument("--punkt-sample-mb", type=float, metavar="N",
                   help="MB of input to train Punkt on (default 10)")
    p.add_argument("--doc-boundary", choices=DOC_BOUNDARIES,
                   help="what a document is: auto (by file: .jsonl -> jsonl, <doc> files -> doc, "
                   "else blank-line), file, line, blank-line (paragraph), jsonl (one per JSON line), "
                   "doc (WikiExtractor <doc> elements); default auto")
    p.add_argument("--jsonl-field", metavar="NAME", help="JSON field holding the text (dots for nested; default text)")
    p.add_argument("--no-clean", dest="clean", action="store_const", const=False,
                   help="no cleaning at all: only sentence splitting and document boundaries")
    p.add_argument("--min-line-chars", type=int, metavar="N",
                   help="drop lines shorter than N characters after cleaning (default 2; 0 keeps all)")
    p.add_argument("--no-dedup", dest="dedup", action="store_const", const=False,
                   help="keep exact-duplicate documents")
    p.add_argument("--no-nfc", dest="nfc", action="store_const", const=False, help="skip Unicode NFC")
    p.add_argument("--shard-size-mb", type=float, metavar="N", help="size of each output shard (default 64)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="worker threads (default: all cores)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the full statistics as JSON")
    p.set_defaults(run=run)


_OVERRIDES = ("punkt_language", "punkt_params", "punkt_sample_mb", "doc_boundary", "jsonl_field",
              "clean", "min_line_chars", "dedup", "nfc", "shard_size_mb")


def run(args: argparse.Namespace) -> int:
    from albert_fast.config import Config, load_config
    from albert_fast.corpus import prepare_corpus

    cfg = load_config(args.config) if args.config else Config()
    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k, None) is not None}
    stats = prepare_corpus(args.inputs, args.output, config=cfg, threads=args.threads,
                           progress=args.progress and sys.stderr.isatty(), **overrides)
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return 0
    _summary(stats)
    return 0


def _summary(stats: dict) -> None:
    dropped = {k: v for k, v in stats.get("dropped", {}).items() if v}
    inp = stats.get("input", {})
    done = " (already complete)" if stats.get("resumed") == "already complete" else ""
    print(f"{stats['output']}: {len(stats['shards'])} shard(s), {stats['documents']:,} documents, "
          f"{stats['sentences']:,} sentences, {stats['bytes']:,} bytes{done}")
    if dropped:
        print("dropped: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in dropped.items()))
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
        print(f"punkt: {how} on {punkt.get('sample_bytes', 0):,} bytes of sample text")
