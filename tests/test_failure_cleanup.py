"""A failed command leaves no empty directory behind that it created itself (its output
directory and the parents it made, `.progress/`, `punkt/`, a run directory, `.stages/`), for
every verb that writes; directories that were there before stay."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from data_fixtures import corpus_dir, spm_dir  # noqa: F401 (fixtures)

from albert_fast.io_utils import no_empty_dirs_left_on_failure

ENV = {"USE_TORCH": "0", "CUDA_VISIBLE_DEVICES": ""}


def _empty(tmp_path: Path) -> Path:
    f = tmp_path / "empty.txt"
    f.write_text("\n  \n\n", encoding="utf-8")
    return f


def _bad_utf8(tmp_path: Path) -> Path:
    f = tmp_path / "bad.txt"
    f.write_bytes(b"A fine sentence.\nAnother one.\n\nBroken \xff here.\n")
    return f


def _run_config(tmp_path: Path, out: Path) -> Path:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"run": {"input": [str(_empty(tmp_path))], "output": str(out)}}))
    return cfg


# Each case fails after the verb has made its output directory (and below it what it makes first).
CASES = {
    "prepare-corpus": lambda t, out, **_: ["prepare-corpus", str(_empty(t)), "-o", str(out)],
    "train-tokenizer": lambda t, out, **_: ["train-tokenizer", str(_empty(t)), "-o", str(out),
                                            "--vocab-size", "100"],
    "create-data": lambda t, out, spm, **_: ["create-data", str(_bad_utf8(t)), "--tokenizer", str(spm),
                                             "-o", str(out), "--no-progress"],
    "run": lambda t, out, **_: ["run", str(_run_config(t, out))],
}


@pytest.mark.parametrize("verb", sorted(CASES))
def test_a_failed_command_leaves_no_empty_directory_it_created(verb, tmp_path, spm_dir):
    new = tmp_path / "new"  # neither it nor the output below it exists
    out = new / "out"
    r = run_cli(*CASES[verb](tmp_path, out, spm=spm_dir), env=ENV)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert not new.exists(), sorted(str(p.relative_to(tmp_path)) for p in new.rglob("*"))


def test_pretrain_leaves_no_empty_run_directory(tmp_path, twain_data):
    # Fails after the run directory is made: Keras on a backend pretrain does not run on.
    from pretrain_data import tiny_config

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(num_train_steps=2, iterations_per_loop=1,
                                              save_checkpoints_steps=1).to_dict()))
    run = tmp_path / "new" / "run"
    r = run_cli("pretrain", "--config", str(cfg), "--data", str(twain_data), "-o", str(run),
                env={**ENV, "KERAS_BACKEND": "numpy"})
    assert r.returncode == 2 and "TensorFlow backend" in r.stderr, r.stderr
    assert not (tmp_path / "new").exists()


def test_only_new_empty_directories_are_removed(tmp_path):
    # What export-hf and import rely on too (their output's parent is made before the checks
    # inside the staging directory): the same guard in the CLI.
    (tmp_path / "out" / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError):
        with no_empty_dirs_left_on_failure([tmp_path / "out", tmp_path / "a" / "b"]):
            for d in ("out/new/deeper", "out/kept", "a/b/c"):
                (tmp_path / d).mkdir(parents=True)
            (tmp_path / "out" / "kept" / "f").write_text("x")
            raise RuntimeError("failed")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "out", "out/kept", "out/kept/f", "out/old"]
    with no_empty_dirs_left_on_failure([tmp_path / "ok"]):
        (tmp_path / "ok").mkdir()
    assert (tmp_path / "ok").is_dir(), "a command that succeeds keeps its (even empty) output"
