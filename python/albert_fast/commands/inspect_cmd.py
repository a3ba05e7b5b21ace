"""`albert-fast inspect FILE_OR_DIR... [-n 5] [--stats] [--tokenizer DIR_OR_MODEL]`, and
`albert-fast inspect RUN [--plot [HTML]]` for a pretrain run directory."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show decoded instances or statistics of TFRecord files",
        description="Print the first instances of ALBERT pretraining TFRecords the way the original "
        "create_pretraining_data.py logs them (tokens, then one line per feature), or with --stats "
        "dataset statistics as JSON. Checksums are verified; plain and GZIP files are detected "
        "automatically. Tokens (and the masked labels, as position:piece) are shown as pieces "
        "when a tokenizer is given or named by the manifest.json beside the files, as ids "
        "otherwise. Given a pretrain run directory instead, it summarizes the run from its "
        "metrics.jsonl; --plot draws the loss and accuracy curves into a self-contained HTML "
        "page (no TensorBoard needed). Record counts that differ from the ones manifest.json lists "
        "are warned about on stderr.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="TFRecord files or directories of them")
    p.add_argument("-n", "--num", type=int, default=5, metavar="N", help="instances to print (default 5)")
    p.add_argument(
        "--stats",
        action="store_true",
        help="read every record and print statistics as JSON: lengths, masked positions per "
        "instance, [MASK]/kept/random split, masked span lengths in words, SOP label balance",
    )
    p.add_argument(
        "--tokenizer",
        metavar="DIR_OR_MODEL",
        help="SentencePiece model (or directory holding spiece.model) to show pieces and find [MASK]; "
        "default: the one manifest.json names",
    )
    p.add_argument("--mask-id", type=int, default=None, help="id of [MASK] for --stats (default: from the tokenizer, else 4)")
    p.add_argument("--plot", nargs="?", const="", default=None, metavar="HTML",
                   help="for a run directory: write the loss/accuracy/learning-rate curves to HTML "
                   "(default RUN/metrics.html), a page any browser opens")
    p.set_defaults(run=run)


def _note(message: str) -> None:
    print(f"albert-fast inspect: note: {message}", file=sys.stderr)


def _tokenizer(args: argparse.Namespace, first_file: Path) -> Any:
    from albert_fast.errors import AlbertFastError
    from albert_fast.records import tokenizer_from_manifest
    from albert_fast.tokenizer import Tokenizer

    if args.tokenizer:
        return Tokenizer(args.tokenizer)
    model, reason = tokenizer_from_manifest(first_file)
    if model is not None:
        try:
            return Tokenizer(model)
        except (AlbertFastError, OSError, ValueError) as err:
            reason = f"tokenizer {model} from manifest.json is not usable ({err})"
    if reason:
        _note(f"{reason}; showing ids")
    return None


def _is_run_dir(path: str) -> bool:
    from albert_fast.metrics_log import METRICS_FILE

    p = Path(path)
    return p.is_dir() and ((p / METRICS_FILE).is_file() or (p / "config.yaml").is_file())


def _inspect_run(run_dir: str, plot: str | None) -> int:
    from albert_fast.metrics_log import METRICS_FILE, read_metrics
    from albert_fast.metrics_report import run_summary, write_report

    if not (Path(run_dir) / METRICS_FILE).is_file():
        raise ValueError(f"{run_dir}: no {METRICS_FILE} in this run directory (older runs recorded "
                         "TensorBoard summaries only: RUN/train, RUN/eval)")
    for key, value in run_summary(read_metrics(run_dir)).items():
        print(f"{key}: {value}")
    if plot is not None:
        path = write_report(run_dir, plot or None)
        print(f"plot: {path}")
    return 0


def _warn_on_count_mismatches(counts: dict[str, int]) -> None:
    from albert_fast.data_check import count_mismatches

    for line in count_mismatches(counts):
        print(f"albert-fast inspect: warning: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from albert_fast.data_check import count_records
    from albert_fast.records import dataset_stats, format_instance, read_examples, record_files

    if len(args.paths) == 1 and _is_run_dir(args.paths[0]):
        return _inspect_run(args.paths[0], args.plot)
    if args.plot is not None:
        raise ValueError(f"--plot draws a pretrain run's curves: {args.paths[0]} is not a run directory "
                         "(one holding metrics.jsonl)")
    if args.num < 0:
        raise ValueError(f"-n must be >= 0, got {args.num}")
    files = record_files(args.paths)
    tokenizer = _tokenizer(args, files[0])
    try:
        if args.stats:
            stats = dataset_stats(files, tokenizer=tokenizer, mask_id=args.mask_id)
            _warn_on_count_mismatches({f["path"]: f["instances"] for f in stats["files"]})
            print(json.dumps(stats, indent=2, ensure_ascii=False))
            return 0
        shown = 0
        read_from = []
        for path in files:
            if shown >= args.num:
                break
            read_from.append(path)
            for example in read_examples(path):
                if shown >= args.num:
                    break
                sys.stdout.write(format_instance(example, tokenizer))
                shown += 1
        sys.stdout.flush()
        if shown == 0 and args.num > 0:
            _note("no records in " + ", ".join(str(f) for f in files))
        # The files shown from are counted in full (verified framing only, fast) against the
        # manifest; --stats counts every file.
        _warn_on_count_mismatches({str(p): count_records(p) for p in read_from})
    except BrokenPipeError:
        # `albert-fast inspect ... | head`: the reader went away, which is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
