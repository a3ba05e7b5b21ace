"""`albert-fast prepare-corpus INPUT... -o OUT`: raw text -> one sentence per line, a blank line
between documents (the input format of train-tokenizer and create-data)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from albert_fast.commands._options import add_config_arguments, config_from_args
from albert_fast.io_utils import human_size


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prepare-corpus",
        help="split raw text into one sentence per line, a blank line between documents",
        description="Read raw text (files, directories, globs; plain, .gz, .zst, .bz2; JSON Lines; "
        "WikiExtractor <doc> files; Parquet, Arrow and Hugging Face datasets directories, the text "
        "from --text-column, default text; - reads standard input), cut it into documents "
        "(--doc-boundary auto decides per file from its layout: one sentence per line keeps blank "
        "lines as document ends, paragraph layouts are grouped into documents of "
        "--target-document-kb), clean it, split it into sentences with Punkt (identical to "
        "NLTK's PunktSentenceTokenizer) and write OUT/corpus-NNNNN.txt shards plus OUT/stats.json "
        "(per-file layouts and document counts, document lengths, the largest documents). "
        "Punkt parameters come from --punkt-params DIR (a punkt_tab directory), an installed "
        "nltk_data model (--language LANG), or by default trained (as NLTK's PunktTrainer trains) on a "
        "--punkt-sample-mb sample of the input (saved to OUT/punkt/). --no-clean turns all "
        "cleaning off. A re-run with the same inputs and settings resumes. See "
        "docs/prepare-corpus.md.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, directories or glob patterns; Parquet/Arrow files and Hugging Face "
                   "datasets directories (save_to_disk) with --text-column; - for standard input")
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


#: Files listed on the console (all of them are in stats.json's "files").
MAX_FILES_SHOWN = 12


def _documents_summary(stats: dict) -> None:
    """What the documents look like: lengths, the files they came from, the largest ones."""
    lengths = stats.get("document_lengths")
    if not lengths:
        return
    sent, size = lengths["sentences"], lengths["bytes"]
    single = lengths.get("single_sentence_documents", 0)
    share = 100 * single / max(stats["documents"], 1)
    print(f"  document length: median <= {sent['p50_at_most']:,} sentences / {human_size(size['p50_at_most'])}, "
          f"90% <= {sent['p90_at_most']:,} / {human_size(size['p90_at_most'])}, max {sent['max']:,} sentences / "
          f"{human_size(size['max'])}; {single:,} ({share:.0f}%) with one sentence")
    files = stats.get("files", [])
    if files:
        shown = sorted(files, key=lambda f: -f.get("bytes", 0))[:MAX_FILES_SHOWN]
        width = min(max(len(os.path.basename(f["file"])) for f in shown), 40)
        print(f"  files (layout -> mode: documents, sentences, bytes){'' if len(files) <= MAX_FILES_SHOWN else f'; the {MAX_FILES_SHOWN} largest of {len(files):,}'}:")
        for f in shown:
            layout = f.get("layout", "-")
            name = "- (stdin)" if f["file"] == "-" else os.path.basename(f["file"])[:40]
            print(f"    {name:<{width}}  {layout} -> {f['mode']}: "
                  f"{f.get('documents', 0):,} documents, {f.get('sentences', 0):,} sentences, {human_size(f.get('bytes', 0))}")
    largest = stats.get("largest_documents", [])
    if largest:
        print("  largest documents: " + ", ".join(
            f"{os.path.basename(d['file'])}:{d['line']} ({human_size(d['bytes'])}, {d['sentences']:,} "
            f"sentence{'' if d['sentences'] == 1 else 's'})"
            for d in largest[:3]))


def _summary(stats: dict) -> None:
    dropped = {k: v for k, v in stats.get("dropped", {}).items() if v}
    inp = stats.get("input", {})
    done = " (already complete)" if stats.get("resumed") == "already complete" else ""
    print(f"{stats['output']}: {len(stats['shards'])} shard(s), {stats['documents']:,} documents, "
          f"{stats['sentences']:,} sentences, {stats['bytes']:,} bytes{done}")
    if dropped:
        print("  dropped: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in dropped.items()))
    _documents_summary(stats)
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
