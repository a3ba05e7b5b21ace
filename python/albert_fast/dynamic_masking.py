"""Dynamic masking: every training batch is masked afresh as it is read, from
``token_boundary`` -- the ``masked_lm_budget`` path of the original ``run_pretraining.py``,
which parses ``token_boundary`` for it but never masks anything (Q16). Batched TensorFlow ops
only (per-example loops cost ~100 small ops per example; this also runs in a TPU host's input
pipeline), stateless random ops seeded by (seed, input pipeline, batch index) so a run and its
resume mask alike (docs/pretraining.md, "Q16")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from albert_fast.tokenizer import ALBERT_SPECIAL_IDS, FIRST_ORDINARY_ID

CLS_ID, SEP_ID, MASK_ID = (ALBERT_SPECIAL_IDS[p] for p in ("[CLS]", "[SEP]", "[MASK]"))


@dataclass(frozen=True)
class DynamicMasking:
    """How batches are re-masked (from the config's ``pretraining.masked_lm_budget`` and the
    ``data`` section's masking settings)."""

    rate: float
    max_predictions_per_seq: int
    vocab_size: int
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    reference_compat: bool = False  # Q11 (n-grams may cross [SEP]) and Q13 (any replacement id)

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"masked_lm_budget must be in (0, 1), got {self.rate}")
        if self.ngram < 1 or self.max_predictions_per_seq < 1:
            raise ValueError("dynamic masking needs ngram >= 1 and max_predictions_per_seq >= 1")
        if self.vocab_size <= FIRST_ORDINARY_ID:
            raise ValueError(f"vocab_size {self.vocab_size} leaves no ordinary piece to draw")

    @classmethod
    def from_config(cls, config: Any) -> "DynamicMasking | None":
        """The masking a config asks for, or None for create-data's static masks."""
        rate = config.pretraining.masked_lm_budget
        if not rate:
            return None
        dc = config.data
        return cls(rate=rate, max_predictions_per_seq=dc.max_predictions_per_seq,
                   vocab_size=config.model.vocab_size, ngram=dc.ngram,
                   favor_shorter_ngram=dc.favor_shorter_ngram,
                   do_whole_word_mask=dc.do_whole_word_mask,
                   reference_compat=dc.reference_compat)

    def __call__(self, features: dict, seed: Any) -> dict:
        """Re-masks a parsed batch (int32 features of create-data's layout, ``token_boundary``
        included). ``seed``: int32/int64 tensor of shape [2] for the stateless random ops."""
        return mask_batch(features, seed, self)


def restore_original_ids(features: dict) -> Any:
    """``input_ids`` with the stored masks undone: each predicted position gets its
    ``masked_lm_ids`` label back (padding slots change nothing)."""
    import tensorflow as tf

    ids = features["input_ids"]
    positions = features["masked_lm_positions"]
    real = features["masked_lm_weights"] > 0
    current = tf.gather(ids, positions, batch_dims=1)
    updates = tf.where(real, features["masked_lm_ids"], current)
    batch = tf.shape(positions)[0]
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(positions))
    return tf.tensor_scatter_nd_update(ids, tf.stack([rows, positions], axis=-1), updates)


def _groups(ids: Any, input_mask: Any, token_boundary: Any, m: DynamicMasking) -> tuple:
    """Whole-word groups: (candidate mask [B,L], group index per piece [B,L] (G for
    non-candidates), group sizes [B,G], number of groups [B], groups in segment A [B])."""
    import tensorflow as tf

    length = tf.shape(ids)[1]
    special = (ids == CLS_ID) | (ids == SEP_ID)
    candidate = (input_mask > 0) & ~special
    if m.do_whole_word_mask:
        if m.reference_compat:  # Q11: a non-start piece after [SEP] joins A's last word
            opens = tf.cumsum(tf.cast(candidate, tf.int32), axis=1) == 1
        else:  # the first piece after [CLS]/[SEP] always opens a group
            opens = tf.pad(special[:, :-1], [[0, 0], [1, 0]], constant_values=True)
        start = candidate & ((token_boundary > 0) | opens)
    else:
        start = candidate
    n_groups = tf.reduce_sum(tf.cast(start, tf.int32), axis=1)
    group = tf.cumsum(tf.cast(start, tf.int32), axis=1) - 1
    group = tf.where(candidate, group, length)  # column G collects the non-candidates
    batch = tf.shape(ids)[0]
    flat = group + tf.range(batch)[:, None] * (length + 1)
    flat = tf.reshape(flat, [-1])
    sizes = tf.math.unsorted_segment_sum(tf.ones_like(flat), flat,
                                         batch * (length + 1))
    sizes = tf.reshape(sizes, [batch, length + 1])[:, :length]
    before_sep = tf.cumsum(tf.cast(ids == SEP_ID, tf.int32), axis=1) == 0
    segment_a = tf.reduce_sum(tf.cast(start & before_sep, tf.int32), axis=1)
    return candidate, group, sizes, n_groups, segment_a


def _ngram_logits(m: DynamicMasking) -> list[float]:
    import math

    weights = [1.0 / n for n in range(1, m.ngram + 1)]
    if not m.favor_shorter_ngram:
        weights.reverse()
    return [math.log(w) for w in weights]


def mask_batch(features: dict, seed: Any, m: DynamicMasking) -> dict:
    """Returns ``features`` with new ``input_ids`` and ``masked_lm_*`` (same shapes and dtypes),
    selected as create-data selects them (docs/create-data.md): pieces form whole-word groups
    at ``token_boundary``; candidate n-grams of 1..``ngram`` groups (p(n) ∝ 1/n with
    ``favor_shorter_ngram``) are visited in random order; each takes the longest n-gram up to
    its drawn n that still fits the budget ``min(max_predictions_per_seq, max(1,
    round(len(tokens) * masked_lm_budget)))`` and is skipped where it overlaps one already
    taken; every chosen piece becomes ``[MASK]`` (80%), stays (10%) or becomes a random
    ordinary piece (10%)."""
    import tensorflow as tf

    original = restore_original_ids(features)
    batch, length = tf.shape(original)[0], tf.shape(original)[1]
    candidate, group, group_sizes, n_groups, n_groups_a = _groups(
        original, features["input_mask"], features["token_boundary"], m)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)

    n_tokens = tf.reduce_sum(tf.cast(features["input_mask"] > 0, tf.float32), axis=1)
    budget = tf.minimum(m.max_predictions_per_seq,
                        tf.maximum(1, tf.cast(tf.round(n_tokens * m.rate), tf.int32)))

    g_index = tf.range(length)[None, :]
    # Candidates in random order: real groups first, each example shuffled on its own.
    keys = tf.random.stateless_uniform([batch, length], seeds[0])
    order = tf.argsort(tf.where(g_index < n_groups[:, None], keys, 2.0), axis=1)
    drawn_n = 1 + tf.cast(tf.random.stateless_categorical(
        tf.tile(tf.constant([_ngram_logits(m)]), [batch, 1]), length, seeds[1]), tf.int32)
    # An n-gram stops at the end of its segment (Q11 fixed) or of the sequence (compat).
    if m.reference_compat:
        limit = tf.broadcast_to(n_groups[:, None], [batch, length])
    else:
        limit = tf.where(g_index < n_groups_a[:, None], n_groups_a[:, None], n_groups[:, None])
    size_prefix = tf.pad(tf.cumsum(group_sizes, axis=1), [[0, 0], [1, 0]])  # [B, G+1]

    # Everything that does not depend on earlier picks, for all k at once: candidate k of
    # each row starts at group order[:, k]; its n-gram of n groups ends at stops[n-1][:, k]
    # and holds sizes[n-1][:, k] pieces.
    first = tf.gather(size_prefix, order, batch_dims=1)
    lim = tf.gather(limit, order, batch_dims=1)
    stops = [tf.minimum(order + n, lim) for n in range(1, m.ngram + 1)]
    sizes = [tf.gather(size_prefix, stop, batch_dims=1) - first for stop in stops]
    rows = tf.range(batch)

    def visit(k, covered, picked):
        g = order[:, k]
        end, size = g, tf.zeros_like(g)  # the longest n-gram up to the drawn n that fits
        for n in range(1, m.ngram + 1):
            fits = (n <= drawn_n[:, k]) & (picked + sizes[n - 1][:, k] <= budget)
            end = tf.where(fits, stops[n - 1][:, k], end)
            size = tf.where(fits, sizes[n - 1][:, k], size)
        # Per step only O(batch x ngram) work: the n-gram's own groups are read and written.
        cells = tf.stack([tf.stack([rows, g + n], axis=1) for n in range(m.ngram)], axis=1)
        inside = (g[:, None] + tf.range(m.ngram)[None, :]) < end[:, None]
        was = tf.gather_nd(covered, cells)
        take = (k < n_groups) & (picked < budget) & (end > g) & ~tf.reduce_any(was & inside, 1)
        now = was | (inside & take[:, None])
        covered = tf.tensor_scatter_nd_update(covered, tf.reshape(cells, [-1, 2]),
                                              tf.reshape(now, [-1]))
        return k + 1, covered, picked + tf.where(take, size, 0)

    def more(k, covered, picked):
        return (k < length) & tf.reduce_any((k < n_groups) & (picked < budget))

    _, covered, _ = tf.while_loop(more, visit, (
        tf.constant(0), tf.zeros([batch, length + m.ngram], tf.bool), tf.zeros([batch], tf.int32)))

    covered = tf.concat([covered[:, :length], tf.zeros([batch, 1], tf.bool)], axis=1)  # G: non-candidates
    chosen = tf.gather(covered, group, batch_dims=1) & candidate

    low = 0 if m.reference_compat else FIRST_ORDINARY_ID  # Q13: never a special symbol
    random_ids = tf.random.stateless_uniform([batch, length], seeds[2], low, m.vocab_size,
                                             dtype=tf.int32)
    to_mask = tf.random.stateless_uniform([batch, length], seeds[3]) < 0.8
    keep = tf.random.stateless_uniform([batch, length], seeds[4]) < 0.5
    replacement = tf.where(to_mask, MASK_ID, tf.where(keep, original, random_ids))
    input_ids = tf.where(chosen, tf.cast(replacement, original.dtype), original)

    slots = tf.shape(features["masked_lm_positions"])[1]
    positions = tf.argsort(tf.where(chosen, g_index, length + g_index), axis=1)
    positions = tf.pad(positions, [[0, 0], [0, tf.maximum(0, slots - length)]])[:, :slots]
    count = tf.reduce_sum(tf.cast(chosen, tf.int32), axis=1)
    real = tf.range(slots)[None, :] < count[:, None]
    positions = tf.where(real, positions, 0)
    out = dict(features)
    out["input_ids"] = input_ids
    out["masked_lm_positions"] = tf.cast(positions, features["masked_lm_positions"].dtype)
    out["masked_lm_ids"] = tf.where(real, tf.gather(original, positions, batch_dims=1), 0)
    out["masked_lm_weights"] = tf.cast(real, features["masked_lm_weights"].dtype)
    return out
