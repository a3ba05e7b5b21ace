"""Drop-in for the original command lines: the tutorial's create_pretraining_data.py and
run_pretraining.py lines run with `albert-fast create-data` / `albert-fast pretrain` in place of
the scripts (tiny data, a few steps), every original flag keeps its meaning, flags of the other
verb are refused and unknown ones get "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from data_fixtures import corpus_dir, spm_dir  # noqa: F401 (fixtures)

from albert_fast.cli import build_parser, main

# The tutorial's create_pretraining_data.py flags after --input_file/--output_file/
# --spm_model_file/--vocab_file (docs: ALBERT_REFERENCE.md section 1), verbatim.
TUTORIAL_CREATE_DATA = ("--do_lower_case --max_seq_length 512 --max_predictions_per_seq 20 "
                        "--random_seed 12345 --dupe_factor 2 --masked_lm_prob 0.15 "
                        "--short_seq_prob 0.2 --do_permutation=false "
                        "--random_next_sentence=false --do_whole_word_mask "
                        "--favor_shorter_ngram --ngram 3").split()


def _tutorial_create_data(corpus_dir: Path, spm_dir: Path, outputs: str) -> list[str]:
    files = ",".join(str(p) for p in sorted(corpus_dir.glob("*.txt")))
    return ["create-data", f"--input_file={files}", f"--output_file={outputs}",
            f"--spm_model_file={spm_dir / 'spiece.model'}",
            f"--vocab_file={spm_dir / 'spiece.vocab'}", *TUTORIAL_CREATE_DATA]


def _records(path: Path) -> int:
    from albert_fast.records import read_examples

    return sum(1 for _ in read_examples(path))


def test_create_data_tutorial_command_line(corpus_dir, spm_dir, tmp_path):  # noqa: F811
    """`--output_file` names the shards: one file holds exactly what a plain run's single shard
    holds; two files split the training text between them; manifest.json sits beside them."""
    one = tmp_path / "one" / "tf_examples.tfrecord"
    proc = run_cli(*_tutorial_create_data(corpus_dir, spm_dir, str(one)), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in one.parent.iterdir()) == [".progress", "manifest.json",
                                                             "tf_examples.tfrecord"]
    plain = tmp_path / "plain"
    proc = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(plain),
                   *TUTORIAL_CREATE_DATA, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert one.read_bytes() == (plain / "train-00000-of-00001.tfrecord").read_bytes()
    manifest = json.loads((one.parent / "manifest.json").read_text())
    assert manifest["files"]["train"][0]["file"] == "tf_examples.tfrecord"
    assert manifest["config"]["short_seq_prob"] == 0.2 and manifest["config"]["dupe_factor"] == 2

    two = [tmp_path / "two" / "a.tfrecord", tmp_path / "two" / "b.tfrecord"]
    proc = run_cli(*_tutorial_create_data(corpus_dir, spm_dir, ",".join(map(str, two))),
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert all(_records(p) for p in two)
    # The same documents, split in two (instances differ: each shard has its own random stream).
    docs = lambda d: [f["documents"] for f in json.loads((d / "manifest.json").read_text())["files"]["train"]]  # noqa: E731
    assert len(docs(two[0].parent)) == 2 and sum(docs(two[0].parent)) == sum(docs(one.parent))


def test_create_data_original_flags_keep_their_meaning(corpus_dir, spm_dir, tmp_path):  # noqa: F811
    base = ["create-data", str(corpus_dir), "--spm_model_file", str(spm_dir), "-o",
            str(tmp_path / "o"), "--max_seq_length", "64", "--no-progress"]
    # vocab_file is checked against the model (Q4: the model holds the vocabulary).
    other = tmp_path / "other.vocab"
    lines = (spm_dir / "spiece.vocab").read_text(encoding="utf-8").splitlines()
    other.write_text("\n".join(lines[:7] + ["nonsense\t0"] + lines[8:]) + "\n", encoding="utf-8")
    proc = run_cli(*base, "--vocab_file", str(other))
    assert proc.returncode == 2 and "line 8 is 'nonsense'" in proc.stderr, proc.stderr
    proc = run_cli(*base, "--vocab_file", str(tmp_path / "missing.vocab"))
    assert proc.returncode == 2 and "missing.vocab: not found" in proc.stderr
    assert not (tmp_path / "o").exists()
    # A flag with no effect is accepted with a one-line note; the output files must share a
    # directory.
    proc = run_cli(*base, "--input_file_mode=r", "--dupe_factor=1")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "--input_file_mode" in line]
    assert len(notes) == 1 and "UTF-8" in notes[0], proc.stderr
    proc = run_cli("create-data", str(corpus_dir), "--spm_model_file", str(spm_dir),
                   f"--output_file={tmp_path / 'x' / 'a'},{tmp_path / 'y' / 'b'}")
    assert proc.returncode == 2 and "one directory" in proc.stderr


@pytest.mark.slow
def test_run_pretraining_tutorial_command_line(corpus_dir, spm_dir, tmp_path):  # noqa: F811
    """The issue's run_pretraining.py line with `albert-fast pretrain` (tiny architecture from
    --albert_config_file, a few steps, warm start from an original-layout TF1 checkpoint), then
    --do_train=false evaluates the run's checkpoint; the run records the data's tokenizer."""
    from test_export import _write_tf1_checkpoint

    from albert_fast.config import ModelConfig
    from albert_fast.convert import model_weights
    from albert_fast.model import build_pretraining_model

    data = tmp_path / "data" / "tf_examples.tfrecord"
    proc = run_cli(*_tutorial_create_data(corpus_dir, spm_dir, str(data)), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    import sentencepiece as spm

    vocab = spm.SentencePieceProcessor(model_file=str(spm_dir / "spiece.model")).get_piece_size()
    arch = ModelConfig(vocab_size=vocab, embedding_size=16, hidden_size=32, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    config_file = tmp_path / "albert_config.json"
    config_file.write_text(json.dumps(arch.model_dump()))
    init = tmp_path / "released" / "model.ckpt-0"
    init.parent.mkdir()
    _write_tf1_checkpoint(model_weights(build_pretraining_model(arch)), init, arch.model_dump())

    run = tmp_path / "run"
    line = (f"--input_file={data.parent}/*.tfrecord --output_dir={run} "
            f"--init_checkpoint={init} --albert_config_file={config_file} --do_train --do_eval "
            "--train_batch_size=8 --eval_batch_size=8 --max_seq_length=512 "
            "--max_predictions_per_seq=20 --optimizer=lamb --learning_rate=.00176 "
            "--num_train_steps=2 --num_warmup_steps=1").split()
    env = {"TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = run_cli("pretrain", *line, "--max_eval_steps=2", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "warm-started" in proc.stdout and "step 2/2" in proc.stdout
    assert json.loads((run / "eval_results.json").read_text())["global_step"] == 2
    recorded = json.loads((run / "inputs.json").read_text())
    assert Path(recorded["tokenizer"]) == (spm_dir / "spiece.model").resolve()
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["hidden_size"] == 32

    (run / "eval_results.json").unlink()
    proc = run_cli("pretrain", f"--input_file={data}", f"--output_dir={run}",
                   f"--albert_config_file={config_file}", "--do_train=false", "--do_eval",
                   "--eval_batch_size=8", "--max_eval_steps=1", "--max_seq_length=512",
                   "--num_tpu_cores=8", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "step 2/" not in proc.stdout and "eval " in proc.stdout
    assert "--num_tpu_cores: accepted" in proc.stderr
    assert json.loads((run / "eval_results.json").read_text())["global_step"] == 2


def _parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_use_tpu_flags_select_the_tpu_strategy():
    from albert_fast.commands.pretrain import device_options

    base = ("pretrain", "--data", "d", "-o", "r")
    assert device_options(_parse(*base))[:2] == ("auto", None)
    strategy, tpu, options, notes = device_options(_parse(
        *base, "--use_tpu", "--tpu_name=my-tpu", "--tpu_zone", "us-central1-b",
        "--gcp_project=p"))
    assert (strategy, tpu, options, notes) == ("tpu", "my-tpu",
                                                {"zone": "us-central1-b", "project": "p"}, [])
    assert device_options(_parse(*base, "--use_tpu=true", "--master=grpc://10.0.0.2:8470"))[:2] \
        == ("tpu", "grpc://10.0.0.2:8470")
    assert device_options(_parse(*base, "--use_tpu"))[:2] == ("tpu", "")  # the local TPU
    # As in run_pretraining.py, the TPU flags count only with --use_tpu.
    strategy, tpu, _, notes = device_options(_parse(*base, "--nouse_tpu", "--tpu_name=x"))
    assert strategy == "auto" and tpu is None and "--tpu_name ignored" in notes[0]
    with pytest.raises(ValueError, match="contradicts"):
        device_options(_parse(*base, "--use_tpu", "--strategy", "mirrored"))


def test_absl_spellings_and_run_control(capsys):
    args = _parse("pretrain", "--input_file=a,b", "--input_file", "c", "--output_dir=r",
                  "--nodo_eval", "--do_train=true", "--learning_rate=.00176",
                  "--init_from_group0=false", "--random_seed", "7")
    assert args.data == ["a,b", "c"] and args.output == "r"
    assert args.do_eval is False and args.do_train is True
    assert vars(args)["cfg:pretraining.learning_rate"] == 0.00176
    assert vars(args)["cfg:pretraining.init_from_group0"] is False
    assert vars(args)["cfg:pretraining.random_seed"] == 7  # the trainer's seed, not the data's
    assert main(["pretrain", "--data", "d", "-o", "r", "--do_train=false",
                 "--do_eval=false"]) == 2
    assert "at least one of --do_train and --do_eval" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["pretrain", "--data", "d", "-o", "r", "--dupe_factor", "2"],
     "--dupe_factor is a setting of create-data; it has no effect on pretrain"),
    (["pretrain", "--data", "d", "-o", "r", "--masked_lm_prob=0.2"],
     "--masked_lm_prob is a setting of create-data"),
    (["create-data", "x", "--tokenizer", "t", "-o", "o", "--do_train"],
     "--do_train is a setting of pretrain"),
    (["create-data", "x", "--tokenizer", "t", "-o", "o", "--learning_rate", "1"],
     "--learning_rate is a setting of pretrain"),
    (["pretrain", "--data", "d", "-o", "r", "--learning_rte", "0.1"],
     "did you mean --learning_rate?"),
    (["create-data", "x", "--tokenizer", "t", "-o", "o", "--dupe-factr", "2"],
     "did you mean --dupe-factor?"),
    (["pretrain", "--data", "d", "-o", "r", "--max_seq", "128"],  # no abbreviations
     "did you mean --max_seq_length"),
    (["pretrain", "--data", "d", "-o", "r", "--set", "data.dupe_factor=3"],
     "does not use this setting"),
])
def test_flags_of_other_verbs_and_typos_are_refused(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err


def test_help_shows_only_what_the_verb_uses():
    verbs = {name: sub.format_help().split("\noptions:", 1)[1] for name, sub in
             next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices
                  and "pretrain" in a.choices).choices.items()}
    pretrain, create = verbs["pretrain"], verbs["create-data"]
    for flag in ("--dupe_factor", "--masked_lm_prob", "--short_seq_prob", "--do_permutation",
                 "--random_next_sentence", "--do_lower_case", "--output_file"):
        assert flag not in pretrain, flag
    for flag in ("--input_file", "--output_dir", "--albert_config_file", "--do_train",
                 "--do_eval", "--use_tpu", "--tpu_name", "--max_seq_length", "--ngram",
                 "--masked_lm_budget", "--init_checkpoint"):
        assert flag in pretrain, flag
    for flag in ("--num_train_steps", "--learning_rate", "--do_train", "--hidden_size"):
        assert flag not in create, flag
    for flag in ("--input_file", "--output_file", "--spm_model_file", "--vocab_file",
                 "--do_lower_case", "--dupe_factor"):
        assert flag in create, flag
    # Flags with no effect are hidden from the options but named in the description.
    assert "--input_file_mode" not in create and "--num_tpu_cores" not in pretrain


def test_noop_flag_notes_once(capsys):
    args = _parse("pretrain", "--data", "d", "-o", "r", "--num_tpu_cores=8")
    from albert_fast.commands._options import print_cli_notes

    print_cli_notes(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["albert-fast pretrain: note: --num_tpu_cores: accepted for compatibility "
                   "with run_pretraining.py; TPUStrategy uses every core of the TPU it "
                   "connects to"]
