"""`albert-fast import SOURCE -o DIR`: weights of a Hugging Face ALBERT directory, an original
TF1 ALBERT checkpoint or one of our checkpoints, converted into our checkpoint format."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import",
        help="convert an HF ALBERT directory or an original TF1 checkpoint into ours",
        description="Read ALBERT weights by their original TF names (bert/embeddings/..., "
        "cls/predictions/...) from a Hugging Face directory (model.safetensors or "
        "pytorch_model.bin), an original run_pretraining.py checkpoint (with albert_config.json "
        "beside it, or --config) or one of our runs, and write DIR/model (a checkpoint) and "
        "DIR/config.yaml. The result works as pretraining.init_checkpoint and for export-hf. "
        "(init_checkpoint also accepts the sources directly.)",
    )
    p.add_argument("source", metavar="SOURCE", help="HF directory, TF1 checkpoint prefix or "
                   "directory, or one of our run directories/checkpoints")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--config", metavar="CFG",
                   help="config (its model section is the architecture of a TF1 checkpoint)")
    p.add_argument("--init-from-group0", action="store_true",
                   help="copy layer group 0's weights into every group of the config's model")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.convert import import_weights

    import_weights(args.source, args.output, config=args.config,
                   init_from_group0=args.init_from_group0)
    return 0
