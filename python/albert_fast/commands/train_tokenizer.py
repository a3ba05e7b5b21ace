"""`albert-fast train-tokenizer INPUT... -o DIR [--config CFG] [--vocab-size N] [--threads N]`."""

from __future__ import annotations

import argparse
import json
import sys

from albert_fast.commands._options import add_config_arguments, config_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-tokenizer",
        help="train a SentencePiece tokenizer with ALBERT's special symbols",
        description="Train a SentencePiece model (unigram by default) with ALBERT's conventions: "
        "<pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4, no BOS/EOS. The text normalization of the "
        "config's `text` section (lowercase, strip_accents) is applied to the training text "
        "exactly as create-data applies it. At most tokenizer.input_sentence_size sentences are "
        "sampled from the input with bounded memory (seeded by data.random_seed: "
        "--set data.random_seed=N); before SentencePiece trains on the sample, its estimated time "
        "and peak memory are printed, with a warning when that memory is not available "
        "(docs/tokenizer-training.md has the quality each sample size gives). Writes "
        "DIR/spiece.model, DIR/spiece.vocab and DIR/tokenizer_config.json.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="text files (one sentence per line; .gz/.zst/.bz2 are decompressed), "
                   "directories (read recursively) or glob patterns; - for standard input")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--vocab-size", "--vocab_size", dest="vocab_size", type=int, metavar="N",
                   help="total vocabulary size, the 5 special pieces included (Q5; default: "
                   "tokenizer.vocab_size, else model.vocab_size)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads for reading and normalizing (default: all cores); the output "
                   "does not depend on it")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_arguments(p, sections=("text", "tokenizer", "cluster"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.train_tokenizer import train_tokenizer

    summary = train_tokenizer(args.inputs, args.output, config=config_from_args(args),
                              vocab_size=args.vocab_size,
                              threads=args.threads, progress=args.progress)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        s = summary["input"]
        print(f"wrote {summary['model_file']}, {summary['vocab_file']}, {summary['config_file']}")
        print(f"  vocab_size {summary['vocab_size']} ({summary['model_type']}), trained on "
              f"{summary['sentences']:,} sentences sampled from {s['lines'] - s['blank_lines']:,} "
              f"non-blank lines in {s['files']} file(s), {summary['seconds']:.1f} s")
    sys.stdout.flush()
    return 0
