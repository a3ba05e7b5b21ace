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
    "albert_fast.commands.prepare_corpus",
    "albert_fast.commands.config_cmd",
    "albert_fast.commands.train_tokenizer",
    "albert_fast.commands.create_data",
    "albert_fast.commands.inspect_cmd",
    "albert_fast.commands.pretrain",
    "albert_fast.commands.export_hf",
    "albert_fast.commands.import_cmd",
    "albert_fast.commands.run",
]

DESCRIPTION = """\
Fast, faithful ALBERT pretraining.

The pipeline, stage by stage (each is a COMMAND below; `albert-fast COMMAND --help`):
  prepare-corpus   raw text -> one sentence per line, a blank line between documents
  train-tokenizer  SentencePiece unigram model with ALBERT's special symbols
  create-data      masked-LM + sentence-order instances -> sharded TFRecords
  pretrain         ALBERT in Keras 3 with LAMB
  export-hf        a directory Hugging Face Transformers loads

A typical run:
  albert-fast prepare-corpus  raw/ -o corpus/
  albert-fast train-tokenizer corpus/ -o tok/ --config configs/tiny.yaml
  albert-fast create-data     corpus/ --tokenizer tok/spiece.model -o data/ --config configs/tiny.yaml
  albert-fast pretrain        --data data/ -o run/ --config configs/tiny.yaml
  albert-fast export-hf       run/ -o hf/

Every stage reads one YAML/JSON config (`albert-fast config show` prints the defaults,
`albert-fast config validate CFG` checks one). The layout of google-research/albert's tutorial
(an `albert_config` block plus flat flags) and a bare albert_config.json load too, and every
original flag name works on the command line (`--max_seq_length 128`, `--do_whole_word_mask=false`),
overriding the file. Set ALBERT_FAST_DEBUG=1 to see tracebacks.
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
    # TensorFlow's C++ INFO/WARNING lines (oneDNN, missing CUDA drivers on CPU machines) bury the
    # progress output; its errors still surface as Python exceptions. Users can override this.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("albert-fast: interrupted", file=sys.stderr)
        return 130
    except (AlbertFastError, OSError, ValueError, FloatingPointError) as err:
        if os.environ.get("ALBERT_FAST_DEBUG"):
            raise
        print(f"albert-fast {args.command}: error: {_describe(err)}", file=sys.stderr)
        return 2


def _describe(err: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        # A Config built directly in code rather than through load_config: same wording.
        from albert_fast.config import format_validation_error

        return "invalid config: " + "; ".join(format_validation_error(err))
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
