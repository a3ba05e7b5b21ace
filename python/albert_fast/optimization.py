"""ALBERT's LAMB and AdamW and its learning-rate schedule, as ``optimization.py`` and
``lamb_optimizer.py`` of google-research/albert compute them (docs/pretraining.md, "Optimizer").
Keras' own ``Lamb`` bias-corrects the moments, decays weights outside the trust ratio and applies
the trust ratio to every variable, so :class:`AlbertLamb` (and :class:`AlbertAdamW`, on
``Adam``) replace only ``update_step``. Gradients are clipped by global norm after the sum over
replicas, so N replicas take the step one device takes on the same global batch."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional, Sequence

import keras
from keras import ops

DEFAULT_EXCLUDE = ("LayerNorm", "layer_norm", "bias")
DEFAULT_WEIGHT_DECAY = 0.01
DEFAULT_CLIP_NORM = 1.0


def _matches(patterns: Sequence[str], name: str) -> bool:
    return any(re.search(p, name) for p in patterns)


class _AlbertUpdateMixin:
    """The reference's moment update, weight decay and (optional) trust ratio, plus clipping by
    global norm after the cross-replica sum."""

    _layer_adaptation = True

    def _init_albert(self, weight_decay_rate: float, exclude_from_weight_decay: Iterable[str],
                     exclude_from_layer_adaptation: Optional[Iterable[str]],
                     clip_norm: Optional[float]) -> None:
        self.weight_decay_rate = float(weight_decay_rate)
        self.exclude_from_weight_decay_patterns = tuple(exclude_from_weight_decay)
        # As in lamb_optimizer.py: without an explicit list, the weight-decay exclusions apply.
        self.exclude_from_layer_adaptation_patterns = tuple(
            exclude_from_layer_adaptation if exclude_from_layer_adaptation is not None
            else self.exclude_from_weight_decay_patterns)
        self.clip_norm = clip_norm

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        # Keras' Lamb and Adam both keep their moments in _momentums / _velocities.
        self._albert_update(gradient, variable, learning_rate, self._momentums,
                            self._velocities)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(_mixin_config(self))
        return config

    def uses_weight_decay(self, variable: Any) -> bool:
        """Whether the reference decays this variable (matched against its full path)."""
        return self.weight_decay_rate > 0 and not _matches(
            self.exclude_from_weight_decay_patterns, _variable_name(variable))

    def uses_layer_adaptation(self, variable: Any) -> bool:
        return self._layer_adaptation and not _matches(
            self.exclude_from_layer_adaptation_patterns, _variable_name(variable))

    def _albert_update(self, gradient: Any, variable: Any, learning_rate: Any,
                       momentums: list, velocities: list) -> None:
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = momentums[index], velocities[index]
        # On TF the update sees the backing tf.Variable (short name); the Keras variable it
        # was built with carries the full path the exclusion patterns are matched against.
        keras_variable = self._trainable_variables[index]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        update = m / (ops.sqrt(v) + self.epsilon)  # no bias correction, as the reference
        if self.uses_weight_decay(keras_variable):
            update = update + self.weight_decay_rate * variable
        if self.uses_layer_adaptation(keras_variable):
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            u_norm = ops.sqrt(ops.sum(ops.square(update)))
            ratio = ops.where(w_norm > 0, ops.where(u_norm > 0, w_norm / u_norm, 1.0), 1.0)
            update = ratio * update
        self.assign_sub(variable, lr * update)

    def _backend_update_step(self, grads: list, trainable_variables: list,
                             learning_rate: Any) -> None:
        # Keras clips before the TF backend sums the per-replica gradients; we sum first and
        # clip the sum, so N replicas take the step one device takes on the global batch.
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tvars = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
            # Embedding lookups give IndexedSlices, one row per token with duplicates unsummed;
            # densified (summed) first, the global norm below is the gradient's true one (Q17:
            # the reference's CPU/GPU path clips with the norm of the unsummed rows).
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                     for g in grads]
            pairs = self._all_reduce_sum_gradients(list(zip(grads, tvars)))
            grads = [g for g, _ in pairs]
            if self.clip_norm:
                grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)
            tf.__internal__.distribute.interim.maybe_merge_call(
                self._distributed_tf_update_step, self._distribution_strategy,
                list(zip(grads, tvars)), learning_rate)
            return
        if self.clip_norm:
            grads = _clip_by_global_norm(grads, self.clip_norm)
        super()._backend_update_step(grads, trainable_variables, learning_rate)


def _clip_by_global_norm(grads: list, clip_norm: float) -> list:
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
    scale = clip_norm / ops.maximum(norm, clip_norm)
    return [g * scale for g in grads]


def _variable_name(variable: Any) -> str:
    return getattr(variable, "path", None) or variable.name


class AlbertLamb(_AlbertUpdateMixin, keras.optimizers.Lamb):
    """LAMB as ``lamb_optimizer.py`` of ALBERT implements it: moments without bias correction,
    ``update = m / (sqrt(v) + eps) + weight_decay_rate * w`` (decay skipped for excluded
    names), trust ratio ``||w|| / ||update||`` (1 when either norm is 0, and skipped for the
    layer-adaptation exclusions), ``w -= lr * ratio * update``."""

    def __init__(self, learning_rate: Any = 0.00176, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-6,
                 weight_decay_rate: float = DEFAULT_WEIGHT_DECAY,
                 exclude_from_weight_decay: Iterable[str] = DEFAULT_EXCLUDE,
                 exclude_from_layer_adaptation: Optional[Iterable[str]] = None,
                 clip_norm: Optional[float] = DEFAULT_CLIP_NORM, name: str = "lamb",
                 **kwargs: Any) -> None:
        # Keras' own weight decay / clipping stay off: both happen in our update path.
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, name=name, **kwargs)
        self._init_albert(weight_decay_rate, exclude_from_weight_decay,
                          exclude_from_layer_adaptation, clip_norm)


class AlbertAdamW(_AlbertUpdateMixin, keras.optimizers.Adam):
    """``AdamWeightDecayOptimizer`` of ALBERT's ``optimization.py``: Adam moments without bias
    correction, ``w -= lr * (m / (sqrt(v) + eps) + weight_decay_rate * w)`` with the same
    exclusions, no trust ratio."""

    _layer_adaptation = False

    def __init__(self, learning_rate: Any = 0.00176, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-6,
                 weight_decay_rate: float = DEFAULT_WEIGHT_DECAY,
                 exclude_from_weight_decay: Iterable[str] = DEFAULT_EXCLUDE,
                 clip_norm: Optional[float] = DEFAULT_CLIP_NORM, name: str = "adamw",
                 **kwargs: Any) -> None:
        # Built on keras' Adam (not AdamW): its decoupled decay is replaced by the reference's
        # in-update decay, and AdamW insists on a float weight_decay of its own.
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, name=name, **kwargs)
        self._init_albert(weight_decay_rate, exclude_from_weight_decay, (), clip_norm)


def _mixin_config(opt: _AlbertUpdateMixin) -> dict:
    return {
        "weight_decay_rate": opt.weight_decay_rate,
        "exclude_from_weight_decay": list(opt.exclude_from_weight_decay_patterns),
        "clip_norm": opt.clip_norm,
    }


@keras.saving.register_keras_serializable(package="albert_fast")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The reference's schedule: ``lr * (1 - min(step, num_train_steps) / num_train_steps) **
    poly_power`` (polynomial decay to 0, on the global step), replaced while
    ``step - start_warmup_step < num_warmup_steps`` by the linear warm-up
    ``lr * (step - start_warmup_step) / num_warmup_steps`` (so step 0 has lr 0).

    ``step`` is the optimizer's iteration counter; with gradient accumulation over
    ``accumulation_steps`` micro-batches it is divided by that first, so the schedule counts
    optimizer updates.
    """

    def __init__(self, learning_rate: float, num_train_steps: int, num_warmup_steps: int = 0,
                 poly_power: float = 1.0, start_warmup_step: int = 0,
                 accumulation_steps: int = 1) -> None:
        self.learning_rate = float(learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)
        self.poly_power = float(poly_power)
        self.start_warmup_step = int(start_warmup_step)
        self.accumulation_steps = max(1, int(accumulation_steps))

    def __call__(self, step: Any) -> Any:
        step = ops.floor_divide(ops.cast(step, "int64"), self.accumulation_steps)
        step_f = ops.cast(step, "float32")
        done = ops.minimum(step_f, float(self.num_train_steps)) / float(self.num_train_steps)
        decayed = self.learning_rate * ops.power(1.0 - done, self.poly_power)
        if not self.num_warmup_steps:
            return decayed
        warm_step = ops.cast(step - self.start_warmup_step, "float32")
        warmup = self.learning_rate * warm_step / float(self.num_warmup_steps)
        return ops.where(warm_step < float(self.num_warmup_steps), warmup, decayed)

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps,
            "poly_power": self.poly_power,
            "start_warmup_step": self.start_warmup_step,
            "accumulation_steps": self.accumulation_steps,
        }


def create_optimizer(optimizer: str, learning_rate: float, num_train_steps: int,
                     num_warmup_steps: int, poly_power: float = 1.0,
                     start_warmup_step: int = 0, weight_decay_rate: float = DEFAULT_WEIGHT_DECAY,
                     clip_norm: Optional[float] = DEFAULT_CLIP_NORM,
                     gradient_accumulation_steps: int = 1,
                     beta_1: float = 0.9, beta_2: float = 0.999,
                     epsilon: float = 1e-6) -> keras.optimizers.Optimizer:
    """The optimizer ``run_pretraining.py`` builds for ``--optimizer lamb|adamw``, with the
    warm-up + polynomial-decay schedule."""
    schedule = WarmupPolynomialDecay(learning_rate, num_train_steps, num_warmup_steps,
                                     poly_power, start_warmup_step, gradient_accumulation_steps)
    extra: dict[str, Any] = {}
    if gradient_accumulation_steps > 1:
        extra["gradient_accumulation_steps"] = gradient_accumulation_steps
    kwargs = dict(learning_rate=schedule, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                  weight_decay_rate=weight_decay_rate, clip_norm=clip_norm, **extra)
    if optimizer == "lamb":
        return AlbertLamb(**kwargs)
    if optimizer == "adamw":
        return AlbertAdamW(**kwargs)
    raise ValueError(f"pretraining.optimizer: unknown optimizer {optimizer!r} (lamb or adamw)")
