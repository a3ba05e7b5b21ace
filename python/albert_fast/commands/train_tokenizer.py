"""`albert-fast train-tokenizer INPUT... -o DIR [--config CFG] [--vocab-size N] [--threads N]`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-tokenizer",
        help="train a SentencePiece tokenizer with ALBERT's special symbols",
        description="Train a SentencePiece model (unigram by default) with ALBERT's conventions: "
        "<pad>=0, <unk>=1, [CLS]=2, [SEP]=3, [MASK]=4, no BOS/EOS. The text normalization of the "
        "config's `text` section (lowercase, strip_accents) is applied to the training text "
        "exactly as create-data applies it. At most tokenizer.input_sentence_size sentences are "
        "sampled from the input with bounded memory. Writes DIR/spiece.model, DIR/spiece.vocab "
        "and DIR/tokenizer_config.json.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="text files (one sentence per line; .gz/.zst/.bz2 are decompressed), "
                   "directories (read recursively) or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    p.add_argument("--config", metavar="CFG", help="YAML/JSON config (text, tokenizer sections)")
    p.add_argument("--vocab-size", "--vocab_size", dest="vocab_size", type=int, metavar="N",
                   help="total vocabulary size, the 5 special pieces included (default: "
                   "tokenizer.vocab_size, else model.vocab_size)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads for reading and normalizing (default: all cores); the output "
                   "does not depend on it")
    g = p.add_argument_group("settings (override the config)")
    g.add_argument("--lowercase", "--do-lower-case", "--do_lower_case", dest="lowercase", type=_bool,
                   metavar="BOOL", help="text.lowercase")
    g.add_argument("--strip-accents", "--strip_accents", dest="strip_accents", type=_bool,
                   metavar="BOOL", help="text.strip_accents")
    g.add_argument("--model-type", "--model_type", dest="model_type",
                   choices=["unigram", "bpe", "char", "word"], help="tokenizer.model_type")
    g.add_argument("--character-coverage", "--character_coverage", dest="character_coverage",
                   type=float, metavar="X", help="tokenizer.character_coverage")
    g.add_argument("--input-sentence-size", "--input_sentence_size", dest="input_sentence_size",
                   type=int, metavar="N", help="tokenizer.input_sentence_size")
    g.add_argument("--shuffle", "--shuffle-input-sentence", "--shuffle_input_sentence",
                   dest="shuffle", type=_bool, metavar="BOOL", help="tokenizer.shuffle")
    g.add_argument("--user-defined-symbols", "--user_defined_symbols", dest="user_defined_symbols",
                   metavar="A,B,...", help="tokenizer.user_defined_symbols, comma-separated "
                   "(an empty string for none)")
    g.add_argument("--random-seed", "--random_seed", dest="random_seed", type=int, metavar="N",
                   help="data.random_seed (seeds the sentence sample)")
    g.add_argument("--reference-compat", "--reference_compat", dest="reference_compat", type=_bool,
                   metavar="BOOL", help="data.reference_compat (Q3: no quote replacement)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=run)


_OVERRIDES = {
    "lowercase": ("text", "lowercase"),
    "strip_accents": ("text", "strip_accents"),
    "model_type": ("tokenizer", "model_type"),
    "character_coverage": ("tokenizer", "character_coverage"),
    "input_sentence_size": ("tokenizer", "input_sentence_size"),
    "shuffle": ("tokenizer", "shuffle"),
    "user_defined_symbols": ("tokenizer", "user_defined_symbols"),
    "random_seed": ("data", "random_seed"),
    "reference_compat": ("data", "reference_compat"),
}


def _config(args: argparse.Namespace):
    from pydantic import ValidationError

    from albert_fast.config import Config, load_config
    from albert_fast.errors import ConfigError

    cfg = load_config(args.config) if args.config else Config()
    data: dict[str, Any] = cfg.model_dump()
    for arg, (section, field) in _OVERRIDES.items():
        value = getattr(args, arg)
        if value is None:
            continue
        if arg == "user_defined_symbols":
            value = [s for s in value.split(",") if s]
        data[section][field] = value
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"bad setting: {problems}") from None


def run(args: argparse.Namespace) -> int:
    from albert_fast.tokenizer_train import train_tokenizer

    summary = train_tokenizer(args.inputs, args.output, config=_config(args), vocab_size=args.vocab_size,
                              threads=args.threads, progress=args.progress)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        s = summary["input"]
        print(f"wrote {summary['model_file']}, {summary['vocab_file']}, {summary['config_file']}")
        print(f"  vocab_size {summary['vocab_size']} ({summary['model_type']}), trained on "
              f"{summary['sentences']:,} sentences sampled from {s['lines'] - s['blank_lines']:,} "
              f"non-blank lines in {s['files']} file(s), {summary['seconds']:.1f} s")
    sys.stdout.flush()
    return 0
