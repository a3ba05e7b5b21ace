"""`albert-fast pretrain --config CFG --data DIR -o RUN`: train (or resume) ALBERT with LAMB.

Every flag of google-research/albert's run_pretraining.py is accepted with its meaning there,
so ``python -m albert.run_pretraining ...`` becomes ``albert-fast pretrain ...``.
TensorFlow is imported only when the verb runs, so ``albert-fast --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Optional

from albert_fast.commands._options import (add_bool_flag, add_config_arguments, add_noop_flags,
                                           config_from_args)
from albert_fast.runtime import STRATEGIES

STRATEGY_HELP = ("tf.distribute strategy: auto (TPU with --tpu/--use_tpu, multi-worker when "
                 "TF_CONFIG names several tasks, mirrored over several GPUs, else one device), "
                 "cpu, one_device, mirrored, multi_worker, tpu")

#: The data section's fields pretrain reads: the lengths the data was made with, and the
#: n-gram settings dynamic masking (masked_lm_budget > 0) re-masks with. The rest of
#: create-data's flags (dupe_factor, masked_lm_prob, ...) have no effect here.
DATA_FIELDS = ("max_seq_length", "max_predictions_per_seq", "do_whole_word_mask",
               "favor_shorter_ngram", "ngram", "reference_compat")

#: run_pretraining.py flags with no effect here, and why.
NOOP_FLAGS = {
    "num_tpu_cores": "TPUStrategy uses every core of the TPU it connects to",
}

_DESCRIPTION = """\
Train ALBERT on masked-LM + sentence-order TFRecords with LAMB (or AdamW), linear warm-up and
polynomial decay, as google-research/albert's run_pretraining.py. Checkpoints, TensorBoard
summaries and the resolved config go to the output directory; running the same command again
resumes from the latest intact checkpoint. Before training, every data file's checksums are
verified, its records counted against manifest.json and its first records checked against the
config; one run at a time writes into a run directory.

run_pretraining.py's command line works as it is (replace `python run_pretraining.py` by
`albert-fast pretrain`): --input_file (a glob or comma-separated files) is --data,
--output_dir is -o, --albert_config_file gives the architecture, --do_train/--do_eval,
--use_tpu with --tpu_name/--tpu_zone/--gcp_project/--master select the TPU, and every other flag
is a config field below under its own name. --num_tpu_cores is accepted and has no effect (the
TPU strategy uses all cores). Flags of create-data that have no effect on training
(--dupe_factor, --masked_lm_prob, ...) are refused.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain", help="pretrain ALBERT (MLM + SOP) on create-data TFRecords",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", "--input_file", "--input-file", dest="data", action="append",
                   default=[], metavar="DIR|GLOB",
                   help="create-data output directory (train-*/eval-* shards, manifest.json), "
                   "a directory of TFRecords, a glob or comma-separated files (repeatable; "
                   "--input_file is run_pretraining.py's name)")
    p.add_argument("-o", "--output", "--output_dir", "--output-dir", dest="output",
                   metavar="RUN", help="run directory: checkpoints, config.yaml, summaries, eval "
                   "results (required; --output_dir is run_pretraining.py's name)")
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
    p.add_argument("--no-eval", action="store_true", help="skip evaluation (as --do_eval=false)")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic TF ops and input order (slower; for reproducible runs)")
    original = p.add_argument_group(
        "run control (run_pretraining.py flags)",
        "as in run_pretraining.py; unset, albert-fast trains and then evaluates")
    add_bool_flag(original, ["do_train"], "do_train", "train (default: true); "
                  "--do_train=false --do_eval evaluates the run's latest checkpoint only",
                  default=None)
    add_bool_flag(original, ["do_eval"], "do_eval", "evaluate after training (default: true "
                  "here; run_pretraining.py's default is false)", default=None)
    add_bool_flag(original, ["use_tpu"], "use_tpu", "train on a TPU (the tpu strategy), found "
                  "by --tpu_name or --master, else the local one", default=None)
    original.add_argument("--tpu_name", "--tpu-name", metavar="NAME",
                          help="the Cloud TPU's name or grpc:// address (with --use_tpu)")
    original.add_argument("--tpu_zone", "--tpu-zone", metavar="ZONE", help="its GCE zone")
    original.add_argument("--gcp_project", "--gcp-project", metavar="PROJECT",
                          help="its GCP project")
    original.add_argument("--master", metavar="URL",
                          help="TensorFlow master URL of the TPU (with --use_tpu, when there is "
                          "no --tpu_name)")
    add_noop_flags(p, "run_pretraining.py", NOOP_FLAGS)
    add_config_arguments(p, {"model": None, "data": DATA_FIELDS, "pretraining": None})
    p.set_defaults(run=run)


def device_options(args: argparse.Namespace) -> tuple[str, Optional[str], dict, list[str]]:
    """(strategy, tpu, tpu options, notes) from --strategy/--tpu and run_pretraining.py's
    --use_tpu/--tpu_name/--tpu_zone/--gcp_project/--master, with the original's meaning:
    the TPU flags count only with --use_tpu."""
    notes: list[str] = []
    tpu_flags = {"--tpu_name": args.tpu_name, "--tpu_zone": args.tpu_zone,
                 "--gcp_project": args.gcp_project, "--master": args.master}
    given = [flag for flag, value in tpu_flags.items() if value]
    if not args.use_tpu:
        if given:
            notes.append(f"{', '.join(given)} ignored without --use_tpu (as in "
                         "run_pretraining.py)")
        return args.strategy, args.tpu, {}, notes
    if args.strategy not in ("auto", "tpu"):
        raise ValueError(f"--use_tpu contradicts --strategy {args.strategy}")
    if args.tpu and args.tpu_name and args.tpu != args.tpu_name:
        raise ValueError(f"--tpu {args.tpu} and --tpu_name {args.tpu_name} name different TPUs")
    tpu = args.tpu or args.tpu_name or args.master or ""
    return "tpu", tpu, {"zone": args.tpu_zone, "project": args.gcp_project}, notes


def run(args: argparse.Namespace) -> int:
    import sys

    from albert_fast.pretrain import pretrain

    if not args.data:
        raise ValueError("no training data: give --data DIR (or --input_file GLOB)")
    if not args.output:
        raise ValueError("no run directory: give -o RUN (or --output_dir RUN)")
    do_train = True if args.do_train is None else args.do_train
    do_eval = (not args.no_eval) if args.do_eval is None else args.do_eval
    if args.no_eval and args.do_eval:
        raise ValueError("--no-eval contradicts --do_eval")
    if not (do_train or do_eval):
        raise ValueError("at least one of --do_train and --do_eval must be true (as in "
                         "run_pretraining.py)")
    strategy, tpu, tpu_options, notes = device_options(args)
    cfg = config_from_args(args)
    for note in notes:
        print(f"albert-fast pretrain: note: {note}", file=sys.stderr)
    result = pretrain(
        cfg, args.data, args.output, eval_data=args.eval_data, strategy=strategy,
        tpu=tpu, tpu_options=tpu_options, num_train_steps=args.stop_at, do_train=do_train,
        do_eval=do_eval, eval_every=args.eval_every, deterministic=args.deterministic,
        progress=lambda line: print(line, flush=True))
    print(f"done: step {result.step}, run directory {result.output_dir}")
    return 0
