"""Config overrides on the command line, shared by every verb: :func:`add_config_arguments` in a
verb's ``add_parser`` makes every field of the named sections a flag under its original and its
dashed name (``--max_seq_length`` / ``--max-seq-length``, booleans also ``--no-flag`` and
``--flag=true|false``) plus ``--set SECTION.FIELD=VALUE``; :func:`config_from_args` in its
``run`` applies only the flags the user gave over the file or the defaults (docs/config.md)."""

from __future__ import annotations

import argparse
import sys
import typing
from typing import Any, Iterable, Sequence

import yaml

from albert_fast.config import FIELD_ALIASES, FLAG_NAMES, SECTIONS, Config, SECTION_MODELS, load_config
from albert_fast.errors import ConfigError

_DEST_PREFIX = "cfg:"
_TRUE = ("true", "True", "TRUE", "t", "1", "yes")
_FALSE = ("false", "False", "FALSE", "f", "0", "no")

# dest -> the flag's main spelling, to name it in error messages.
_FLAG_OF_DEST: dict[str, str] = {}

_SECTION_TITLES = {
    "model": "model (the albert_config block)",
    "text": "text normalization (shared by tokenizer, data and export)",
    "tokenizer": "tokenizer (SentencePiece training)",
    "data": "data (create_pretraining_data.py flags)",
    "pretraining": "pretraining (run_pretraining.py flags)",
    "corpus": "corpus (prepare-corpus: document boundaries, cleaning, Punkt)",
    "cluster": "cluster (where the data stages run; docs/cluster.md)",
}


def parse_bool(text: str) -> bool:
    """``true/false`` as absl flags read them (also 1/0, yes/no, t/f)."""
    if text in _TRUE or text.lower() in ("true", "yes"):
        return True
    if text in _FALSE or text.lower() in ("false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


class _BoolAction(argparse.Action):
    """Sets True, or False for a negated spelling; ``--flag=VALUE`` spellings are registered as
    whole option strings (argparse matches those before splitting on '='), so ``--flag`` never
    swallows the next word as its value."""

    def __init__(self, option_strings: Sequence[str], dest: str, value: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)
        self.value = value

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        if self.value is not None:
            setattr(namespace, self.dest, self.value)
        else:
            setattr(namespace, self.dest, parse_bool(option_string.split("=", 1)[1]))


def _split_list(text: str) -> list[str]:
    return [item for item in text.split(",") if item] if text else []


def _optional(kind: type) -> Any:
    def convert(text: str) -> Any:
        if text.lower() in ("none", "null", ""):
            return None
        return kind(text)
    convert.__name__ = kind.__name__
    return convert


def _field_kind(annotation: Any) -> tuple[str, Any]:
    """(kind, argparse type or choices) for a field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is bool:
        return "bool", None
    if origin is typing.Literal:
        return "choice", [str(a) for a in args]
    if origin is list:
        return "list", _split_list
    if origin is typing.Union and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return "scalar", _optional(inner)
    return "scalar", annotation


def _metavar(annotation: Any) -> str:
    text = str(annotation)
    for kind, label in (("list", "A,B,..."), ("int", "INT"), ("float", "FLOAT")):
        if kind in text:
            return label
    return "STR"


def _spellings(name: str) -> list[str]:
    dashed = name.replace("_", "-")
    return [name] if dashed == name else [name, dashed]


def add_config_arguments(parser: argparse.ArgumentParser, sections: Iterable[str] = ("data",), *,
                         config_option: bool = True, config_required: bool = False) -> None:
    """Adds ``--config CFG`` (unless ``config_option`` is false: the verb has its own ``config``
    argument), ``--set SECTION.FIELD=VALUE`` and one flag per field of ``sections``.

    A field name already taken (by the verb, or by an earlier section: ``vocab_size`` is in
    ``model`` and ``tokenizer``) is spelled ``--SECTION_FIELD`` instead."""
    sections = tuple(sections)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown config sections {unknown}; choose from {list(SECTIONS)}")
    if config_option:
        parser.add_argument(
            "--config", metavar="CFG", required=config_required,
            help="YAML or JSON config (sections layout, the tutorial's albert_config + flat "
            "flags, or a bare albert_config.json); flags below override it"
            + ("" if config_required else "; omitted: the defaults"))
    parser.add_argument(
        "--set", dest="cfg_set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
        help="override any config field, e.g. --set model.hidden_size=256 (repeatable; VALUE "
        "is read as YAML: 128, 0.1, true, [a, b])")
    for section in sections:
        group = parser.add_argument_group(
            _SECTION_TITLES[section],
            f"override the config's {section!r} section; unset flags keep the config's value")
        for name, info in SECTION_MODELS[section].model_fields.items():
            names = list(FLAG_NAMES.get((section, name), (name, *FIELD_ALIASES.get((section, name), ()))))
            taken = parser._option_string_actions
            if any(f"--{s}" in taken or f"--no-{s}" in taken for n in names for s in _spellings(n)):
                names = [f"{section}_{name}"]
            _add_field(group, section, name, names, info)


def _add_field(group: argparse._ArgumentGroup, section: str, name: str, names: list[str],
               info: Any) -> None:
    dest = f"{_DEST_PREFIX}{section}.{name}"
    kind, conv = _field_kind(info.annotation)
    default = info.get_default(call_default_factory=True)
    help_text = (info.description or "").rstrip(".")
    shown = ",".join(default) if isinstance(default, list) else default
    flags = [f"--{s}" for n in names for s in _spellings(n)]
    _FLAG_OF_DEST[dest] = flags[0]
    if kind == "bool":
        group.add_argument(
            *flags, dest=dest, action=_BoolAction, value=True, default=argparse.SUPPRESS,
            help=f"{help_text} (default: {str(default).lower()}; also --no-{names[0]}, "
            f"--{names[0]}=true|false)")
        negations = []
        for n in names:
            negations += [f"--no-{s}" for s in _spellings(n)] + [f"--no_{n}", f"--no{n}"]
        group.add_argument(*dict.fromkeys(negations), dest=dest, action=_BoolAction, value=False,
                           default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        explicit = [f"{f}={v}" for f in flags for v in (*_TRUE, *_FALSE)]
        group.add_argument(*explicit, dest=dest, action=_BoolAction, value=None,
                           default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return
    kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS,
                              "help": f"{help_text} (default: {shown})",
                              "metavar": _metavar(info.annotation)}
    if kind == "choice":
        kwargs["choices"] = conv
        kwargs["metavar"] = "{" + ",".join(conv) + "}"
    else:
        kwargs["type"] = conv
    group.add_argument(*flags, **kwargs)


def overrides_from_args(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """The flags the user gave: ``({"data.max_seq_length": 128}, {"data.max_seq_length":
    "--max_seq_length"})``."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, value in vars(args).items():
        if key.startswith(_DEST_PREFIX):
            path = key[len(_DEST_PREFIX):]
            values[path] = value
            origins[path] = _FLAG_OF_DEST.get(key, "--" + path.split(".", 1)[1])
    for item in getattr(args, "cfg_set", None) or []:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or "." not in path:
            raise ConfigError(f"--set {item!r}: expected SECTION.FIELD=VALUE, e.g. "
                              f"--set data.max_seq_length=128")
        try:
            values[path] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            values[path] = text
        origins[path] = f"--set {path}"
    return values, origins


def config_from_args(args: argparse.Namespace, *, show_notes: bool = True) -> Config:
    """Loads ``args.config`` (or the defaults), applies only the flags the user gave and
    validates; raises :class:`ConfigError` naming the file, field and value. The loader's notes
    (original-tool flags that have no field here) go to stderr unless ``show_notes`` is false."""
    values, origins = overrides_from_args(args)
    cfg = load_config(getattr(args, "config", None), overrides=values, override_origins=origins)
    if show_notes:
        for note in cfg.notes:
            print(f"albert-fast: note: {cfg.source}: {note}", file=sys.stderr)
    return cfg
