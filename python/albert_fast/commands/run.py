"""`albert-fast run CONFIG`: prepare-corpus -> train-tokenizer -> create-data -> pretrain ->
export-hf, driven by one YAML, skipping stages that are up to date."""

from __future__ import annotations

import argparse

from albert_fast.run import STAGES, run_pipeline


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="the whole pipeline, raw text to a Hugging Face model, from one config",
        description="Run every stage from one YAML: a `run` section (input: raw text files or "
        "directories, output: the directory all stages write below, optional prepare/pretrain "
        "options and a fill_mask sentence) plus the model/text/tokenizer/data/pretraining "
        "sections. Each finished stage records what it was made from (config hash, input "
        "checksums, version) in OUTPUT/.stages and is skipped while that still matches; an "
        "interrupted run resumes in the stage where it stopped. See docs/run.md.",
    )
    p.add_argument("config", metavar="CONFIG", help="run config (e.g. configs/demo.yaml)")
    p.add_argument("--from", dest="from_stage", choices=STAGES, metavar="STAGE",
                   help=f"start at this stage (one of {', '.join(STAGES)}); earlier outputs "
                   "must exist")
    p.add_argument("--until", choices=STAGES, metavar="STAGE", help="stop after this stage")
    p.set_defaults(run=run, outputs=_outputs)


def _outputs(args: argparse.Namespace) -> list[str]:
    """The directory all stages write below (none while the config cannot be read: that fails
    before anything is written)."""
    from albert_fast.errors import AlbertFastError
    from albert_fast.run import load_run_config

    try:
        return [str(load_run_config(args.config)[0].output)]
    except (AlbertFastError, OSError, ValueError):
        return []


def run(args: argparse.Namespace) -> int:
    run_pipeline(args.config, from_stage=args.from_stage, until=args.until)
    return 0
