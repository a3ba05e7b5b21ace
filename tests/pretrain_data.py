"""Small, realistic ALBERT pretraining TFRecords for the trainer's tests and benchmarks, made
from real text independently of albert_fast's own data pipeline: a SentencePiece model trained
here (the `sentencepiece` package), sentences split with a simple regex, ``[CLS] A [SEP] B
[SEP]`` pairs of *consecutive* sentence runs with 50% order swaps (SOP), ~15% masking with
80/10/10, written with TensorFlow's own ``tf.train.Example`` / ``TFRecordWriter`` in exactly
the feature layout of spec §7.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Sequence

CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z])")


def sentences_of(path: Path) -> list[str]:
    """The file's sentences in order (paragraph lines split at sentence ends)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = " ".join(line.split())
        if len(line) > 1:
            out.extend(s for s in _SENTENCE_END.split(line) if len(s.split()) >= 2)
    return out


def train_spm(texts: Sequence[Path], prefix: Path, vocab_size: int) -> Path:
    import sentencepiece as spm

    sentences = [s.lower() for p in texts for s in sentences_of(p)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=str(prefix), vocab_size=vocab_size,
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=[CLS, SEP, MASK],
        model_type="unigram", character_coverage=1.0, num_threads=1, minloglevel=2,
        input_sentence_size=0, shuffle_input_sentence=False)
    return prefix.with_suffix(".model")


def make_instances(sentences: list[list[int]], rng: random.Random, max_seq_length: int,
                   max_predictions: int, vocab_size: int, short_seq_prob: float = 0.0
                   ) -> list[dict]:
    """One pass over the sentences: chunks of consecutive sentences up to the length budget,
    split into A/B at a sentence boundary, swapped with probability 0.5 (label 1). With
    ``short_seq_prob`` a chunk's budget is, with that probability, a random shorter one (as
    create-data's short_seq_prob), so instances have many lengths."""
    max_budget = max_seq_length - 3
    budget = max_budget
    instances, chunk, length = [], [], 0
    for sent in sentences:
        chunk.append(sent[:budget])
        length += len(chunk[-1])
        if length < budget:
            continue
        if len(chunk) >= 2:
            a_end = rng.randint(1, len(chunk) - 1)
            a = [t for s in chunk[:a_end] for t in s]
            b = [t for s in chunk[a_end:] for t in s]
            label = 0
            if rng.random() < 0.5:
                a, b, label = b, a, 1
            while len(a) + len(b) > budget:  # trim the longer side from the back
                (a if len(a) > len(b) else b).pop()
            if a and b:
                instances.append(_mask(a, b, label, rng, max_seq_length, max_predictions,
                                       vocab_size))
        chunk, length = [], 0
        if short_seq_prob:
            budget = rng.randint(4, max_budget) if rng.random() < short_seq_prob else max_budget
    return instances


def _mask(a, b, label, rng, max_seq_length, max_predictions, vocab_size):
    cls_id, sep_id, mask_id = 2, 3, 4
    tokens = [cls_id] + a + [sep_id] + b + [sep_id]
    segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
    candidates = [i for i, t in enumerate(tokens) if t not in (cls_id, sep_id)]
    rng.shuffle(candidates)
    n = min(max_predictions, max(1, round(len(tokens) * 0.15)))
    positions = sorted(candidates[:n])
    labels = [tokens[p] for p in positions]
    for p in positions:
        r = rng.random()
        if r < 0.8:
            tokens[p] = mask_id
        elif r < 0.9:
            tokens[p] = rng.randint(5, vocab_size - 1)
    pad = max_seq_length - len(tokens)
    padp = max_predictions - len(positions)
    return {
        "input_ids": tokens + [0] * pad,
        "input_mask": [1] * len(tokens) + [0] * pad,
        "segment_ids": segments + [0] * pad,
        "token_boundary": [1] * len(tokens) + [0] * pad,
        "masked_lm_positions": positions + [0] * padp,
        "masked_lm_ids": labels + [0] * padp,
        "masked_lm_weights": [1.0] * len(positions) + [0.0] * padp,
        "next_sentence_labels": [label],
    }


def write_records(instances: list[dict], path: Path) -> None:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for inst in instances:
            feats = {}
            for name, values in inst.items():
                if name == "masked_lm_weights":
                    feats[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
                else:
                    feats[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=feats)).SerializeToString())


def build_dataset(out: Path, train_texts: Sequence[Path], eval_texts: Sequence[Path], *,
                  vocab_size: int = 2000, max_seq_length: int = 64, max_predictions: int = 10,
                  dupe_factor: int = 2, num_train_shards: int = 4, seed: int = 12345,
                  short_seq_prob: float = 0.0) -> Path:
    """Writes ``train-0000k-of-0000n.tfrecord``, ``eval-00000-of-00001.tfrecord``,
    ``manifest.json`` and ``spiece.model`` into ``out`` (the create-data layout)."""
    import sentencepiece as spm

    out.mkdir(parents=True, exist_ok=True)
    model = train_spm(train_texts, out / "spiece", vocab_size)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    rng = random.Random(seed)

    def encode(paths):
        return [ids for p in paths for ids in sp.encode([s.lower() for s in sentences_of(p)])
                if ids]

    train_sents, eval_sents = encode(train_texts), encode(eval_texts)
    train = [inst for _ in range(dupe_factor) for inst in
             make_instances(train_sents, rng, max_seq_length, max_predictions, vocab_size,
                            short_seq_prob)]
    rng.shuffle(train)
    for k in range(num_train_shards):
        write_records(train[k::num_train_shards],
                      out / f"train-{k:05d}-of-{num_train_shards:05d}.tfrecord")
    evals = make_instances(eval_sents, rng, max_seq_length, max_predictions, vocab_size,
                           short_seq_prob)
    write_records(evals, out / "eval-00000-of-00001.tfrecord")
    (out / "manifest.json").write_text(json.dumps({
        "data": {"max_seq_length": max_seq_length, "max_predictions_per_seq": max_predictions},
        "tokenizer": {"vocab_size": vocab_size},
        "num_train_instances": len(train), "num_eval_instances": len(evals),
        # create-data's per-file record counts (what the trainer's epoch fraction uses).
        "files": {"train": [{"file": f"train-{k:05d}-of-{num_train_shards:05d}.tfrecord",
                             "records": len(train[k::num_train_shards])}
                            for k in range(num_train_shards)],
                  "eval": [{"file": "eval-00000-of-00001.tfrecord", "records": len(evals)}]}},
        indent=2))
    return out


def tiny_config(data_dir: Path | None = None, **pretraining):
    """The tiny architecture the tests train (vocab 2000, E 32, H 64, 2 shared layers)."""
    from albert_fast.config import Config

    settings = dict(learning_rate=5e-3, num_train_steps=300, num_warmup_steps=30,
                    train_batch_size=32, eval_batch_size=64, max_eval_steps=20,
                    save_checkpoints_steps=100, keep_checkpoint_max=3, iterations_per_loop=50)
    settings.update(pretraining)
    if "num_warmup_steps" not in pretraining:  # the config refuses warm-up beyond the run
        settings["num_warmup_steps"] = min(30, settings["num_train_steps"] // 10)
    return Config.model_validate({
        "model": dict(vocab_size=2000, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                      num_attention_heads=2, intermediate_size=128, max_position_embeddings=64,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        "data": dict(max_seq_length=64, max_predictions_per_seq=10),
        "pretraining": settings,
    })

