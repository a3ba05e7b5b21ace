"""The ``albert-fast`` command line.

Each verb lives in its own module under :mod:`albert_fast.commands` and exposes
``add_parser(subparsers)`` (which registers the verb and its flags, with help text) and
``run(args) -> int``. This module only wires them together and turns every expected failure
into one clear line on stderr and a non-zero exit code; no raw traceback reaches the user unless
``ALBERT_FAST_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import warnings
from typing import Any, Sequence

from albert_fast import __version__
from albert_fast.errors import AlbertFastError

# Each verb and the module that registers it. Order is the order `albert-fast --help` lists the
# verbs in: the pipeline's order. A command line naming a verb builds only that verb's parser
# (start-up: the other modules, `run`'s whole pipeline among them, are never imported).
COMMANDS: dict[str, str] = {
    "prepare-corpus": "albert_fast.commands.prepare_corpus",
    "config": "albert_fast.commands.config_cmd",
    "train-tokenizer": "albert_fast.commands.train_tokenizer",
    "create-data": "albert_fast.commands.create_data",
    "inspect": "albert_fast.commands.inspect_cmd",
    "pretrain": "albert_fast.commands.pretrain",
    "export-hf": "albert_fast.commands.export_hf",
    "import": "albert_fast.commands.import_cmd",
    "run": "albert_fast.commands.run",
    "completion": "albert_fast.commands.completion",
}

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


class _VerbParser(argparse.ArgumentParser):
    """A verb's parser: no abbreviated flags (absl, whose flag names every verb takes, has none,
    and an abbreviation would silently pick one of several settings)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The ``albert-fast`` parser with every verb, or with ``verb`` alone (for a command line
    that names it: parsing it is the same, the other verbs cost nothing)."""
    parser = argparse.ArgumentParser(
        prog="albert-fast",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"albert-fast {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=_VerbParser)
    for name in [COMMANDS[verb]] if verb else COMMANDS.values():
        importlib.import_module(name).add_parser(subparsers)
    return parser


def _named_verb(argv: Sequence[str]) -> str | None:
    """The verb a command line starts with (top-level options come before it and are all
    terminal: --help, --version)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    # TensorFlow's C++ INFO/WARNING lines (oneDNN, missing CUDA drivers on CPU machines) bury the
    # progress output; its errors still surface as Python exceptions. Users can override this.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else list(argv)
    completing = "_ARGCOMPLETE" in os.environ  # TAB in a shell with `albert-fast completion` loaded
    parser = build_parser(None if completing else _named_verb(argv))
    if completing:
        import argcomplete

        argcomplete.autocomplete(parser)
    try:
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit:  # --help, --version, a usage error: flushed here, not at exit
            sys.stdout.flush()
            raise
        if extra:
            # Naming another verb's flag needs every verb's parser.
            return _reject_unknown(build_parser(), args, extra)
        # What the imports made (pydantic's schemas, the config models: ~100k objects) lives as
        # long as the process: frozen, the cyclic collector skips it in every pass of the run
        # and in the one at exit (~30 ms of every command's exit).
        gc.freeze()
        with warnings.catch_warnings():
            warnings.showwarning = _plain_warning(args.command)
            return _run(args)
    except BrokenPipeError:
        # `albert-fast ... | head`: the reader went away, which is not an error; nothing more
        # may reach the closed pipe (not even Python's flush at exit).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    from albert_fast.io_utils import no_empty_dirs_left_on_failure

    # Where the verb writes: its -o, or what the verb says (`run`: the config's output).
    outputs = args.outputs(args) if hasattr(args, "outputs") else [getattr(args, "output", None)]
    try:
        with no_empty_dirs_left_on_failure([o for o in outputs if o]):
            code = int(args.run(args) or 0)
            if code:
                raise _Failed(code)
        sys.stdout.flush()
        return code
    except _Failed as failed:
        return failed.code
    except KeyboardInterrupt:
        print("albert-fast: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except (AlbertFastError, OSError, ValueError, FloatingPointError) as err:
        if os.environ.get("ALBERT_FAST_DEBUG"):
            raise
        print(f"albert-fast {args.command}: error: {_describe(err)}", file=sys.stderr)
        return 2


class _Failed(Exception):
    """A verb that returned a non-zero status: a failure for the output clean-up too."""

    def __init__(self, code: int) -> None:
        self.code = code


def _plain_warning(verb: str) -> Any:
    """Python warnings as one line, ``albert-fast VERB: warning: ...``, without the source line
    that ``warnings`` prints by default."""
    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        text = " ".join(str(message).split("\n"))
        print(f"albert-fast {verb}: warning: {text}", file=file or sys.stderr)

    return show


def _verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _reject_unknown(parser: argparse.ArgumentParser, args: argparse.Namespace,
                    extra: list[str]) -> int:
    """Exit status 2, naming the first argument the verb does not take: a flag of another verb ("has
    no effect on pretrain") or a near miss ("did you mean"), as config files are checked."""
    from albert_fast.commands._options import unknown_flag_message

    verbs = _verbs(parser)
    verb, sub = args.command, verbs[args.command]
    if getattr(args, "action", None) and verb == "config":
        sub = _verbs(sub)[args.action]
        verb = f"config {args.action}"
    flags = [t for t in extra if t.startswith("-")] or extra
    print(f"albert-fast {verb}: error: {unknown_flag_message(sub, verb, flags[0], verbs)}",
          file=sys.stderr)
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
