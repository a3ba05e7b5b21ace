"""``albert-fast pretrain``: ALBERT (:mod:`albert_fast.model`) trained on create-data's TFRecords
with MLM + SOP as ``run_pretraining.py`` does (docs/pretraining.md). One call runs or resumes a
run directory: ``config.yaml``, ``ckpt-N`` (weights, optimizer, input position, dropout RNG),
TensorBoard summaries, eval results and the best weights so far (``best/``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from albert_fast import storage
from albert_fast.checkpoints import (BEST_DIR, CHECKPOINT_NAME, LOCK_FILE, WEIGHTS_NAME,
                                     RunDirLock, record_run_inputs, remove_stale_temporaries,
                                     restore_checkpoint, save_checkpoint, save_run_config,
                                     save_weights)
from albert_fast.config import Config, as_config, unsupported_settings
from albert_fast.convert import warm_start
from albert_fast.data_check import check_training_data, remember_verified, stop_cleanly_on_bad_records
from albert_fast.dataset import DataFiles, find_data_files, make_dataset
from albert_fast.dynamic_masking import DynamicMasking
from albert_fast.errors import ConfigError
from albert_fast.io_utils import atomic_write_json, ensure_output_dir
from albert_fast.losses import metric_sums, metrics_from_sums, pretraining_losses
from albert_fast.records import feature_spec, tokenizer_from_manifest
from albert_fast.runtime import (PRECISIONS, STRATEGIES, is_chief, make_strategy, precision_policy,
                                 quiet_tensorflow, task_id)

#: What one training step sums over replicas and steps (``loss`` is averaged instead).
SUM_KEYS = ("loss", "mlm_weight", "mlm_correct", "mlm_loss", "sop_count", "sop_correct",
            "sop_loss")


@dataclass
class PretrainResult:
    """What :func:`pretrain` did: the final step, the last training-loop averages and the
    final evaluation (empty when evaluation was off)."""

    step: int
    train: dict
    eval: dict
    output_dir: str
    history: list = field(default_factory=list)


def pretrain(config: Config | str | Path | dict, data: str | Sequence[str],
             output_dir: str | Path, *,
             eval_data: Optional[str | Sequence[str]] = None, strategy: str = "auto",
             tpu: Optional[str] = None, tpu_options: Optional[dict] = None,
             precision: Optional[str] = None,
             num_train_steps: Optional[int] = None, do_train: bool = True, do_eval: bool = True,
             eval_every: Optional[int] = None, seed: Optional[int] = None,
             deterministic: bool = False, log_every: Optional[int] = None,
             progress: Optional[Callable[[str], None]] = None) -> PretrainResult:
    """Trains (or resumes) ALBERT with the config's ``model``/``pretraining``/``data`` sections
    on the TFRecords in ``data``; see the module docstring for what lands in ``output_dir``.
    ``config`` is a Config, a config file or a dict (:func:`albert_fast.config.as_config`).

    ``num_train_steps`` stops the run at that step (``--stop-at``); the learning-rate schedule
    always spans ``pretraining.num_train_steps``, so a later run continues it unchanged.
    ``do_train=False`` (run_pretraining.py's ``--do_train=false``) only evaluates the run's
    latest checkpoint. ``tpu_options`` (``zone``, ``project``) go to the TPU resolver.
    """
    if not (do_train or do_eval):
        raise ValueError("at least one of do_train and do_eval must be true")
    config = as_config(config)
    pc = config.pretraining
    emit = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    precision = precision or pc.precision
    # Everything that can be checked without TensorFlow is, before it is imported (seconds).
    stop_step = check_settings(config, strategy, precision, num_train_steps, eval_every)
    files = find_data_files(data, eval_data)
    # A run directory in object storage is a local mirror pushed after every checkpoint
    # (TensorFlow's `checkpoint` pointer last) and at the end; a re-run pulls it to resume.
    mirror = None
    if storage.is_url(output_dir):
        storage.ensure_output(output_dir)
        mirror = storage.Mirror(os.fspath(output_dir), last=("checkpoint",), skip=(LOCK_FILE,))
        out = ensure_output_dir(mirror.pull())
        verified = check_training_data(files, config, out, emit)
    else:  # bad data creates no run directory
        verified = check_training_data(files, config, output_dir, emit)
        out = ensure_output_dir(output_dir)
    quiet_tensorflow()
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"pretraining runs on the TensorFlow backend of Keras; KERAS_BACKEND is "
                         f"{keras.backend.backend()!r}")
    with precision_policy(precision), contextlib.ExitStack() as guards:
        # The strategy comes before any other TensorFlow op: multi-worker collectives must be
        # configured before the eager context starts.
        strat = make_strategy(strategy, tpu, **(tpu_options or {}))
        chief = is_chief(strat)
        if chief:  # the chief writes the run directory: one run at a time, its leftovers gone
            guards.enter_context(RunDirLock(out, emit=emit))
            remove_stale_temporaries(out)
            remember_verified(out, verified)
        if files.eval_is_train and do_eval:
            emit("note: no held-out split (eval-* shards or --eval-data); evaluating on the "
                 "training files as the reference does (Q15)")
        seed = pc.random_seed if seed is None else seed
        if seed is not None:
            keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        if chief:
            save_run_config(config, out)
            _record_tokenizer(out, data, files, emit)
        guards.enter_context(stop_cleanly_on_bad_records(files, config, out, emit))
        after_save = mirror.push if mirror is not None and chief else (lambda: None)
        try:
            result = _train(config, files, out, strat, chief, stop_step, precision, seed,
                            deterministic, do_train, do_eval, eval_every,
                            log_every or pc.iterations_per_loop, emit, after_save)
        finally:
            after_save()
        if mirror is not None:
            result.output_dir = mirror.url
        return result


def _record_tokenizer(out: Path, data: str | Sequence[str], files: DataFiles,
                      emit: Callable[[str], None]) -> None:
    """Notes in the run the tokenizer the data's ``manifest.json`` names (checked against its
    SHA-256 there), so export-hf finds it."""
    model, reason = tokenizer_from_manifest(files.train[0])
    if model is not None:
        spec = data if isinstance(data, str) else ",".join(str(d) for d in data)
        record_run_inputs(out, spec, model)
    elif reason:
        emit(f"note: {reason}; export-hf will need --tokenizer")


def check_settings(config: Config, strategy: str, precision: str,
                   num_train_steps: Optional[int], eval_every: Optional[int]) -> int:
    """The settings errors :func:`pretrain` can find without TensorFlow, as ConfigError; returns
    the step the run stops at."""
    pc = config.pretraining
    problems = unsupported_settings(config)
    if pc.train_batch_size % pc.gradient_accumulation_steps:
        problems.append(f"pretraining.train_batch_size = {pc.train_batch_size} is not divisible "
                        "by pretraining.gradient_accumulation_steps = "
                        f"{pc.gradient_accumulation_steps}")
    if strategy not in STRATEGIES:
        problems.append(f"--strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if precision not in PRECISIONS:
        problems.append(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    for name, flag, value in (("num_train_steps", "--stop-at", num_train_steps),
                              ("eval_every", "--eval-every", eval_every)):
        if value is not None and value < 1:
            problems.append(f"{name} ({flag}) = {value}: must be at least 1")
    init = pc.init_checkpoint
    if init and "://" not in init and not (Path(init).exists()
                                           or Path(init + ".index").is_file()):
        problems.append(f"pretraining.init_checkpoint = {init!r}: no such checkpoint or "
                        "directory")
    if problems:
        raise ConfigError(f"{config.source}: " + "; ".join(problems))
    return min(pc.num_train_steps if num_train_steps is None else num_train_steps,
               pc.num_train_steps)


def _train(config: Config, files: DataFiles, out: Path, strategy: Any, chief: bool,
           stop_step: int, precision: str, seed: Optional[int], deterministic: bool,
           do_train: bool, do_eval: bool, eval_every: Optional[int], log_every: int,
           emit: Callable[[str], None], after_save: Callable[[], None] = lambda: None
           ) -> PretrainResult:
    import tensorflow as tf

    pc, dc = config.pretraining, config.data
    accum = pc.gradient_accumulation_steps
    replicas = strategy.num_replicas_in_sync
    if pc.train_batch_size % (replicas * accum):
        raise ValueError(f"pretraining.train_batch_size = {pc.train_batch_size} is not divisible "
                         f"by replicas ({replicas}) x gradient_accumulation_steps ({accum})")

    # Model and optimizer.
    model, optimizer = _model_and_optimizer(config, strategy, precision)
    inner = optimizer.inner_optimizer if precision == "fp16" else optimizer

    def global_step() -> int:
        return int(inner.iterations.numpy())  # optimizer updates (accumulation-aware)

    # Data: training batches re-masked when masked_lm_budget > 0; evaluation keeps the stored
    # masks (and needs no token_boundary).
    masking = DynamicMasking.from_config(config)
    train_spec = feature_spec(dc.max_seq_length, dc.max_predictions_per_seq,
                              token_boundary=masking is not None)
    eval_spec = feature_spec(dc.max_seq_length, dc.max_predictions_per_seq, token_boundary=False)
    micro_batch = pc.train_batch_size // accum  # global batch of one forward/backward pass

    def train_iterator(data_seed: Optional[int]) -> Any:
        def train_input(ctx: Any) -> Any:
            return make_dataset(files.train, train_spec,
                                ctx.get_per_replica_batch_size(micro_batch), True,
                                seed=data_seed, input_context=ctx, deterministic=deterministic,
                                masking=masking)

        return iter(strategy.distribute_datasets_from_function(train_input))

    train_iter = train_iterator(seed)

    # Checkpoints: resume from the latest, else warm-start from init_checkpoint. The input
    # position is part of the checkpoint where TF can save the iterator (one device, and
    # strategies whose iterators are trackable); elsewhere a resumed run reshuffles with a seed
    # derived from the step, so it does not replay the data it already saw.
    iterator_saved = isinstance(train_iter, tf.__internal__.tracking.Trackable)
    state = dict(model=model, optimizer=optimizer, dropout_rng=_seed_states(model))
    if iterator_saved:
        state["train_iterator"] = train_iter
    ckpt = tf.train.Checkpoint(**state)
    # Every worker resumes from the chief's checkpoints (the run directory is shared);
    # non-chief workers save to scratch directories as tf.distribute requires.
    ckpt_dir = out if chief else out / f".worker-{task_id(strategy)}"
    latest = restore_checkpoint(ckpt, out, emit, partial=not iterator_saved, chief=chief)
    if not do_train and not latest:
        raise ValueError(f"{out}: no checkpoint to evaluate (--do_train=false evaluates the "
                         "run's latest checkpoint)")
    if latest:
        if not iterator_saved:
            train_iter = train_iterator(None if seed is None else seed + global_step())
        emit(f"resumed from {latest} at step {global_step()}")
    elif pc.init_checkpoint:
        warm_start(model, pc.init_checkpoint, pc.init_from_group0, emit)
    # Made after the restore: it reads the checkpoint state, which a restore past a damaged
    # checkpoint rewrites.
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=pc.keep_checkpoint_max,
                                         checkpoint_name=CHECKPOINT_NAME)

    # The loop: iterations_per_loop steps per compiled call, never across a checkpoint step.
    train_loop = _compiled_train_loop(model, optimizer, strategy, precision)
    summary_dir = out if chief else ckpt_dir
    train_writer = tf.summary.create_file_writer(str(summary_dir / "train"))
    eval_writer = tf.summary.create_file_writer(str(summary_dir / "eval"))

    def evaluate_now(step: int) -> dict:
        return _evaluate_and_record(model, strategy, files, eval_spec, config, step, chief, out,
                                    eval_writer, emit)

    history: list = []
    last_train: dict = {}
    last_eval: dict = {}
    step = global_step()
    if not do_train:
        stop_step = step
    elif step >= stop_step:
        emit(f"step {step} >= num_train_steps {stop_step}: nothing to train")
    while step < stop_step:
        next_save = (step // pc.save_checkpoints_steps + 1) * pc.save_checkpoints_steps
        n = min(log_every, pc.iterations_per_loop, stop_step - step, next_save - step)
        start = time.perf_counter()
        totals = train_loop(train_iter, tf.constant(n * accum))
        totals = {k: float(v) for k, v in totals.items()}
        elapsed = time.perf_counter() - start
        step = global_step()
        stats = _loop_stats(totals, n, accum, elapsed, float(inner.learning_rate), config)
        last_train = dict(stats, step=step)
        history.append(last_train)
        if chief:
            with train_writer.as_default(step=step):
                for k, v in stats.items():
                    write_scalar(k, v, step)
        emit(_progress_line(step, stop_step, stats))
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"training loss became {stats['loss']} at step {step}")
        if step % pc.save_checkpoints_steps == 0 or step >= stop_step:
            path = save_checkpoint(manager, step)
            if chief:
                emit(f"saved {path}")
            after_save()
        if do_eval and eval_every and step % eval_every == 0 and step < stop_step:
            last_eval = evaluate_now(step)

    # Final evaluation.
    if do_eval:
        last_eval = evaluate_now(step)
    train_writer.flush()
    eval_writer.flush()
    if not chief:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return PretrainResult(step=step, train=last_train, eval=last_eval, output_dir=str(out),
                          history=history)


# --------------------------------------------------------------------------------------------
# The pieces of the loop

def _model_and_optimizer(config: Config, strategy: Any, precision: str) -> tuple[Any, Any]:
    """The model and its optimizer (LAMB or AdamW, with loss scaling for fp16), built with all
    their variables under the strategy's scope."""
    import keras

    from albert_fast.model import build_pretraining_model
    from albert_fast.optimization import create_optimizer

    pc = config.pretraining
    with strategy.scope():
        model = build_pretraining_model(config.model)
        optimizer = create_optimizer(
            pc.optimizer, pc.learning_rate, pc.num_train_steps, pc.num_warmup_steps,
            poly_power=pc.poly_power, start_warmup_step=pc.start_warmup_step,
            weight_decay_rate=pc.weight_decay_rate,
            gradient_accumulation_steps=pc.gradient_accumulation_steps)
        if precision == "fp16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return model, optimizer


def _compiled_train_loop(model: Any, optimizer: Any, strategy: Any, precision: str) -> Callable:
    """``train_loop(iterator, steps)``: ``steps`` training steps in one ``tf.function`` call
    (the reference's ``iterations_per_loop``), returning the :data:`SUM_KEYS` totals. Each
    replica's loss is divided by the number of replicas; the optimizer sums the gradients."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync

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

    @tf.function
    def train_loop(iterator: Any, steps: Any) -> dict:
        totals = [tf.constant(0.0)] * len(SUM_KEYS)
        for _ in tf.range(steps):
            per_replica = strategy.run(train_step, args=(next(iterator),))
            totals = [t + strategy.reduce(
                tf.distribute.ReduceOp.MEAN if k == "loss" else tf.distribute.ReduceOp.SUM,
                per_replica[k], axis=None) for t, k in zip(totals, SUM_KEYS)]
        return dict(zip(SUM_KEYS, totals))

    return train_loop


def _loop_stats(totals: dict, updates: int, accum: int, elapsed: float, lr: float,
                config: Config) -> dict:
    """The metrics of one loop of ``updates`` optimizer steps, and its throughput."""
    stats = metrics_from_sums(totals)
    examples_per_sec = updates * config.pretraining.train_batch_size / elapsed
    stats.update(loss=totals["loss"] / (updates * accum), learning_rate=lr,
                 steps_per_sec=updates / elapsed, examples_per_sec=examples_per_sec,
                 tokens_per_sec=examples_per_sec * config.data.max_seq_length)
    return stats


def _progress_line(step: int, stop_step: int, stats: dict) -> str:
    return (f"step {step}/{stop_step}  loss {stats['loss']:.4f}  "
            f"mlm_loss {stats['masked_lm_loss']:.4f}  sop_loss {stats['sentence_order_loss']:.4f}"
            f"  mlm_acc {stats['masked_lm_accuracy']:.3f}  sop_acc "
            f"{stats['sentence_order_accuracy']:.3f}  lr {stats['learning_rate']:.3g}  "
            f"{stats['steps_per_sec']:.2f} steps/s  {stats['examples_per_sec']:.0f} examples/s")


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


# --------------------------------------------------------------------------------------------
# Evaluation

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
                         emit: Callable[[str], None]) -> dict:
    """Evaluates on the held-out files; the chief writes the summaries and eval_results.json
    and keeps the weights with the best masked_lm_accuracy (as the reference's ``*-best``)."""
    import tensorflow as tf

    pc = config.pretraining
    is_tpu = isinstance(strategy, tf.distribute.TPUStrategy)  # TPUs need static batch shapes
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
        best_dir = out / BEST_DIR
        best_path = best_dir / "eval_results.json"
        best = json.loads(best_path.read_text()) if best_path.is_file() else None
        if best is None or result["masked_lm_accuracy"] > best["masked_lm_accuracy"]:
            best_dir.mkdir(exist_ok=True)
            save_weights(model, best_dir / WEIGHTS_NAME)
            atomic_write_json(best_path, result)
    return result
