"""Training throughput features on CPU with a tiny ALBERT: sequence bins (shapes, rates,
determinism, exact resume, equal losses), two-phase schedules resumed across the boundary,
XLA-compiled steps, MirroredStrategy over logical CPU devices (the multi-GPU code path) and the
TPU checks that need no TPU (docs/pretraining.md, "Fast training")."""

from __future__ import annotations

import collections
import glob
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pretrain_data as pdata  # noqa: E402
from conftest import run_cli  # noqa: E402

from albert_fast.config import Config, phase_ranges  # noqa: E402
from albert_fast.dataset import (SequenceBins, bin_lengths, count_bins, cut_to_length,  # noqa: E402
                                 make_dataset)
from albert_fast.dynamic_masking import DynamicMasking  # noqa: E402
from albert_fast.errors import ConfigError  # noqa: E402
from albert_fast.losses import metric_sums, pretraining_losses  # noqa: E402
from albert_fast.pretrain import pretrain  # noqa: E402
from albert_fast.records import feature_spec, length_histogram  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BINS = [32, 48]  # + max_seq_length 64


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="session")
def varied_data(tmp_path_factory, literature_dir) -> Path:
    """Twain shards (max_seq_length 64) whose instances have many lengths: half the chunks
    get a random shorter budget (as create-data's short_seq_prob)."""
    return pdata.build_dataset(tmp_path_factory.mktemp("varied"),
                               [literature_dir / "en-twain1.txt", literature_dir / "en-twain2.txt"],
                               [literature_dir / "en-twain4.txt"], short_seq_prob=0.5)


@pytest.fixture(scope="session")
def short_data(tmp_path_factory, literature_dir) -> Path:
    """The same text as instances of at most 32 tokens (a phase-one dataset)."""
    return pdata.build_dataset(tmp_path_factory.mktemp("short"),
                               [literature_dir / "en-twain1.txt", literature_dir / "en-twain2.txt"],
                               [literature_dir / "en-twain4.txt"], max_seq_length=32,
                               short_seq_prob=0.5)


def _train_files(data: Path) -> list[str]:
    return sorted(glob.glob(str(data / "train-*")))


def _binned(data: Path) -> SequenceBins:
    bins, notes = count_bins(_train_files(data), bin_lengths(BINS, 64))
    assert not notes
    return bins


def _weights(run: Path, cfg) -> dict:
    from albert_fast.model import build_pretraining_model

    model = build_pretraining_model(cfg.model)
    tf.train.Checkpoint(model=model).read(
        tf.train.latest_checkpoint(str(run))).assert_existing_objects_matched().expect_partial()
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def _assert_same_weights(a: dict, b: dict, atol: float = 1e-6) -> None:
    assert a.keys() == b.keys() and len(a) > 20
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=atol, err_msg=name)


# --------------------------------------------------------------------------------------------
# Settings

def _load(tmp_path, pretraining: dict, data: dict | None = None) -> Config:
    import yaml

    from albert_fast.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": data or {}, "pretraining": pretraining}))
    return load_config(path)


def test_bin_and_phase_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"sequence_bins.*bin 1024 is above "
                                          r"data.max_seq_length = 512"):
        _load(tmp_path, {"sequence_bins": [128, 1024]})
    with pytest.raises(ConfigError, match="strictly increasing"):
        _load(tmp_path, {"sequence_bins": [256, 128]})
    with pytest.raises(ConfigError, match="strictly increasing"):
        _load(tmp_path, {"sequence_bins": [128, 128]})
    with pytest.raises(ConfigError, match="positive"):
        _load(tmp_path, {"sequence_bins": [0, 128]})
    with pytest.raises(ConfigError, match=r"phases.0.sequence_bins.*above the phase's "
                                          r"max_seq_length = 128"):
        _load(tmp_path, {"phases": [{"fraction": 0.9, "max_seq_length": 128,
                                     "sequence_bins": [64, 256]}, {}]})
    with pytest.raises(ConfigError, match="give steps or fraction"):
        _load(tmp_path, {"phases": [{}, {}]})
    with pytest.raises(ConfigError, match="add up to 20 steps"):
        _load(tmp_path, {"num_train_steps": 100, "num_warmup_steps": 1,
                         "phases": [{"steps": 10}, {"steps": 10}]})
    cfg = _load(tmp_path, {"num_train_steps": 1001, "num_warmup_steps": 1, "jit_compile": True,
                           "phases": [{"fraction": 0.9, "max_seq_length": 128}, {"fraction": 0.1}]})
    assert phase_ranges(cfg.pretraining) == [(0, 901), (901, 1001)]
    assert cfg.pretraining.jit_compile == "true"  # YAML's boolean read as the choice
    assert bin_lengths([128, 256], 512) == [128, 256, 512]
    assert bin_lengths([128, 512], 512) == [128, 512]


def test_bins_without_instances_are_merged_upward():
    hist = {10: 5, 40: 100, 60: 1000}  # nothing in (16, 32]
    bins, notes = count_bins(["f"], [16, 32, 48, 64], histogram=hist)
    assert bins == SequenceBins((16, 48, 64), (5, 100, 1000)) and not notes
    # Two pipelines sharing one file keep a bin only with >= 8 instances per pipeline.
    bins, notes = count_bins(["f"], [16, 32, 48, 64], pipelines=2, histogram=hist)
    assert bins == SequenceBins((48, 64), (105, 1000)) and "bin 16 merged" in notes[0]


# --------------------------------------------------------------------------------------------
# The binned input pipeline

def _key(features: dict, row: int) -> tuple:
    """One instance, recognisable in any bin (its real tokens and masked positions)."""
    n = int(features["input_mask"][row].sum())
    return (tuple(features["input_ids"][row, :n]), tuple(features["masked_lm_positions"][row]))


def _counts(ds, batches: int) -> tuple[dict, collections.Counter]:
    """How often each instance was seen in ``batches`` batches, by the bin of its length."""
    seen: dict = {32: collections.Counter(), 48: collections.Counter(), 64: collections.Counter()}
    per_length: collections.Counter = collections.Counter()
    for features in ds.take(batches).as_numpy_iterator():
        per_length[features["input_ids"].shape[1]] += 1
        for row in range(features["input_ids"].shape[0]):
            real = int(features["input_mask"][row].sum())
            seen[next(b for b in (32, 48, 64) if real <= b)][_key(features, row)] += 1
    return seen, per_length


def test_binned_batches_have_bin_shapes_and_every_instance_at_the_unbinned_rate(varied_data):
    files = _train_files(varied_data)
    bins = _binned(varied_data)
    hist = length_histogram(files)
    n = sum(hist.values())
    assert sum(bins.counts) == n and len(bins.lengths) == 3
    spec = feature_spec(64, 10)
    batch, epochs = 16, 3
    steps = epochs * n // batch

    # Shapes: each batch is one bin, cut to its length, holding only instances of that bin.
    lower = {32: 0, 48: 32, 64: 48}
    ds = make_dataset(files, spec, batch, True, seed=7, bins=bins, deterministic=True)
    for features in ds.take(60).as_numpy_iterator():
        length = features["input_ids"].shape[1]
        assert length in bins.lengths
        assert all(v.shape[1] == length for k, v in features.items()
                   if k in ("input_ids", "input_mask", "segment_ids"))
        real = features["input_mask"].sum(axis=1)
        assert ((real > lower[length]) & (real <= length)).all()
        assert (features["masked_lm_positions"] < real[:, None]).all()

    # Rates: over three epochs' worth of batches every instance is seen, binned as unbinned,
    # and as evenly: the unbinned pipeline's shuffle buffer straddles epoch ends too, so
    # counts spread around 3 in both; a bin's share of the draws adds a little.
    binned, per_length = _counts(ds, steps)
    padded, _ = _counts(make_dataset(files, spec, batch, True, seed=7, deterministic=True),
                        steps)
    for length, n_bin in zip(bins.lengths, bins.counts):
        for seen in (binned, padded):
            assert len(seen[length]) >= 0.99 * n_bin  # (a few duplicates share a key)
        spread = [float(np.std(list(seen[length].values()))) for seen in (binned, padded)]
        assert spread[0] < max(1.0, 1.5 * spread[1]), (length, spread)
    # Bins are drawn with probability proportional to their share (within 4 sigma).
    for length, share in zip(bins.lengths, bins.shares):
        sigma = math.sqrt(steps * share * (1 - share))
        assert abs(per_length[length] - steps * share) < 4 * sigma, (length, per_length)

    # Deterministic given the seed; another seed, another order.
    def first(seed: int) -> list:
        d = make_dataset(files, spec, batch, True, seed=seed, bins=bins, deterministic=True)
        return [f["input_ids"] for f in d.take(20).as_numpy_iterator()]

    a, b, c = first(3), first(3), first(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c))


def test_every_input_pipeline_draws_the_same_bins(varied_data):
    """Workers read different files but draw the same bin for every step (the schedule is a
    function of the seed and the step alone), so all replicas of a step have one shape."""
    files = _train_files(varied_data)
    bins, _ = count_bins(files, bin_lengths(BINS, 64), pipelines=2)
    lengths, firsts = [], []
    for pipeline in range(2):
        ctx = tf.distribute.InputContext(2, pipeline, 2)
        ds = make_dataset(files, feature_spec(64, 10), 8, True, seed=3, bins=bins,
                          input_context=ctx, deterministic=True)
        batches = list(ds.take(40).as_numpy_iterator())
        lengths.append([b["input_ids"].shape[1] for b in batches])
        firsts.append(batches[0]["input_ids"])
    assert lengths[0] == lengths[1] and len(set(lengths[0])) == 3
    assert not np.array_equal(firsts[0], firsts[1])  # other data, same schedule


def test_binned_input_with_dynamic_masking_resumes_exactly(varied_data, tmp_path):
    """The position in every bin stream, the bin schedule and the mask stream are all part of
    the iterator's checkpoint."""
    files = _train_files(varied_data)
    masking = DynamicMasking(rate=0.15, max_predictions_per_seq=10, vocab_size=2000)
    spec = feature_spec(64, 10, token_boundary=True)

    def dataset():
        return make_dataset(files, spec, 8, True, seed=11, bins=_binned(varied_data),
                            masking=masking, deterministic=True)

    it = iter(dataset())
    for _ in range(7):
        next(it)
    saved = tf.train.Checkpoint(it=it).save(str(tmp_path / "pos"))
    expected = [next(it) for _ in range(6)]
    restored = iter(dataset())
    tf.train.Checkpoint(it=restored).restore(saved).assert_consumed()
    for want in expected:
        got = next(restored)
        for k in want:
            np.testing.assert_array_equal(got[k].numpy(), want[k].numpy(), err_msg=k)
    # Dynamic masks stay inside the real tokens of the cut batch, within the budget.
    for f in expected:
        real = f["input_mask"].numpy().sum(axis=1)
        weights = f["masked_lm_weights"].numpy()
        positions = f["masked_lm_positions"].numpy()
        assert ((positions < real[:, None]) | (weights == 0)).all()
        assert (weights.sum(axis=1) <= np.minimum(10, np.maximum(1, np.round(real * 0.15)))).all()


def test_losses_are_the_same_padded_and_cut_to_the_bin(varied_data):
    """One batch of the 32 bin evaluated cut to 32 and padded to 64: the same MLM and SOP
    losses and metric sums (padding is masked); the fused MLM loss equals the reference's
    one-hot formula."""
    from albert_fast.model import build_pretraining_model

    cfg = pdata.tiny_config()
    model = build_pretraining_model(cfg.model)
    ds = make_dataset(_train_files(varied_data), feature_spec(64, 10), 16, True, seed=5,
                      bins=_binned(varied_data))
    cut = next(f for f in ds if f["input_ids"].shape[1] == 32)
    padded = {k: (tf.pad(v, [[0, 0], [0, 32]]) if v.shape.rank == 2 and v.shape[1] == 32 else v)
              for k, v in cut.items()}
    assert padded["input_ids"].shape[1] == 64
    assert all(np.array_equal(cut_to_length(padded, 32)[k], cut[k]) for k in cut)
    out_cut, out_pad = model(cut, training=False), model(padded, training=False)
    l_cut, l_pad = pretraining_losses(out_cut, cut), pretraining_losses(out_pad, padded)
    for k in ("loss", "masked_lm_loss", "sentence_order_loss"):
        np.testing.assert_allclose(float(l_cut[k]), float(l_pad[k]), rtol=1e-5, err_msg=k)
    s_cut, s_pad = metric_sums(out_cut, cut), metric_sums(out_pad, padded)
    for k in ("mlm_weight", "mlm_correct", "sop_correct", "real_tokens"):
        assert float(s_cut[k]) == float(s_pad[k]), k
    assert float(s_cut["tokens"]) == 16 * 32 and float(s_pad["tokens"]) == 16 * 64
    # The reference's formula: Σ w·(−Σ one_hot · log_softmax) / (Σ w + 1e-5).
    log_probs = tf.nn.log_softmax(out_cut["mlm_logits"], axis=-1)
    per_position = -tf.reduce_sum(tf.one_hot(cut["masked_lm_ids"], 2000) * log_probs, axis=-1)
    w = cut["masked_lm_weights"]
    reference = tf.reduce_sum(w * per_position) / (tf.reduce_sum(w) + 1e-5)
    np.testing.assert_allclose(float(l_cut["masked_lm_loss"]), float(reference), rtol=1e-6)


# --------------------------------------------------------------------------------------------
# The trainer with bins, phases and XLA

@pytest.mark.slow
def test_bins_with_dynamic_masking_train_and_resume_exactly(varied_data, tmp_path):
    cfg = pdata.tiny_config(num_train_steps=12, save_checkpoints_steps=6, iterations_per_loop=3,
                            num_warmup_steps=2, sequence_bins=BINS, masked_lm_budget=0.15)
    cfg.model.hidden_dropout_prob = 0.1
    straight, split = tmp_path / "straight", tmp_path / "split"
    lines: list[str] = []
    whole = pretrain(cfg, str(varied_data), straight, deterministic=True, do_eval=False,
                     progress=lines.append)
    assert any(line.startswith("sequence bins [32, 48, 64]") for line in lines), lines
    recorded = json.loads((straight / "sequence_bins.json").read_text())["phase-0"]
    assert recorded["lengths"] == [32, 48, 64] and sum(recorded["counts"]) == sum(
        length_histogram(_train_files(varied_data)).values())
    # Positions computed per instance: below 64 (padding saved), above the real mean.
    per_instance = [h["tokens_per_sec"] / h["examples_per_sec"] for h in whole.history]
    real = [h["real_tokens_per_sec"] / h["examples_per_sec"] for h in whole.history]
    assert all(r <= p <= 64 for r, p in zip(real, per_instance)) and min(per_instance) < 64
    pretrain(cfg, str(varied_data), split, deterministic=True, do_eval=False,
             num_train_steps=6, progress=_quiet)
    pretrain(cfg, str(varied_data), split, deterministic=True, do_eval=False, progress=_quiet)
    _assert_same_weights(_weights(straight, cfg), _weights(split, cfg))


@pytest.mark.slow
def test_xla_step_gives_the_same_losses(varied_data, tmp_path):
    """jit_compile true vs false: the same loss step by step and the same weights within
    float tolerance; evaluation compiled too. (XLA with bins: test_tpu_requirements...)"""
    runs = {}
    for jit in ("false", "true"):
        cfg = pdata.tiny_config(num_train_steps=3, save_checkpoints_steps=3,
                                iterations_per_loop=1, num_warmup_steps=1, jit_compile=jit,
                                max_eval_steps=1)
        runs[jit] = (cfg, pretrain(cfg, str(varied_data), tmp_path / jit, deterministic=True,
                                   progress=_quiet))
    (cfg, plain), (_, xla) = runs["false"], runs["true"]
    np.testing.assert_allclose([h["loss"] for h in xla.history],
                               [h["loss"] for h in plain.history], rtol=1e-4)
    np.testing.assert_allclose(xla.eval["masked_lm_loss"], plain.eval["masked_lm_loss"],
                               rtol=1e-4)
    a, b = _weights(tmp_path / "false", cfg), _weights(tmp_path / "true", cfg)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_composes_with_xla_and_bins(varied_data, tmp_path, precision):
    """bf16, and fp16 with loss scaling, in XLA-compiled steps over two bins: finite losses
    that fall, float32 variables."""
    cfg = pdata.tiny_config(num_train_steps=6, save_checkpoints_steps=6, iterations_per_loop=2,
                            num_warmup_steps=1, sequence_bins=[48], jit_compile="true",
                            precision=precision)
    result = pretrain(cfg, str(varied_data), tmp_path / "run", deterministic=True,
                      do_eval=False, progress=_quiet)
    losses = [h["loss"] for h in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    per_instance = [h["tokens_per_sec"] / h["examples_per_sec"] for h in result.history]
    assert min(per_instance) < 64  # the 48 bin ran
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "run")))
    assert tf.float32 in set(reader.get_variable_to_dtype_map().values())


@pytest.mark.slow
def test_two_phases_resume_across_the_boundary(varied_data, short_data, tmp_path):
    """6 steps on 32-token data, then 6 on 64-token data with bins: one run straight equals
    the same run stopped inside phase one, again at the boundary, and finished."""
    def config():
        cfg = pdata.tiny_config(num_train_steps=12, save_checkpoints_steps=2,
                                iterations_per_loop=2, num_warmup_steps=2, sequence_bins=BINS,
                                keep_checkpoint_max=2)
        cfg.pretraining.phases = [{"steps": 6, "data": str(short_data), "max_seq_length": 32},
                                  {}]
        return Config.model_validate(cfg.model_dump())

    cfg = config()
    straight = pretrain(cfg, str(varied_data), tmp_path / "straight", deterministic=True,
                        do_eval=False, progress=_quiet)
    positions = [h["tokens_per_sec"] / h["examples_per_sec"] for h in straight.history]
    assert all(p == pytest.approx(32) for p in positions[:3])  # phase one: 32 tokens, no bins
    assert all(32 <= p <= 64 for p in positions[3:]) and max(positions[3:]) > 32
    split = tmp_path / "split"
    for stop in (4, 6, None):
        lines: list[str] = []
        pretrain(cfg, str(varied_data), split, deterministic=True, do_eval=False,
                 num_train_steps=stop, progress=lines.append)
    _assert_same_weights(_weights(tmp_path / "straight", cfg), _weights(split, cfg))


def test_data_in_a_bucket(varied_data, tmp_path):
    """--data as a URL of TensorFlow's file systems (gs:// on a Cloud TPU; here its in-memory
    ram://): files and manifest found, bins counted by TensorFlow as the Rust pass counts
    local files, and the trainer reads them."""
    from albert_fast.dataset import find_data_files, lengths_of

    remote = "ram://bucket/data"
    tf.io.gfile.makedirs(remote)
    for f in varied_data.iterdir():
        tf.io.gfile.copy(str(f), f"{remote}/{f.name}", overwrite=True)
    files = find_data_files(remote)
    assert [Path(f).name for f in files.train] == [Path(f).name for f in
                                                    _train_files(varied_data)]
    assert files.eval == [f"{remote}/eval-00000-of-00001.tfrecord"]
    assert files.manifest["data"]["max_seq_length"] == 64
    assert lengths_of(files.train) == length_histogram(_train_files(varied_data))
    cfg = pdata.tiny_config(num_train_steps=2, save_checkpoints_steps=2, iterations_per_loop=2,
                            num_warmup_steps=1, sequence_bins=BINS)
    result = pretrain(cfg, remote, tmp_path / "run", do_eval=False, progress=_quiet)
    assert result.step == 2 and math.isfinite(result.train["loss"])


def test_tpu_requirements_without_a_tpu(varied_data):
    """What a TPU needs, checked on CPU: every bin stream has fully static shapes, the training
    loop's graph runs no host-side Python, the step compiles with XLA; a missing TPU is a
    one-line error."""
    from albert_fast.pretrain import _compiled_train_loop, _model_and_optimizer
    from albert_fast.runtime import make_strategy

    spec = feature_spec(64, 10)
    for length in _binned(varied_data).lengths:  # each bin stream alone
        only = make_dataset(_train_files(varied_data), spec, 8, True, seed=1,
                            bins=SequenceBins((length,), (1,)))
        assert all(s.shape.is_fully_defined() for s in only.element_spec.values())
    cfg = pdata.tiny_config()
    strategy = tf.distribute.get_strategy()
    model, optimizer = _model_and_optimizer(cfg, strategy, "fp32")
    loop = _compiled_train_loop(model, optimizer, strategy, "fp32", jit=True)
    binned = iter(make_dataset(_train_files(varied_data), spec, 8, True, seed=1,
                               bins=_binned(varied_data)))
    graph_def = loop.get_concrete_function(binned, tf.constant(1)).graph.as_graph_def()
    nodes = list(graph_def.node) + [n for fn in graph_def.library.function for n in fn.node_def]
    assert not {n.op for n in nodes} & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert any(n.attr["_XlaMustCompile"].b for n in nodes)  # the step is one XLA program
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=rf"^--tpu 'grpc://127.0.0.1:{port}': no TPU to train "
                                         r"on \(.*refused\); on a Cloud TPU VM use --tpu local"):
        make_strategy("tpu", f"grpc://127.0.0.1:{port}")
    with pytest.raises(ValueError, match=r"^--strategy tpu: no TPU to train on"):
        make_strategy("tpu")


def test_cli_tpu_error_is_one_line(varied_data, tmp_path):
    proc = run_cli("pretrain", "--data", str(varied_data), "-o", str(tmp_path / "run"),
                   "--tpu", "grpc://127.0.0.1:9", "--sequence_bins", "32,48",
                   "--max_seq_length", "64", "--max_predictions_per_seq", "10",
                   "--vocab_size", "2000", "--max_position_embeddings", "64",
                   env={"PYTHONPATH": str(REPO / "python")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    # One line of ours (TensorFlow's C++ start-up lines aside).
    ours = [line for line in proc.stderr.splitlines()
            if line.strip() and not line.startswith(("WARNING: All log messages", "I0000",
                                                     "W0000", "To enable the following"))]
    assert len(ours) == 1 and "no TPU to train on" in ours[0], proc.stderr


# --------------------------------------------------------------------------------------------
# MirroredStrategy over logical CPU devices: the code path of a multi-GPU machine

MIRRORED = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
import pretrain_data as pdata
from albert_fast.pretrain import pretrain
data, out = sys.argv[2], sys.argv[3]
def run(strategy, name, stop=None):
    cfg = pdata.tiny_config(num_train_steps=8, save_checkpoints_steps=4, iterations_per_loop=2,
                            num_warmup_steps=2, sequence_bins=[32, 48], masked_lm_budget=0.15)
    r = pretrain(cfg, data, f"{out}/{name}", strategy=strategy, deterministic=True,
                 do_eval=False, num_train_steps=stop, progress=lambda line: None)
    return [h["loss"] for h in r.history]
result = {"replicas": tf.distribute.MirroredStrategy(
              [d.name for d in tf.config.list_logical_devices("CPU")]).num_replicas_in_sync,
          "mirrored": run("mirrored", "mirrored"), "one": run("cpu", "one")}
run("mirrored", "split", stop=4)
run("mirrored", "split")
print("RESULT", json.dumps(result))
"""


@pytest.mark.slow
def test_mirrored_on_logical_cpu_devices_matches_one_device(varied_data, tmp_path):
    """2 replicas (logical CPU devices) with bins and dynamic masking: the same loss
    trajectory as one device on the same global batch (each replica normalizes its own MLM
    loss, as the reference's TPU shards do, hence a tolerance); stopped and resumed it gives
    the weights of the uninterrupted run (the input position is restored)."""
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(Path(__file__).parent),
                           str(varied_data), str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO / "python"),
                                   TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES=""),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["mirrored"], result["one"], rtol=2e-3)
    cfg = pdata.tiny_config()
    _assert_same_weights(_weights(tmp_path / "mirrored", cfg), _weights(tmp_path / "split", cfg))
