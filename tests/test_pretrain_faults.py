"""pretrain with bad inputs and faults: corrupt or truncated TFRecords (at start-up and mid-run),
record counts that disagree with manifest.json, a disk that fills up while a checkpoint is
saved, stale checkpoint temporaries, a damaged latest checkpoint, two runs in one directory,
a vocabulary mismatch, and config errors that must come before TensorFlow is imported. Each
must end in one clear line (exit 2 from the CLI) with nothing half-written left behind."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest
import yaml

tf = pytest.importorskip("tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pretrain_data as pdata  # noqa: E402
from conftest import run_cli  # noqa: E402

from albert_fast.errors import InputError, ModelError  # noqa: E402
from albert_fast.pretrain import pretrain  # noqa: E402
from albert_fast.records import RecordWriter, dataset_stats, encode_example  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ENV = {"PYTHONPATH": str(REPO / "python"), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture()
def data(twain_data, tmp_path) -> Path:
    """A copy of conftest's Twain data (four train shards of ~1500 instances, one held-out
    shard) that a test may damage."""
    return Path(shutil.copytree(twain_data, tmp_path / "data"))


def _quiet(_line: str) -> None:
    pass


def _cfg(**pretraining):
    settings = dict(num_train_steps=4, save_checkpoints_steps=2, iterations_per_loop=2,
                    keep_checkpoint_max=10)
    settings.update(pretraining)
    return pdata.tiny_config(**settings)


def _records(path: Path) -> list[bytes]:
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def _rewrite(path: Path, records: list[bytes]) -> None:
    with RecordWriter(str(path)) as w:
        for r in records:
            w.write(r)


def _as_floats(record: bytes) -> bytes:
    """The record with every int64 feature stored as a float list (right names and lengths)."""
    example = tf.train.Example.FromString(record)
    for feature in example.features.feature.values():
        if feature.HasField("int64_list"):
            values = list(feature.int64_list.value)
            feature.Clear()
            feature.float_list.value.extend(float(v) for v in values)
    return example.SerializeToString()


def _damage(data: Path, how: str) -> Path:
    """Damages the data directory; returns the damaged file."""
    shard = data / "train-00002-of-00004.tfrecord"
    raw = bytearray(shard.read_bytes())
    if how == "truncated":
        shard.write_bytes(raw[: len(raw) * 2 // 3])
    elif how == "flipped":  # one data byte of a record in the middle of the file
        raw[len(raw) // 2] ^= 0x5A
        shard.write_bytes(raw)
    elif how == "random_bytes":
        shard = data / "train-00004-of-00005.tfrecord"
        shard.write_bytes(os.urandom(20_000))
    elif how == "float_lists":  # the first records hold float lists under the right names
        records = _records(shard)
        _rewrite(shard, [_as_floats(r) for r in records[:3]] + records[3:])
    return shard


def _stats_error(path: Path) -> str:
    """What ``albert-fast inspect --stats`` says about the file."""
    with pytest.raises(InputError) as err:
        dataset_stats(path)
    return str(err.value)


def _error_lines(stderr: str) -> list[str]:
    """stderr without the lines TensorFlow's C++ runtime logs while it loads (oneDNN notes)."""
    return [line for line in stderr.strip().splitlines()
            if not re.match(r"[IWE]\d{4} |WARNING: All log messages before absl", line)]


def _intact(prefix: str) -> None:
    """Every tensor of the checkpoint reads back (TensorFlow verifies each one's checksum);
    the saved input position (a variant) has no numpy form and is left to the resume tests."""
    reader = tf.train.load_checkpoint(prefix)
    for name, dtype in reader.get_variable_to_dtype_map().items():
        if dtype != tf.variant:
            reader.get_tensor(name)


# --------------------------------------------------------------------------------------------
# Damaged TFRecords

@pytest.mark.parametrize("how", ["truncated", "flipped", "random_bytes", "float_lists"])
def test_damaged_records_are_refused_at_start_up(data, tmp_path, how):
    """Checked before TensorFlow trains a step, with the message inspect gives (file, record,
    byte offset); the run directory is not even created."""
    bad = _damage(data, how)
    with pytest.raises(InputError) as err:
        pretrain(_cfg(), str(data), tmp_path / "run", progress=_quiet)
    assert str(err.value) == _stats_error(bad)
    assert f"{bad}: record " in str(err.value) and " at byte " in str(err.value)
    assert not (tmp_path / "run").exists()


def test_files_changed_after_a_run_are_checked_again_on_resume(data, tmp_path):
    """A resumed run skips reading files it verified before only while they are unchanged."""
    run = tmp_path / "run"
    pretrain(_cfg(num_train_steps=2), str(data), run, do_eval=False, progress=_quiet)
    assert (run / ".data-verified.json").is_file()
    bad = _damage(data, "truncated")
    with pytest.raises(InputError) as err:
        pretrain(_cfg(), str(data), run, do_eval=False, progress=_quiet)
    assert str(err.value) == _stats_error(bad)
    assert tf.train.latest_checkpoint(str(run)) == str(run / "ckpt-2")


def test_damaged_records_through_the_cli(data, tmp_path):
    bad = _damage(data, "truncated")
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(_cfg().to_dict()))
    proc = run_cli("pretrain", "--config", str(cfg), "--data", str(data), "-o",
                   str(tmp_path / "run"), env=ENV)
    inspect = run_cli("inspect", str(bad), "--stats", env=ENV)
    assert proc.returncode == 2 and inspect.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    prefix = "albert-fast pretrain: error: "
    assert proc.stderr.startswith(prefix)
    said = inspect.stderr.strip().splitlines()[-1]  # after a note on the manifest's tokenizer
    assert proc.stderr.strip()[len(prefix):] == said[len("albert-fast inspect: error: "):]


@pytest.mark.parametrize("when", ["float_list_record", "flipped_during_the_run"])
def test_bad_record_mid_run_stops_cleanly_keeping_the_checkpoint(data, tmp_path, when):
    """A record the start-up check does not reach (decoded only later) or a file damaged while
    training runs: the same message as inspect, and the checkpoints written before are intact
    and resumable."""
    shard = data / "train-00001-of-00004.tfrecord"
    records = _records(shard)
    bad_index = 700  # read after ~2800 records of the stream (4 files interleaved)
    flip_at: list[int] = []
    if when == "float_list_record":
        records[bad_index] = _as_floats(records[bad_index])
        _rewrite(shard, records)
    else:
        flip_at.append(sum(len(r) + 16 for r in records[:bad_index]) + 12 + 30)
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        if flip_at and line.startswith("saved ") and line.endswith("ckpt-10"):
            raw = bytearray(shard.read_bytes())
            raw[flip_at.pop()] ^= 0x5A
            shard.write_bytes(raw)

    cfg = _cfg(num_train_steps=200, save_checkpoints_steps=10, iterations_per_loop=10)
    with pytest.raises(InputError) as err:
        pretrain(cfg, str(data), tmp_path / "run", deterministic=True, do_eval=False,
                 progress=progress)
    message = str(err.value)
    assert message.startswith(_stats_error(shard)), message
    assert f"record {bad_index} at byte" in message
    latest = tf.train.latest_checkpoint(str(tmp_path / "run"))
    assert latest and f"read during the run; the last checkpoint, {latest}, is intact" in message
    assert int(latest.rsplit("-", 1)[1]) >= 10
    _intact(latest)
    assert not glob.glob(str(tmp_path / "run" / "*_temp"))


# --------------------------------------------------------------------------------------------
# Record counts against manifest.json

@pytest.fixture(scope="module")
def create_data_output(tmp_path_factory, examples_dir) -> Path:
    """A real create-data output (its manifest lists every shard's record count)."""
    from albert_fast.create_data import create_pretraining_data
    from albert_fast.train_tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("create_data_output")
    corpus = root / "corpus.txt"
    paragraphs = [p for f in sorted(examples_dir.iterdir())
                  for p in f.read_text(encoding="utf-8").split("\n\n")]
    corpus.write_text("\n".join(" ".join(p.split()).replace(". ", ".\n") + "\n"
                                for p in paragraphs if p.strip()), encoding="utf-8")
    train_tokenizer([corpus], root / "tok", vocab_size=2000, progress=False)
    create_pretraining_data([corpus], root / "tok", root / "data",
                            config={"model": {"vocab_size": 2000},
                                    "data": {"max_seq_length": 64,
                                             "max_predictions_per_seq": 10,
                                             "dupe_factor": 2}},
                            eval_fraction=0.1, shard_size_bytes=100_000)
    return root / "data"


def test_record_counts_are_compared_with_the_manifest(create_data_output, tmp_path):
    data = Path(shutil.copytree(create_data_output, tmp_path / "data"))
    manifest = json.loads((data / "manifest.json").read_text())
    listed = {f["file"]: f["records"] for split in manifest["files"].values() for f in split}
    shard = data / sorted(listed)[-1]  # a train shard
    _rewrite(shard, _records(shard)[:-5])  # a valid file, five records short
    want = f"{shard}: {listed[shard.name] - 5} records, but manifest.json lists {listed[shard.name]}"
    lines: list[str] = []
    pretrain(_cfg(num_train_steps=1, save_checkpoints_steps=1, iterations_per_loop=1),
             str(data), tmp_path / "run", do_eval=False, progress=lines.append)
    assert sum(want in line for line in lines) == 1, lines
    for args in ((str(data), "--stats"), (str(shard), "-n", "1")):
        proc = run_cli("inspect", *args, env=ENV)
        assert proc.returncode == 0 and want in proc.stderr, proc.stderr
    untouched = data / sorted(listed)[0]
    assert run_cli("inspect", str(untouched), "-n", "1", env=ENV).stderr == ""


# --------------------------------------------------------------------------------------------
# Checkpoints

@pytest.fixture()
def small_disk(tmp_path):
    """A real 5 MiB filesystem (tmpfs): room for config, summaries and two checkpoints of the
    tiny model (1.9 MB each), not for a third. Needs the right to mount (root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}); the full-disk test "
                    "needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_while_saving_a_checkpoint(data, tmp_path, small_disk):
    run = small_disk / "run"
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(_cfg(num_train_steps=12).to_dict()))
    args = ("pretrain", "--config", str(cfg), "--data", str(data), "-o", str(run), "--no-eval",
            "--deterministic")
    proc = run_cli(*args, env=ENV)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and len(_error_lines(proc.stderr)) == 1, proc.stderr
    err = proc.stderr
    assert f"{run}: no space left on device while saving checkpoint ckpt-6" in err, err
    assert " free" in err and "ckpt-4" in err
    assert not glob.glob(str(run / "*_temp")) and not glob.glob(str(run / "checkpoint.tmp*"))
    assert not glob.glob(str(run / "ckpt-6*"))
    assert tf.train.latest_checkpoint(str(run)) == str(run / "ckpt-4")
    for step in (2, 4):
        _intact(str(run / f"ckpt-{step}"))
    # With room again, the same command resumes from ckpt-4 and finishes.
    subprocess.run(["mount", "-o", "remount,size=40m", str(small_disk)], check=True)
    again = run_cli(*args, env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resumed from {run / 'ckpt-4'}" in again.stdout and "step 12/12" in again.stdout


def test_stale_temporaries_of_a_killed_run_are_removed(data, tmp_path):
    run = tmp_path / "run"
    pretrain(_cfg(num_train_steps=2), str(data), run, do_eval=False, progress=_quiet)
    # What a run killed inside a save leaves: TensorFlow's staging directories and state file.
    (run / "ckpt-4_temp").mkdir()
    (run / "ckpt-4_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 100)
    (run / "best").mkdir()
    (run / "best" / "model_temp").mkdir()
    (run / "checkpoint.tmp0123456789abcdef0123456789abcdef").write_text("partial")
    lines: list[str] = []
    result = pretrain(_cfg(), str(data), run, do_eval=False, progress=lines.append)
    assert result.step == 4
    assert not glob.glob(str(run / "*_temp")) and not (run / "best" / "model_temp").exists()
    assert not glob.glob(str(run / "checkpoint.tmp*"))


@pytest.mark.parametrize("damage", ["flipped_data", "truncated_index"])
def test_damaged_latest_checkpoint_falls_back_to_an_intact_one(data, tmp_path, damage):
    run = tmp_path / "run"
    pretrain(_cfg(num_train_steps=6), str(data), run, do_eval=False, progress=_quiet)
    if damage == "flipped_data":
        path = run / "ckpt-6.data-00000-of-00001"
        raw = bytearray(path.read_bytes())
        for i in range(len(raw) // 2, len(raw) // 2 + 8):
            raw[i] ^= 0xFF
    else:
        path = run / "ckpt-6.index"
        raw = bytearray(path.read_bytes())[: path.stat().st_size // 2]
    path.write_bytes(raw)
    lines: list[str] = []
    result = pretrain(_cfg(num_train_steps=8), str(data), run, do_eval=False,
                      progress=lines.append)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and str(run / "ckpt-6") in warnings[0], lines
    assert f"resumed from {run / 'ckpt-4'} at step 4" in lines
    assert result.step == 8 and tf.train.latest_checkpoint(str(run)) == str(run / "ckpt-8")
    # Step 6 was trained again and saved afresh; the damaged files are kept aside under
    # another name, out of every checkpoint lookup.
    for step in (6, 8):
        _intact(str(run / f"ckpt-{step}"))
    assert glob.glob(str(run / "ckpt-6.*.damaged"))
    state = tf.train.get_checkpoint_state(str(run))  # every intact one still rotated
    assert [Path(p).name for p in state.all_model_checkpoint_paths] == [
        "ckpt-2", "ckpt-4", "ckpt-6", "ckpt-8"]


def test_no_intact_checkpoint_is_refused(data, tmp_path):
    run = tmp_path / "run"
    pretrain(_cfg(), str(data), run, do_eval=False, progress=_quiet)
    for index in run.glob("ckpt-*.index"):
        index.write_bytes(b"\0" * 10)
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(ModelError, match="no intact checkpoint") as err:
        pretrain(_cfg(num_train_steps=6), str(data), run, do_eval=False, progress=_quiet)
    assert str(run / "ckpt-2") in str(err.value) and str(run / "ckpt-4") in str(err.value)
    assert sorted(p.name for p in run.iterdir()) == before


# --------------------------------------------------------------------------------------------
# Two runs, one directory

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from albert_fast.checkpoints import RunDirLock
    with RunDirLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_second_run_in_the_same_directory_is_refused(data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], env=dict(
        os.environ, **ENV), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OSError, match=f"pid {holder.pid}") as err:
            pretrain(_cfg(), str(data), run, do_eval=False, progress=_quiet)
        assert "another albert-fast pretrain" in str(err.value) and err.value.filename == str(run)
        assert not list(run.glob("ckpt-*"))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The killed holder's lock file is still there, naming a dead process: not a lock.
    assert (run / ".lock").is_file()
    result = pretrain(_cfg(), str(data), run, do_eval=False, progress=_quiet)
    assert result.step == 4 and not (run / ".lock").exists()


# --------------------------------------------------------------------------------------------
# Config and vocabulary

def test_model_vocabulary_larger_than_the_tokenizers_is_refused(data, tmp_path):
    cfg = _cfg()
    cfg.model.vocab_size = 3000  # the data's tokenizer has 2000 pieces
    with pytest.raises(ValueError, match=r"has 2000 pieces but model.vocab_size is 3000 "
                                         r"\(Q5: they must agree\)"):
        pretrain(cfg, str(data), tmp_path / "run", progress=_quiet)
    assert not (tmp_path / "run").exists()


CLI_WITHOUT_TF = textwrap.dedent("""
    import json, sys
    from albert_fast.cli import main
    codes = [main(args) for args in json.loads(sys.argv[1])]
    print(json.dumps({"codes": codes, "tensorflow": "tensorflow" in sys.modules,
                      "keras": "keras" in sys.modules}))
""")


def test_config_errors_come_before_tensorflow_is_imported(data, tmp_path):
    def config(**changes):
        raw = _cfg().to_dict()
        for key, value in changes.items():
            section, name = key.split(".")
            raw[section][name] = value
        path = tmp_path / f"cfg{len(list(tmp_path.glob('cfg*')))}.yaml"
        path.write_text(yaml.safe_dump(raw))
        return ["--config", str(path)]

    base = ["pretrain", "--data", str(data), "-o", str(tmp_path / "run")]
    cases = {
        "model.net_structure_type": base + config(**{"model.net_structure_type": 1}),
        "model.num_hidden_groups": base + config(**{"model.num_hidden_groups": 3}),
        "gradient_accumulation_steps": base + config(
            **{"pretraining.gradient_accumulation_steps": 3}),
        "--stop-at": base + config() + ["--stop-at", "0"],
        "--eval-every": base + config() + ["--eval-every", "0"],
        "missing": ["pretrain", "--data", str(tmp_path / "missing"), "-o",
                    str(tmp_path / "run")] + config(),
        "init_checkpoint": base + config(**{"pretraining.init_checkpoint": str(tmp_path / "nope")}),
    }
    proc = subprocess.run([sys.executable, "-c", CLI_WITHOUT_TF, json.dumps(list(cases.values()))],
                          env=dict(os.environ, **ENV), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == [2] * len(cases), (result, proc.stderr)
    assert not result["tensorflow"] and not result["keras"]
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == len(cases), errors
    for (name, _), line in zip(cases.items(), errors):
        assert line.startswith("albert-fast pretrain: error: ") and name in line, (name, line)
    assert not (tmp_path / "run").exists()


def test_a_loss_that_is_not_finite_is_one_line(data, tmp_path, capsys):
    from albert_fast.cli import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(_cfg(learning_rate=1e30, num_train_steps=20).to_dict()))
    code = main(["pretrain", "--config", str(cfg), "--data", str(data), "-o",
                 str(tmp_path / "run"), "--no-eval"])
    err = capsys.readouterr().err
    assert code == 2 and "albert-fast pretrain: error: training loss became" in err, err
    assert "Traceback" not in err
