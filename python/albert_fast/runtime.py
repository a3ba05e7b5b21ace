"""The TensorFlow runtime a run trains on: the ``tf.distribute`` strategy (one device, mirrored
GPUs, multi-worker, TPU), which worker is the chief, the Keras precision policy, and quiet
TensorFlow logging."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator, Optional

STRATEGIES = ("auto", "cpu", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def quiet_tensorflow() -> None:
    """Call before TensorFlow is imported: its C++ INFO/WARNING lines (oneDNN, CUDA probing)
    bury our output. A value the user set wins."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Keras' global dtype policy for ``fp32``/``bf16``/``fp16`` while the block runs."""
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(PRECISIONS[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def make_strategy(name: str = "auto", tpu: Optional[str] = None, *, zone: Optional[str] = None,
                  project: Optional[str] = None) -> Any:
    """``auto``: TPU when ``--tpu`` is given, multi-worker when ``TF_CONFIG`` names several
    tasks, mirrored over all GPUs when there are several, else the default single device.
    ``tpu`` (a name or grpc:// address; empty: the local TPU), ``zone`` and ``project`` find
    the TPU as run_pretraining.py's ``--tpu_name``/``--tpu_zone``/``--gcp_project`` do."""
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
        return _tpu_strategy(tpu, zone, project)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        # Without GPUs: every logical CPU device (tf.config.set_logical_device_configuration),
        # the path a multi-GPU machine runs, on a CPU.
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name in ("cpu", "one_device"):
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy("/gpu:0" if name == "one_device" and gpus
                                               else "/cpu:0")
    raise AssertionError(name)


def _tpu_strategy(tpu: Optional[str], zone: Optional[str] = None,
                  project: Optional[str] = None) -> Any:
    """``TPUStrategy`` on the named TPU (``local`` on a Cloud TPU VM; ``zone``/``project`` find
    it by name elsewhere); a :class:`ValueError`
    with one line saying what failed instead of TensorFlow's traceback when there is none."""
    import socket
    import urllib.error

    import tensorflow as tf

    what = f"--tpu {tpu!r}" if tpu else "--strategy tpu"
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "", zone=zone,
                                                                     project=project)
        master = resolver.master()
        if master.startswith("grpc://"):
            # A TPU node's address: connecting to a dead one blocks for minutes; probe it first.
            host, _, port = master[len("grpc://"):].rpartition(":")
            with socket.create_connection((host, int(port)), timeout=10):
                pass
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, OSError, urllib.error.URLError, tf.errors.OpError) as err:
        reason = str(getattr(err, "message", None) or err).strip().split(". ")[0].splitlines()
        raise ValueError(
            f"{what}: no TPU to train on ({reason[0] if reason else type(err).__name__}); on a "
            "Cloud TPU VM use --tpu local, elsewhere the TPU's name or grpc://HOST:PORT"
        ) from None


def input_pipelines(strategy: Any) -> tuple[int, int, int]:
    """``(pipelines, pipeline_id, local_replicas)``: how many input pipelines a strategy reads
    with (one per worker), which one this process is, and how many replicas it feeds."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy):  # one input pipeline per TPU host
        hosts = max(1, int(getattr(strategy.extended, "num_hosts", 1)))
        return hosts, 0, strategy.num_replicas_in_sync // hosts
    try:
        local = len(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy: one device
        local = 1
    pipelines = max(1, strategy.num_replicas_in_sync // local)
    resolver = getattr(strategy, "cluster_resolver", None)
    if pipelines == 1 or resolver is None or not getattr(resolver, "task_type", None):
        return pipelines, 0, local
    # MultiWorkerMirroredStrategy numbers the chief 0 and the workers after it.
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    index = 0 if resolver.task_type == "chief" else int(resolver.task_id) + int(has_chief)
    return pipelines, index, local


def uses_accelerator(strategy: Any) -> bool:
    """Whether the strategy computes on GPUs or TPUs (decides ``jit_compile: auto``)."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return True
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy runs on the first GPU when there is one
        return bool(tf.config.list_logical_devices("GPU"))
    return any("GPU" in d.upper() for d in devices)


def _tf_config_tasks() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    cluster = json.loads(raw).get("cluster", {})
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))


def is_chief(strategy: Any) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def task_id(strategy: Any) -> int:
    """This worker's index in a multi-worker cluster (0 elsewhere)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)
