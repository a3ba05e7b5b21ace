"""ALBERT's LAMB/AdamW and learning-rate schedule against a NumPy transcription of the
reference (lamb_optimizer.py / optimization.py of google-research/albert; spec §8)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from albert_fast.optimization import (  # noqa: E402
    AlbertAdamW, AlbertLamb, WarmupPolynomialDecay, create_optimizer)

NAMES = ["bert/encoder/dense/kernel", "bert/encoder/dense/bias",
         "bert/embeddings/LayerNorm/gamma", "cls/predictions/output_bias",
         "bert/embeddings/word_embeddings"]
SHAPES = [(6, 5), (5,), (5,), (7,), (9, 4)]
EXCLUDE = ("LayerNorm", "layer_norm", "bias")


def numpy_reference_steps(params, grads_per_step, lrs, lamb=True, wd=0.01, clip=1.0,
                          b1=0.9, b2=0.999, eps=1e-6):
    """The reference's update, written out in NumPy (float64)."""
    params = [p.astype(np.float64).copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for grads, lr in zip(grads_per_step, lrs):
        grads = [g.astype(np.float64) for g in grads]
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        if clip:
            grads = [g * clip / max(norm, clip) for g in grads]
        for i, (name, g) in enumerate(zip(NAMES, grads)):
            excluded = any(x in name for x in EXCLUDE)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            update = m[i] / (np.sqrt(v[i]) + eps)
            if not excluded:
                update = update + wd * params[i]
            ratio = 1.0
            if lamb and not excluded:
                w_norm, u_norm = np.linalg.norm(params[i]), np.linalg.norm(update)
                ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            params[i] = params[i] - lr * ratio * update
    return params


def _run_keras(opt_cls, params, grads_per_step, lr):
    variables = [keras.Variable(p, name=n.split("/")[-1]) for p, n in zip(params, NAMES)]
    # Paths carry the scope; set them the way the model's scoped variables have them.
    for var, name in zip(variables, NAMES):
        var._path = name
    opt = opt_cls(learning_rate=lr)
    for grads in grads_per_step:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    return [np.asarray(v.numpy()) for v in variables]


@pytest.mark.parametrize("lamb", [True, False], ids=["lamb", "adamw"])
def test_update_equals_numpy_reference(lamb):
    rng = np.random.default_rng(7)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    params[2] = np.ones(5, np.float32)  # LayerNorm gamma as initialised
    params[3] = np.zeros(7, np.float32)  # a zero bias: trust ratio would be 0 if not skipped
    # Large gradients in step 1 so global-norm clipping is active; small ones after.
    grads_per_step = [[rng.normal(scale=3.0 if t == 0 else 0.05, size=s).astype(np.float32)
                       for s in SHAPES] for t in range(4)]
    lr = 0.01
    got = _run_keras(AlbertLamb if lamb else AlbertAdamW, params, grads_per_step, lr)
    want = numpy_reference_steps(params, grads_per_step, [lr] * 4, lamb=lamb)
    for name, g, w, p0 in zip(NAMES, got, want, params):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6, err_msg=name)
        assert not np.allclose(g, p0), f"{name} did not move"


def test_differs_from_keras_lamb():
    """Guards the reason for the subclass: Keras' own Lamb bias-corrects and adapts every
    variable, which gives a different first step."""
    rng = np.random.default_rng(1)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(scale=0.1, size=s).astype(np.float32) for s in SHAPES]]
    ours = _run_keras(AlbertLamb, params, grads, 0.01)
    theirs = _run_keras(lambda learning_rate: keras.optimizers.Lamb(learning_rate=learning_rate,
                                                                    epsilon=1e-6),
                        params, grads, 0.01)
    assert any(not np.allclose(a, b, rtol=1e-4) for a, b in zip(ours, theirs))


def test_exclusions_by_name():
    opt = AlbertLamb()
    var = keras.Variable(np.ones(3, np.float32), name="gamma")
    for path, decayed in [("albert/bert/embeddings/LayerNorm/gamma", False),
                          ("albert/cls/predictions/output_bias", False),
                          ("albert/bert/pooler/dense/bias", False),
                          ("albert/bert/pooler/dense/kernel", True),
                          ("albert/bert/embeddings/word_embeddings", True)]:
        var._path = path
        assert opt.uses_weight_decay(var) is decayed, path
        assert opt.uses_layer_adaptation(var) is decayed, path
    assert not AlbertAdamW().uses_layer_adaptation(var)


def test_schedule_values():
    s = WarmupPolynomialDecay(1e-3, num_train_steps=1000, num_warmup_steps=100, poly_power=1.0)
    got = {step: float(s(step)) for step in (0, 1, 50, 99, 100, 500, 999, 1000, 1500)}
    want = {0: 0.0, 1: 1e-5, 50: 5e-4, 99: 9.9e-4, 100: 1e-3 * 0.9, 500: 5e-4,
            999: 1e-6, 1000: 0.0, 1500: 0.0}
    for step, value in want.items():
        assert got[step] == pytest.approx(value, rel=1e-4, abs=1e-12), step  # float32
    # poly_power 2 and a delayed warm-up start, as run_pretraining's start_warmup_step.
    s2 = WarmupPolynomialDecay(2.0, num_train_steps=100, num_warmup_steps=10, poly_power=2.0,
                               start_warmup_step=5)
    assert float(s2(5)) == pytest.approx(0.0)
    assert float(s2(10)) == pytest.approx(1.0)
    assert float(s2(15)) == pytest.approx(2.0 * (1 - 15 / 100) ** 2)
    # Gradient accumulation: the schedule counts optimizer updates, not micro-batches.
    s3 = WarmupPolynomialDecay(1.0, num_train_steps=10, num_warmup_steps=0, accumulation_steps=4)
    assert float(s3(8)) == pytest.approx(0.8) and float(s3(11)) == pytest.approx(0.8)


def test_create_optimizer_rejects_unknown():
    with pytest.raises(ValueError, match="sgd"):
        create_optimizer("sgd", 1e-3, 10, 1)
    assert isinstance(create_optimizer("lamb", 1e-3, 10, 1), AlbertLamb)
    assert isinstance(create_optimizer("adamw", 1e-3, 10, 1), AlbertAdamW)


def test_clipping_uses_the_norm_of_the_summed_embedding_gradients():
    """Q17: the token-type lookup's gradient is an IndexedSlices with one row per token
    (duplicate rows unsummed). The global norm the optimizer clips with must be that of the
    densified (summed) gradients; the reference's CPU/GPU path takes the norm of the unsummed
    rows, which understates it. AdamW with epsilon 1 makes the first update proportional to
    the clipped gradient, so the update shows the clip factor that was used."""
    import tensorflow as tf

    from albert_fast.config import ModelConfig
    from albert_fast.losses import pretraining_losses
    from albert_fast.model import build_pretraining_model

    batch, seq, preds = 8, 32, 5
    keras.utils.set_random_seed(3)
    model = build_pretraining_model(ModelConfig(
        vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=seq))
    rng = np.random.default_rng(3)
    # One instance, repeated: its token-type rows come back once per copy, unsummed.
    one = {
        "input_ids": rng.integers(5, 300, seq), "input_mask": np.ones(seq),
        "segment_ids": np.array([0] * (seq // 2) + [1] * (seq // 2)),
        "masked_lm_positions": rng.integers(1, seq, preds),
        "masked_lm_ids": rng.integers(5, 300, preds),
        "masked_lm_weights": np.ones(preds, np.float32), "next_sentence_labels": np.array(1)}
    features = {k: np.repeat(v[None], batch, axis=0) for k, v in one.items()}
    features = {k: tf.constant(v, tf.float32 if k == "masked_lm_weights" else tf.int32)
                for k, v in features.items()}
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = pretraining_losses(model(features, training=False), features)["loss"]
    grads = tape.gradient(loss, variables)
    # What our model produces: the token-type table's gradient, one unsummed row per token.
    sparse = {v.path: g for v, g in zip(variables, grads) if isinstance(g, tf.IndexedSlices)}
    assert list(sparse) == ["albert/bert/embeddings/token_type_embeddings"]
    assert sparse["albert/bert/embeddings/token_type_embeddings"].values.shape[0] == batch * seq
    dense = [tf.convert_to_tensor(g) for g in grads]
    true_norm = float(tf.linalg.global_norm(dense))
    unsummed_norm = float(tf.linalg.global_norm(grads))  # what the reference's CPU/GPU path clips with
    assert unsummed_norm < 0.98 * true_norm, (unsummed_norm, true_norm)  # 4.12 vs 4.32
    clip = 0.5 * unsummed_norm  # clipping active under either norm
    start = [v.numpy() for v in variables]

    def update(gradients, clip_norm):
        for var, value in zip(variables, start):
            var.assign(value)
        opt = AlbertAdamW(learning_rate=1.0, epsilon=1.0, weight_decay_rate=0.0,
                          clip_norm=clip_norm)
        opt.apply_gradients(zip(gradients, variables))
        return np.concatenate([(v.numpy() - s).ravel() for v, s in zip(variables, start)])

    ours = update(grads, clip)
    with_true_norm = update([g * (clip / true_norm) for g in dense], None)
    with_unsummed_norm = update([g * (clip / unsummed_norm) for g in dense], None)
    scale = np.linalg.norm(with_true_norm)
    assert np.linalg.norm(ours - with_true_norm) < 1e-4 * scale
    assert np.linalg.norm(with_unsummed_norm - with_true_norm) > 1e-2 * scale
