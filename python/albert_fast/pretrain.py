"""``albert-fast pretrain``: ALBERT (:mod:`albert_fast.model`) trained on create-data's TFRecords
with MLM + SOP as ``run_pretraining.py`` does (docs/pretraining.md). One call runs or resumes a
run directory: ``config.yaml``, ``ckpt-N`` (weights, optimizer, input position, dropout RNG),
TensorBoard summaries with ``metrics.jsonl`` beside them (:mod:`albert_fast.metrics_log`), eval
results and the best weights so far (``best/``)."""

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
from albert_fast.config import Config, as_config, phase_ranges, unsupported_settings
from albert_fast.convert import warm_start
from albert_fast.data_check import check_training_data, remember_verified, stop_cleanly_on_bad_records
from albert_fast.dataset import (DataFiles, SequenceBins, bin_lengths, count_bins, find_data_files,
                                 make_dataset, train_record_count)
from albert_fast.dynamic_masking import DynamicMasking
from albert_fast.errors import ConfigError
from albert_fast.io_utils import atomic_write_json, ensure_output_dir
from albert_fast.losses import metric_sums, metrics_from_sums, pretraining_losses
from albert_fast.metrics_log import MetricsLog
from albert_fast.progress import format_duration
from albert_fast.records import feature_spec, tokenizer_from_manifest
from albert_fast.runtime import (PRECISIONS, STRATEGIES, input_pipelines, is_chief, make_strategy,
                                 precision_policy, quiet_tensorflow, task_id, uses_accelerator)

#: What one training step sums over replicas and steps (``loss`` is averaged instead).
SUM_KEYS = ("loss", "mlm_weight", "mlm_correct", "mlm_loss", "sop_count", "sop_correct",
            "sop_loss", "tokens", "real_tokens")
#: ``RUN/sequence_bins.json``: the instance count of each sequence bin, per phase.
SEQUENCE_BINS_FILE = "sequence_bins.json"
#: ``RUN/input-K/ckpt-STEP``: worker K's input position (multi-worker runs).
INPUT_STATE_DIR = "input"
ITERATOR_STATE_KEY = "train_iterator/.ATTRIBUTES/ITERATOR_STATE"


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
        phases = training_phases(config, files, out, verified, emit)
    else:  # bad data creates no run directory
        verified = check_training_data(files, config, output_dir, emit)
        phases = training_phases(config, files, output_dir, verified, emit)
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
            result = _train(config, files, phases, out, strat, chief, stop_step, precision, seed,
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


def _train(config: Config, files: DataFiles, phases: list["Phase"], out: Path, strategy: Any,
           chief: bool,
           stop_step: int, precision: str, seed: Optional[int], deterministic: bool,
           do_train: bool, do_eval: bool, eval_every: Optional[int], log_every: int,
           emit: Callable[[str], None], after_save: Callable[[], None] = lambda: None
           ) -> PretrainResult:
    import tensorflow as tf

    pc = config.pretraining
    accum = pc.gradient_accumulation_steps
    replicas = strategy.num_replicas_in_sync
    if pc.train_batch_size % (replicas * accum):
        raise ValueError(f"pretraining.train_batch_size = {pc.train_batch_size} is not divisible "
                         f"by replicas ({replicas}) x gradient_accumulation_steps ({accum})")
    jit = resolve_jit_compile(pc.jit_compile, strategy)

    # Model and optimizer.
    model, optimizer = _model_and_optimizer(config, strategy, precision)
    inner = optimizer.inner_optimizer if precision == "fp16" else optimizer

    def global_step() -> int:
        return int(inner.iterations.numpy())  # optimizer updates (accumulation-aware)

    # Checkpoints: resume from the latest, else warm-start from init_checkpoint. The training
    # input's position is restored with the phase's input (_open_phase).
    state = dict(model=model, optimizer=optimizer, dropout_rng=_seed_states(model))
    latest = restore_checkpoint(tf.train.Checkpoint(**state), out, emit, partial=True,
                                chief=chief)
    if not do_train and not latest:
        raise ValueError(f"{out}: no checkpoint to evaluate (--do_train=false evaluates the "
                         "run's latest checkpoint)")
    if latest:
        emit(f"resumed from {latest} at step {global_step()}")
    elif pc.init_checkpoint:
        warm_start(model, pc.init_checkpoint, pc.init_from_group0, emit)
    step = global_step()
    phase = phase_at(phases, step)
    # Every worker resumes from the chief's checkpoints (the run directory is shared);
    # non-chief workers save to scratch directories as tf.distribute requires.
    ckpt_dir = out if chief else out / f".worker-{task_id(strategy)}"
    # The phase's input and its CheckpointManager, made after the restore (which may have
    # rewritten the checkpoint state past a damaged checkpoint).
    run = (_open_phase(phase, state, strategy, out, ckpt_dir, chief, seed, deterministic,
                       latest, step, emit) if do_train else None)

    # The loop: iterations_per_loop steps per compiled call, never across a checkpoint step or
    # a phase boundary.
    train_loop = _compiled_train_loop(model, optimizer, strategy, precision, jit)
    summary_dir = out if chief else ckpt_dir
    train_writer = tf.summary.create_file_writer(str(summary_dir / "train"))
    eval_writer = tf.summary.create_file_writer(str(summary_dir / "eval"))
    eval_spec = feature_spec(config.data.max_seq_length, config.data.max_predictions_per_seq,
                             token_boundary=False)  # evaluation keeps the stored masks

    eval_fn = eval_step(model, strategy, jit)

    metrics_log = MetricsLog(out, step, enabled=chief)
    clock = TrainingClock(step, stop_step, pc.train_batch_size, train_record_count(files))

    def evaluate_now(step: int) -> dict:
        result = _evaluate_and_record(model, strategy, files, eval_spec, config, step, chief, out,
                                      eval_writer, emit, eval_fn)
        metrics_log.write("eval", step, {k: v for k, v in result.items() if k != "global_step"},
                          clock.epoch(step))
        return result

    history: list = []
    last_train: dict = {}
    last_eval: dict = {}
    if not do_train:
        stop_step = step
    elif step >= stop_step:
        emit(f"step {step} >= num_train_steps {stop_step}: nothing to train")
    while step < stop_step:
        if step >= phase.end:
            phase = phases[phase.index + 1]
            run = _open_phase(phase, state, strategy, out, ckpt_dir, chief, seed, deterministic,
                              None, step, emit)
        next_save = (step // pc.save_checkpoints_steps + 1) * pc.save_checkpoints_steps
        n = min(log_every, pc.iterations_per_loop, stop_step - step, next_save - step,
                phase.end - step)
        start = time.perf_counter()
        totals = train_loop(run.iterator, tf.constant(n * accum))
        totals = {k: float(v) for k, v in totals.items()}
        elapsed = time.perf_counter() - start
        step = global_step()
        stats = _loop_stats(totals, n, accum, elapsed, float(inner.learning_rate), config)
        last_train = dict(stats, step=step)
        history.append(last_train)
        clock.loop_done(step)
        if chief:
            with train_writer.as_default(step=step):
                for k, v in stats.items():
                    write_scalar(k, v, step)
        metrics_log.write("train", step, stats, clock.epoch(step))
        emit(_progress_line(step, stop_step, stats, clock))
        if not math.isfinite(stats["loss"]):
            raise FloatingPointError(f"training loss became {stats['loss']} at step {step}")
        if step % pc.save_checkpoints_steps == 0 or step >= stop_step:
            run.position.save(step)  # before the checkpoint that refers to it
            path = save_checkpoint(run.manager, step)
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
# Phases, sequence bins and the training input (docs/pretraining.md, "Fast training")

@dataclass
class Phase:
    """One phase of a run: steps ``[start, end)``, its training files and the config its data
    is read with (``data.max_seq_length``, ``data.max_predictions_per_seq`` and
    ``pretraining.sequence_bins`` of the phase)."""

    index: int
    start: int
    end: int
    files: list
    config: Config


def training_phases(config: Config, files: DataFiles, run_dir: str | Path, verified: dict,
                    emit: Callable[[str], None]) -> list[Phase]:
    """The run's phases (``pretraining.phases``, or one phase over every step), each phase's
    own data checked against its settings as the run's is (its files added to ``verified``)."""
    pc = config.pretraining
    phases = []
    for i, (start, end) in enumerate(phase_ranges(pc)):
        if not pc.phases:
            phases.append(Phase(i, start, end, files.train, config))
            continue
        spec = pc.phases[i]
        cfg = config.model_copy(deep=True)
        if spec.max_seq_length is not None:
            cfg.data.max_seq_length = spec.max_seq_length
        if spec.max_predictions_per_seq is not None:
            cfg.data.max_predictions_per_seq = spec.max_predictions_per_seq
        length = cfg.data.max_seq_length
        cfg.pretraining.sequence_bins = (spec.sequence_bins if spec.sequence_bins is not None
                                         else [b for b in pc.sequence_bins if b <= length])
        train = files.train
        if spec.data is not None or cfg.data != config.data:
            own = find_data_files(spec.data) if spec.data is not None else files
            verified.update(check_training_data(
                DataFiles(own.train, own.train, True, own.manifest), cfg, run_dir, emit))
            train = own.train
        phases.append(Phase(i, start, end, train, cfg))
    return phases


def phase_at(phases: list[Phase], step: int) -> Phase:
    """The phase that trains ``step`` (the last one at or after the end)."""
    return next((p for p in phases if step < p.end), phases[-1])


def sequence_bins_for(phase: Phase, pipelines: int, out: Path, chief: bool,
                      emit: Callable[[str], None]) -> Optional[SequenceBins]:
    """The phase's bins with their instance counts, or None without ``sequence_bins``. The
    counts (one pass over the training files) are kept in ``RUN/sequence_bins.json`` and
    reused while the files are unchanged, so a resumed run draws the same bins."""
    import tensorflow as tf

    bins = phase.config.pretraining.sequence_bins
    if not bins:
        return None
    lengths = bin_lengths(bins, phase.config.data.max_seq_length)
    key = {"files": [[f, tf.io.gfile.stat(f).length] for f in phase.files], "lengths": lengths,
           "pipelines": pipelines}
    cache = out / SEQUENCE_BINS_FILE
    entries = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    entry = entries.get(f"phase-{phase.index}")
    if entry is not None and entry.get("key") == key:
        found = SequenceBins(tuple(entry["lengths"]), tuple(entry["counts"]))
    else:
        found, notes = count_bins(phase.files, lengths, pipelines)
        for note in notes:
            emit(f"note: {note}")
        if chief:
            entries[f"phase-{phase.index}"] = dict(found.to_json(), key=key)
            atomic_write_json(cache, entries)
    max_len = phase.config.data.max_seq_length
    emit(f"sequence bins {list(found.lengths)} (shares "
         f"{', '.join(f'{s:.1%}' for s in found.shares)}): {found.mean_length():.0f} positions "
         f"per instance instead of {max_len}")
    return found


@dataclass
class _PhaseRun:
    """The training input of the current phase and the checkpoint objects that save it."""

    iterator: Any
    manager: Any
    position: "_InputPosition"


def _open_phase(phase: Phase, state: dict, strategy: Any, out: Path, ckpt_dir: Path,
                chief: bool, seed: Optional[int], deterministic: bool, latest: Optional[str],
                step: int, emit: Callable[[str], None]) -> _PhaseRun:
    """Builds the phase's training input and its checkpoint manager; resuming inside the phase
    (``latest`` saved after its first step), the input continues where it stopped."""
    import tensorflow as tf

    pipelines, pipeline_id, _ = input_pipelines(strategy)
    bins = sequence_bins_for(phase, pipelines, out, chief, emit)
    position = _InputPosition(out, strategy, pipelines, pipeline_id,
                              phase.config.pretraining.keep_checkpoint_max)
    saved = position.saved_at(step) if latest and step > phase.start else None
    data_seed = seed
    if latest and step > phase.start and saved is None and seed is not None:
        # No saved position (TPU input, or a checkpoint from before one was saved): reshuffle
        # with a seed derived from the step rather than replay the data already seen.
        data_seed = seed + step
        emit(f"note: no saved input position at step {step}; the training data is reshuffled")
    iterator = _train_iterator(phase, strategy, data_seed, deterministic, bins)
    if saved is not None:
        try:
            tf.train.Checkpoint(train_iterator=iterator).read(
                saved).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError) as err:
            # The weights restored, the input position did not (damaged bytes in its part).
            emit(f"warning: the input position in {saved} is unreadable ({err.__class__.__name__})"
                 "; the training data is reshuffled")
            iterator = _train_iterator(phase, strategy, None if seed is None else seed + step,
                                       deterministic, bins)
    position.track(iterator)
    extra = {"train_iterator": iterator} if position.in_main_checkpoint else {}
    ckpt = tf.train.Checkpoint(**state, **extra)
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir),
                                         max_to_keep=phase.config.pretraining.keep_checkpoint_max,
                                         checkpoint_name=CHECKPOINT_NAME)
    return _PhaseRun(iterator, manager, position)


def _train_iterator(phase: Phase, strategy: Any, seed: Optional[int], deterministic: bool,
                    bins: Optional[SequenceBins]) -> Any:
    """The phase's training batches. Each process owns a tf.data iterator over its share of
    the data (so its position can be saved) and hands each of its replicas a slice of the
    batch (_per_replica); a TPU reads through ``distribute_datasets_from_function`` (one
    pipeline per TPU host), each replica its own batch. Training batches are re-masked when
    masked_lm_budget > 0."""
    import tensorflow as tf

    cfg = phase.config
    dc, pc = cfg.data, cfg.pretraining
    masking = DynamicMasking.from_config(cfg)
    spec = feature_spec(dc.max_seq_length, dc.max_predictions_per_seq,
                        token_boundary=masking is not None)
    micro_batch = pc.train_batch_size // pc.gradient_accumulation_steps  # one forward pass

    if isinstance(strategy, tf.distribute.TPUStrategy):
        def train_input(ctx: Any) -> Any:
            # Consecutive batches go to the host's replicas in turn: each bin drawn once per
            # replica keeps one bin per step.
            local = ctx.num_replicas_in_sync // ctx.num_input_pipelines
            return make_dataset(phase.files, spec, ctx.get_per_replica_batch_size(micro_batch),
                                True, seed=seed, input_context=ctx,
                                deterministic=deterministic, masking=masking, bins=bins,
                                repeat_draws=local)

        return iter(strategy.distribute_datasets_from_function(train_input))
    pipelines, pipeline_id, local = input_pipelines(strategy)
    ctx = tf.distribute.InputContext(pipelines, pipeline_id, strategy.num_replicas_in_sync)
    batch = ctx.get_per_replica_batch_size(micro_batch) * local
    return iter(make_dataset(phase.files, spec, batch, True, seed=seed, input_context=ctx,
                             deterministic=deterministic, masking=masking, bins=bins))


class _InputPosition:
    """Where the position of a process's training input is saved: inside the run's checkpoint
    with one input pipeline, else (one per worker) in ``RUN/input-K/ckpt-STEP``, written by
    every worker at each checkpoint step. A TPU's distributed input has none."""

    def __init__(self, out: Path, strategy: Any, pipelines: int, pipeline_id: int,
                 keep: int) -> None:
        import tensorflow as tf

        self.owned = not isinstance(strategy, tf.distribute.TPUStrategy)
        self.in_main_checkpoint = self.owned and pipelines == 1
        self.directory = out if pipelines == 1 else out / f"{INPUT_STATE_DIR}-{pipeline_id}"
        self.keep = keep
        self._manager: Any = None

    def saved_at(self, step: int) -> Optional[str]:
        """The checkpoint holding this process's input position at ``step``, if there is one."""
        import tensorflow as tf

        if not self.owned:
            return None
        prefix = str(self.directory / f"{CHECKPOINT_NAME}-{step}")
        if not Path(prefix + ".index").is_file():
            return None
        names = {name for name, _ in tf.train.list_variables(prefix)}
        return prefix if ITERATOR_STATE_KEY in names else None

    def track(self, iterator: Any) -> None:
        import tensorflow as tf

        if self.owned and not self.in_main_checkpoint:
            self._manager = tf.train.CheckpointManager(
                tf.train.Checkpoint(train_iterator=iterator), str(self.directory),
                max_to_keep=self.keep, checkpoint_name=CHECKPOINT_NAME)

    def save(self, step: int) -> None:
        if self._manager is not None:
            save_checkpoint(self._manager, step)


def resolve_jit_compile(setting: str, strategy: Any) -> bool:
    """``pretraining.jit_compile``: ``auto`` compiles on GPUs and TPUs (on CPU, XLA measured no
    faster: benches/RESULTS.md)."""
    if setting == "auto":
        return uses_accelerator(strategy)
    if setting == "true":
        _, _, local = input_pipelines(strategy)
        if local > 1 and not uses_accelerator(strategy):
            raise ValueError(
                "pretraining.jit_compile = true: XLA needs one device per replica, and the "
                f"{local} replicas of this worker are logical devices of one CPU; use "
                "jit_compile: auto or false here")
    return setting == "true"


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


def _compiled_train_loop(model: Any, optimizer: Any, strategy: Any, precision: str,
                         jit: bool = False) -> Callable:
    """``train_loop(iterator, steps)``: ``steps`` training steps in one ``tf.function`` call
    (the reference's ``iterations_per_loop``), returning the :data:`SUM_KEYS` totals. Each
    replica's loss is divided by the number of replicas; the optimizer sums the gradients.

    ``jit``: the step is XLA-compiled, once per batch shape (per sequence bin), on its first
    use. With one replica the whole step is one program (optimizer update included); with
    several, forward and backward are, and the gradient all-reduce and update run outside it
    (tf.distribute's cross-replica calls cannot be compiled)."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync

    def gradients(features: dict) -> tuple:
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            losses = pretraining_losses(outputs, features)
            scaled = losses["loss"] / replicas
            if precision == "fp16":
                scaled = optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        sums = metric_sums(outputs, features, losses)
        sums["loss"] = losses["loss"]
        return grads, sums

    def train_step(features: dict) -> dict:
        grads, sums = compiled_gradients(features)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return sums

    compiled_gradients = gradients
    if jit and replicas > 1:
        compiled_gradients = tf.function(gradients, jit_compile=True)
    elif jit:
        train_step = tf.function(train_step, jit_compile=True)
    distribute = _per_replica(strategy)

    @tf.function
    def train_loop(iterator: Any, steps: Any) -> dict:
        totals = [tf.constant(0.0)] * len(SUM_KEYS)
        for _ in tf.range(steps):
            per_replica = strategy.run(train_step, args=(distribute(next(iterator)),))
            totals = [t + strategy.reduce(
                tf.distribute.ReduceOp.MEAN if k == "loss" else tf.distribute.ReduceOp.SUM,
                per_replica[k], axis=None) for t, k in zip(totals, SUM_KEYS)]
        return dict(zip(SUM_KEYS, totals))

    return train_loop


def _per_replica(strategy: Any) -> Callable:
    """``distribute(batch)`` inside the loop: one process's batch split into equal slices, one
    per replica it feeds (identity with one replica, or for a TPU's distributed input)."""
    import tensorflow as tf

    _, _, local = input_pipelines(strategy)
    if local == 1 or isinstance(strategy, tf.distribute.TPUStrategy):
        return lambda batch: batch

    def distribute(batch: dict) -> Any:
        parts = {k: tf.split(v, local) for k, v in batch.items()}
        # Replica ids are worker-major: this worker's replicas are id % local.
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: {k: v[ctx.replica_id_in_sync_group % local] for k, v in parts.items()})

    return distribute


def _loop_stats(totals: dict, updates: int, accum: int, elapsed: float, lr: float,
                config: Config) -> dict:
    """The metrics of one loop of ``updates`` optimizer steps, and its throughput:
    ``tokens_per_sec`` counts every position computed (padding included),
    ``real_tokens_per_sec`` only the instances' own tokens."""
    stats = metrics_from_sums(totals)
    stats.update(loss=totals["loss"] / (updates * accum), learning_rate=lr,
                 steps_per_sec=updates / elapsed,
                 examples_per_sec=updates * config.pretraining.train_batch_size / elapsed,
                 tokens_per_sec=totals["tokens"] / elapsed,
                 real_tokens_per_sec=totals["real_tokens"] / elapsed)
    return stats


class TrainingClock:
    """Where a run stands: the share of its steps done, the epochs of training data seen and
    the time left, from the step rate measured since the end of the first loop of this
    process (the first includes tracing and compiling the step)."""

    def __init__(self, start_step: int, stop_step: int, batch_size: int,
                 train_records: Optional[int], now: Optional[float] = None):
        self.start_step, self.stop_step = start_step, stop_step
        self.batch_size, self.train_records = batch_size, train_records
        self.started = time.monotonic() if now is None else now
        self._mark: Optional[tuple[float, int]] = None  # (time, step) after the first loop
        self._last: tuple[float, int] = (self.started, start_step)

    def loop_done(self, step: int, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        if self._mark is None:
            self._mark = (now, step)
        self._last = (now, step)

    def epoch(self, step: int) -> Optional[float]:
        """Training instances seen at ``step`` over the instances in the training files."""
        if not self.train_records:
            return None
        return step * self.batch_size / self.train_records

    def steps_per_sec(self) -> Optional[float]:
        (t1, s1) = self._last
        (t0, s0) = self._mark if self._mark is not None and s1 > self._mark[1] else (self.started, self.start_step)
        return (s1 - s0) / (t1 - t0) if s1 > s0 and t1 > t0 else None

    def eta_seconds(self) -> Optional[float]:
        rate = self.steps_per_sec()
        return (self.stop_step - self._last[1]) / rate if rate else None


def _progress_line(step: int, stop_step: int, stats: dict, clock: Optional[TrainingClock] = None) -> str:
    where = f"step {step}/{stop_step} ({100 * step / max(stop_step, 1):.1f}%)"
    epoch = clock.epoch(step) if clock is not None else None
    if epoch is not None:
        where += f"  epoch {epoch:.3f}"
    eta = clock.eta_seconds() if clock is not None else None
    tail = f"  ETA {format_duration(eta)}" if eta is not None and step < stop_step else ""
    return (f"{where}  loss {stats['loss']:.4f}  "
            f"mlm_loss {stats['masked_lm_loss']:.4f}  sop_loss {stats['sentence_order_loss']:.4f}"
            f"  mlm_acc {stats['masked_lm_accuracy']:.3f}  sop_acc "
            f"{stats['sentence_order_accuracy']:.3f}  lr {stats['learning_rate']:.3g}  "
            f"{stats['steps_per_sec']:.2f} steps/s  {stats['examples_per_sec']:.0f} examples/s  "
            f"{stats['real_tokens_per_sec']:.0f} real tokens/s{tail}")


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

def eval_step(model: Any, strategy: Any, jit: bool = False) -> Callable:
    """``step(features)``: the metric sums of one evaluation batch over all replicas, made once
    per run (``jit``: the forward pass XLA-compiled, once per batch shape)."""
    import tensorflow as tf

    def sums_of(features: dict) -> dict:
        return metric_sums(model(features, training=False), features)

    replica_fn = tf.function(sums_of, jit_compile=True) if jit else sums_of

    @tf.function(reduce_retracing=True)
    def step(features: dict) -> dict:
        sums = strategy.run(replica_fn, args=(features,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in sums.items()}

    return step


def evaluate(model: Any, strategy: Any, files: Sequence[str], spec: dict, batch_size: int,
             max_steps: int, drop_remainder: bool = False,
             step: Optional[Callable] = None) -> dict:
    """The reference's eval metrics over at most ``max_steps`` batches of ``files``; ``step``:
    an :func:`eval_step` to reuse."""
    def eval_input(ctx: Any) -> Any:
        return make_dataset(files, spec, ctx.get_per_replica_batch_size(batch_size), False,
                            input_context=ctx, drop_remainder=drop_remainder)

    ds = strategy.distribute_datasets_from_function(eval_input)
    step = step or eval_step(model, strategy)
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
                         emit: Callable[[str], None], step_fn: Optional[Callable] = None
                         ) -> dict:
    """Evaluates on the held-out files; the chief writes the summaries and eval_results.json
    and keeps the weights with the best masked_lm_accuracy (as the reference's ``*-best``)."""
    import tensorflow as tf

    pc = config.pretraining
    is_tpu = isinstance(strategy, tf.distribute.TPUStrategy)  # TPUs need static batch shapes
    result = evaluate(model, strategy, files.eval, spec, pc.eval_batch_size, pc.max_eval_steps,
                      drop_remainder=is_tpu, step=step_fn)
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
