"""`albert-fast config show|validate` and the CLI frame, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from albert_fast.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "config"


def test_top_level_help_teaches_the_pipeline():
    out = run_cli("--help")
    assert out.returncode == 0
    for stage in ("prepare-corpus", "train-tokenizer", "create-data", "pretrain", "export-hf",
                  "config validate", "--do_whole_word_mask=false"):
        assert stage in out.stdout


def test_every_verb_has_a_helpful_help():
    """Every registered verb (and sub-action) has a one-line help and a --help that exits 0."""
    parser = build_parser()
    verbs = parser._subparsers._group_actions[0]
    for choice in verbs._choices_actions:
        assert choice.help, f"{choice.dest} has no help line"
    for name, sub in verbs.choices.items():
        text = sub.format_help()
        assert len(text) > 200, f"{name} --help is too thin"


def test_each_verb_alone_parses_as_with_every_verb():
    """A command line naming a verb builds only that verb's parser (start-up): each module of
    cli.COMMANDS registers exactly its verb, and parsing the same line gives the same result."""
    from albert_fast.cli import COMMANDS

    full = build_parser()
    assert list(full._subparsers._group_actions[0].choices) == list(COMMANDS)
    for verb in COMMANDS:
        assert list(build_parser(verb)._subparsers._group_actions[0].choices) == [verb]
    line = ["create-data", "in.txt", "--tokenizer", "tok", "-o", "out", "--max_seq_length=128",
            "--do_whole_word_mask=false", "--threads", "2"]
    alone, everything = build_parser("create-data").parse_known_args(line), full.parse_known_args(line)
    assert {k: v for k, v in vars(alone[0]).items() if k != "run"} == \
        {k: v for k, v in vars(everything[0]).items() if k != "run"}
    assert alone[1] == everything[1] == []


@pytest.mark.parametrize("args", [("config", "--help"), ("config", "show", "--help"),
                                  ("config", "validate", "--help")])
def test_config_help(args):
    out = run_cli(*args)
    assert out.returncode == 0 and "albert_config" in out.stdout
    if "show" in args or "validate" in args:
        assert "--max_seq_length" in out.stdout and "--do_lower_case" in out.stdout


def test_show_defaults_yaml_loads_back():
    out = run_cli("config", "show")
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load(out.stdout)
    assert data["model"]["hidden_size"] == 768 and data["data"]["dupe_factor"] == 40


def test_show_tutorial_as_json_with_overrides():
    out = run_cli("config", "show", str(FIXTURES / "tutorial_spec.json"), "--format", "json",
                  "--max-seq-length", "128", "--no-do_whole_word_mask", "--favor_shorter_ngram=false",
                  "--set", "pretraining.num_train_steps=10000")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"]["hidden_size"] == 1024
    assert data["data"]["max_seq_length"] == 128 and data["data"]["dupe_factor"] == 2
    assert data["data"]["do_whole_word_mask"] is False and data["data"]["favor_shorter_ngram"] is False
    assert data["pretraining"]["num_train_steps"] == 10000
    assert "Q1" in out.stderr  # the note on accents goes to stderr, not into the output


def test_show_albert_config_only():
    out = run_cli("config", "show", str(REPO / "configs" / "albert_xxlarge.yaml"), "--albert-config",
                  "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["hidden_size"] == 4096 and data["num_attention_heads"] == 64 and "ngram" not in data


def test_show_output_validates(tmp_path):
    out = run_cli("config", "show", str(REPO / "configs" / "tiny.yaml"))
    path = tmp_path / "resolved.yaml"
    path.write_text(out.stdout)
    again = run_cli("config", "validate", str(path))
    assert again.returncode == 0 and "OK" in again.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").iterdir()))
def test_validate_every_shipped_config(name):
    out = run_cli("config", "validate", str(REPO / "configs" / name))
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout


def test_validate_spec_example():
    out = run_cli("config", "validate", str(FIXTURES / "tutorial_spec.yaml"))
    assert out.returncode == 0 and "layout: tutorial" in out.stdout


def test_validate_reports_every_problem_and_exits_1(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"hidden_size": 100, "max_position_embeddings": 128},
        "data": {"max_seq_length": 256, "dupe_factr": 2},
        "pretraining": {"num_train_steps": 10, "num_warmup_steps": 20}}))
    out = run_cli("config", "validate", str(path))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "did you mean 'dupe_factor'" in out.stderr
    path.write_text(yaml.safe_dump({
        "model": {"hidden_size": 100, "max_position_embeddings": 128},
        "data": {"max_seq_length": 256},
        "pretraining": {"num_train_steps": 10, "num_warmup_steps": 20}}))
    out = run_cli("config", "validate", str(path))
    assert out.returncode == 1
    for part in ("data.max_seq_length = 256", "model.hidden_size = 100",
                 "pretraining.num_warmup_steps = 20", "invalid (3 problems)"):
        assert part in out.stderr
    assert str(path) in out.stderr


def test_validate_flags_unsupported_variants_but_passes(tmp_path):
    path = tmp_path / "albert_config.json"
    data = json.loads((FIXTURES / "albert_base_v2_albert_config.json").read_text())
    path.write_text(json.dumps({**data, "net_structure_type": 1}))
    out = run_cli("config", "validate", str(path))
    assert out.returncode == 0
    assert "warning: model.net_structure_type = 1" in out.stderr and "layout: albert_config.json" in out.stdout


def test_validate_unparsable_file_exits_1(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"ngram": 3')
    out = run_cli("config", "validate", str(path))
    assert out.returncode == 1 and "invalid JSON at line 1" in out.stderr
    assert "Traceback" not in out.stderr


def test_validate_missing_file_exits_2():
    out = run_cli("config", "validate", "/no/such/config.yaml")
    assert out.returncode == 2 and "/no/such/config.yaml" in out.stderr and "not found" in out.stderr
    assert "Traceback" not in out.stderr


def test_show_invalid_config_is_one_clear_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  masked_lm_prob: 2\n")
    out = run_cli("config", "show", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{path}: data.masked_lm_prob = 2" in out.stderr


def test_validate_with_tokenizer_checks_vocab_size_q5(tmp_path):
    import sentencepiece as spm

    corpus = REPO / "examples" / "corpus" / "en-twain4.txt"
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(tmp_path / "sp"), vocab_size=500, pad_id=0, unk_id=1,
        eos_id=-1, bos_id=-1, control_symbols="[CLS],[SEP],[MASK]", minloglevel=2)
    model = str(tmp_path / "sp.model")
    cfg = str(REPO / "configs" / "tiny.yaml")
    bad = run_cli("config", "validate", cfg, "--tokenizer", model)
    assert bad.returncode == 1
    assert "model.vocab_size = 2000 but the tokenizer has 500 pieces" in bad.stderr
    good = run_cli("config", "validate", cfg, "--tokenizer", model, "--vocab_size", "500")
    assert good.returncode == 0, good.stderr


def test_bad_flag_value_is_a_usage_error():
    out = run_cli("config", "show", "--max_seq_length", "many")
    assert out.returncode == 2 and "invalid" in out.stderr and "Traceback" not in out.stderr
