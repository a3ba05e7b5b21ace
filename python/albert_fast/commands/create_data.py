"""``albert-fast create-data``: masked-LM + sentence-order instances -> sharded TFRecords."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from albert_fast.commands._options import (add_config_arguments, add_noop_flags,
                                           config_from_args, overrides_from_args)

_DESCRIPTION = """\
Build ALBERT pretraining instances (masked LM + sentence-order prediction) from text in the
reference format -- one sentence per line, a blank line between documents -- and write them as
TFRecords with exactly the features the original run_pretraining.py reads:

  OUT/train-00000-of-000NN.tfrecord ...   (eval-... with --eval-fraction)
  OUT/manifest.json                       config, seed, tokenizer checksum, counts per file

Every flag of the original create_pretraining_data.py is accepted under its own name and
meaning, so `python create_pretraining_data.py ...` becomes `albert-fast create-data ...`:
--input_file (comma-separated files or globs), --output_file (comma-separated files in one
directory: they are the train shards, with manifest.json beside them), --spm_model_file,
--vocab_file (checked against the SentencePiece model), --do_lower_case, --max_seq_length,
--dupe_factor, --masked_lm_prob, --ngram, ... --input_file_mode is accepted and has no effect.
Flags of pretrain (run_pretraining.py) are refused. The reference's defects are fixed by
default; --reference_compat reproduces them (docs/create-data.md lists each one).
Output is byte-identical for the same input, config and seed whatever --threads is, and a
re-run of the same command resumes, skipping finished shards.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "create-data", help="masked-LM + sentence-order instances -> sharded TFRecords",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="text files, directories or glob patterns (plain, .gz, .zst, .bz2); - for "
                   "standard input")
    p.add_argument("--input_file", "--input-file", action="append", default=[], metavar="FILES",
                   help="the original flag: comma-separated files or globs (added to INPUT)")
    p.add_argument("--vocab_file", "--vocab-file", default=None, metavar="PATH",
                   help="the original's vocabulary file (spiece.vocab): the SentencePiece model "
                   "holds the vocabulary (Q4), so it is only checked to list the model's pieces "
                   "in order")
    p.add_argument("--tokenizer", "--spm_model_file", "--spm-model-file", metavar="DIR_OR_MODEL",
                   help="tokenizer directory (spiece.model + tokenizer_config.json) or .model "
                   "file (required; --spm_model_file is the original's name)")
    p.add_argument("-o", "--output", "--output_dir", dest="output", metavar="OUT",
                   help="output directory (created if missing); with --output_file, its "
                   "directory")
    p.add_argument("--output_file", "--output-file", action="append", default=[],
                   metavar="FILES", help="the original flag: comma-separated output files, all "
                   "in one directory; they are the train shards (the training text split "
                   "evenly over them)")
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
                   help="a line with more tokens, or more than 256 bytes per token of N, is an error "
                   "(default: 16 x max_seq_length; 0: no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_noop_flags(p, "create_pretraining_data.py", NOOP_FLAGS)
    add_config_arguments(p, sections=("text", "data", "cluster"))
    p.set_defaults(run=run)


#: create_pretraining_data.py flags with no effect here, and why.
NOOP_FLAGS = {"input_file_mode": "inputs are read as UTF-8 text (plain, .gz, .zst or .bz2)"}


def output_files(args: argparse.Namespace) -> tuple[Path | str, list[str]]:
    """The output directory (a path, or a ``gs://``/``s3://`` URL) and the train shard names:
    -o, or --output_file's files (one directory, which -o must then name if given too)."""
    from albert_fast import storage

    def where(path: str) -> tuple[str, Path | str, str]:
        """(key to compare directories by, the directory, the file name)."""
        if storage.is_url(path):
            d, name = path.rstrip("/").rsplit("/", 1)
            return d, d, name
        f = Path(storage.local_path(path))
        return str(f.parent.resolve()), f.parent, f.name

    files = [where(f) for group in args.output_file for f in group.split(",") if f]
    if not files:
        if not args.output:
            raise ValueError("no output given: -o OUT (or --output_file FILES)")
        return (args.output if storage.is_url(args.output) else Path(args.output)), []
    dirs = {key for key, _, _ in files}
    if len(dirs) > 1:
        raise ValueError("--output_file: the files must be in one directory (it also gets "
                         f"manifest.json), got {', '.join(sorted(dirs))}")
    if args.output and where(storage.join(args.output, "x"))[0] != files[0][0]:
        raise ValueError(f"-o {args.output} and --output_file name different directories")
    return files[0][1], [name for _, _, name in files]


def run(args: argparse.Namespace) -> int:
    from albert_fast.create_data import check_vocab_file, create_pretraining_data

    inputs = list(args.inputs) + [f for group in args.input_file for f in group.split(",") if f]
    if not inputs:
        raise ValueError("no input given: name text files, directories or globs (or --input_file)")
    if not args.tokenizer:
        raise ValueError("no tokenizer given: --tokenizer DIR_OR_MODEL (or --spm_model_file)")
    out, names = output_files(args)
    cfg = config_from_args(args)
    if args.vocab_file:
        check_vocab_file(args.vocab_file, args.tokenizer)
    values, _ = overrides_from_args(args)
    strict = args.config is not None or any(k.startswith("text.") for k in values)
    summary = create_pretraining_data(
        inputs, args.tokenizer, out, config=cfg, threads=args.threads,
        eval_fraction=args.eval_fraction, compression=args.compression,
        shard_size_bytes=int(args.shard_size_mb * (1 << 20)) if args.shard_size_mb else None,
        max_line_tokens=args.max_line_tokens, progress=not args.no_progress,
        strict_normalization=strict, output_files=names or None)
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
