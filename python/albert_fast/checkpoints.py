"""Our run directories and checkpoints: what a run directory holds, finding the checkpoint and
config of a run, ``best`` or import directory, saving and restoring every weight of the
model (Keras 3 hides Dense kernels from a checkpoint of the model alone; see _WEIGHT_LISTS),
and the training checkpoints' safety: one run per directory (a lock), saves that leave nothing
half-written on a full disk, and resuming past a damaged latest checkpoint."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from albert_fast.config import Config, ModelConfig, load_config
from albert_fast.errors import ConfigError, ModelError
from albert_fast.io_utils import atomic_write_json, atomic_write_text, file_sha256
from albert_fast.runtime import quiet_tensorflow
from albert_fast.tokenizer import MODEL_FILE

#: The resolved config of a run (``RUN/config.yaml``), also beside ``best/`` and import outputs.
RUN_CONFIG = "config.yaml"
#: The data and tokenizer a run was trained from, as pretrain records them.
RUN_INPUTS = "inputs.json"
#: Training checkpoints are ``RUN/ckpt-STEP``.
CHECKPOINT_NAME = "ckpt"
#: Weights-only checkpoints: ``RUN/best/model``, ``IMPORT_DIR/model``.
WEIGHTS_NAME = "model"
#: Where the weights with the best ``masked_lm_accuracy`` so far are kept.
BEST_DIR = "best"


# --------------------------------------------------------------------------------------------
# The run directory

def save_run_config(config: Config, run_dir: Path) -> None:
    """Writes ``RUN/config.yaml``; refuses a run directory that holds another architecture."""
    path = run_dir / RUN_CONFIG
    resolved = config.model_dump(mode="json")
    if path.is_file():
        previous = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if previous.get("model") != resolved["model"]:
            raise ValueError(
                f"{path}: this run directory holds a run with a different model architecture; "
                "use another output directory (or the same config to resume)")
    atomic_write_text(path, yaml.safe_dump(resolved, sort_keys=False))


def record_run_inputs(run_dir: Path, data: str, tokenizer: Path) -> None:
    """Records the data of a run and the tokenizer model it was made with (path and SHA-256),
    so export-hf and warm starts find the tokenizer (:func:`run_tokenizer`). pretrain calls it
    with the tokenizer the data's ``manifest.json`` names."""
    atomic_write_json(run_dir / RUN_INPUTS, {"data": data, "tokenizer": str(tokenizer.resolve()),
                                             "spiece_sha256": file_sha256(tokenizer)})


def run_tokenizer(run_dir: Path, *, strict: bool = True) -> Optional[Path]:
    """The tokenizer of a run: a ``spiece.model`` in the directory itself (an ``albert-fast
    import`` output), else the one :func:`record_run_inputs` noted in the run directory (or, for
    ``RUN/best``, its parent), else a ``tokenizer/`` subdirectory or a ``spiece.model`` in the
    parent. A recorded tokenizer that is gone or whose SHA-256 changed is a ModelError naming
    it (``strict``), or skipped."""
    if (run_dir / MODEL_FILE).is_file():
        return run_dir
    for d in (run_dir, run_dir.parent):
        rec = d / RUN_INPUTS
        if not rec.is_file():
            continue
        try:
            recorded = json.loads(rec.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            if strict:
                raise ModelError(f"{rec}: unreadable ({err})") from None
            continue
        tok = recorded.get("tokenizer") if isinstance(recorded, dict) else None
        if not tok:
            continue
        p = Path(tok)
        model = p / MODEL_FILE if p.is_dir() else p
        problem = None
        if not model.is_file():
            problem = f"the tokenizer recorded with this run, {model}, no longer exists"
        elif recorded.get("spiece_sha256") and file_sha256(model) != recorded["spiece_sha256"]:
            problem = (f"the tokenizer recorded with this run, {model}, has changed since "
                       f"(SHA-256 {file_sha256(model)[:12]}…, recorded "
                       f"{str(recorded['spiece_sha256'])[:12]}…)")
        if problem is None:
            return model.parent if model.name == MODEL_FILE else model
        if strict:
            raise ModelError(f"{rec}: {problem}; give the spiece.model the data was made with "
                             "(--tokenizer)")
    for candidate in (run_dir / "tokenizer", run_dir.parent):
        if (candidate / MODEL_FILE).is_file():
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# Finding a checkpoint

@dataclass
class CheckpointSource:
    """One of our checkpoints: the TF checkpoint prefix and the config it was trained with."""

    prefix: str
    config: Config
    config_path: Optional[Path]
    run_dir: Path
    step: Optional[int] = None


def checkpoint_prefix(directory: Path) -> Optional[str]:
    """The checkpoint in one of our directories: a run's latest ``ckpt-N``, else a weights-only
    ``model`` (``RUN/best``, an import output); None when there is neither."""
    import tensorflow as tf

    prefix = tf.train.latest_checkpoint(str(directory))
    if prefix is None and (directory / f"{WEIGHTS_NAME}.index").is_file():
        prefix = str(directory / WEIGHTS_NAME)
    return prefix


def resolve_checkpoint(source: str | os.PathLike, config: Optional[Config] = None
                       ) -> CheckpointSource:
    """Finds the checkpoint and its config for ``source``: a run directory (its latest
    ``ckpt-N``), a directory with a ``model`` checkpoint (``RUN/best``, an ``albert-fast import``
    output), or a checkpoint prefix (``RUN/ckpt-500``). ``config`` (when given) must agree with
    the recorded one on every ``model`` field."""
    path = Path(source)
    if not path.exists() and not Path(str(path) + ".index").is_file():
        raise FileNotFoundError(2, "no such run directory or checkpoint", str(path))
    if path.is_dir():
        prefix = checkpoint_prefix(path)
        if prefix is None:
            raise ModelError(f"{path}: no checkpoint in this directory (a run that has not saved "
                             "a checkpoint yet, or not a run directory)")
        run_dir = path
    else:
        if not Path(str(path) + ".index").is_file():
            raise ModelError(f"{path}: not a checkpoint (expected {path}.index)")
        prefix = str(path)
        run_dir = path.parent
    config_path = next((p / RUN_CONFIG for p in (run_dir, run_dir.parent)
                        if (p / RUN_CONFIG).is_file()), None)
    recorded = load_config(config_path) if config_path else None
    if recorded is None and config is None:
        raise ConfigError(f"{run_dir}: no {RUN_CONFIG} beside the checkpoint; give the config "
                          "it was trained with (--config)")
    if recorded is not None and config is not None:
        check_same_architecture(config.model, recorded.model, str(config.source),
                                str(config_path))
    cfg = recorded if recorded is not None else config
    assert cfg is not None
    return CheckpointSource(prefix, cfg, config_path, run_dir, _step_of(prefix))


def _step_of(prefix: str) -> Optional[int]:
    tail = prefix.rsplit("-", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def check_same_architecture(given: ModelConfig, recorded: ModelConfig, given_src: str,
                            recorded_src: str) -> None:
    """Raises ConfigError naming every ``model`` field on which two configs disagree."""
    diffs = [f"model.{k} = {v!r} in {given_src} but {recorded.model_dump()[k]!r} in "
             f"{recorded_src}" for k, v in given.model_dump().items()
             if recorded.model_dump()[k] != v]
    if diffs:
        raise ConfigError("the config disagrees with the checkpoint: " + "; ".join(diffs))


# --------------------------------------------------------------------------------------------
# Every weight in, every weight out

def load_model(source: str | os.PathLike, config: Optional[Config] = None
               ) -> tuple[Any, CheckpointSource]:
    """Builds our Keras model and restores the weights of one of our checkpoints into it."""
    quiet_tensorflow()
    from albert_fast.model import build_pretraining_model

    ckpt = resolve_checkpoint(source, config)
    model = build_pretraining_model(ckpt.config.model)
    restore_weights(model, ckpt.prefix, str(ckpt.config_path or "the config"))
    return model, ckpt


#: Lists of the model's trainable variables (in ``model.trainable_variables`` order) inside
#: our checkpoints. Keras 3 layers do not expose Dense kernels to ``tf.train.Checkpoint``'s
#: object graph under the model, so a checkpoint of ``model`` alone misses them; the
#: optimizer's variable list (training checkpoints) and an explicit ``weights`` list
#: (``best/``, import outputs) hold every weight.
_WEIGHT_LISTS = (("optimizer", "_trainable_variables"),
                 ("optimizer", "inner_optimizer", "_trainable_variables"),
                 ("weights",))


def _checkpoint_weight_keys(reader: Any) -> Optional[list[str]]:
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))

    def child(node: int, name: str) -> Optional[int]:
        return next((c.node_id for c in graph.nodes[node].children if c.local_name == name),
                    None)

    for path in _WEIGHT_LISTS:
        node: Optional[int] = 0
        for name in path:
            node = child(node, name) if node is not None else None
        if node is None:
            continue
        keys = []
        for i in range(len(graph.nodes[node].children)):
            item = child(node, str(i))
            attrs = graph.nodes[item].attributes if item is not None else []
            key = next((a.checkpoint_key for a in attrs if a.name == "VARIABLE_VALUE"), None)
            if key is None:
                break
            keys.append(key)
        else:
            return keys
    return None


def restore_weights(model: Any, prefix: str, config_src: str) -> None:
    """Restores every weight of our model from one of our checkpoints; ModelError when the
    checkpoint does not fit the architecture."""
    import tensorflow as tf

    from albert_fast.model import reference_name

    try:
        reader = tf.train.load_checkpoint(prefix)
        keys = _checkpoint_weight_keys(reader)
    except (tf.errors.OpError, ValueError) as err:
        raise ModelError(f"{prefix}: cannot read the checkpoint: {str(err).splitlines()[0]}"
                         ) from None
    variables = model.trainable_variables
    if keys is None:
        raise ModelError(f"{prefix}: the checkpoint has no list of the model's weights (not a "
                         "checkpoint of albert_fast's trainer or import)")
    if len(keys) != len(variables):
        raise ModelError(f"{prefix}: the checkpoint holds {len(keys)} weights but the model of "
                         f"{config_src} has {len(variables)}; it was trained with another "
                         "architecture")
    for key, var in zip(keys, variables):
        value = reader.get_tensor(key)
        if tuple(value.shape) != tuple(var.shape):
            raise ModelError(f"{prefix}: {reference_name(var.path)} has shape "
                             f"{tuple(value.shape)} in the checkpoint but {tuple(var.shape)} in "
                             f"the model of {config_src}; it was trained with another "
                             "architecture")
        var.assign(value)


def save_weights(model: Any, prefix: str | os.PathLike) -> None:
    """Writes a weights-only checkpoint that :func:`restore_weights` reads completely. A
    failed write (a full disk) removes its staging directory, leaves the weights written
    before as they were and is one line (OSError)."""
    import tensorflow as tf

    prefix = Path(prefix)
    try:
        tf.train.Checkpoint(model=model, weights=list(model.trainable_variables)).write(str(prefix))
    except (tf.errors.OpError, OSError) as err:
        shutil.rmtree(prefix.with_name(prefix.name + "_temp"), ignore_errors=True)
        raise _save_error(err, prefix.parent, f"the weights {prefix}", 0,
                          "the weights saved before are kept: {fix} and run again") from None


# --------------------------------------------------------------------------------------------
# Training checkpoints: one writer, saving without leftovers, resuming past damage

#: Held (``flock``) by the run writing into a run directory.
LOCK_FILE = ".lock"
#: Suffix of the files of a damaged checkpoint, set aside when a run resumes past it.
DAMAGED_SUFFIX = ".damaged"
# What TensorFlow stages a save in: ``PREFIX_temp/`` (sharded saves) and the state file's
# ``checkpoint.tmp<uuid hex>``; a run killed inside a save leaves them behind.
_TEMP_DIR = re.compile(rf"(?:{CHECKPOINT_NAME}-\d+|{WEIGHTS_NAME})_temp")
_STATE_TEMP = re.compile(r"checkpoint\.tmp[0-9a-f]{32}")


class RunDirLock:
    """Only one run writes into a run directory: an exclusive ``flock`` on ``RUN/.lock``,
    which names its holder. The kernel drops the lock when the holder dies, so a lock file a
    killed run left behind does not block. Where the filesystem has no locks, ``emit`` says
    so and the run goes on unlocked."""

    def __init__(self, run_dir: str | os.PathLike, what: str = "albert-fast pretrain",
                 emit: Optional[Callable[[str], None]] = None) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.what = what
        self.emit = emit
        self._fd: Optional[int] = None

    def __enter__(self) -> "RunDirLock":
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "pid unknown"
                os.close(fd)
                raise OSError(errno.EBUSY, f"another {self.what} ({holder}) is writing into this "
                              "run directory; wait for it to finish or give another output "
                              "directory", str(self.path.parent)) from None
            except OSError as err:  # e.g. ENOLCK: a filesystem without locks
                os.close(fd)
                if self.emit:
                    self.emit(f"note: {self.path.parent}: cannot lock the run directory "
                              f"({err.strerror}); make sure no other run writes into it")
                return self
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the previous holder removed the file between our open and lock
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def remove_stale_temporaries(directory: Path) -> None:
    """Removes the staging files of saves that did not finish (a killed run, a full disk):
    ``ckpt-N_temp/``, ``best/model_temp/``, ``checkpoint.tmp*``. Only while holding the
    directory's :class:`RunDirLock`: a running save stages in them too."""
    for parent in (directory, directory / BEST_DIR):
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            if entry.is_dir() and _TEMP_DIR.fullmatch(entry.name):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file() and _STATE_TEMP.fullmatch(entry.name):
                entry.unlink(missing_ok=True)


def save_checkpoint(manager: Any, step: int) -> str:
    """``manager.save`` at ``step``; when the save fails (a full disk, a write error) what it
    staged is removed, the earlier checkpoints stay as they were, and the error is one line
    naming the directory, the free space and the checkpoint to resume from."""
    import tensorflow as tf

    directory = Path(manager.directory)
    prefix = directory / f"{CHECKPOINT_NAME}-{step}"
    existed = set(_checkpoint_files(prefix))
    try:
        return manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as err:
        for path in set(_checkpoint_files(prefix)) - existed:
            path.unlink(missing_ok=True)
        remove_stale_temporaries(directory)
        previous = tf.train.latest_checkpoint(str(directory))
        size = sum(p.stat().st_size for p in _checkpoint_files(Path(previous))) if previous else 0
        raise _save_error(err, directory, f"checkpoint {prefix.name}", size, (
            f"the earlier checkpoints are intact: {{fix}} and run the same command again to "
            f"resume from {Path(previous).name}" if previous else
            "no earlier checkpoint to resume from")) from None


def _save_error(err: BaseException, directory: Path, what: str, size: int,
                after: str) -> OSError:
    """One line for a failed save: ``after`` says what the user can do (``{fix}``: make
    room, or fix the error)."""
    text = str(err)
    full = (getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
            or "No space left" in text or "Disk quota" in text)
    if full:
        free = shutil.disk_usage(directory).free
        needs = f"; it takes about {_megabytes(size)}" if size else ""
        return OSError(errno.ENOSPC, f"no space left on device while saving {what} "
                       f"({_megabytes(free)} free{needs}); {after.format(fix='make room')}",
                       str(directory))
    return OSError(getattr(err, "errno", None) or errno.EIO,
                   f"cannot save {what}: {_first_line(err)}; {after.format(fix='fix this')}",
                   str(directory))


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _checkpoint_files(prefix: Path) -> list[Path]:
    """The files of one checkpoint: ``PREFIX.index`` and ``PREFIX.data-*``."""
    return [p for p in prefix.parent.glob(glob.escape(prefix.name) + ".*")
            if p.name == prefix.name + ".index" or p.name.startswith(prefix.name + ".data-")]


def training_checkpoints(run_dir: Path) -> list[str]:
    """The run's ``ckpt-N`` prefixes that have an index, newest (highest step) first: those
    the state file lists and those on disk (a run killed between writing a checkpoint and
    recording it)."""
    import tensorflow as tf

    listed: list[str] = []
    with contextlib.suppress(tf.errors.OpError, ValueError):
        state = tf.train.get_checkpoint_state(str(run_dir))
        if state is not None:
            listed = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    found = {str(run_dir / Path(p).name) for p in listed}
    found.update(str(p)[: -len(".index")] for p in run_dir.glob(f"{CHECKPOINT_NAME}-*.index"))
    steps = {p: _step_of(p) for p in found if Path(p + ".index").is_file()}
    return sorted((p for p, s in steps.items() if s is not None), key=lambda p: -steps[p])


def restore_checkpoint(checkpoint: Any, run_dir: Path, emit: Callable[[str], None], *,
                       partial: bool = False, chief: bool = True) -> Optional[str]:
    """Restores the newest training checkpoint of ``run_dir`` that reads back completely
    (TensorFlow verifies every tensor's checksum) and returns it; None when there is none.
    Damaged newer ones are named in one warning; the chief sets their files aside
    (``*.damaged``) and records the restored one as the latest, so every later lookup agrees.
    No intact checkpoint at all is a ModelError. ``partial``: the checkpoint may hold objects
    this run does not restore (the input position, where it cannot be saved)."""
    import tensorflow as tf

    damaged: list[tuple[str, str]] = []
    candidates = training_checkpoints(run_dir)
    for prefix in candidates:
        try:
            status = checkpoint.restore(prefix)
        except (tf.errors.OpError, ValueError) as err:
            damaged.append((prefix, _first_line(err)))
            continue
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
        break
    else:
        if damaged:
            raise ModelError(
                f"{run_dir}: no intact checkpoint to resume from ("
                + "; ".join(f"{p}: {why}" for p, why in damaged)
                + "); move them out of the way to start over, or give another output directory")
        return None
    if damaged:
        names = ", ".join(p for p, _ in damaged)
        why = "; ".join(w for _, w in damaged)
        emit(f"warning: {names} {'is' if len(damaged) == 1 else 'are'} damaged ({why}); "
             f"resuming from {prefix}" + (f", the damaged files renamed to *{DAMAGED_SUFFIX}"
                                          if chief else ""))
        if chief:
            for bad, _ in damaged:
                for path in _checkpoint_files(Path(bad)):
                    os.replace(path, path.with_name(path.name + DAMAGED_SUFFIX))
            # The state file as CheckpointManager writes it (relative paths), without the
            # damaged ones; tf.compat.v1's public wrapper only adds a deprecation warning.
            from tensorflow.python.checkpoint.checkpoint_management import (
                update_checkpoint_state_internal)

            kept = [p for p in reversed(candidates) if p not in dict(damaged)]
            kept = kept[:kept.index(prefix) + 1]
            # Their timestamps too: CheckpointManager rotates only checkpoints that have one.
            state = None
            with contextlib.suppress(tf.errors.OpError, ValueError):
                state = tf.train.get_checkpoint_state(str(run_dir))
            stamps = {Path(p).name: t for p, t in zip(
                state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps)
                } if state is not None else {}
            now = time.time()
            update_checkpoint_state_internal(
                str(run_dir), prefix, all_model_checkpoint_paths=kept, save_relative_paths=True,
                all_model_checkpoint_timestamps=[stamps.get(Path(p).name, now) for p in kept],
                last_preserved_timestamp=state.last_preserved_timestamp if state else None)
    return prefix


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return re.sub(r"^\{\{[^}]*\}\}\s*", "", line).replace(" [Op:RestoreV2]", "").replace(
        " [Op:SaveV2]", "")
