"""The config model: layouts, defaults, field and cross-field checks, overrides, shipped files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from albert_fast.commands._options import add_config_arguments, config_from_args, parse_bool
from albert_fast.config import (
    SECTIONS,
    Config,
    check_vocab_size,
    config_from_dict,
    dump_config,
    load_config,
    unsupported_settings,
)
from albert_fast.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "config"
CONFIGS = REPO / "configs"

# The spec's §1 example, flat values in the order listed there.
SPEC_ALBERT_CONFIG = dict(
    attention_probs_dropout_prob=0.1, hidden_act="gelu", hidden_dropout_prob=0.1,
    embedding_size=128, hidden_size=1024, initializer_range=0.02, intermediate_size=4096,
    max_position_embeddings=512, num_attention_heads=16, num_hidden_layers=24,
    num_hidden_groups=1, net_structure_type=0, gap_size=0, num_memory_blocks=0,
    inner_group_num=1, down_scale_factor=1, type_vocab_size=2, vocab_size=30000)


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    elif name.endswith(".json"):
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _error(raw, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# Defaults: those of the original tools (create_pretraining_data.py, run_pretraining.py flags at
# google-research/albert b772393) and of ALBERT-base v2.


def test_defaults_match_the_original_tools():
    cfg = Config()
    d, p = cfg.data, cfg.pretraining
    assert (d.max_seq_length, d.max_predictions_per_seq, d.random_seed, d.dupe_factor) == (512, 20, 12345, 40)
    assert (d.masked_lm_prob, d.short_seq_prob, d.ngram) == (0.15, 0.1, 3)
    assert (d.do_whole_word_mask, d.favor_shorter_ngram, d.do_permutation, d.random_next_sentence) == (
        True, True, False, False)
    assert d.reference_compat is False
    assert (p.optimizer, p.learning_rate, p.poly_power) == ("lamb", 0.00176, 1.0)
    assert (p.num_train_steps, p.num_warmup_steps, p.start_warmup_step) == (125000, 3125, 0)
    assert (p.save_checkpoints_steps, p.keep_checkpoint_max, p.iterations_per_loop) == (5000, 5, 1000)
    assert (p.train_batch_size, p.eval_batch_size, p.max_eval_steps) == (4096, 64, 100)
    assert p.init_checkpoint is None and p.init_from_group0 is False
    assert cfg.text.lowercase is True  # do_lower_case defaults to True
    assert cfg.text.strip_accents is False  # Q1 fixed by default


def test_default_model_is_albert_base_v2():
    published = json.loads((FIXTURES / "albert_base_v2_albert_config.json").read_text())
    assert Config().albert_config() == published


def test_every_field_has_a_description():
    from albert_fast.config import SECTION_MODELS

    for section, cls in SECTION_MODELS.items():
        for name, info in cls.model_fields.items():
            assert info.description, f"{section}.{name} has no description"


def test_model_fields_are_exactly_the_albert_config_fields_in_original_order():
    assert list(Config().albert_config()) == list(SPEC_ALBERT_CONFIG)


# ---------------------------------------------------------------------------------------------
# Layouts


@pytest.mark.parametrize("name", ["tutorial_spec.json", "tutorial_spec.yaml"])
def test_spec_example_loads_unchanged(name):
    cfg = load_config(FIXTURES / name)
    assert cfg.layout == "tutorial"
    assert cfg.albert_config() == SPEC_ALBERT_CONFIG
    assert cfg.text.lowercase is True
    d, p = cfg.data, cfg.pretraining
    assert (d.max_predictions_per_seq, d.random_seed, d.dupe_factor, d.masked_lm_prob,
            d.short_seq_prob, d.do_permutation, d.random_next_sentence, d.do_whole_word_mask,
            d.favor_shorter_ngram, d.ngram) == (20, 12345, 2, 0.15, 0.2, False, False, True, True, 3)
    assert (p.optimizer, p.poly_power, p.learning_rate, d.max_seq_length, p.num_train_steps,
            p.num_warmup_steps, p.save_checkpoints_steps, p.keep_checkpoint_max) == (
        "lamb", 1.0, 0.00176, 512, 125000, 3125, 5000, 5)
    # Q1: the loader says that accents are kept, unlike the original.
    assert any("Q1" in n for n in cfg.notes)


def test_spec_example_json_and_yaml_agree():
    assert load_config(FIXTURES / "tutorial_spec.json") == load_config(FIXTURES / "tutorial_spec.yaml")


def test_bare_albert_config_json():
    cfg = load_config(FIXTURES / "albert_base_v2_albert_config.json")
    assert cfg.layout == "albert_config.json"
    assert cfg.model.hidden_size == 768 and cfg.model.hidden_dropout_prob == 0.0
    assert cfg.data == Config().data  # everything else: defaults


def test_sections_layout_roundtrips_through_show(tmp_path):
    cfg = config_from_dict({"model": {"hidden_size": 256, "num_attention_heads": 4},
                            "data": {"max_seq_length": 128, "dupe_factor": 3}})
    assert cfg.layout == "sections"
    for fmt, ext in (("yaml", ".yaml"), ("json", ".json")):
        path = _write(tmp_path, "again" + ext, dump_config(cfg, fmt))
        assert load_config(path) == cfg


def test_tool_only_flags_are_accepted_with_a_note():
    cfg = config_from_dict({"albert_config": {"vocab_size": 30000}, "vocab_file": "30k-clean.vocab",
                            "spm_model_file": "30k-clean.model", "use_tpu": True,
                            "input_file": "a.txt", "output_dir": "run/"})
    notes = "\n".join(cfg.notes)
    assert "vocab_file" in notes and "Q4" in notes
    assert "spm_model_file" in notes and "--tokenizer" in notes
    assert "use_tpu" in notes and "input_file" in notes and "output_dir" in notes


def test_original_names_map_to_their_sections():
    cfg = config_from_dict({"do_lower_case": False, "shuffle_input_sentence": False,
                            "start_warmup_step": 7, "init_from_group0": True,
                            "character_coverage": 0.9995, "strip_accents": True})
    assert cfg.text.lowercase is False and cfg.text.strip_accents is True
    assert cfg.tokenizer.shuffle is False and cfg.tokenizer.character_coverage == 0.9995
    assert cfg.pretraining.start_warmup_step == 7 and cfg.pretraining.init_from_group0 is True


def test_albert_config_file_flag_loads_the_architecture(tmp_path):
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "albert_config.json").write_text(
        json.dumps({**SPEC_ALBERT_CONFIG, "hidden_size": 2048}))
    path = _write(tmp_path, "run.yaml", {"albert_config_file": "arch/albert_config.json", "ngram": 2})
    cfg = load_config(path)
    assert cfg.model.hidden_size == 2048 and cfg.data.ngram == 2


def test_albert_config_file_missing_names_both_files(tmp_path):
    path = _write(tmp_path, "run.yaml", {"albert_config_file": "nope.json"})
    with pytest.raises(ConfigError, match=r"run\.yaml.*albert_config_file.*nope\.json.*not found"):
        load_config(path)


def test_mixed_layout_and_given_twice(tmp_path):
    cfg = config_from_dict({"albert_config": {"vocab_size": 8000}, "text": {"strip_accents": True}})
    assert cfg.layout == "mixed" and cfg.text.strip_accents and cfg.model.vocab_size == 8000
    msg = _error({"data": {"ngram": 2}, "ngram": 3})
    assert "data.ngram is given twice" in msg and "ngram" in msg


def test_empty_file_is_the_defaults(tmp_path):
    assert load_config(_write(tmp_path, "empty.yaml", "")) == Config()


# ---------------------------------------------------------------------------------------------
# Errors name the file, the field and the value


def test_unknown_key_did_you_mean_in_section(tmp_path):
    path = _write(tmp_path, "c.yaml", {"data": {"dupe_factr": 3}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "data.dupe_factr" in msg and "did you mean 'dupe_factor'" in msg


def test_unknown_flat_key_did_you_mean():
    assert "did you mean 'masked_lm_prob'" in _error({"masked_lm_probability": 0.2})


def test_key_in_the_wrong_section_says_where_it_belongs():
    assert "belongs in section 'pretraining'" in _error({"data": {"optimizer": "lamb"}})


def test_unknown_section_did_you_mean():
    assert "did you mean 'pretraining'" in _error({"pretrainig": {}})


def test_type_error_names_field_value_and_original_key(tmp_path):
    path = _write(tmp_path, "t.json", {"albert_config": {}, "do_lower_case": "maybe"})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "text.lowercase (given as do_lower_case)" in msg and '"maybe"' in msg


def test_every_problem_is_reported():
    msg = _error({"data": {"dupe_factor": 0, "ngram": 0, "masked_lm_prob": 1.5, "bogus": 1}})
    assert "4 problems" in msg
    for part in ("data.dupe_factor = 0", "data.ngram = 0", "data.masked_lm_prob = 1.5", "data.bogus"):
        assert part in msg


@pytest.mark.parametrize("raw,part", [
    ({"ngram": True}, "data.ngram (given as ngram) = true: expected a number"),
    ({"pretraining": {"learning_rate": float("inf")}}, "pretraining.learning_rate = Infinity"),
    ({"data": {"masked_lm_prob": float("nan")}}, "data.masked_lm_prob = NaN"),
])
def test_booleans_and_non_finite_numbers_are_rejected(raw, part):
    assert part in _error(raw)


def test_numbers_written_as_text_are_read():
    # PyYAML reads 1e-4 (no dot) as a string; absl flags are text too.
    cfg = config_from_dict({"pretraining": {"learning_rate": "1e-4"}, "data": {"dupe_factor": "3"}})
    assert cfg.pretraining.learning_rate == 1e-4 and cfg.data.dupe_factor == 3


def test_section_that_is_not_a_mapping():
    assert "data must be a mapping" in _error({"data": [1, 2]})


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(_write(tmp_path, "list.yaml", "- 1\n- 2\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match=r"/no/such\.yaml: config file not found"):
        load_config("/no/such.yaml")


def test_unparsable_yaml_names_line(tmp_path):
    path = _write(tmp_path, "bad.yaml", "data:\n  ngram: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML at line \d+, column \d+"):
        load_config(path)


def test_unparsable_json_names_line(tmp_path):
    path = _write(tmp_path, "bad.json", '{"data": {"ngram": 3,}}')
    with pytest.raises(ConfigError, match=r"bad\.json: invalid JSON at line 1, column \d+"):
        load_config(path)


@pytest.mark.parametrize("name,text", [("dup.yaml", "ngram: 2\nngram: 3\n"),
                                       ("dup.json", '{"ngram": 2, "ngram": 3}')])
def test_duplicate_keys_are_rejected(tmp_path, name, text):
    with pytest.raises(ConfigError, match="'ngram' is given twice"):
        load_config(_write(tmp_path, name, text))


def test_binary_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


# ---------------------------------------------------------------------------------------------
# Cross-field checks (each message names the field and the value)


def test_max_seq_length_within_position_embeddings():
    msg = _error({"data": {"max_seq_length": 1024}})
    assert "data.max_seq_length = 1024" in msg and "model.max_position_embeddings = 512" in msg


def test_hidden_size_divisible_by_heads():
    msg = _error({"model": {"hidden_size": 100}})
    assert "model.hidden_size = 100" in msg and "num_attention_heads = 12" in msg


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, 1.5])
def test_masked_lm_prob_strictly_between_0_and_1(value):
    assert f"data.masked_lm_prob = {value}" in _error({"data": {"masked_lm_prob": value}})


def test_ngram_at_least_1():
    msg = _error({"ngram": 0})
    assert "data.ngram (given as ngram) = 0" in msg and "greater than or equal to 1" in msg


def test_warmup_within_train_steps():
    msg = _error({"pretraining": {"num_train_steps": 100, "num_warmup_steps": 200}})
    assert "pretraining.num_warmup_steps = 200" in msg and "num_train_steps = 100" in msg


def test_tokenizer_vocab_size_must_agree_with_model_q5():
    msg = _error({"model": {"vocab_size": 30000}, "tokenizer": {"vocab_size": 29997}})
    assert "tokenizer.vocab_size = 29997" in msg and "model.vocab_size = 30000" in msg and "Q5" in msg
    cfg = config_from_dict({"model": {"vocab_size": 8000}})
    assert cfg.tokenizer.vocab_size is None and cfg.tokenizer_vocab_size == 8000


def test_check_vocab_size_against_a_trained_tokenizer_q5():
    cfg = config_from_dict({"model": {"vocab_size": 30000}})
    check_vocab_size(cfg, 30000)
    with pytest.raises(ConfigError, match=r"model\.vocab_size = 30000 but the tokenizer has 29997"):
        check_vocab_size(cfg, 29997)
    cfg = config_from_dict({"model": {"vocab_size": 500}, "tokenizer": {"vocab_size": 500}})
    with pytest.raises(ConfigError, match=r"tokenizer\.vocab_size = 500 but the tokenizer has 400"):
        check_vocab_size(cfg, 400)


def test_type_vocab_size_covers_both_segments():
    assert "model.type_vocab_size = 1" in _error({"model": {"type_vocab_size": 1}})


def test_unsupported_architecture_variants_load_but_are_flagged():
    cfg = config_from_dict({"albert_config": {"net_structure_type": 1, "gap_size": 2,
                                              "num_memory_blocks": 3, "down_scale_factor": 2}})
    flagged = "\n".join(unsupported_settings(cfg))
    for part in ("net_structure_type = 1", "gap_size = 2", "num_memory_blocks = 3",
                 "down_scale_factor = 2"):
        assert part in flagged
    assert unsupported_settings(Config()) == []
    groups = unsupported_settings(config_from_dict({"model": {"num_hidden_groups": 13}}))
    assert len(groups) == 1 and "model.num_hidden_groups = 13" in groups[0]


def test_hidden_act_typo_is_rejected():
    msg = _error({"albert_config": {"hidden_act": "gleu"}})
    assert 'model.hidden_act (given as albert_config.hidden_act) = "gleu"' in msg and "'gelu'" in msg


def test_pydantic_errors_from_direct_construction_are_readable():
    from pydantic import ValidationError

    from albert_fast.cli import _describe

    with pytest.raises(ValidationError) as info:
        Config.model_validate({"data": {"max_seq_length": 4096}})
    assert _describe(info.value).startswith("invalid config: data.max_seq_length = 4096")


# ---------------------------------------------------------------------------------------------
# Overrides on the command line (the mechanism every verb uses)


def _parser(sections=("text", "data")) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("inputs", nargs="*")
    add_config_arguments(p, sections)
    return p


@pytest.mark.parametrize("flag", ["--max_seq_length", "--max-seq-length"])
def test_override_both_spellings(flag):
    cfg = config_from_args(_parser().parse_args([flag, "128"]))
    assert cfg.data.max_seq_length == 128


def test_only_given_flags_override_the_file(tmp_path):
    path = _write(tmp_path, "c.yaml", {"data": {"dupe_factor": 7, "ngram": 2}})
    cfg = config_from_args(_parser().parse_args(["--config", str(path), "--ngram", "1"]))
    assert cfg.data.dupe_factor == 7 and cfg.data.ngram == 1
    assert cfg.data.max_seq_length == 512  # untouched default


@pytest.mark.parametrize("argv,expected", [
    (["--do_whole_word_mask"], True),
    (["--no-do_whole_word_mask"], False),
    (["--no-do-whole-word-mask"], False),
    (["--nodo_whole_word_mask"], False),
    (["--do_whole_word_mask=false"], False),
    (["--do_whole_word_mask=False"], False),
    (["--do-whole-word-mask=0"], False),
    (["--do_whole_word_mask=true"], True),
])
def test_boolean_flag_spellings(tmp_path, argv, expected):
    path = _write(tmp_path, "c.yaml", {"data": {"do_whole_word_mask": not expected}})
    cfg = config_from_args(_parser().parse_args(["--config", str(path), *argv]))
    assert cfg.data.do_whole_word_mask is expected


def test_boolean_flag_does_not_swallow_a_positional():
    args = _parser().parse_args(["--do_whole_word_mask", "corpus/", "--do_lower_case=false"])
    assert args.inputs == ["corpus/"]
    cfg = config_from_args(args)
    assert cfg.data.do_whole_word_mask is True and cfg.text.lowercase is False


def test_bad_boolean_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--do_whole_word_mask=maybe"])


def test_original_alias_flag_do_lower_case():
    assert config_from_args(_parser().parse_args(["--no-do_lower_case"])).text.lowercase is False


def test_set_overrides_any_field_the_verb_uses():
    cfg = config_from_args(_parser(("model", "tokenizer")).parse_args(
        ["--set", "model.hidden_size=256", "--set", "model.num_attention_heads=4",
         "--set", "tokenizer.user_defined_symbols=[a, b]"]))
    assert cfg.model.hidden_size == 256 and cfg.tokenizer.user_defined_symbols == ["a", "b"]
    with pytest.raises(ConfigError, match="does not use this setting"):
        config_from_args(_parser().parse_args(["--set", "model.hidden_size=256"]))


def test_set_unknown_field_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'data.dupe_factor'"):
        config_from_args(_parser().parse_args(["--set", "data.dupe_factr=2"]))


def test_override_error_names_the_flag():
    with pytest.raises(ConfigError) as info:
        config_from_args(_parser().parse_args(["--max_seq_length", "1024"]))
    msg = str(info.value)
    assert "data.max_seq_length (given as --max_seq_length) = 1024" in msg


def test_vocab_size_collision_gets_a_section_prefix():
    p = _parser(("model", "tokenizer"))
    cfg = config_from_args(p.parse_args(["--vocab_size", "8000", "--tokenizer_vocab_size", "8000"]))
    assert cfg.model.vocab_size == 8000 and cfg.tokenizer.vocab_size == 8000


def test_verb_flag_taking_a_field_name_gets_the_prefix():
    p = argparse.ArgumentParser()
    p.add_argument("--max_seq_length", type=int)
    add_config_arguments(p, ("data",))
    args = p.parse_args(["--max_seq_length", "5", "--data_max_seq_length", "64"])
    assert args.max_seq_length == 5 and config_from_args(args).data.max_seq_length == 64


def test_verb_flag_in_dashed_spelling_also_counts_as_taken():
    p = argparse.ArgumentParser()
    p.add_argument("--no-shuffle", action="store_true")
    add_config_arguments(p, ("tokenizer",))
    args = p.parse_args(["--no-shuffle", "--tokenizer_shuffle=false"])
    assert args.no_shuffle and config_from_args(args).tokenizer.shuffle is False


def test_list_and_optional_flags():
    p = _parser(("tokenizer", "pretraining"))
    cfg = config_from_args(p.parse_args(["--user_defined_symbols", "(,),€", "--vocab_size", "none",
                                         "--init_checkpoint", "run/ckpt-5"]))
    assert cfg.tokenizer.user_defined_symbols == ["(", ")", "€"]
    assert cfg.tokenizer.vocab_size is None and cfg.pretraining.init_checkpoint == "run/ckpt-5"


def test_choice_flag_rejects_unknown_value():
    with pytest.raises(SystemExit):
        _parser(("pretraining",)).parse_args(["--optimizer", "sgd"])


def test_parse_bool():
    assert parse_bool("true") and parse_bool("1") and parse_bool("Yes")
    assert not parse_bool("false") and not parse_bool("0") and not parse_bool("NO")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bool("maybe")


def test_unknown_section_name_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown config sections"):
        add_config_arguments(argparse.ArgumentParser(), ("datta",))


# ---------------------------------------------------------------------------------------------
# Shipped configs


def _albert_parameters(m) -> int:
    """AlbertModel's parameter count (embeddings, projection, shared groups, pooler)."""
    h, e, i = m.hidden_size, m.embedding_size, m.intermediate_size
    emb = (m.vocab_size + m.max_position_embeddings + m.type_vocab_size) * e + 2 * e
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    return emb + (e * h + h) + m.num_hidden_groups * m.inner_group_num * layer + (h * h + h)


@pytest.mark.parametrize("name,hidden,layers,heads,inter,params", [
    # Parameter counts: those of Hugging Face's AlbertModel for albert-{base,large,xlarge,xxlarge}-v2.
    ("base", 768, 12, 12, 3072, 11_683_584),
    ("large", 1024, 24, 16, 4096, 17_683_968),
    ("xlarge", 2048, 24, 16, 8192, 58_724_864),
    ("xxlarge", 4096, 12, 64, 16384, 222_595_584),
])
def test_published_v2_configs(name, hidden, layers, heads, inter, params):
    cfg = load_config(CONFIGS / f"albert_{name}.yaml")
    m = cfg.model
    assert (m.hidden_size, m.num_hidden_layers, m.num_attention_heads, m.intermediate_size) == (
        hidden, layers, heads, inter)
    assert (m.vocab_size, m.embedding_size, m.max_position_embeddings, m.type_vocab_size) == (
        30000, 128, 512, 2)
    assert (m.num_hidden_groups, m.inner_group_num, m.hidden_act, m.initializer_range) == (
        1, 1, "gelu", 0.02)
    assert m.hidden_dropout_prob == 0.0 and m.attention_probs_dropout_prob == 0.0  # v2
    assert _albert_parameters(m) == params
    assert unsupported_settings(cfg) == []
    p = cfg.pretraining
    assert (p.optimizer, p.learning_rate, p.train_batch_size, p.num_train_steps) == (
        "lamb", 0.00176, 4096, 125000)


def test_tiny_config_is_tiny_and_valid():
    cfg = load_config(CONFIGS / "tiny.yaml")
    m, d = cfg.model, cfg.data
    assert m.num_hidden_layers <= 2 and m.hidden_size <= 128 and _albert_parameters(m) < 500_000
    assert d.max_seq_length <= m.max_position_embeddings
    assert cfg.pretraining.num_train_steps <= 1000
    assert unsupported_settings(cfg) == []


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")) + sorted(CONFIGS.glob("*.json")),
                         ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert set(cfg.to_dict()) == set(SECTIONS)


def test_docs_list_every_field_with_its_default():
    """docs/config.md's tables are generated from the model; keep them in step."""
    from albert_fast.config import SECTION_MODELS

    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    for section, cls in SECTION_MODELS.items():
        table = text.split(f"### `{section}`", 1)[1].split("###", 1)[0]
        for name, info in cls.model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = ("null" if default is None else str(default).lower() if isinstance(default, bool)
                     else " ".join(default) if isinstance(default, list) else str(default))
            assert f"| `{name}`" in table and f"| `{shown}` |" in table, f"{section}.{name}"


def test_as_config_accepts_every_form_and_applies_overrides(tmp_path):
    from albert_fast.config import as_config

    path = tmp_path / "c.yaml"
    path.write_text("data:\n  dupe_factor: 3\n", encoding="utf-8")
    from_file = as_config(path)
    assert from_file.data.dupe_factor == 3 and from_file.source == str(path)
    assert as_config({"data": {"dupe_factor": 3}}) == from_file
    assert as_config(None) == Config()
    same = as_config(from_file)
    assert same is from_file
    changed = as_config(from_file, {"data.max_seq_length": 128})
    assert (changed.data.max_seq_length, changed.data.dupe_factor) == (128, 3)
    assert from_file.data.max_seq_length == 512, "the given config is not modified"
    with pytest.raises(ConfigError, match="did you mean 'data.max_seq_length'"):
        as_config(from_file, {"data.max_seq_lenght": 128})
    with pytest.raises(TypeError, match="not int"):
        as_config(5)
