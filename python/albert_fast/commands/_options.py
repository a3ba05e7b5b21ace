"""Config overrides on the command line, shared by every verb: :func:`add_config_arguments` in a
verb's ``add_parser`` makes every config field the verb uses a flag under its original and its
dashed name (``--max_seq_length`` / ``--max-seq-length``, booleans also ``--no-flag``,
``--noflag`` as absl spells it, and ``--flag=true|false``) plus ``--set SECTION.FIELD=VALUE``;
:func:`config_from_args` in its ``run`` applies only the flags the user gave over the file or the
defaults (docs/config.md). :func:`add_bool_flag` and :func:`add_noop_flags` give the original
scripts' other flags their spellings; :func:`unknown_flag_message` explains a flag the verb does
not take ("did you mean", or which verb it belongs to)."""

from __future__ import annotations

import argparse
import difflib
import sys
import typing
from typing import Any, Iterable, Mapping, Optional, Sequence

from pydantic import BaseModel

from albert_fast.config import (FIELD_ALIASES, FLAG_NAMES, SECTIONS, Config, SECTION_MODELS,
                                load_config, read_config_file)
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


def _is_structured(annotation: Any) -> bool:
    """A list of settings blocks, which no single flag can spell."""
    args = typing.get_args(annotation)
    return (typing.get_origin(annotation) is list and bool(args) and isinstance(args[0], type)
            and issubclass(args[0], BaseModel))


def _metavar(annotation: Any) -> str:
    text = str(annotation)
    for kind, label in (("list", "A,B,..."), ("int", "INT"), ("float", "FLOAT")):
        if kind in text:
            return label
    return "STR"


def _spellings(name: str) -> list[str]:
    dashed = name.replace("_", "-")
    return [name] if dashed == name else [name, dashed]


def add_config_arguments(parser: argparse.ArgumentParser,
                         sections: Iterable[str] | Mapping[str, Optional[Iterable[str]]] = ("data",),
                         *, config_option: bool = True, config_required: bool = False) -> None:
    """Adds ``--config CFG`` (unless ``config_option`` is false: the verb has its own ``config``
    argument), ``--set SECTION.FIELD=VALUE`` and one flag per config field the verb uses:
    ``sections`` names whole sections, or maps a section to the names of the fields the verb
    reads (``None``: all of them). A flag for any other field is not accepted on this verb (nor
    ``--set`` of it): a setting that has no effect here must not look as if it had one. With the
    ``model`` section comes ``--albert_config_file`` (run_pretraining.py's architecture file).

    A field name already taken (by the verb, or by an earlier section: ``vocab_size`` is in
    ``model`` and ``tokenizer``) is spelled ``--SECTION_FIELD`` instead."""
    chosen = dict(sections) if isinstance(sections, Mapping) else {s: None for s in sections}
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown config sections {unknown}; choose from {list(SECTIONS)}")
    used = {s: tuple(SECTION_MODELS[s].model_fields) if names is None else tuple(names)
            for s, names in chosen.items()}
    for section, names in used.items():
        bad = [n for n in names if n not in SECTION_MODELS[section].model_fields]
        if bad:
            raise ValueError(f"{section} has no fields {bad}")
    parser.set_defaults(cfg_fields={f"{s}.{n}" for s, names in used.items() for n in names})
    if config_option:
        parser.add_argument(
            "--config", metavar="CFG", required=config_required,
            help="YAML or JSON config (sections layout, the tutorial's albert_config + flat "
            "flags, or a bare albert_config.json); flags below override it"
            + ("" if config_required else "; omitted: the defaults"))
    parser.add_argument(
        "--set", dest="cfg_set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
        help="override a config field this command uses, e.g. --set model.hidden_size=256 "
        "(repeatable; VALUE is read as YAML: 128, 0.1, true, [a, b])")
    for section, names in used.items():
        group = parser.add_argument_group(
            _SECTION_TITLES[section],
            f"override the config's {section!r} section; unset flags keep the config's value")
        if section == "model":
            group.add_argument(
                "--albert_config_file", "--albert-config-file", dest="cfg_albert_config_file",
                metavar="JSON", help="the architecture from an original albert_config.json "
                "(run_pretraining.py's flag); it overrides the config's model section and the "
                "model flags here override it")
        fields = SECTION_MODELS[section].model_fields
        for name in names:
            if _is_structured(fields[name].annotation):
                continue  # lists of settings (pretraining.phases): the config file or --set
            spelled = list(FLAG_NAMES.get((section, name), (name, *FIELD_ALIASES.get((section, name), ()))))
            taken = parser._option_string_actions
            if any(f"--{s}" in taken or f"--no-{s}" in taken for n in spelled
                   for s in _spellings(n)):
                spelled = [f"{section}_{name}"]
            _add_field(group, section, name, spelled, fields[name])


def add_bool_flag(group: Any, names: Sequence[str], dest: str, help: str,
                  default: Any = argparse.SUPPRESS) -> None:
    """A boolean flag as absl and albert-fast spell it: ``--flag``, ``--noflag``,
    ``--no-flag``, ``--no_flag`` and ``--flag=true|false`` (also 1/0, yes/no, t/f), each name
    also with dashes. ``help`` is shown for the positive spelling only."""
    flags = [f"--{s}" for n in names for s in _spellings(n)]
    _FLAG_OF_DEST.setdefault(dest, flags[0])
    group.add_argument(*flags, dest=dest, action=_BoolAction, value=True, default=default,
                       help=help)
    negations = []
    for n in names:
        negations += [f"--no-{s}" for s in _spellings(n)] + [f"--no_{n}", f"--no{n}"]
    group.add_argument(*dict.fromkeys(negations), dest=dest, action=_BoolAction, value=False,
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    explicit = [f"{f}={v}" for f in flags for v in (*_TRUE, *_FALSE)]
    group.add_argument(*explicit, dest=dest, action=_BoolAction, value=None,
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)


class _NoteAction(argparse.Action):
    """A flag of the original scripts that has no effect here: accepted (with its value, or as
    a boolean), noted once on stderr when the command runs."""

    def __init__(self, option_strings: Sequence[str], dest: str, note: str = "",
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=kwargs.pop("nargs", None), **kwargs)
        self.note = note

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        notes = list(getattr(namespace, "cli_notes", None) or [])
        notes.append(f"{option_string.split('=', 1)[0]}: {self.note}")
        namespace.cli_notes = notes


def add_noop_flags(parser: argparse.ArgumentParser, script: str, flags: Mapping[str, str],
                   booleans: Iterable[str] = ()) -> None:
    """The flags of the original ``script`` that albert-fast accepts without effect, each with
    the one-line note printed when it is given (hidden from ``--help``; the verb's description
    lists them)."""
    parser.set_defaults(cli_notes=[])
    for name, note in flags.items():
        text = f"accepted for compatibility with {script}; {note}"
        if name in booleans:
            spellings = [f"--{s}" for s in _spellings(name)]
            spellings += [f"--no{name}", f"--no-{name}", f"--no_{name}"]
            spellings += [f"--{name}={v}" for v in (*_TRUE, *_FALSE)]
            parser.add_argument(*dict.fromkeys(spellings), action=_NoteAction, note=text,
                                nargs=0, help=argparse.SUPPRESS, dest=f"noop_{name}")
        else:
            parser.add_argument(*(f"--{s}" for s in _spellings(name)), action=_NoteAction,
                                note=text, metavar="VALUE", help=argparse.SUPPRESS,
                                dest=f"noop_{name}")


def print_cli_notes(args: argparse.Namespace) -> None:
    """The notes of the no-effect flags the user gave (:func:`add_noop_flags`), one line each."""
    for note in getattr(args, "cli_notes", None) or []:
        print(f"albert-fast {args.command}: note: {note}", file=sys.stderr)


def unknown_flag_message(parser: argparse.ArgumentParser, verb: str, token: str,
                         verbs: Mapping[str, argparse.ArgumentParser]) -> str:
    """Why ``token`` is not a flag of ``verb``: another verb's (a setting with no effect here),
    or a near miss of one of ``verb``'s flags ("did you mean")."""
    flag = token.split("=", 1)[0]
    if not flag.startswith("--"):
        return f"unrecognized argument {token!r}"
    owners = [name for name, p in verbs.items() if name != verb and flag in p._option_string_actions
              and name != "config"]
    if owners:
        return (f"{flag} is a setting of {' and '.join(owners)}; it has no effect on {verb}, "
                f"so it is not accepted here")
    ours = [o for o in parser._option_string_actions if o.startswith("--") and "=" not in o]
    key = flag.lstrip("-").replace("-", "_")
    # Suggest the spelling the user writes in: original (underscores) or dashed.
    dashed = "-" in flag.lstrip("-") and "_" not in flag
    by_key: dict[str, str] = {}
    for o in ours:
        k = o.lstrip("-").replace("-", "_")
        if k not in by_key or (("-" in o[2:]) == dashed and ("-" in by_key[k][2:]) != dashed):
            by_key[k] = o
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(by_key[c] for c in close)}?" if close else ""
    return f"unrecognized flag {flag}{hint} (see albert-fast {verb} --help)"


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
        add_bool_flag(group, names, dest, f"{help_text} (default: {str(default).lower()}; also "
                      f"--no-{names[0]}, --{names[0]}=true|false)")
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
    "--max_seq_length"})``. ``--albert_config_file`` contributes its fields first, so model
    flags given too override them. ``--set`` of a field the verb does not use is a
    ConfigError."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    architecture = getattr(args, "cfg_albert_config_file", None)
    if architecture:
        block = read_config_file(architecture)
        if not isinstance(block, Mapping):
            raise ConfigError(f"{architecture}: expected an albert_config.json object")
        for key, value in block.items():
            values[f"model.{key}"] = value
            origins[f"model.{key}"] = f"--albert_config_file {architecture}"
    for key, value in vars(args).items():
        if key.startswith(_DEST_PREFIX):
            path = key[len(_DEST_PREFIX):]
            values[path] = value
            origins[path] = _FLAG_OF_DEST.get(key, "--" + path.split(".", 1)[1])
    used = getattr(args, "cfg_fields", None)
    for item in getattr(args, "cfg_set", None) or []:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or "." not in path:
            raise ConfigError(f"--set {item!r}: expected SECTION.FIELD=VALUE, e.g. "
                              f"--set data.max_seq_length=128")
        if used is not None and path not in used and _is_field(path):
            verb = getattr(args, "command", None) or "this command"
            raise ConfigError(f"--set {path}: albert-fast {verb} does not use this setting, so "
                              "it would have no effect (it stays in the config file for the "
                              "stages that use it)")
        import yaml

        try:
            values[path] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            values[path] = text
        origins[path] = f"--set {path}"
    return values, origins


def _is_field(path: str) -> bool:
    section, _, name = path.partition(".")
    return section in SECTION_MODELS and name in SECTION_MODELS[section].model_fields


def config_from_args(args: argparse.Namespace, *, show_notes: bool = True) -> Config:
    """Loads ``args.config`` (or the defaults), applies only the flags the user gave and
    validates; raises :class:`ConfigError` naming the file, field and value. The loader's notes
    (original-tool flags that have no field here) go to stderr unless ``show_notes`` is false."""
    values, origins = overrides_from_args(args)
    cfg = load_config(getattr(args, "config", None), overrides=values, override_origins=origins)
    if show_notes:
        for note in cfg.notes:
            print(f"albert-fast: note: {cfg.source}: {note}", file=sys.stderr)
        print_cli_notes(args)
    return cfg
