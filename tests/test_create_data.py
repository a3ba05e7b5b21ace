"""create-data end to end: TensorFlow parses the output with the reference's feature spec,
determinism across thread counts, resume, eval split, compression, and every bad input."""

from __future__ import annotations

import filecmp
import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from data_fixtures import corpus_dir, spm_dir, train_albert_spm  # noqa: F401 (fixtures)

import albert_fast
from albert_fast.create_data import create_pretraining_data

SMALL = dict(max_seq_length=128, max_predictions_per_seq=20, dupe_factor=2)


def _shards(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.name.startswith(("train-", "eval-")))


def _tree_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_tensorflow_parses_output_with_reference_feature_spec(corpus_dir, spm_dir, tmp_path):
    tf = pytest.importorskip("tensorflow")
    out = tmp_path / "out"
    summary = create_pretraining_data([corpus_dir], spm_dir, out, threads=2, **SMALL)
    files = _shards(out)
    assert [f.name for f in files] == ["train-00000-of-00001.tfrecord"]
    L, P = 128, 20
    spec = {  # run_pretraining.py's input_fn
        "input_ids": tf.io.FixedLenFeature([L], tf.int64),
        "input_mask": tf.io.FixedLenFeature([L], tf.int64),
        "segment_ids": tf.io.FixedLenFeature([L], tf.int64),
        "token_boundary": tf.io.FixedLenFeature([L], tf.int64),
        "masked_lm_positions": tf.io.FixedLenFeature([P], tf.int64),
        "masked_lm_ids": tf.io.FixedLenFeature([P], tf.int64),
        "masked_lm_weights": tf.io.FixedLenFeature([P], tf.float32),
        "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
    }
    ds = tf.data.TFRecordDataset([str(f) for f in files]).batch(4096).map(lambda x: tf.io.parse_example(x, spec))
    batch = {k: np.concatenate([b[k].numpy() for b in ds]) for k in spec}
    n = batch["input_ids"].shape[0]
    assert n == summary["instances"] > 500
    ids, mask, seg = batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    lengths = mask.sum(1)
    assert ((lengths >= 5) & (lengths <= L)).all()
    assert (ids[:, 0] == 2).all(), "[CLS] first"
    for i in range(n):
        k = lengths[i]
        assert (mask[i, :k] == 1).all() and (mask[i, k:] == 0).all()
        assert (ids[i, k:] == 0).all() and (seg[i, k:] == 0).all() and (batch["token_boundary"][i, k:] == 0).all()
        assert ids[i, k - 1] == 3, "[SEP] last"
        first_sep = int(np.argmax(ids[i] == 3))
        assert (seg[i, :first_sep + 1] == 0).all() and (seg[i, first_sep + 1:k] == 1).all()
        w = batch["masked_lm_weights"][i]
        m = int(w.sum())
        pos = batch["masked_lm_positions"][i]
        assert (w[:m] == 1).all() and (w[m:] == 0).all()
        assert (pos[m:] == 0).all() and (batch["masked_lm_ids"][i, m:] == 0).all()
        assert (np.diff(pos[:m]) > 0).all(), "sorted, unique"
        assert (pos[:m] > 0).all() and (pos[:m] < k).all()
        assert not np.isin(batch["masked_lm_ids"][i, :m], [0, 2, 3, 4]).any()
        assert (ids[i, pos[:m]] != 3).all()
        # the count rule: min(cap, max(1, round_half_even(len * 0.15)))
        assert m <= min(P, max(1, round(k * 0.15)))
    assert set(np.unique(batch["next_sentence_labels"])) == {0, 1}
    assert abs(summary["label_balance"] - batch["next_sentence_labels"].mean()) < 1e-9
    assert summary["masked_positions"] == int(batch["masked_lm_weights"].sum())
    assert summary["tokens"] == int(lengths.sum())


def test_manifest_records_config_seed_tokenizer_and_counts(corpus_dir, spm_dir, tmp_path):
    out = tmp_path / "out"
    s = create_pretraining_data([corpus_dir], spm_dir, out, threads=1, eval_fraction=0.1,
                                shard_size_bytes=64 << 10, **SMALL)
    m = json.loads((out / "manifest.json").read_text())
    assert m["version"] == albert_fast.__version__
    assert m["config"]["max_seq_length"] == 128 and m["random_seed"] == 12345
    import hashlib
    assert m["tokenizer"]["spiece_sha256"] == hashlib.sha256((spm_dir / "spiece.model").read_bytes()).hexdigest()
    assert m["text"] == {"lowercase": True, "strip_accents": False}
    train, evals = m["files"]["train"], m["files"]["eval"]
    assert len(train) >= 3 and len(evals) >= 1
    assert [f["file"] for f in train] == [f"train-{i:05d}-of-{len(train):05d}.tfrecord" for i in range(len(train))]
    assert sum(f["records"] for f in train) == s["train_instances"]
    assert sum(f["records"] for f in evals) == s["eval_instances"] > 0
    assert sorted(p.name for p in _shards(out)) == sorted(f["file"] for f in train + evals)
    assert m["feature_spec"]["masked_lm_positions"] == {"dtype": "int64", "length": 20}


def test_byte_identical_for_any_thread_count(corpus_dir, spm_dir, tmp_path):
    outs = []
    for threads in (1, 2, 3):
        out = tmp_path / f"t{threads}"
        create_pretraining_data([corpus_dir], spm_dir, out, threads=threads, eval_fraction=0.1,
                                shard_size_bytes=48 << 10, **SMALL)
        outs.append(_tree_bytes(out))
    assert len(outs[0]) > 4
    assert outs[0] == outs[1] == outs[2]


def test_the_estimates_tokenizer_runs_the_stage_too(corpus_dir, spm_dir, tmp_path, monkeypatch):
    """The model is loaded once per run: the Python face hands the tokenizer that sampled the
    input to the core, which writes what it writes loading the model itself, and refuses a
    tokenizer that encodes otherwise than the run asks."""
    from albert_fast import _core
    from albert_fast.errors import AlbertFastError
    from albert_fast.tokenizer import Tokenizer

    calls = []
    real = _core.create_data

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(albert_fast.create_data._core, "create_data", spy)
    create_pretraining_data([corpus_dir], spm_dir, tmp_path / "a", threads=2, **SMALL)
    monkeypatch.undo()
    (options,) = calls
    loaded = options.pop("tokenizer")
    assert isinstance(loaded, _core.Tokenizer)
    options.pop("progress")
    for name, tokenizer in (("b", None), ("c", loaded)):
        (tmp_path / name).mkdir()
        real(**{**options, "output_dir": str(tmp_path / name)}, tokenizer=tokenizer)
        assert _tree_bytes(tmp_path / name) == {k: v for k, v in _tree_bytes(tmp_path / "a").items()
                                                if k != "manifest.json"}
    other = Tokenizer(spm_dir, lowercase=not options["lowercase"])
    with pytest.raises(AlbertFastError, match="tokenizer"):
        real(**{**options, "output_dir": str(tmp_path / "b")}, tokenizer=other._core)


def test_seed_changes_output(corpus_dir, spm_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    create_pretraining_data([corpus_dir], spm_dir, a, threads=2, **SMALL)
    create_pretraining_data([corpus_dir], spm_dir, b, threads=2, random_seed=7, **SMALL)
    assert (a / "train-00000-of-00001.tfrecord").read_bytes() != (b / "train-00000-of-00001.tfrecord").read_bytes()


def test_resume_after_simulated_kill(corpus_dir, spm_dir, tmp_path):
    out = tmp_path / "out"
    kw = dict(threads=2, shard_size_bytes=48 << 10, **SMALL)
    create_pretraining_data([corpus_dir], spm_dir, out, **kw)
    before = _tree_bytes(out)
    shards = _shards(out)
    # A kill leaves: a finished shard, a shard without its completion marker, a missing shard
    # and a temporary file; and no manifest.
    (out / ".progress" / f"{shards[1].name}.done").unlink()
    shards[2].unlink()
    (out / f".{shards[2].name}.tmp-99999").write_bytes(b"partial")
    (out / "manifest.json").unlink()
    s = create_pretraining_data([corpus_dir], spm_dir, out, **kw)
    assert s["resumed_files"] == len(shards) - 2
    assert _tree_bytes(out) == before, "the temporary file is gone, everything else identical"
    # Other settings: nothing is reused, and stale files of the old layout disappear.
    s2 = create_pretraining_data([corpus_dir], spm_dir, out, threads=2, **SMALL)
    assert s2["resumed_files"] == 0
    assert [p.name for p in _shards(out)] == ["train-00000-of-00001.tfrecord"]


def test_resume_rebuilds_a_truncated_or_replaced_shard(corpus_dir, spm_dir, tmp_path):
    """A marker records its shard's size and checksum: a damaged shard is rebuilt, not trusted."""
    out = tmp_path / "out"
    kw = dict(threads=2, shard_size_bytes=48 << 10, **SMALL)
    create_pretraining_data([corpus_dir], spm_dir, out, **kw)
    before = _tree_bytes(out)
    shards = _shards(out)
    data = shards[0].read_bytes()
    shards[0].write_bytes(data[:-5])
    replaced = bytearray(shards[1].read_bytes())
    replaced[30] ^= 0xFF
    shards[1].write_bytes(bytes(replaced))
    s = create_pretraining_data([corpus_dir], spm_dir, out, **kw)
    assert s["resumed_files"] == len(shards) - 2
    assert _tree_bytes(out) == before


def test_gzip_output_reads_back(corpus_dir, spm_dir, tmp_path):
    plain, gz = tmp_path / "plain", tmp_path / "gz"
    create_pretraining_data([corpus_dir], spm_dir, plain, threads=2, **SMALL)
    create_pretraining_data([corpus_dir], spm_dir, gz, threads=2, compression="gzip", **SMALL)
    data = gzip.decompress((gz / "train-00000-of-00001.tfrecord.gz").read_bytes())
    assert data == (plain / "train-00000-of-00001.tfrecord").read_bytes()


def test_compressed_inputs_and_globs_give_the_same_output(corpus_dir, spm_dir, tmp_path):
    import zstandard

    packed = tmp_path / "packed"
    packed.mkdir()
    for i, f in enumerate(sorted(corpus_dir.glob("*.txt"))):
        raw = f.read_bytes()
        if i % 2:
            (packed / (f.name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (packed / (f.name + ".zst")).write_bytes(zstandard.ZstdCompressor().compress(raw))
    a, b = tmp_path / "a", tmp_path / "b"
    create_pretraining_data([corpus_dir], spm_dir, a, threads=2, **SMALL)
    create_pretraining_data([str(packed / "*")], spm_dir, b, threads=2, **SMALL)
    assert filecmp.cmp(a / "train-00000-of-00001.tfrecord", b / "train-00000-of-00001.tfrecord", shallow=False)


def test_cli_create_data_with_original_flag_names(corpus_dir, spm_dir, tmp_path):
    out = tmp_path / "out"
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(out),
                "--max_seq_length", "128", "--dupe_factor", "1", "--masked_lm_prob", "0.2",
                "--ngram", "2", "--no-favor_shorter_ngram", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "instances" in r.stderr and "MB/s" in r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["masked_lm_prob"] == 0.2 and m["config"]["ngram"] == 2
    assert m["config"]["favor_shorter_ngram"] is False and m["config"]["dupe_factor"] == 1


# -- bad inputs: a clear error, exit code 2, nothing half-written --------------------------------


def _cli_fails(tmp_path, inputs, spm_dir, needle, *extra) -> None:
    out = tmp_path / "out"
    r = run_cli("create-data", *map(str, inputs), "--tokenizer", str(spm_dir), "-o", str(out),
                "--max_seq_length", "64", "--no-progress", *extra)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    if out.is_dir():
        assert not [p for p in out.iterdir() if p.is_file()], "nothing written"


def test_missing_input_path(tmp_path, spm_dir):
    _cli_fails(tmp_path, [tmp_path / "nope.txt"], spm_dir, "nope.txt")


def test_empty_corpus(tmp_path, spm_dir):
    (tmp_path / "empty.txt").write_text("\n   \n\n")
    _cli_fails(tmp_path, [tmp_path / "empty.txt"], spm_dir, "empty corpus")


def test_invalid_utf8_names_file_and_line(tmp_path, spm_dir):
    (tmp_path / "bad.txt").write_bytes(b"A fine sentence.\nAnother one.\nBroken \xff\xfe here.\n")
    _cli_fails(tmp_path, [tmp_path / "bad.txt"], spm_dir, "bad.txt:3: invalid UTF-8")


def test_line_far_longer_than_max_seq_length(tmp_path, spm_dir):
    words = " ".join(f"word{i}" for i in range(3000))
    (tmp_path / "long.txt").write_text(f"Short sentence.\n{words}\n")
    _cli_fails(tmp_path, [tmp_path / "long.txt"], spm_dir, "long.txt:2: line of")


# The child's own peak: VmHWM belongs to its address space, while ru_maxrss survives exec and
# so starts at the RSS of the test process that forked it (hundreds of MiB in a full run).
_PEAK_RSS = """
import sys
from albert_fast.create_data import create_pretraining_data
from albert_fast.errors import InputError
try:
    create_pretraining_data([sys.argv[1]], sys.argv[2], sys.argv[3], threads=1, max_seq_length=128)
except InputError as err:
    print(err)
print(next(int(line.split()[1]) // 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def test_max_line_tokens_bounds_memory_while_reading(tmp_path, spm_dir):
    # A 24 MB line (an unsplit book) is refused while reading, after 256 bytes per token of the
    # limit (16 x 128 tokens: 512 KiB), and the pre-run estimate samples a bounded prefix of it:
    # peak memory stays that of a small input (measured +5 MiB), where tokenizing the line whole
    # took 757 MiB and the estimate tokenizing its first 16 MiB +448 MiB.
    import subprocess
    import sys

    sentence = "This is one sentence of a very long line. "
    peak = {}
    for mb in (0, 24):
        f = tmp_path / f"book{mb}.txt"
        f.write_text("Short one.\n" + sentence * (mb * 1024 * 1024 // len(sentence)) + "Last words.\n")
        r = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(f), str(spm_dir), str(tmp_path / f"out{mb}")],
                           capture_output=True, text=True, env={**os.environ, "USE_TORCH": "0"})
        assert r.returncode == 0, r.stderr
        *message, peak[mb] = r.stdout.splitlines()
    assert message == [f"{f}:2: line longer than 524288 bytes (256 per token of max_line_tokens=2048; "
                       "refused before tokenizing): the input must hold one sentence per line (see "
                       "`albert-fast prepare-corpus`), or raise max_line_tokens"]
    assert int(peak[24]) < int(peak[0]) + 16, peak


def test_tokenizer_without_albert_specials(tmp_path, corpus_dir):
    bad = train_albert_spm(sorted(corpus_dir.glob("*.txt")), tmp_path / "badtok", vocab_size=1500,
                           control_symbols="[FOO]")
    _cli_fails(tmp_path, [corpus_dir], bad, "not an ALBERT vocabulary")


def test_tokenizer_normalization_mismatch(tmp_path, corpus_dir, spm_dir):
    _cli_fails(tmp_path, [corpus_dir], spm_dir, "normalization mismatch", "--no-do_lower_case")


def test_unwritable_output_directory(tmp_path, corpus_dir, spm_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(blocker / "out"), "--no-progress")
    assert r.returncode == 2 and "cannot create output directory" in r.stderr, r.stderr


def test_one_sentence_documents_work_with_a_warning(tmp_path, spm_dir):
    text = "\n\n".join(f"This is document number {i} with one sentence only." for i in range(200)) + "\n"
    (tmp_path / "one.txt").write_text(text)
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="single sentence"):
        s = create_pretraining_data([tmp_path / "one.txt"], spm_dir, out, threads=2, max_seq_length=64, dupe_factor=1)
    assert s["instances"] == 200
    assert 0.4 < s["label_balance"] < 0.6


def test_cli_accepts_the_original_input_and_vocab_flags(corpus_dir, spm_dir, tmp_path):
    files = ",".join(str(p) for p in sorted(corpus_dir.glob("*.txt")))
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_cli("create-data", "--input_file", files, "--spm_model_file", str(spm_dir / "spiece.model"),
                "--vocab_file", str(spm_dir / "spiece.vocab"), "-o", str(a), "--max_seq_length", "128",
                "--dupe_factor", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(b),
                "--max_seq_length", "128", "--dupe_factor", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert (a / "train-00000-of-00001.tfrecord").read_bytes() == (b / "train-00000-of-00001.tfrecord").read_bytes()


def test_do_permutation_doubles_the_masked_features_q14(corpus_dir, spm_dir, tmp_path):
    tf = pytest.importorskip("tensorflow")
    out = tmp_path / "out"
    with pytest.warns(UserWarning, match="Q14"):
        s = create_pretraining_data([corpus_dir], spm_dir, out, threads=2, do_permutation=True, **SMALL)
    m = json.loads((out / "manifest.json").read_text())
    assert m["masked_lm_length"] == 40
    spec = {"masked_lm_positions": tf.io.FixedLenFeature([40], tf.int64),
            "masked_lm_weights": tf.io.FixedLenFeature([40], tf.float32),
            "input_mask": tf.io.FixedLenFeature([128], tf.int64)}
    ds = tf.data.TFRecordDataset([str(p) for p in _shards(out)]).batch(8192).map(lambda x: tf.io.parse_example(x, spec))
    b = next(iter(ds))
    counts = b["masked_lm_weights"].numpy().sum(1)
    lengths = b["input_mask"].numpy().sum(1)
    caps = np.minimum(20, np.maximum(1, np.round(lengths * 0.15)))
    assert (counts <= 2 * caps).all() and (counts > caps).mean() > 0.5, "permuted predictions added"
    for pos, n in zip(b["masked_lm_positions"].numpy(), counts.astype(int)):
        assert (np.diff(pos[:n]) > 0).all()
    assert s["masked_positions"] == int(counts.sum())


def _six_copies(corpus_dir: Path, big: Path) -> Path:
    """Six copies of the bundled corpus: enough shards at 0.1 MB that a run can be stopped
    between them."""
    big.mkdir()
    text = "".join(p.read_text() + "\n" for p in sorted(corpus_dir.glob("*.txt")))
    for i in range(6):
        (big / f"part{i}.txt").write_text(text)
    return big


def test_real_kill_then_rerun_resumes_to_identical_output(corpus_dir, spm_dir, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    big = _six_copies(corpus_dir, tmp_path / "big")
    args = [str(big), "--tokenizer", str(spm_dir), "--max_seq_length", "128", "--dupe_factor", "3",
            "--shard-size-mb", "0.1", "--threads", "1", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(Path(albert_fast.__file__).parent.parent))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "albert_fast", "create-data", *args, "-o", str(killed)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((killed / ".progress").glob("*.done"))) >= 2 if (killed / ".progress").is_dir() else False:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "killed mid-run"
    assert not (killed / "manifest.json").exists()
    finished = len(list((killed / ".progress").glob("*.done")))
    r = run_cli("create-data", *args, "-o", str(killed))
    assert r.returncode == 0, r.stderr
    assert f"({finished} resumed)" in r.stderr, r.stderr
    clean = tmp_path / "clean"
    r = run_cli("create-data", *args, "-o", str(clean))
    assert r.returncode == 0, r.stderr
    assert _tree_bytes(killed) == _tree_bytes(clean)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(random_seed=2**70), "random_seed"),
    (dict(shard_size_bytes=-1), "shard_size_bytes"),
    (dict(eval_fraction=1.5), "eval_fraction"),
    (dict(compression="lz4"), "compression"),
    (dict(max_seq_length=3), "max_seq_length"),
])
def test_bad_parameters_are_config_errors(corpus_dir, spm_dir, tmp_path, kwargs, needle):
    with pytest.raises(albert_fast.ConfigError, match=needle):
        create_pretraining_data([corpus_dir], spm_dir, tmp_path / "out", **kwargs)


def test_manifest_names_the_tokenizer_for_inspect(corpus_dir, spm_dir, tmp_path):
    from albert_fast.records import tokenizer_from_manifest

    out = tmp_path / "out"
    create_pretraining_data([corpus_dir], spm_dir, out, threads=2, **SMALL)
    model, problem = tokenizer_from_manifest(out / "train-00000-of-00001.tfrecord")
    assert problem is None and model.resolve() == (spm_dir / "spiece.model").resolve()
    entry = json.loads((out / "manifest.json").read_text())["tokenizer"]
    assert Path(entry["path"]).is_absolute(), "a tokenizer outside the data directory is named absolutely"


def test_inspect_data_dir_shows_pieces_without_tokenizer_flag(corpus_dir, spm_dir, tmp_path):
    out = tmp_path / "data"
    r = run_cli("create-data", str(corpus_dir), "--tokenizer", str(spm_dir), "-o", str(out),
                "--max_seq_length", "128", "--dupe_factor", "1", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = run_cli("inspect", str(out), "-n", "3")
    assert r.returncode == 0, r.stderr
    assert "showing ids" not in r.stderr, r.stderr
    tokens = [line for line in r.stdout.splitlines() if line.startswith("tokens: ")]
    assert len(tokens) == 3 and all(t.startswith("tokens: [CLS] ") for t in tokens), r.stdout
    assert "[MASK]" in r.stdout, r.stdout
    assert any("\u2581" in t for t in tokens), tokens  # SentencePiece's word-start pieces


def test_manifest_tokenizer_inside_data_dir_is_relative(corpus_dir, spm_dir, tmp_path):
    from albert_fast.records import tokenizer_from_manifest

    out = tmp_path / "bundle"
    shutil.copytree(spm_dir, out / "tokenizer")
    create_pretraining_data([corpus_dir], out / "tokenizer", out, threads=2, **SMALL)
    assert json.loads((out / "manifest.json").read_text())["tokenizer"]["path"] == "tokenizer/spiece.model"
    moved = tmp_path / "moved"
    out.rename(moved)  # data and tokenizer move together
    model, problem = tokenizer_from_manifest(moved / "train-00000-of-00001.tfrecord")
    assert problem is None and model.resolve() == (moved / "tokenizer" / "spiece.model").resolve()


def test_ctrl_c_stops_cleanly_with_exit_130(corpus_dir, spm_dir, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    big = _six_copies(corpus_dir, tmp_path / "big")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(albert_fast.__file__).parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-m", "albert_fast", "create-data", str(big), "--tokenizer", str(spm_dir), "-o", str(out),
         "--max_seq_length", "128", "--dupe_factor", "3", "--shard-size-mb", "0.1", "--threads", "1", "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background shell may ignore SIGINT
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / ".progress").is_dir() and list((out / ".progress").glob("*.done")):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err
    assert not (out / "manifest.json").exists()
    assert not [p for p in out.iterdir() if ".tmp-" in p.name], "no temporary file left"


# -- warnings before a long run (issue 14) -------------------------------------------------------


def test_reference_defaults_warn_of_a_large_output_and_the_estimate_holds(corpus_dir, spm_dir, tmp_path):
    """Without a config the reference's defaults (dupe_factor 40 at max_seq_length 512) write ~100x
    the text (5 MB -> 570 MB in the issue): one warning line before the run says so."""
    src = tmp_path / "in" / "one.txt"
    src.parent.mkdir()
    shutil.copy(sorted(corpus_dir.glob("*.txt"))[0], src)
    with pytest.warns(UserWarning, match=r"the output will be about .* \(\d+x the .* input, ~[\d,]+ instances\): "
                                         r"dupe_factor 40 at max_seq_length 512") as caught:
        s = create_pretraining_data([src.parent], spm_dir, tmp_path / "out", threads=2)
    assert not any("prepare-corpus" in str(w.message) for w in caught), "the input is sentence-split"
    assert s["output_bytes"] > 50 * s["input_bytes"]
    assert 0.7 < s["estimated_output_bytes"] / s["output_bytes"] < 1.4, s


def test_small_settings_and_sentence_split_input_warn_of_nothing(corpus_dir, spm_dir, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = create_pretraining_data([corpus_dir], spm_dir, tmp_path / "out", threads=2, max_seq_length=128,
                                    dupe_factor=1)
    assert 0.5 < s["estimated_output_bytes"] / s["output_bytes"] < 2, s


def test_input_that_is_not_sentence_split_warns_to_run_prepare_corpus(spm_dir, tmp_path):
    wrapped = Path(__file__).parent / "fixtures" / "layout" / "hmann-wrapped.txt"
    r = run_cli("create-data", str(wrapped), "--tokenizer", str(spm_dir), "-o", str(tmp_path / "out"),
                "--max_seq_length", "64", "--dupe_factor", "1", "--threads", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "prepare-corpus" in line]
    assert len(lines) == 1 and "not one sentence per line" in lines[0], r.stderr
    assert "wrapped" in lines[0] and "Traceback" not in r.stderr and ".py:" not in lines[0]


def test_standard_input_as_create_data_input(corpus_dir, spm_dir, tmp_path):
    import subprocess
    import sys

    text = sorted(corpus_dir.glob("*.txt"))[0].read_text(encoding="utf-8")
    cmd = [sys.executable, "-m", "albert_fast", "create-data", "-", "--tokenizer", str(spm_dir), "-o",
           str(tmp_path / "out"), "--max_seq_length", "64", "--dupe_factor", "1", "--threads", "2", "--no-progress"]
    r = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [i["path"] for i in m["inputs"]] == ["-"] and m["inputs"][0]["bytes"] == len(text.encode())
    assert not list((tmp_path / "out").glob(".stdin-*"))
    # The same file given by name writes the same records.
    create_pretraining_data([sorted(corpus_dir.glob("*.txt"))[0]], spm_dir, tmp_path / "named", threads=2,
                            max_seq_length=64, dupe_factor=1)
    assert [p.read_bytes() for p in _shards(tmp_path / "out")] == [p.read_bytes() for p in _shards(tmp_path / "named")]
