"""Dynamic masking (Q16, ``pretraining.masked_lm_budget``): batches re-masked in tf.data from
``token_boundary``. Differential: the masks it draws have the distributions of create-data's
static masks (the Rust implementation, itself checked against the spec's oracle) on the same
instances, with and without reference_compat; plus the invariants every mask must keep, the
determinism of the stream, and a training run that uses it."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from data_fixtures import corpus_dir, spm_dir  # noqa: E402,F401 (fixtures)
from oracle import statistics  # noqa: E402

from albert_fast.config import Config, config_from_dict  # noqa: E402
from albert_fast.create_data import create_pretraining_data  # noqa: E402
from albert_fast.dataset import make_dataset  # noqa: E402
from albert_fast.dynamic_masking import DynamicMasking, mask_batch, restore_original_ids  # noqa: E402
from albert_fast.records import feature_spec  # noqa: E402

SEQ, PREDS, VOCAB = 128, 20, 4000
FLAGS = dict(max_seq_length=SEQ, max_predictions_per_seq=PREDS, dupe_factor=3, masked_lm_prob=0.15,
             ngram=3, do_whole_word_mask=True, favor_shorter_ngram=True)
SPECIALS = {0, 1, 2, 3, 4}


@pytest.fixture(scope="module", params=[False, True], ids=["fixed", "reference_compat"])
def static_data(request, corpus_dir, spm_dir, tmp_path_factory) -> tuple[bool, dict]:  # noqa: F811
    """create-data's instances of the bundled corpus as one batch of numpy arrays (int32)."""
    compat = request.param
    out = tmp_path_factory.mktemp(f"dyn-{compat}")
    create_pretraining_data([corpus_dir], spm_dir, out, threads=2, reference_compat=compat, **FLAGS)
    files = sorted(str(p) for p in out.glob("train-*.tfrecord"))
    ds = make_dataset(files, feature_spec(SEQ, PREDS, token_boundary=True), 100_000, False,
                      drop_remainder=False)
    return compat, {k: v.numpy() for k, v in next(iter(ds)).items()}


def _masking(compat: bool, **kw) -> DynamicMasking:
    settings = dict(rate=0.15, max_predictions_per_seq=PREDS, vocab_size=VOCAB, ngram=3,
                    favor_shorter_ngram=True, do_whole_word_mask=True, reference_compat=compat)
    settings.update(kw)
    return DynamicMasking(**settings)


def _rows(batch: dict):
    for i in range(batch["input_ids"].shape[0]):
        n = int(batch["input_mask"][i].sum())
        m = int(batch["masked_lm_weights"][i].sum())
        yield {"input_ids": batch["input_ids"][i, :n].tolist(),
               "token_boundary": batch["token_boundary"][i, :n].tolist(),
               "positions": batch["masked_lm_positions"][i, :m].tolist(),
               "labels": batch["masked_lm_ids"][i, :m].tolist(),
               "label": int(batch["next_sentence_labels"][i])}


def _stats(batch: dict) -> dict:
    return statistics(_rows(batch), mask_id=4, special_ids=SPECIALS, max_seq_length=SEQ)


def _remask(batch: dict, masking: DynamicMasking, seed: tuple[int, int]) -> dict:
    out = mask_batch({k: tf.constant(v) for k, v in batch.items()}, tf.constant(seed, tf.int64), masking)
    return {k: v.numpy() for k, v in out.items()}


# Same tolerances as create-data against the oracle (test_create_data_distributions.py).
TOLERANCES = {"masked_per_instance": ("rel", 0.03), "mask_share": ("abs", 0.02),
              "keep_share": ("abs", 0.015), "random_share": ("abs", 0.015),
              "span1": ("abs", 0.03), "span2": ("abs", 0.03), "span3": ("abs", 0.025)}


def test_dynamic_masks_have_create_data_distributions(static_data):
    compat, batch = static_data
    assert batch["input_ids"].shape[0] > 1000
    static = _stats(batch)
    draws = [_stats(_remask(batch, _masking(compat), (7, k))) for k in range(3)]
    dynamic = {key: float(np.mean([d[key] for d in draws])) for key in TOLERANCES}
    for key, (kind, tol) in TOLERANCES.items():
        diff = abs(dynamic[key] - static[key]) / (static[key] if kind == "rel" else 1.0)
        assert diff <= tol, f"{key}: dynamic {dynamic[key]:.4f} vs create-data {static[key]:.4f}"
    assert dynamic["span1"] > dynamic["span2"] > dynamic["span3"] > 0.05
    if not compat:  # Q13 fixed: a random replacement is an ordinary piece
        assert all(d["random_special_share"] == 0.0 for d in draws)


def test_longer_ngrams_when_not_favoring_shorter(static_data):
    compat, batch = static_data
    short = _stats(_remask(batch, _masking(compat), (1, 0)))
    long = _stats(_remask(batch, _masking(compat, favor_shorter_ngram=False), (1, 0)))
    assert long["span3"] > short["span3"] + 0.1 and long["span1"] < short["span1"] - 0.1


def _groups_of(tb: np.ndarray, ids: np.ndarray, n: int, compat: bool) -> list[list[int]]:
    """Whole-word groups as create-data forms them (spec §6), from token_boundary."""
    groups: list[list[int]] = []
    after_special = True
    for i in range(n):
        if ids[i] in (2, 3):
            after_special = True
            continue
        if not groups or tb[i] == 1 or (after_special and not compat):
            groups.append([i])
        else:
            groups[-1].append(i)
        after_special = False
    return groups


def test_every_mask_keeps_the_invariants(static_data):
    compat, batch = static_data
    original = restore_original_ids({k: tf.constant(v) for k, v in batch.items()}).numpy()
    assert not np.any(original == 4), "a stored [MASK] was not undone"
    # Restoring is exact: outside the stored predictions nothing changes.
    changed = original != batch["input_ids"]
    for i in range(len(original)):
        stored = set(batch["masked_lm_positions"][i][batch["masked_lm_weights"][i] > 0])
        assert set(np.flatnonzero(changed[i])) <= stored
    out = _remask(batch, _masking(compat), (3, 1))
    full = 0
    for i in range(len(original)):
        n = int(batch["input_mask"][i].sum())
        budget = min(PREDS, max(1, round(n * 0.15)))
        k = int(out["masked_lm_weights"][i].sum())
        pos = out["masked_lm_positions"][i, :k]
        assert 0 < k <= budget
        full += k == budget
        assert np.all(np.diff(pos) > 0) and pos.max() < n
        assert not np.isin(original[i, pos], [2, 3]).any()
        np.testing.assert_array_equal(out["masked_lm_ids"][i, :k], original[i, pos])
        assert np.all(out["masked_lm_positions"][i, k:] == 0) and np.all(out["masked_lm_ids"][i, k:] == 0)
        outside = np.setdiff1d(np.arange(SEQ), pos)
        np.testing.assert_array_equal(out["input_ids"][i, outside], original[i, outside])
        chosen = set(pos.tolist())
        for group in _groups_of(batch["token_boundary"][i], original[i], n, compat):
            hit = [p in chosen for p in group]
            assert all(hit) or not any(hit), (i, group, sorted(chosen))
    assert full / len(original) > 0.97  # the budget is filled unless no candidate fits
    for k in ("input_mask", "segment_ids", "token_boundary", "next_sentence_labels"):
        np.testing.assert_array_equal(out[k], batch[k])


def test_without_whole_word_masking_pieces_are_masked_alone(static_data):
    """do_whole_word_mask=false: every piece is its own candidate, so words get partly masked
    (never with whole-word masking, checked above)."""
    compat, batch = static_data
    out = _remask(batch, _masking(compat, do_whole_word_mask=False), (4, 0))
    original = restore_original_ids({k: tf.constant(v) for k, v in batch.items()}).numpy()
    partial = 0
    for i in range(len(original)):
        n = int(batch["input_mask"][i].sum())
        chosen = set(out["masked_lm_positions"][i, :int(out["masked_lm_weights"][i].sum())].tolist())
        for group in _groups_of(batch["token_boundary"][i], original[i], n, compat):
            hit = [p in chosen for p in group]
            partial += any(hit) and not all(hit)
    assert partial > 100, partial


def test_masks_are_a_function_of_the_seed(static_data):
    compat, batch = static_data
    small = {k: v[:64] for k, v in batch.items()}
    a, b = _remask(small, _masking(compat), (5, 2)), _remask(small, _masking(compat), (5, 2))
    c = _remask(small, _masking(compat), (5, 3))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["masked_lm_positions"], c["masked_lm_positions"])


def test_dataset_remasks_each_batch_deterministically(corpus_dir, spm_dir, tmp_path):  # noqa: F811
    """In make_dataset: a training pipeline re-masks the same instance differently on each pass
    over the data; two pipelines with the same seed give the same stream."""
    create_pretraining_data([corpus_dir], spm_dir, tmp_path, threads=1, **FLAGS)
    files = sorted(str(p) for p in tmp_path.glob("train-*.tfrecord"))
    spec = feature_spec(SEQ, PREDS, token_boundary=True)
    n = sum(1 for _ in tf.data.TFRecordDataset(files))

    def stream(seed: int, batches: int) -> list[dict]:
        ds = make_dataset(files, spec, 50, True, seed=seed, shuffle_buffer=1,
                          masking=_masking(False), deterministic=True)
        return [{k: v.numpy() for k, v in f.items()} for f in ds.take(batches)]

    epochs = 2 * n // 50 + 2
    first, again = stream(11, epochs), stream(11, epochs)
    for x, y in zip(first, again):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    # Every instance of the first pass appears again later with other masks.
    seen: dict[tuple, bytes] = {}
    differs = same = 0
    for f in first:
        for i in range(f["input_ids"].shape[0]):
            original = f["input_ids"][i].copy()
            k = int(f["masked_lm_weights"][i].sum())
            original[f["masked_lm_positions"][i, :k]] = f["masked_lm_ids"][i, :k]
            key = original.tobytes()
            mask = f["masked_lm_positions"][i].tobytes()
            if key in seen:
                differs += seen[key] != mask
                same += seen[key] == mask
            seen[key] = mask
    assert differs > 10 * max(same, 1), (differs, same)


def test_config_accepts_the_original_flag():
    """run_pretraining.py's --masked_lm_budget in a flat (tutorial) config turns it on."""
    cfg = config_from_dict({"masked_lm_budget": 0.15, "max_predictions_per_seq": 20,
                            "vocab_size": 3000, "ngram": 2})
    m = DynamicMasking.from_config(cfg)
    assert m == DynamicMasking(rate=0.15, max_predictions_per_seq=20, vocab_size=3000, ngram=2)
    assert DynamicMasking.from_config(Config()) is None
    with pytest.raises(Exception, match="masked_lm_budget"):
        config_from_dict({"pretraining": {"masked_lm_budget": 1.5}})
