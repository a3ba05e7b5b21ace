"""Pretraining: the ALBERT model of :mod:`albert_fast.model` trained on MLM + SOP TFRecords with
TensorFlow (``tf.data``, ``tf.distribute``, ``tf.train.CheckpointManager``), following
``run_pretraining.py`` of google-research/albert (spec §8).

One call, :func:`pretrain`, runs or resumes a run in an output directory:

* the resolved config goes to ``RUN/config.yaml`` (a re-run with another architecture fails);
* checkpoints ``RUN/ckpt-N`` every ``save_checkpoints_steps``, ``keep_checkpoint_max`` kept;
  they hold the weights, the optimizer state (moments, step) and the input pipeline's position,
  so re-running the same command resumes exactly where it stopped;
* ``init_checkpoint`` (a run directory or checkpoint prefix of ours) warm-starts the weights
  only, optionally copying layer group 0 into every group (``init_from_group0``);
* TensorBoard summaries under ``RUN/train`` and ``RUN/eval``; evaluation on the held-out split
  (Q15: the reference evaluates on its training files), and the weights with the best
  ``masked_lm_accuracy`` are kept in ``RUN/best``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from albert_fast.config import Config
from albert_fast.dynamic_masking import DynamicMasking


STRATEGIES = ("auto", "cpu", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}
DEFAULT_SHUFFLE_BUFFER = 1000  # the reference's 100 barely mixes neighbouring instances.


# --------------------------------------------------------------------------------------------
# Feature spec and input files

def feature_spec(max_seq_length: int, max_predictions_per_seq: int,
                 token_boundary: bool = False) -> dict[str, tuple[str, int]]:
    """The features ``run_pretraining.py`` parses (spec §7; ``token_boundary`` only for dynamic
    masking): name -> (dtype, length), from the one definition in :mod:`albert_fast.records`."""
    from albert_fast.records import feature_spec as records_spec

    return records_spec(max_seq_length, max_predictions_per_seq, token_boundary=token_boundary)


@dataclass
class DataFiles:
    """The training and evaluation TFRecord files of a run."""

    train: list[str]
    eval: list[str]
    eval_is_train: bool = False  # Q15: no held-out split given, evaluating on training data
    manifest: dict = field(default_factory=dict)


def _expand(spec: str) -> list[str]:
    import glob

    from albert_fast.records import is_record_file_name

    path = Path(spec)
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and is_record_file_name(p.name))
    if any(ch in spec for ch in "*?["):
        return sorted(glob.glob(spec))
    if path.is_file():
        return [str(path)]
    raise FileNotFoundError(2, "No such file or directory", spec)


def find_data_files(data: str | Sequence[str], eval_data: Optional[str | Sequence[str]] = None
                    ) -> DataFiles:
    """Resolves ``--data`` (a create-data output directory with ``train-*``/``eval-*`` shards
    and a manifest, any directory of TFRecords, a glob, or files; comma-separated allowed) and
    the optional ``--eval-data``."""
    specs = [data] if isinstance(data, str) else list(data)
    specs = [s for spec in specs for s in str(spec).split(",") if s]
    files: list[str] = []
    manifest: dict = {}
    for spec in specs:
        files.extend(_expand(spec))
        m = Path(spec) / "manifest.json"
        if Path(spec).is_dir() and m.is_file():
            manifest = json.loads(m.read_text(encoding="utf-8"))
    if not files:
        raise ValueError(f"--data {','.join(specs)}: no TFRecord files found")
    train = [f for f in files if Path(f).name.startswith("train-")]
    held_out = [f for f in files if Path(f).name.startswith("eval-")]
    if not train:  # not a split layout: every file trains
        train, held_out = files, []
    if eval_data:
        evals = [eval_data] if isinstance(eval_data, str) else list(eval_data)
        held_out = [f for spec in evals for s in str(spec).split(",") if s for f in _expand(s)]
        if not held_out:
            raise ValueError(f"--eval-data {eval_data}: no TFRecord files found")
    if held_out:
        return DataFiles(train, held_out, False, manifest)
    return DataFiles(train, train, True, manifest)


def _first_record(path: str) -> bytes:
    import tensorflow as tf

    for raw in tf.data.TFRecordDataset(path, compression_type=_compression(path)).take(1):
        return raw.numpy()
    raise ValueError(f"{path}: contains no records")


def _compression(path: str) -> str:
    return "GZIP" if path.endswith(".gz") else ""


def check_data_matches_config(files: DataFiles, config: Config, sample: int = 512) -> None:
    """Fails early, naming the file and both values, when the data was made for another
    ``max_seq_length``, ``max_predictions_per_seq`` or vocabulary than the config says."""
    import numpy as np
    import tensorflow as tf

    d, m = config.data, config.model
    for key, want in (("max_seq_length", d.max_seq_length),
                      ("max_predictions_per_seq", d.max_predictions_per_seq)):
        got = _manifest_value(files.manifest, key)
        if got is not None and int(got) != want:
            raise ValueError(f"data manifest says {key} = {got} but the config has "
                             f"data.{key} = {want}")
    vocab = _manifest_value(files.manifest, "vocab_size")
    if vocab is not None and int(vocab) > m.vocab_size:
        raise ValueError(f"the data's tokenizer has {vocab} pieces but model.vocab_size is "
                         f"{m.vocab_size} (Q5: they must agree)")
    dynamic = config.pretraining.masked_lm_budget > 0
    for path in {files.train[0], files.eval[0]}:
        example = tf.train.Example.FromString(_first_record(path))
        feats = example.features.feature
        for name, (_, length) in feature_spec(d.max_seq_length, d.max_predictions_per_seq,
                                              token_boundary=dynamic).items():
            if name not in feats:
                raise ValueError(f"{path}: records have no feature {name!r}; not ALBERT "
                                 "pretraining data?" + (" (dynamic masking, masked_lm_budget > "
                                 "0, needs token_boundary)" if name == "token_boundary" else ""))
            values = feats[name].int64_list.value or feats[name].float_list.value
            if len(values) != length:
                what = "max_seq_length" if length == d.max_seq_length and not name.startswith(
                    "masked_lm") else "max_predictions_per_seq"
                if name == "next_sentence_labels":
                    raise ValueError(f"{path}: next_sentence_labels has {len(values)} values, "
                                     "expected 1")
                raise ValueError(
                    f"{path}: feature {name} has length {len(values)} but the config's "
                    f"data.{what} gives {length}; set data.{what} to the value the data was "
                    "created with (data made with do_permutation has twice the masked_lm "
                    "slots, Q14)")
    max_id = 0
    spec = feature_spec(d.max_seq_length, d.max_predictions_per_seq)
    parse = _parser(spec)
    ds = tf.data.TFRecordDataset(files.train[0], compression_type=_compression(files.train[0]))
    for feats in ds.take(sample).map(parse).batch(sample):
        max_id = max(int(np.max(feats["input_ids"])), int(np.max(feats["masked_lm_ids"])))
    if max_id >= m.vocab_size:
        raise ValueError(f"{files.train[0]}: token id {max_id} is outside model.vocab_size = "
                         f"{m.vocab_size}; the data was made with a larger vocabulary (Q5)")
    if d.max_seq_length > m.max_position_embeddings:
        raise ValueError(f"data.max_seq_length = {d.max_seq_length} exceeds "
                         f"model.max_position_embeddings = {m.max_position_embeddings}")


def _manifest_value(manifest: dict, key: str) -> Any:
    """Looks ``key`` up at the top of the manifest or one section down."""
    if key in manifest and not isinstance(manifest[key], dict):
        return manifest[key]
    for value in manifest.values():
        if isinstance(value, dict):
            found = _manifest_value(value, key)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------
# Input pipeline

def _parser(spec: dict[str, tuple[str, int]]) -> Callable:
    import tensorflow as tf

    from albert_fast.records import tf_feature_spec

    features = tf_feature_spec(spec)

    def parse(record: Any) -> dict:
        example = tf.io.parse_single_example(record, features)
        # int64 -> int32 as the reference (TPUs have no int64); labels become a scalar.
        out = {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}
        out["next_sentence_labels"] = tf.reshape(out["next_sentence_labels"], [])
        return out

    return parse


def make_dataset(files: Sequence[str], spec: dict, batch_size: int, is_training: bool,
                 seed: Optional[int] = None, shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
                 drop_remainder: bool = True, input_context: Any = None,
                 deterministic: bool = False, masking: Optional[Callable] = None) -> Any:
    """tf.data over the shards as the reference reads them: the file list repeated and
    shuffled, records interleaved from ``min(4, files)`` files in parallel, shuffled, parsed
    with the exact feature spec, batched and prefetched. Evaluation reads each file once, in
    order. ``masking`` (a :class:`~albert_fast.dynamic_masking.DynamicMasking`) re-masks every
    batch, seeded by (seed, input pipeline, batch number)."""
    import tensorflow as tf

    auto = tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices(list(files))
    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
    # Each input pipeline (worker) reads its own files; with fewer files than workers, every
    # worker reads all files and keeps its share of the records.
    by_file = pipelines > 1 and len(files) >= pipelines
    if by_file:
        ds = ds.shard(pipelines, pipeline_id)
    n_files = len(files) // pipelines if by_file else len(files)
    compression = "GZIP" if all(f.endswith(".gz") for f in files) else ""
    if is_training:
        ds = ds.repeat().shuffle(max(1, n_files), seed=seed)
        ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
                           cycle_length=max(1, min(4, n_files)), num_parallel_calls=auto,
                           deterministic=deterministic)
    else:
        ds = ds.flat_map(lambda f: tf.data.TFRecordDataset(f, compression_type=compression))
    if pipelines > 1 and not by_file:
        ds = ds.shard(pipelines, pipeline_id)
    if is_training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.map(_parser(spec), num_parallel_calls=auto, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if masking is not None:
        fold_in = tf.random.experimental.stateless_fold_in
        base = fold_in(tf.constant([seed or 0, 0], tf.int64), pipeline_id)
        ds = ds.enumerate().map(lambda i, f: masking(f, fold_in(base, i)),
                                num_parallel_calls=auto, deterministic=True)
    return ds.prefetch(auto)


# --------------------------------------------------------------------------------------------
# Losses and metrics

def pretraining_losses(outputs: dict, features: dict) -> dict:
    """The reference's losses: MLM = Σ w·(−log p) / (Σ w + 1e-5) over the masked positions;
    SOP = mean cross-entropy; total = MLM + SOP (all float32)."""
    import tensorflow as tf

    mlm_log_probs = tf.nn.log_softmax(tf.cast(outputs["mlm_logits"], tf.float32), axis=-1)
    labels = features["masked_lm_ids"]
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    per_position = -tf.reduce_sum(tf.one_hot(labels, tf.shape(mlm_log_probs)[-1]) * mlm_log_probs,
                                  axis=-1)
    mlm_loss = tf.reduce_sum(weights * per_position) / (tf.reduce_sum(weights) + 1e-5)
    sop_log_probs = tf.nn.log_softmax(tf.cast(outputs["sop_logits"], tf.float32), axis=-1)
    sop_per_example = -tf.reduce_sum(
        tf.one_hot(features["next_sentence_labels"], 2) * sop_log_probs, axis=-1)
    sop_loss = tf.reduce_mean(sop_per_example)
    return {"loss": mlm_loss + sop_loss, "masked_lm_loss": mlm_loss,
            "sentence_order_loss": sop_loss, "_mlm_per_position": per_position,
            "_sop_per_example": sop_per_example, "_mlm_log_probs": mlm_log_probs,
            "_sop_log_probs": sop_log_probs}


def metric_sums(outputs: dict, features: dict) -> dict:
    """Sums from which the reference's eval metrics follow (weighted by masked_lm_weights):
    masked_lm_accuracy, masked_lm_loss, sentence_order_accuracy, sentence_order_loss."""
    import tensorflow as tf

    losses = pretraining_losses(outputs, features)
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    mlm_pred = tf.argmax(losses["_mlm_log_probs"], axis=-1, output_type=tf.int32)
    mlm_correct = tf.cast(tf.equal(mlm_pred, features["masked_lm_ids"]), tf.float32)
    sop_pred = tf.argmax(losses["_sop_log_probs"], axis=-1, output_type=tf.int32)
    sop_correct = tf.cast(tf.equal(sop_pred, features["next_sentence_labels"]), tf.float32)
    return {
        "mlm_weight": tf.reduce_sum(weights),
        "mlm_correct": tf.reduce_sum(weights * mlm_correct),
        "mlm_loss": tf.reduce_sum(weights * losses["_mlm_per_position"]),
        "sop_count": tf.cast(tf.size(sop_correct), tf.float32),
        "sop_correct": tf.reduce_sum(sop_correct),
        "sop_loss": tf.reduce_sum(losses["_sop_per_example"]),
    }


def metrics_from_sums(sums: dict) -> dict:
    w, n = max(float(sums["mlm_weight"]), 1e-12), max(float(sums["sop_count"]), 1e-12)
    return {
        "masked_lm_accuracy": float(sums["mlm_correct"]) / w,
        "masked_lm_loss": float(sums["mlm_loss"]) / w,
        "sentence_order_accuracy": float(sums["sop_correct"]) / n,
        "sentence_order_loss": float(sums["sop_loss"]) / n,
    }


# --------------------------------------------------------------------------------------------
# Strategy and precision

def make_strategy(name: str = "auto", tpu: Optional[str] = None) -> Any:
    """``auto``: TPU when ``--tpu`` is given, multi-worker when ``TF_CONFIG`` names several
    tasks, mirrored over all GPUs when there are several, else the default single device."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"--strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        if tpu:
            name = "tpu"
        elif _tf_config_tasks() > 1:
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name in ("cpu", "one_device"):
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy("/gpu:0" if name == "one_device" and gpus
                                               else "/cpu:0")
    raise AssertionError(name)


def _tf_config_tasks() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    cluster = json.loads(raw).get("cluster", {})
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))


def _is_chief(strategy: Any) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


# --------------------------------------------------------------------------------------------
# The run

@dataclass
class PretrainResult:
    """What :func:`pretrain` did: the final step, the last training-loop averages and the
    final evaluation (empty when evaluation was off)."""

    step: int
    train: dict
    eval: dict
    output_dir: str
    history: list = field(default_factory=list)


def _save_config(config: Config, out: Path) -> None:
    import yaml

    from albert_fast.io_utils import atomic_write_text

    path = out / "config.yaml"
    resolved = config.model_dump(mode="json")
    if path.is_file():
        previous = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if previous.get("model") != resolved["model"]:
            raise ValueError(
                f"{path}: this run directory holds a run with a different model architecture; "
                "use another output directory (or the same config to resume)")
    atomic_write_text(path, yaml.safe_dump(resolved, sort_keys=False))


def pretrain(config: Config, data: str | Sequence[str], output_dir: str | Path, *,
             eval_data: Optional[str | Sequence[str]] = None, strategy: str = "auto",
             tpu: Optional[str] = None, precision: Optional[str] = None,
             num_train_steps: Optional[int] = None, do_eval: bool = True,
             eval_every: Optional[int] = None, seed: Optional[int] = None,
             deterministic: bool = False, log_every: Optional[int] = None,
             progress: Optional[Callable[[str], None]] = None) -> PretrainResult:
    """Trains (or resumes) ALBERT with the config's ``model``/``pretraining``/``data`` sections
    on the TFRecords in ``data``; see the module docstring for what lands in ``output_dir``.

    ``num_train_steps`` stops the run at that step (``--stop-at``); the learning-rate schedule
    always spans ``pretraining.num_train_steps``, so a later run continues it unchanged.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from albert_fast.io_utils import ensure_output_dir

    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"pretraining runs on the TensorFlow backend of Keras; KERAS_BACKEND is "
                         f"{keras.backend.backend()!r}")
    pc, dc = config.pretraining, config.data
    emit = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    out = ensure_output_dir(output_dir)
    files = find_data_files(data, eval_data)
    stop_step = min(num_train_steps or pc.num_train_steps, pc.num_train_steps)
    precision = precision or pc.precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    # The strategy comes before any other TensorFlow op: multi-worker collectives must be
    # configured before the eager context starts.
    strat = make_strategy(strategy, tpu)
    chief = _is_chief(strat)
    check_data_matches_config(files, config)
    if files.eval_is_train and do_eval:
        emit("note: no held-out split (eval-* shards or --eval-data); evaluating on the training "
             "files as the reference does (Q15)")
    seed = pc.random_seed if seed is None else seed
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        if chief:
            _save_config(config, out)
        return _run(config, files, out, strat, chief, stop_step, precision, seed, deterministic,
                    do_eval, eval_every, log_every or pc.iterations_per_loop, emit)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _run(config: Config, files: DataFiles, out: Path, strategy: Any, chief: bool,
         stop_step: int, precision: str, seed: Optional[int], deterministic: bool,
         do_eval: bool, eval_every: Optional[int], log_every: int,
         emit: Callable[[str], None]) -> PretrainResult:
    import keras
    import tensorflow as tf

    from albert_fast.model import build_pretraining_model
    from albert_fast.optimization import create_optimizer

    pc, dc = config.pretraining, config.data
    accum = pc.gradient_accumulation_steps
    replicas = strategy.num_replicas_in_sync
    if pc.train_batch_size % (replicas * accum):
        raise ValueError(f"pretraining.train_batch_size = {pc.train_batch_size} is not divisible "
                         f"by replicas ({replicas}) x gradient_accumulation_steps ({accum})")
    micro_batch = pc.train_batch_size // accum  # global batch of one forward/backward pass
    spec = feature_spec(dc.max_seq_length, dc.max_predictions_per_seq)
    masking = DynamicMasking.from_config(config)
    train_spec = feature_spec(dc.max_seq_length, dc.max_predictions_per_seq,
                              token_boundary=masking is not None)
    is_tpu = isinstance(strategy, tf.distribute.TPUStrategy)

    with strategy.scope():
        model = build_pretraining_model(config.model)
        optimizer = create_optimizer(
            pc.optimizer, pc.learning_rate, pc.num_train_steps, pc.num_warmup_steps,
            poly_power=pc.poly_power, start_warmup_step=pc.start_warmup_step,
            weight_decay_rate=pc.weight_decay_rate, gradient_accumulation_steps=accum)
        if precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)

    def train_iterator(data_seed: Optional[int]) -> Any:
        def train_input(ctx: Any) -> Any:
            return make_dataset(files.train, train_spec,
                                ctx.get_per_replica_batch_size(micro_batch), True,
                                seed=data_seed, input_context=ctx, deterministic=deterministic,
                                masking=masking)

        return iter(strategy.distribute_datasets_from_function(train_input))

    train_iter = train_iterator(seed)
    # The input position is part of the checkpoint where TF can save the iterator (one device,
    # and strategies whose iterators are trackable); elsewhere a resumed run reshuffles with a
    # seed derived from the step, so it does not replay the data it already saw.
    iterator_saved = isinstance(train_iter, tf.__internal__.tracking.Trackable)
    state = dict(model=model, optimizer=optimizer, dropout_rng=_seed_states(model))
    if iterator_saved:
        state["train_iterator"] = train_iter
    ckpt = tf.train.Checkpoint(**state)
    ckpt_dir = out if chief else out / f".worker-{_task_id(strategy)}"
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=pc.keep_checkpoint_max,
                                         checkpoint_name="ckpt")
    inner = optimizer.inner_optimizer if precision == "fp16" else optimizer

    def global_step() -> int:
        return int(inner.iterations.numpy())  # optimizer updates (accumulation-aware)

    # Every worker resumes from the chief's checkpoints (the run directory is shared);
    # non-chief workers save to scratch directories as tf.distribute requires.
    latest = tf.train.latest_checkpoint(str(out))
    if latest:
        status = ckpt.restore(latest)
        status.assert_existing_objects_matched()
        if not iterator_saved:
            status.expect_partial()
            train_iter = train_iterator(None if seed is None else seed + global_step())
        emit(f"resumed from {latest} at step {global_step()}")
    elif pc.init_checkpoint:
        _warm_start(model, pc.init_checkpoint, pc.init_from_group0, emit)

    def train_step(features: dict) -> dict:
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            losses = pretraining_losses(outputs, features)
            scaled = losses["loss"] / replicas
            if precision == "fp16":
                scaled = optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        sums = metric_sums(outputs, features)
        sums["loss"] = losses["loss"]
        return sums

    sum_keys = ("loss", "mlm_weight", "mlm_correct", "mlm_loss", "sop_count", "sop_correct",
                "sop_loss")

    @tf.function
    def train_loop(iterator: Any, steps: Any) -> dict:
        totals = [tf.constant(0.0)] * len(sum_keys)
        for _ in tf.range(steps):
            per_replica = strategy.run(train_step, args=(next(iterator),))
            totals = [t + strategy.reduce(
                tf.distribute.ReduceOp.MEAN if k == "loss" else tf.distribute.ReduceOp.SUM,
                per_replica[k], axis=None) for t, k in zip(totals, sum_keys)]
        return dict(zip(sum_keys, totals))

    summary_dir = out if chief else ckpt_dir
    train_writer = tf.summary.create_file_writer(str(summary_dir / "train"))
    eval_writer = tf.summary.create_file_writer(str(summary_dir / "eval"))
    history: list = []
    last_train: dict = {}
    last_eval: dict = {}
    micro_steps_per_update = accum
    step = global_step()
    if step >= stop_step:
        emit(f"step {step} >= num_train_steps {stop_step}: nothing to train")
    while step < stop_step:
        next_save = (step // pc.save_checkpoints_steps + 1) * pc.save_checkpoints_steps
        n = min(log_every, pc.iterations_per_loop, stop_step - step, next_save - step)
        start = time.perf_counter()
        totals = train_loop(train_iter, tf.constant(n * micro_steps_per_update))
        totals = {k: float(v) for k, v in totals.items()}
        elapsed = time.perf_counter() - start
        step = global_step()
        lr = float(inner.learning_rate)
        stats = metrics_from_sums(totals)
        stats.update(loss=totals["loss"] / (n * micro_steps_per_update), learning_rate=lr,
                     steps_per_sec=n / elapsed,
                     examples_per_sec=n * pc.train_batch_size / elapsed)
        stats["tokens_per_sec"] = stats["examples_per_sec"] * dc.max_seq_length
        last_train = dict(stats, step=step)
        history.append(last_train)
        if chief:
            with train_writer.as_default(step=step):
                for k, v in stats.items():
                    write_scalar(k, v, step)
        emit(f"step {step}/{stop_step}  loss {stats['loss']:.4f}  "
             f"mlm_loss {stats['masked_lm_loss']:.4f}  sop_loss {stats['sentence_order_loss']:.4f}"
             f"  mlm_acc {stats['masked_lm_accuracy']:.3f}  sop_acc "
             f"{stats['sentence_order_accuracy']:.3f}  lr {lr:.3g}  "
             f"{stats['steps_per_sec']:.2f} steps/s  {stats['examples_per_sec']:.0f} examples/s")
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"training loss became {stats['loss']} at step {step}")
        if step % pc.save_checkpoints_steps == 0 or step >= stop_step:
            path = manager.save(checkpoint_number=step)
            if chief:
                emit(f"saved {path}")
        if do_eval and eval_every and step % eval_every == 0 and step < stop_step:
            last_eval = _evaluate_and_record(model, strategy, files, spec, config, step, chief,
                                             out, eval_writer, is_tpu, emit)
    if do_eval:
        last_eval = _evaluate_and_record(model, strategy, files, spec, config, step, chief, out,
                                         eval_writer, is_tpu, emit)
    train_writer.flush()
    eval_writer.flush()
    if not chief:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return PretrainResult(step=step, train=last_train, eval=last_eval, output_dir=str(out),
                          history=history)


def write_scalar(name: str, value: float, step: int) -> None:
    """A TensorBoard scalar in the default summary writer. Written with the core
    ``tf.summary.write`` and the scalars plugin's metadata, so TensorBoard itself need not be
    installed where training runs."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR)
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step,
                     metadata=metadata.SerializeToString())


def _seed_states(model: Any) -> list:
    """The state variables of the model's Keras seed generators (dropout). TensorFlow's
    checkpoints do not follow them by themselves; saving them makes a resumed run draw the same
    dropout masks as an uninterrupted one."""
    states = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", []):
            states.append(generator.state.value)
    return states


def _task_id(strategy: Any) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


def evaluate(model: Any, strategy: Any, files: Sequence[str], spec: dict, batch_size: int,
             max_steps: int, drop_remainder: bool = False) -> dict:
    """The reference's eval metrics over at most ``max_steps`` batches of ``files``."""
    import tensorflow as tf

    def eval_input(ctx: Any) -> Any:
        return make_dataset(files, spec, ctx.get_per_replica_batch_size(batch_size), False,
                            input_context=ctx, drop_remainder=drop_remainder)

    ds = strategy.distribute_datasets_from_function(eval_input)

    @tf.function
    def step(features: dict) -> dict:
        sums = strategy.run(lambda f: metric_sums(model(f, training=False), f), args=(features,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in sums.items()}

    totals: dict = {}
    for i, features in enumerate(ds):
        if i >= max_steps:
            break
        for k, v in step(features).items():
            totals[k] = totals.get(k, 0.0) + float(v)
    if not totals:
        raise ValueError(f"evaluation data {files[0]}...: no complete batch of {batch_size}")
    return metrics_from_sums(totals)


def _evaluate_and_record(model: Any, strategy: Any, files: DataFiles, spec: dict,
                         config: Config, step: int, chief: bool, out: Path, writer: Any,
                         is_tpu: bool, emit: Callable[[str], None]) -> dict:
    import tensorflow as tf

    from albert_fast.io_utils import atomic_write_json

    pc = config.pretraining
    result = evaluate(model, strategy, files.eval, spec, pc.eval_batch_size, pc.max_eval_steps,
                      drop_remainder=is_tpu)
    result["global_step"] = step
    emit("eval " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in result.items()))
    if chief:
        with writer.as_default(step=step):
            for k, v in result.items():
                if k != "global_step":
                    write_scalar(k, v, step)
        atomic_write_json(out / "eval_results.json", result)
        best_path = out / "best" / "eval_results.json"
        best = json.loads(best_path.read_text()) if best_path.is_file() else None
        if best is None or result["masked_lm_accuracy"] > best["masked_lm_accuracy"]:
            # The reference copies its best checkpoint (by masked_lm_accuracy) to *-best.
            (out / "best").mkdir(exist_ok=True)
            # With the weights listed: Keras 3 Dense kernels are not in the model's object
            # graph, so Checkpoint(model=model) alone would miss them (albert_fast.export).
            from albert_fast.export import save_weights

            save_weights(model, out / "best" / "model")
            atomic_write_json(best_path, result)
    return result


def _warm_start(model: Any, init_checkpoint: str, from_group0: bool,
                emit: Callable[[str], None]) -> None:
    """Loads only the model weights (optimizer state and step start fresh) from one of our
    checkpoints (a run directory, a ``best`` directory or a checkpoint prefix), a Hugging Face
    ALBERT directory or an original TF1 checkpoint; see :func:`albert_fast.export.warm_start`."""
    from albert_fast.export import warm_start

    warm_start(model, init_checkpoint, from_group0, emit)
