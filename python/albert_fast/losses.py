"""ALBERT's pretraining objective as ``run_pretraining.py`` computes it: the MLM and SOP losses
and the sums behind its evaluation metrics (one definition for training and evaluation)."""

from __future__ import annotations

from typing import Optional


def pretraining_losses(outputs: dict, features: dict) -> dict:
    """The reference's losses: MLM = Σ w·(−log p) / (Σ w + 1e-5) over the masked positions;
    SOP = mean cross-entropy; total = MLM + SOP (all float32). ``−log p`` of the label is
    TensorFlow's fused sparse cross-entropy: the reference's ``one_hot(labels) · log_softmax``
    without a ``[batch, predictions, vocab]`` one-hot (the same value within float rounding)."""
    import tensorflow as tf

    mlm_logits = tf.cast(outputs["mlm_logits"], tf.float32)
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=features["masked_lm_ids"], logits=mlm_logits)
    mlm_loss = tf.reduce_sum(weights * per_position) / (tf.reduce_sum(weights) + 1e-5)
    sop_logits = tf.cast(outputs["sop_logits"], tf.float32)
    sop_per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=features["next_sentence_labels"], logits=sop_logits)
    sop_loss = tf.reduce_mean(sop_per_example)
    return {"loss": mlm_loss + sop_loss, "masked_lm_loss": mlm_loss,
            "sentence_order_loss": sop_loss, "_mlm_per_position": per_position,
            "_sop_per_example": sop_per_example}


def metric_sums(outputs: dict, features: dict, losses: Optional[dict] = None) -> dict:
    """Sums from which the reference's eval metrics follow (weighted by masked_lm_weights):
    masked_lm_accuracy, masked_lm_loss, sentence_order_accuracy, sentence_order_loss; also the
    token counts behind the throughput figures (``tokens``: positions computed, padding
    included; ``real_tokens``: ``Σ input_mask``). ``losses``: :func:`pretraining_losses` of the
    same outputs when the caller has them already."""
    import tensorflow as tf

    if losses is None:
        losses = pretraining_losses(outputs, features)
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    # argmax of the logits = argmax of the log-probabilities (log_softmax is monotonic).
    mlm_pred = tf.argmax(outputs["mlm_logits"], axis=-1, output_type=tf.int32)
    mlm_correct = tf.cast(tf.equal(mlm_pred, features["masked_lm_ids"]), tf.float32)
    sop_pred = tf.argmax(outputs["sop_logits"], axis=-1, output_type=tf.int32)
    sop_correct = tf.cast(tf.equal(sop_pred, features["next_sentence_labels"]), tf.float32)
    return {
        "mlm_weight": tf.reduce_sum(weights),
        "mlm_correct": tf.reduce_sum(weights * mlm_correct),
        "mlm_loss": tf.reduce_sum(weights * losses["_mlm_per_position"]),
        "sop_count": tf.cast(tf.size(sop_correct), tf.float32),
        "sop_correct": tf.reduce_sum(sop_correct),
        "sop_loss": tf.reduce_sum(losses["_sop_per_example"]),
        "tokens": tf.cast(tf.size(features["input_mask"]), tf.float32),
        "real_tokens": tf.reduce_sum(tf.cast(features["input_mask"], tf.float32)),
    }


def metrics_from_sums(sums: dict) -> dict:
    w, n = max(float(sums["mlm_weight"]), 1e-12), max(float(sums["sop_count"]), 1e-12)
    return {
        "masked_lm_accuracy": float(sums["mlm_correct"]) / w,
        "masked_lm_loss": float(sums["mlm_loss"]) / w,
        "sentence_order_accuracy": float(sums["sop_correct"]) / n,
        "sentence_order_loss": float(sums["sop_loss"]) / n,
    }
