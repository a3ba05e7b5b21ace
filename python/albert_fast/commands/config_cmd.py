"""``albert-fast config show|validate``: print the resolved config, or report every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from albert_fast.commands._options import add_config_arguments, overrides_from_args
from albert_fast.config import SECTIONS

_LAYOUTS = """\
Three layouts load, detected automatically (YAML or JSON):
  sections   model: / text: / tokenizer: / data: / pretraining:   (albert-fast's own)
  tutorial   an albert_config: block plus the original tools' flat flags
             (do_lower_case, dupe_factor, ngram, optimizer, poly_power, ...)
  bare       an original albert_config.json (architecture only)
See docs/config.md for every field and how the original flag names map.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "config",
        help="show, validate or list config files and the shipped presets",
        description="Load a YAML/JSON config, validate it and print the resolved result.\n\n"
        + _LAYOUTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = sub.add_parser(
        "show", usage="albert-fast config show [CFG] [--format {yaml,json}] [--albert-config] "
        "[--FIELD VALUE ...] [--set SECTION.FIELD=VALUE ...]", help="print the resolved config (defaults filled in, flags applied)",
        description="Print the resolved config in the sections layout: the file's values, the "
        "defaults for everything it leaves out, and any flag given here. The output loads back "
        "unchanged.\n\n" + _LAYOUTS + "\nexamples:\n"
        "  albert-fast config show                        # the defaults (ALBERT-base v2)\n"
        "  albert-fast config show configs/tiny.yaml --format json\n"
        "  albert-fast config show tutorial.json --max_seq_length 128 --no-do_whole_word_mask\n"
        "  albert-fast config show albert_config.json --albert-config  # only the architecture",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("config", nargs="?", metavar="CFG",
                      help="YAML or JSON file; omitted: the defaults")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml",
                      help="output format (default: yaml)")
    show.add_argument("--albert-config", "--albert_config", action="store_true",
                      help="print only the model section, as the original albert_config.json")
    add_config_arguments(show, SECTIONS, config_option=False)

    val = sub.add_parser(
        "validate", usage="albert-fast config validate CFG [--tokenizer SPM_MODEL] "
        "[--FIELD VALUE ...] [--set SECTION.FIELD=VALUE ...]", help="check a config and report every problem (exit 1 when invalid)",
        description="Check a config: types and ranges of every field, unknown keys (with a "
        "'did you mean'), cross-field rules (max_seq_length <= max_position_embeddings, "
        "hidden_size divisible by num_attention_heads, num_warmup_steps <= num_train_steps, "
        "vocab sizes agree), and settings the trainer does not build. Prints every problem "
        "found; exit status 0 when valid, 1 when not, 2 when the file cannot be read.\n\n"
        + _LAYOUTS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    val.add_argument("config", metavar="CFG", help="YAML or JSON file")
    val.add_argument("--tokenizer", metavar="SPM_MODEL",
                     help="also check that this SentencePiece model's vocabulary size agrees "
                     "with model.vocab_size (Q5)")
    add_config_arguments(val, SECTIONS, config_option=False)

    sub.add_parser(
        "list", help="list the presets shipped with albert-fast (usable as --config NAME)",
        description="List the config presets that ship with albert-fast: the published ALBERT "
        "v2 sizes (albert_base, albert_large, albert_xlarge, albert_xxlarge), tiny, demo and the "
        "original tutorial's layout. Any verb takes one by name, from any directory: "
        "--config albert_base (a file of that name in the current directory wins). "
        "`albert-fast config show NAME` prints one in full.")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        return _validate(args)
    if args.action == "list":
        return _list()
    return _show(args)


def _list() -> int:
    from albert_fast.config import preset_description, presets

    found = presets()
    width = max(map(len, found), default=0)
    for name, path in found.items():
        print(f"{name:<{width}}  {preset_description(path)}")
    print(f"\n(in {next(iter(found.values())).parent}; use one as --config NAME)"
          if found else "no presets installed")
    return 0


def _show(args: argparse.Namespace) -> int:
    import json

    import yaml

    from albert_fast.commands._options import config_from_args
    from albert_fast.config import dump_config

    cfg = config_from_args(args)
    if args.albert_config:
        data = cfg.albert_config()
        if args.format == "json":
            print(json.dumps(data, indent=2))
        else:
            print(yaml.safe_dump(data, sort_keys=False), end="")
        return 0
    print(dump_config(cfg, args.format), end="")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from albert_fast.config import (check_vocab_size, diagnose, read_config_file,
                                    resolve_config_path, unsupported_settings)
    from albert_fast.errors import ConfigError

    path = resolve_config_path(args.config)
    if not path.exists():
        read_config_file(path)  # the ConfigError naming the file and the presets
    values, origins = overrides_from_args(args)
    try:
        raw = read_config_file(path)
    except ConfigError as err:
        print(f"{err}\n{path}: invalid", file=sys.stderr)
        return 1
    cfg, problems, notes = diagnose(raw, source=str(path), base_dir=path.parent,
                                    overrides=values, override_origins=origins)
    for note in notes:
        print(f"{path}: note: {note}", file=sys.stderr)
    if cfg is not None and args.tokenizer:
        try:
            check_vocab_size(cfg, _spm_vocab_size(args.tokenizer))
        except ConfigError as err:
            problems.append(str(err).removeprefix(f"{path}: "))
    if problems:
        for problem in problems:
            print(f"{path}: error: {problem}", file=sys.stderr)
        print(f"{path}: invalid ({len(problems)} problem{'s' if len(problems) > 1 else ''})",
              file=sys.stderr)
        return 1
    assert cfg is not None
    for warning in unsupported_settings(cfg):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print(f"{path}: OK (layout: {cfg.layout})")
    return 0


def _spm_vocab_size(model_path: str) -> int:
    from albert_fast.errors import ModelError

    if not Path(model_path).is_file():
        raise ModelError(f"{model_path}: SentencePiece model not found")
    import sentencepiece as spm

    try:
        return spm.SentencePieceProcessor(model_file=model_path).get_piece_size()
    except (RuntimeError, OSError) as err:
        raise ModelError(f"{model_path}: not a SentencePiece model ({err})") from None
