"""``albert-fast create-data``: masked-LM + sentence-order instances -> sharded TFRecords."""

from __future__ import annotations

import argparse
import sys

from albert_fast.commands._options import add_config_arguments, config_from_args, overrides_from_args

_DESCRIPTION = """\
Build ALBERT pretraining instances (masked LM + sentence-order prediction) from text in the
reference format -- one sentence per line, a blank line between documents -- and write them as
TFRecords with exactly the features the original run_pretraining.py reads:

  OUT/train-00000-of-000NN.tfrecord ...   (eval-... with --eval-fraction)
  OUT/manifest.json                       config, seed, tokenizer checksum, counts per file

Every flag of the original create_pretraining_data.py is accepted under its own name
(--max_seq_length, --dupe_factor, --masked_lm_prob, --ngram, ...). The reference's defects are
fixed by default; --reference_compat reproduces them (docs/create-data.md lists each one).
Output is byte-identical for the same input, config and seed whatever --threads is, and a
re-run of the same command resumes, skipping finished shards.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "create-data", help="masked-LM + sentence-order instances -> sharded TFRecords",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="text files, directories or glob patterns (plain, .gz, .zst, .bz2)")
    p.add_argument("--input_file", "--input-file", action="append", default=[], metavar="FILES",
                   help="the original flag: comma-separated files or globs (added to INPUT)")
    p.add_argument("--vocab_file", "--vocab-file", default=None, metavar="PATH",
                   help="accepted for compatibility and ignored: the SentencePiece model holds the "
                   "vocabulary (Q4: the original requires it anyway)")
    p.add_argument("--tokenizer", "--spm_model_file", required=True, metavar="DIR_OR_MODEL",
                   help="tokenizer directory (spiece.model + tokenizer_config.json) or .model file")
    p.add_argument("-o", "--output", "--output_dir", dest="output", required=True, metavar="OUT",
                   help="output directory (created if missing)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="worker threads (default: all CPUs); the output does not depend on it")
    p.add_argument("--eval-fraction", "--eval_fraction", type=float, default=0.0, metavar="F",
                   help="share of documents held out into eval-* files (default: 0)")
    p.add_argument("--compression", choices=["none", "gzip"], default="none",
                   help="TFRecord compression (gzip files end in .tfrecord.gz)")
    p.add_argument("--shard-size-mb", "--shard_size_mb", type=float, default=None, metavar="MB",
                   help="raw input MB per shard/output file (default: 16 / dupe_factor, "
                   "between 0.0625 and 4)")
    p.add_argument("--max-line-tokens", "--max_line_tokens", type=int, default=None, metavar="N",
                   help="a line with more tokens is an error (default: 16 x max_seq_length; 0: no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(p, sections=("text", "data", "cluster"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.create_data import create_pretraining_data

    inputs = list(args.inputs) + [f for group in args.input_file for f in group.split(",") if f]
    if not inputs:
        raise ValueError("no input given: name text files, directories or globs (or --input_file)")
    cfg = config_from_args(args)
    values, _ = overrides_from_args(args)
    strict = args.config is not None or any(k.startswith("text.") for k in values)
    summary = create_pretraining_data(
        inputs, args.tokenizer, args.output, config=cfg, threads=args.threads,
        eval_fraction=args.eval_fraction, compression=args.compression,
        shard_size_bytes=int(args.shard_size_mb * (1 << 20)) if args.shard_size_mb else None,
        max_line_tokens=args.max_line_tokens, progress=not args.no_progress,
        strict_normalization=strict)
    mb = summary["input_bytes"] / 1e6
    secs = max(summary["seconds"], 1e-9)
    print(
        f"create-data: {summary['instances']} instances ({summary['train_instances']} train, "
        f"{summary['eval_instances']} eval) from {summary['documents']} documents, "
        f"{mb:.1f} MB of text in {secs:.1f} s ({mb / secs:.2f} MB/s)\n"
        f"  tokens {summary['tokens']}, masked positions {summary['masked_positions']} "
        f"({summary['masked_positions'] / max(summary['instances'], 1):.1f} per instance), "
        f"SOP label 1: {summary['label_balance']:.3f}\n"
        f"  {len(summary['files'])} files ({summary['resumed_files']} resumed), manifest: {summary['manifest']}",
        file=sys.stderr)
    return 0
