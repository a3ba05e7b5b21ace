"""The ``albert-fast`` command line.

Each verb lives in its own module under :mod:`albert_fast.commands` and exposes
``add_parser(subparsers)`` (which registers the verb and its flags, with help text) and
``run(args) -> int``. This module only wires them together and turns every expected failure
into one clear line on stderr and a non-zero exit code; no raw traceback reaches the user unless
``ALBERT_FAST_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from albert_fast import __version__
from albert_fast.errors import AlbertFastError

# Order is the order `albert-fast --help` lists the verbs in: the pipeline's order.
COMMAND_MODULES: list[str] = [
    "albert_fast.commands.config_cmd",
    "albert_fast.commands.pretrain",
]

DESCRIPTION = """\
Fast, faithful ALBERT pretraining.

The pipeline, stage by stage:
  prepare-corpus   raw text -> one sentence per line, a blank line between documents
  train-tokenizer  SentencePiece unigram model with ALBERT's special symbols
  create-data      masked-LM + sentence-order instances -> sharded TFRecords
  pretrain         ALBERT in Keras 3 with LAMB
  export-hf        a directory Hugging Face Transformers loads
Every stage reads one YAML/JSON config (see `albert-fast config show`); the original
flag names of google-research/albert are accepted there and on the command line.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albert-fast",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"albert-fast {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("albert-fast: interrupted", file=sys.stderr)
        return 130
    except (AlbertFastError, OSError, ValueError) as err:
        if os.environ.get("ALBERT_FAST_DEBUG"):
            raise
        print(f"albert-fast {args.command}: error: {_describe(err)}", file=sys.stderr)
        return 2


def _describe(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
