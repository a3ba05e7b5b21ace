"""`albert-fast export-hf RUN_OR_CHECKPOINT -o HF_DIR`: a directory Hugging Face Transformers
loads, verified against our model before it appears under its final name."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-hf",
        help="export a checkpoint as a Hugging Face ALBERT directory (verified)",
        description="Write config.json, model.safetensors (AlbertForPreTraining), spiece.model and "
        "tokenizer files with the data's normalization, then check them: HF's MLM/SOP logits "
        "within 1e-4 of ours, AutoTokenizer gives our ids, fill-mask runs. A failed check is an "
        "error and leaves nothing under HF_DIR. The tokenizer is the one pretrain recorded from "
        "the data's manifest.json unless --tokenizer names one. Ends with a command line that "
        "runs fill-mask on the export. transformers 4.45+ and 5.x; needs albert-fast[hf].",
    )
    p.add_argument("source", metavar="RUN_OR_CHECKPOINT",
                   help="run directory (latest checkpoint), RUN/best, an `albert-fast import` "
                   "output or a checkpoint prefix such as RUN/ckpt-5000")
    p.add_argument("-o", "--output", required=True, metavar="HF_DIR", help="output directory")
    p.add_argument("--tokenizer", metavar="MODEL|DIR",
                   help="spiece.model (or its directory) the data was made with (default: the "
                   "one recorded with the run)")
    p.add_argument("--config", metavar="CFG",
                   help="config the run was trained with; must agree with RUN/config.yaml")
    p.add_argument("--data", metavar="DIR",
                   help="create-data output whose first instances check the logits (default: a "
                   "random batch)")
    p.add_argument("--text", action="append", default=[], metavar="FILE",
                   help="text file whose lines join the tokenizer check (repeatable)")
    p.add_argument("--fill-mask", metavar="TEXT",
                   help="sentence with [MASK] for the fill-mask check")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the checks (no torch needed); not recommended")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.export_hf import export_hf, fill_mask_lines

    report = export_hf(args.source, args.output, tokenizer=args.tokenizer, config=args.config,
                       data=args.data, texts=args.text, verify=not args.no_verify,
                       fill_mask_text=args.fill_mask)
    if report.fill_mask:
        print("\n".join(fill_mask_lines(report.fill_mask, report.fill_mask_text)))
    return 0
