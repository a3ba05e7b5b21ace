"""ALBERT's pretraining objective as ``run_pretraining.py`` computes it: the MLM and SOP losses
and the sums behind its evaluation metrics (one definition for training and evaluation)."""

from __future__ import annotations


def pretraining_losses(outputs: dict, features: dict) -> dict:
    """The reference's losses: MLM = Σ w·(−log p) / (Σ w + 1e-5) over the masked positions;
    SOP = mean cross-entropy; total = MLM + SOP (all float32)."""
    import tensorflow as tf

    mlm_log_probs = tf.nn.log_softmax(tf.cast(outputs["mlm_logits"], tf.float32), axis=-1)
    labels = features["masked_lm_ids"]
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    per_position = -tf.reduce_sum(tf.one_hot(labels, tf.shape(mlm_log_probs)[-1]) * mlm_log_probs,
                                  axis=-1)
    mlm_loss = tf.reduce_sum(weights * per_position) / (tf.reduce_sum(weights) + 1e-5)
    sop_log_probs = tf.nn.log_softmax(tf.cast(outputs["sop_logits"], tf.float32), axis=-1)
    sop_per_example = -tf.reduce_sum(
        tf.one_hot(features["next_sentence_labels"], 2) * sop_log_probs, axis=-1)
    sop_loss = tf.reduce_mean(sop_per_example)
    return {"loss": mlm_loss + sop_loss, "masked_lm_loss": mlm_loss,
            "sentence_order_loss": sop_loss, "_mlm_per_position": per_position,
            "_sop_per_example": sop_per_example, "_mlm_log_probs": mlm_log_probs,
            "_sop_log_probs": sop_log_probs}


def metric_sums(outputs: dict, features: dict) -> dict:
    """Sums from which the reference's eval metrics follow (weighted by masked_lm_weights):
    masked_lm_accuracy, masked_lm_loss, sentence_order_accuracy, sentence_order_loss."""
    import tensorflow as tf

    losses = pretraining_losses(outputs, features)
    weights = tf.cast(features["masked_lm_weights"], tf.float32)
    mlm_pred = tf.argmax(losses["_mlm_log_probs"], axis=-1, output_type=tf.int32)
    mlm_correct = tf.cast(tf.equal(mlm_pred, features["masked_lm_ids"]), tf.float32)
    sop_pred = tf.argmax(losses["_sop_log_probs"], axis=-1, output_type=tf.int32)
    sop_correct = tf.cast(tf.equal(sop_pred, features["next_sentence_labels"]), tf.float32)
    return {
        "mlm_weight": tf.reduce_sum(weights),
        "mlm_correct": tf.reduce_sum(weights * mlm_correct),
        "mlm_loss": tf.reduce_sum(weights * losses["_mlm_per_position"]),
        "sop_count": tf.cast(tf.size(sop_correct), tf.float32),
        "sop_correct": tf.reduce_sum(sop_correct),
        "sop_loss": tf.reduce_sum(losses["_sop_per_example"]),
    }


def metrics_from_sums(sums: dict) -> dict:
    w, n = max(float(sums["mlm_weight"]), 1e-12), max(float(sums["sop_count"]), 1e-12)
    return {
        "masked_lm_accuracy": float(sums["mlm_correct"]) / w,
        "masked_lm_loss": float(sums["mlm_loss"]) / w,
        "sentence_order_accuracy": float(sums["sop_correct"]) / n,
        "sentence_order_loss": float(sums["sop_loss"]) / n,
    }
