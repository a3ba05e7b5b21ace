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
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "", zone=zone,
                                                                     project=project)
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
