"""`albert-fast config show|validate CFG`."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "config",
        help="show or validate a config file",
        description="Load a YAML/JSON config (our layout, the original tutorial's layout with an "
        "`albert_config` block and flat flags, or a bare albert_config.json), validate it and "
        "print the resolved result.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the resolved config (defaults filled in)")
    show.add_argument("config", nargs="?", help="YAML or JSON file; omit for the defaults")
    show.add_argument("--format", choices=["yaml", "json"], default="yaml")
    val = sub.add_parser("validate", help="check a config and report every problem")
    val.add_argument("config", help="YAML or JSON file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.config import load_config, Config

    cfg = load_config(args.config) if args.config else Config()
    if args.action == "validate":
        print(f"{args.config}: OK")
        return 0
    data = cfg.model_dump(mode="json")
    if args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        import yaml

        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0
