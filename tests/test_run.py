"""`albert-fast run`: stage records, skipping, re-running on changed settings or inputs, resume
after an interruption, --from/--until, bad configs; and a real pretrain -> export-hf run that is
killed mid-training and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from albert_fast.errors import ConfigError  # noqa: E402
from albert_fast.run import STAGE_DIRS, STAGES, run_pipeline  # noqa: E402


def _write_config(path: Path, out: Path, inputs: list, **sections) -> Path:
    raw = {"run": {"input": [str(p) for p in inputs], "output": str(out)}}
    raw.update(sections)
    path.write_text(yaml.safe_dump(raw))
    return path


class FakeStages:
    """Stage functions that write one file each and count their calls; one may be told to
    fail (a simulated kill) after writing part of its output."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: str | None = None

    def funcs(self) -> dict:
        def make(stage):
            def run(ctx):
                self.calls.append(stage)
                d = ctx.dir(stage)
                d.mkdir(parents=True, exist_ok=True)
                (d / "partial").write_text("x")
                if self.fail == stage:
                    raise KeyboardInterrupt
                (d / "out.txt").write_text(f"{stage} {ctx.cfg.data.dupe_factor}")
                return {"stage": stage}
            return run
        return {s: make(s) for s in STAGES}


@pytest.fixture()
def fake_run(tmp_path):
    corpus = tmp_path / "raw.txt"
    corpus.write_text("One sentence. Another one.\n")
    cfg = _write_config(tmp_path / "run.yaml", tmp_path / "out", [corpus],
                        data={"dupe_factor": 2})
    return cfg, corpus, FakeStages()


def _run(cfg, fake, **kw):
    lines: list[str] = []
    outcomes = run_pipeline(cfg, emit=lines.append, stage_funcs=fake.funcs(), **kw)
    return outcomes, "\n".join(lines)


def test_stages_run_then_skip_when_up_to_date(fake_run):
    cfg, _, fake = fake_run
    outcomes, log = _run(cfg, fake)
    assert [o.status for o in outcomes] == ["ran"] * 5 and fake.calls == list(STAGES)
    records = Path(yaml.safe_load(cfg.read_text())["run"]["output"]) / ".stages"
    rec = json.loads((records / "create-data.json").read_text())
    assert {"config_hash", "inputs", "version", "output", "seconds"} <= rec.keys()
    assert "summary" in log
    fake.calls.clear()
    outcomes, log = _run(cfg, fake)
    assert [o.status for o in outcomes] == ["skipped"] * 5 and fake.calls == []
    assert log.count("up to date, skipped") == 5


def test_changed_setting_reruns_that_stage_and_later(fake_run):
    cfg, corpus, fake = fake_run
    _run(cfg, fake)
    raw = yaml.safe_load(cfg.read_text())
    raw["data"]["dupe_factor"] = 3  # create-data's section
    cfg.write_text(yaml.safe_dump(raw))
    fake.calls.clear()
    outcomes, log = _run(cfg, fake)
    assert fake.calls == ["create-data", "pretrain", "export-hf"]
    assert log.count("starting over") == 3  # later outputs were made from the old data
    out = Path(raw["run"]["output"])
    assert (out / "data" / "out.txt").read_text() == "create-data 3"


def test_changed_input_reruns_everything(fake_run):
    cfg, corpus, fake = fake_run
    _run(cfg, fake)
    corpus.write_text("Different text now.\n")
    fake.calls.clear()
    _run(cfg, fake)
    assert fake.calls == list(STAGES)


def test_interrupted_stage_resumes_in_place(fake_run):
    cfg, _, fake = fake_run
    fake.fail = "pretrain"
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, fake)
    out = Path(yaml.safe_load(cfg.read_text())["run"]["output"])
    assert not (out / ".stages" / "pretrain.json").exists()
    assert (out / "model" / "partial").exists()
    fake.fail, fake.calls = None, []
    outcomes, log = _run(cfg, fake)
    assert fake.calls == ["pretrain", "export-hf"]
    assert "pretrain -> " in log and "(resuming)" in log
    assert [o.status for o in outcomes][:3] == ["skipped"] * 3


def test_from_and_until(fake_run):
    cfg, _, fake = fake_run
    outcomes, _ = _run(cfg, fake, until="train-tokenizer")
    assert fake.calls == ["prepare-corpus", "train-tokenizer"] and len(outcomes) == 2
    fake.calls.clear()
    with pytest.raises(ConfigError, match="needs the output of train-tokenizer|create-data"):
        _run(cfg, fake, from_stage="pretrain")
    _run(cfg, fake, from_stage="create-data", until="create-data")
    assert fake.calls == ["create-data"]
    with pytest.raises(ConfigError, match="--from export-hf comes after --until pretrain"):
        _run(cfg, fake, from_stage="export-hf", until="pretrain")


def test_bad_run_configs(tmp_path):
    fake = FakeStages()
    no_run = tmp_path / "a.yaml"
    no_run.write_text(yaml.safe_dump({"model": {"vocab_size": 100}}))
    with pytest.raises(ConfigError, match="'run' section"):
        _run(no_run, fake)
    missing = _write_config(tmp_path / "b.yaml", tmp_path / "out", [tmp_path / "nope.txt"])
    with pytest.raises(FileNotFoundError):
        _run(missing, fake)
    bad_key = tmp_path / "c.yaml"
    bad_key.write_text(yaml.safe_dump({"run": {"input": "x", "output": "y", "outptu": 1}}))
    with pytest.raises(ConfigError, match="run.outptu"):
        _run(bad_key, fake)
    bad_field = _write_config(tmp_path / "d.yaml", tmp_path / "out", [no_run],
                              data={"dupe_factr": 2})
    with pytest.raises(ConfigError, match="dupe_factr"):
        _run(bad_field, fake)


def test_cli_run_bad_config_exit_code(tmp_path):
    from conftest import run_cli

    proc = run_cli("run", str(tmp_path / "missing.yaml"))
    assert proc.returncode != 0 and "missing.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def _sentence_corpus(examples_dir: Path, out: Path) -> None:
    """The bundled corpus in prepare-corpus's format (one sentence per line, a blank line after
    each paragraph-document), split at sentence ends: the stand-in for prepare-corpus when the
    test starts at train-tokenizer."""
    import re

    lines: list[str] = []
    for f in sorted(examples_dir.iterdir()):
        for para in f.read_text(encoding="utf-8").split("\n\n"):
            sents = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(para.split())) if len(s) > 3]
            if sents:
                lines += sents + [""]
    out.mkdir(parents=True)
    (out / "corpus-00000.txt").write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.slow
def test_real_run_killed_in_pretrain_and_resumed(tmp_path, examples_dir):
    """train-tokenizer -> create-data -> pretrain -> export-hf through the CLI and the stages'
    real APIs: killed after the first checkpoint, resumed from it to a verified export, then
    everything skipped on a third run."""
    out = tmp_path / "out"
    _sentence_corpus(examples_dir, out / STAGE_DIRS["prepare-corpus"])
    cfg = _write_config(
        tmp_path / "run.yaml", out, [examples_dir],
        model=dict(vocab_size=2000, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                   num_attention_heads=2, intermediate_size=128, max_position_embeddings=64),
        data=dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2),
        pretraining=dict(num_train_steps=60, num_warmup_steps=5, save_checkpoints_steps=10,
                         iterations_per_loop=10, train_batch_size=16, eval_batch_size=16,
                         max_eval_steps=2, keep_checkpoint_max=10))
    raw = yaml.safe_load(cfg.read_text())
    raw["run"]["pretrain"] = {"strategy": "auto", "eval_every": None}
    raw["run"]["create_data"] = {"eval_fraction": 0.05}
    raw["run"]["fill_mask"] = "Tom and Huck went [MASK] the river."
    cfg.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "albert_fast", "run", str(cfg), "--from", "train-tokenizer"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    state = out / "model" / "checkpoint"  # written after the checkpoint's files
    while not (state.exists() and "ckpt-" in state.read_text()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / ".stages" / "pretrain.json").exists()

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed from" in done.stdout and "(resuming)" in done.stdout
    assert "Hugging Face model:" in done.stdout and "fill-mask:" in done.stdout
    assert (out / "hf" / "model.safetensors").is_file()
    record = json.loads((out / ".stages" / "export-hf.json").read_text())
    assert record["result"]["verified"] and record["result"]["mlm_max_abs_diff"] <= 1e-4

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert again.stdout.count("up to date, skipped") == 4
    assert (out / "data" / "manifest.json").is_file() and list((out / "data").glob("eval-*"))


def test_stage_option_typos_are_reported_before_any_stage(tmp_path):
    """A misspelt option or a bad value in run.prepare / run.create_data / run.pretrain is a
    ConfigError naming run.SECTION.KEY before the first stage starts (not a TypeError or an
    error under another name hours later, in stage 4)."""
    corpus = tmp_path / "raw.txt"
    corpus.write_text("One sentence. Another one.\n")
    cases = {
        ("pretrain", "stratgy", "cpu"): r"run\.pretrain\.stratgy: unknown option.*'strategy'",
        ("pretrain", "strategy", "gpuu"): r"run\.pretrain\.strategy = 'gpuu': choose one of",
        ("pretrain", "data", "x"): r"run\.pretrain\.data: set by albert-fast run itself",
        ("create_data", "dupe_factr", 2): r"run\.create_data\.dupe_factr: unknown option.*"
                                          r"'dupe_factor'",
        ("create_data", "dupe_factor", 0): r"run\.create_data\.dupe_factor = 0: ",
        ("create_data", "compresion", "gzip"): r"run\.create_data\.compresion: unknown option",
        ("prepare", "doc_boundry", "line"): r"run\.prepare\.doc_boundry: unknown option.*"
                                           r"'doc_boundary'",
        ("prepare", "min_line_chars", -1): r"run\.prepare\.min_line_chars = -1: ",
    }
    for (section, key, value), message in cases.items():
        fake = FakeStages()
        cfg = _write_config(tmp_path / "run.yaml", tmp_path / "out", [corpus])
        raw = yaml.safe_load(cfg.read_text())
        raw["run"][section] = {key: value}
        cfg.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError, match=message):
            _run(cfg, fake)
        assert fake.calls == [] and not (tmp_path / "out").exists(), (section, key)
    # What each stage takes is accepted.
    raw["run"].update(prepare={"threads": 1, "doc_boundary": "line"},
                      create_data={"eval_fraction": 0.1, "dupe_factor": 3},
                      pretrain={"strategy": "cpu", "eval_every": 10})
    cfg.write_text(yaml.safe_dump(raw))
    fake = FakeStages()
    _run(cfg, fake)
    assert fake.calls == list(STAGES)
