"""The Keras ALBERT model: parameter counts, reference names, Hugging Face parity (logits of
transformers' own ALBERT implementation with the same weights), and the JAX backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("USE_FLAX", "0")  # jaxlib + TF LLVM options clash in one process

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from albert_fast.config import ModelConfig  # noqa: E402
from albert_fast.model import (  # noqa: E402
    build_pretraining_model, count_backbone_parameters, count_parameters, group_of_layer,
    hf_parameter_map, reference_variable_map)

REPO = Path(__file__).resolve().parent.parent

PUBLISHED = {  # name: (hidden, layers, heads, intermediate, paper's parameter count in M)
    "base": (768, 12, 12, 3072, 12),
    "large": (1024, 24, 16, 4096, 18),
    "xlarge": (2048, 24, 16, 8192, 60),
    "xxlarge": (4096, 12, 64, 16384, 235),
}
# transformers' AlbertForPreTraining parameter counts for the published configs (the tied MLM
# decoder counted once), measured with transformers 4.57 TFAlbertForPreTraining minus its
# separate decoder bias (PyTorch ties that one to predictions.bias); test_hf_count_tiny checks
# the same relation on a small config at test time.
HF_PRETRAINING_COUNTS = {"base": 11_813_810, "large": 17_847_474, "xlarge": 59_021_490,
                         "xxlarge": 223_158_450}


def tiny(**overrides) -> ModelConfig:
    fields = dict(vocab_size=97, embedding_size=16, hidden_size=32, num_hidden_layers=4,
                  num_hidden_groups=2, inner_group_num=2, num_attention_heads=4,
                  intermediate_size=48, max_position_embeddings=40, type_vocab_size=2)
    fields.update(overrides)
    return ModelConfig(**fields)


def random_batch(config: ModelConfig, batch=3, seq=24, preds=5, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    lengths = [seq, seq - 7, 9][:batch]
    mask = np.array([[1] * n + [0] * (seq - n) for n in lengths], np.int32)
    ids = rng.integers(5, config.vocab_size, size=(batch, seq)).astype(np.int32) * mask
    segments = np.array([[0] * (n // 2) + [1] * (seq - n // 2) for n in lengths], np.int32) * mask
    positions = np.sort(np.stack([rng.choice(n, size=preds, replace=False) for n in lengths]), 1)
    return dict(input_ids=ids, input_mask=mask, segment_ids=segments,
                masked_lm_positions=positions.astype(np.int32))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
    h, layers, heads, inter, paper_m = PUBLISHED[name]
    cfg = ModelConfig(hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=inter)
    assert count_parameters(cfg) == HF_PRETRAINING_COUNTS[name]
    # The paper rounds; its xxlarge figure (235M) is ~5% above the released model's 223M
    # (the ALBERT README lists 223M), so compare within 6%.
    assert abs(count_backbone_parameters(cfg) / 1e6 - paper_m) / paper_m < 0.06


@pytest.mark.parametrize("overrides", [
    {}, {"num_hidden_groups": 1, "inner_group_num": 1}, {"num_hidden_groups": 4},
    {"embedding_size": 32}, {"inner_group_num": 3, "num_hidden_groups": 1}])
def test_closed_form_count_equals_built_model(overrides):
    cfg = tiny(**overrides)
    model = build_pretraining_model(cfg)
    assert sum(int(np.prod(v.shape)) for v in model.weights) == count_parameters(cfg)


def test_hf_count_tiny():
    pytest.importorskip("tf_keras")
    transformers = pytest.importorskip("transformers")
    cfg = tiny()
    hf = transformers.TFAlbertForPreTraining(transformers.AlbertConfig(**cfg.model_dump()))
    hf(hf.dummy_inputs)
    assert hf.count_params() - cfg.vocab_size == count_parameters(cfg)


def test_layer_to_group_mapping_matches_reference():
    assert [group_of_layer(i, 12, 1) for i in range(12)] == [0] * 12
    assert [group_of_layer(i, 4, 2) for i in range(4)] == [0, 0, 1, 1]
    assert [group_of_layer(i, 6, 4) for i in range(6)] == [0, 0, 1, 2, 2, 3]


def test_reference_names():
    names = set(reference_variable_map(build_pretraining_model(tiny())))
    for expected in [
        "bert/embeddings/word_embeddings", "bert/embeddings/token_type_embeddings",
        "bert/embeddings/position_embeddings", "bert/embeddings/LayerNorm/gamma",
        "bert/encoder/embedding_hidden_mapping_in/kernel",
        "bert/encoder/transformer/group_1/inner_group_1/attention_1/self/query/kernel",
        "bert/encoder/transformer/group_0/inner_group_0/attention_1/output/dense/bias",
        "bert/encoder/transformer/group_0/inner_group_0/LayerNorm/beta",
        "bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/dense/kernel",
        "bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/output/dense/kernel",
        "bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma",
        "bert/pooler/dense/kernel", "cls/predictions/transform/dense/kernel",
        "cls/predictions/transform/LayerNorm/gamma", "cls/predictions/output_bias",
        "cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias"]:
        assert expected in names, expected
    # The reference creates no projection when embedding_size == hidden_size.
    same = set(reference_variable_map(build_pretraining_model(tiny(embedding_size=32))))
    assert not any("embedding_hidden_mapping_in" in n for n in same)


@pytest.mark.parametrize("field,value", [("net_structure_type", 1), ("gap_size", 2),
                                         ("num_memory_blocks", 3), ("down_scale_factor", 2),
                                         ("hidden_act", "softplus2")])
def test_unsupported_config_values_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        build_pretraining_model(tiny(**{field: value}))


def test_heads_not_dividing_hidden_is_rejected():
    with pytest.raises(ValueError, match="num_attention_heads"):
        build_pretraining_model(tiny(num_attention_heads=5))


def test_dropout_only_in_training():
    cfg = tiny(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3)
    model = build_pretraining_model(cfg)
    batch = random_batch(cfg)
    a = model(batch, training=False)["mlm_logits"]
    b = model(batch, training=False)["mlm_logits"]
    c = model(batch, training=True)["mlm_logits"]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_padding_does_not_change_real_positions():
    """Masked (padding) keys get -10000 added, so appending padding leaves outputs unchanged."""
    cfg = tiny()
    model = build_pretraining_model(cfg)
    batch = random_batch(cfg, batch=1, seq=20, preds=4)
    padded = {k: np.pad(v, ((0, 0), (0, 8))) if k != "masked_lm_positions" else v
              for k, v in batch.items()}
    a = np.asarray(model(batch)["mlm_logits"])
    b = np.asarray(model(padded)["mlm_logits"])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


HF_ACT = {"gelu": "gelu_new", "gelu_exact": "gelu", "relu": "relu"}


@pytest.mark.parametrize("act", sorted(HF_ACT))
def test_logits_equal_hugging_face_albert(act):
    """Our weights loaded into transformers' (TF) AlbertForPreTraining give the same logits."""
    pytest.importorskip("tf_keras")
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_tf_pytorch_utils import (
        TransposeType, convert_tf_weight_name_to_pt_weight_name)

    cfg = tiny(hidden_act=act)
    model = build_pretraining_model(cfg)
    batch = random_batch(cfg)
    ours = model(batch)
    hf_cfg = transformers.AlbertConfig(**{**cfg.model_dump(), "hidden_act": HF_ACT[act]},
                                       layer_norm_eps=1e-12)
    hf = transformers.TFAlbertForPreTraining(hf_cfg)
    hf(hf.dummy_inputs)
    by_pt_name = hf_parameter_map(model)
    assigned = 0
    for weight in hf.weights:
        pt_name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name, start_prefix_to_remove=hf.name, tf_weight_shape=weight.shape)
        if pt_name == "predictions.decoder.bias":  # tied to predictions.bias in PyTorch
            pt_name = "predictions.bias"
        var, ours_transposed = by_pt_name[pt_name]
        value = np.asarray(var.numpy())
        value = value.T if ours_transposed else value  # -> the PyTorch layout
        value = value.T if transpose == TransposeType.SIMPLE else value  # -> HF TF layout
        weight.assign(value)
        assigned += 1
    assert assigned == len(hf.weights)
    out = hf(input_ids=batch["input_ids"], attention_mask=batch["input_mask"],
             token_type_ids=batch["segment_ids"], training=False)
    hf_mlm = np.take_along_axis(out.prediction_logits.numpy(),
                                batch["masked_lm_positions"][:, :, None], axis=1)
    np.testing.assert_allclose(np.asarray(ours["mlm_logits"]), hf_mlm, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(ours["sop_logits"]), out.sop_logits.numpy(),
                               rtol=1e-4, atol=1e-5)


JAX_SCRIPT = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
from albert_fast.config import ModelConfig
from albert_fast.model import build_pretraining_model
import keras
assert keras.backend.backend() == "jax"
work = sys.argv[1]
cfg = ModelConfig(**json.load(open(os.path.join(work, "config.json"))))
model = build_pretraining_model(cfg)
weights = np.load(os.path.join(work, "weights.npz"))
for v in model.weights:
    v.assign(weights[v.path])
batch = dict(np.load(os.path.join(work, "batch.npz")))
out = model(batch)
np.savez(os.path.join(work, "out.npz"), **{k: np.asarray(out[k]) for k in ("mlm_logits", "sop_logits")})
"""


def test_jax_backend_gives_same_outputs(tmp_path):
    pytest.importorskip("jax")
    cfg = tiny(hidden_act="gelu")
    model = build_pretraining_model(cfg)
    batch = random_batch(cfg)
    ours = model(batch)
    (tmp_path / "config.json").write_text(json.dumps(cfg.model_dump()))
    np.savez(tmp_path / "weights.npz", **{v.path: np.asarray(v.numpy()) for v in model.weights})
    np.savez(tmp_path / "batch.npz", **batch)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_allclose(out["mlm_logits"], np.asarray(ours["mlm_logits"]),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["sop_logits"], np.asarray(ours["sop_logits"]),
                               rtol=1e-4, atol=1e-5)


def test_model_only_checkpoint_holds_every_weight(tmp_path):
    """Warm start and the ``best`` export save the model alone: every variable (the shared
    encoder groups included) must be reachable through TensorFlow's object graph."""
    import tensorflow as tf

    cfg = tiny()
    a, b = build_pretraining_model(cfg), build_pretraining_model(cfg)
    tf.train.Checkpoint(model=a).write(str(tmp_path / "m"))
    tf.train.Checkpoint(model=b).read(str(tmp_path / "m")).assert_consumed()
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(va.numpy()), np.asarray(vb.numpy()))
