"""`albert-fast pretrain --config CFG --data DIR -o RUN`: train (or resume) ALBERT with LAMB.

TensorFlow is imported only when the verb runs, so ``albert-fast --help`` stays fast.
"""

from __future__ import annotations

import argparse

from albert_fast.commands._options import add_config_arguments, config_from_args
from albert_fast.runtime import STRATEGIES

STRATEGY_HELP = ("tf.distribute strategy: auto (TPU with --tpu, multi-worker when TF_CONFIG names "
                 "several tasks, mirrored over several GPUs, else one device), cpu, one_device, "
                 "mirrored, multi_worker, tpu")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain ALBERT (MLM + SOP) on create-data TFRecords",
        description="Train ALBERT on masked-LM + sentence-order TFRecords with LAMB (or AdamW), "
        "linear warm-up and polynomial decay, as google-research/albert's run_pretraining.py. "
        "Checkpoints, TensorBoard summaries and the resolved config go to the output directory; "
        "running the same command again resumes from the latest intact checkpoint. Before "
        "training, every data file's checksums are verified, its records counted against "
        "manifest.json and its first records checked against the config; one run at a time "
        "writes into a run directory.",
    )
    p.add_argument("--data", required=True, metavar="DIR|GLOB",
                   help="create-data output directory (train-*/eval-* shards, manifest.json), "
                   "a directory of TFRecords, a glob or comma-separated files")
    p.add_argument("-o", "--output", required=True, metavar="RUN",
                   help="run directory: checkpoints, config.yaml, summaries, eval results")
    p.add_argument("--eval-data", metavar="DIR|GLOB",
                   help="held-out TFRecords (default: the eval-* shards of --data; without "
                   "any, evaluation uses the training files as the reference does, Q15)")
    p.add_argument("--strategy", default="auto", choices=STRATEGIES, help=STRATEGY_HELP)
    p.add_argument("--tpu", metavar="NAME", help="TPU name or address (implies --strategy tpu)")
    p.add_argument("--stop-at", type=int, metavar="STEP",
                   help="stop at this step (the schedule still spans num_train_steps); run "
                   "again without it to continue")
    p.add_argument("--eval-every", type=int, metavar="STEPS",
                   help="also evaluate every STEPS steps (default: only at the end)")
    p.add_argument("--no-eval", action="store_true", help="skip evaluation")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic TF ops and input order (slower; for reproducible runs)")
    add_config_arguments(p, sections=("model", "data", "pretraining"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from albert_fast.pretrain import pretrain

    cfg = config_from_args(args)
    result = pretrain(
        cfg, args.data, args.output, eval_data=args.eval_data, strategy=args.strategy,
        tpu=args.tpu, num_train_steps=args.stop_at, do_eval=not args.no_eval,
        eval_every=args.eval_every, deterministic=args.deterministic,
        progress=lambda line: print(line, flush=True))
    print(f"done: step {result.step}, run directory {result.output_dir}")
    return 0
