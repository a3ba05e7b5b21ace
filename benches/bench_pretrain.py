"""Pretraining step throughput: albert_fast's Keras 3 ALBERT (TF backend, LAMB, the trainer's
loss) side by side with Hugging Face transformers' ALBERT on the same batch, in one process.

    python benches/bench_pretrain.py [--steps 5] [--threads 2] [--cases tiny512,base128]

The Hugging Face side is transformers' PyTorch ``AlbertForPreTraining`` (its MLM+SOP loss,
``torch.optim.AdamW``), run in a subprocess on the same batch (saved to .npz).
Each case reports steps/s, tokens/s (batch x seq / step time) and the ratio ours/HF. With a GPU
(``--mfu``) it also prints the model FLOPs utilisation of our step (6 x parameters-used x
tokens, plus attention) against the device's peak.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

CASES = {
    # name: (model overrides, batch, seq)
    "tiny512": (dict(vocab_size=30000, embedding_size=128, hidden_size=128, num_hidden_layers=4,
                     num_attention_heads=2, intermediate_size=512), 8, 512),
    "base128": (dict(), 8, 128),  # ALBERT-base v2
    "base512": (dict(), 8, 512),
}


def batch_for(cfg, batch: int, seq: int, preds: int = 20, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(5, cfg.vocab_size, size=(batch, seq)).astype("int32")
    positions = np.sort(np.stack([rng.choice(seq - 1, preds, replace=False) + 1
                                  for _ in range(batch)]), 1).astype("int32")
    return {
        "input_ids": ids, "input_mask": np.ones((batch, seq), "int32"),
        "segment_ids": (np.arange(seq)[None, :] >= seq // 2).astype("int32").repeat(batch, 0),
        "masked_lm_positions": positions,
        "masked_lm_ids": np.take_along_axis(ids, positions, 1),
        "masked_lm_weights": np.ones((batch, preds), "float32"),
        "next_sentence_labels": rng.integers(0, 2, size=(batch,)).astype("int32"),
    }


def time_steps(step, batch, steps: int) -> float:
    step(batch)  # trace + warm up
    step(batch)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(batch)
    float(loss)
    return (time.perf_counter() - start) / steps


def ours_step(cfg, precision: str = "fp32"):
    import keras
    import tensorflow as tf

    from albert_fast.model import build_pretraining_model
    from albert_fast.optimization import create_optimizer
    from albert_fast.losses import pretraining_losses

    keras.mixed_precision.set_global_policy(
        {"fp32": "float32", "bf16": "mixed_bfloat16"}[precision])
    model = build_pretraining_model(cfg)
    opt = create_optimizer("lamb", 1e-4, 1000, 10)

    @tf.function(jit_compile=False)
    def step(features):
        with tf.GradientTape() as tape:
            loss = pretraining_losses(model(features, training=True), features)["loss"]
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step, model


HF_TORCH_SCRIPT = r"""
import json, os, sys, time
os.environ["USE_TF"] = "0"
os.environ["USE_FLAX"] = "0"
os.environ["USE_TORCH"] = "1"
import numpy as np, torch, transformers
cfg, batch_path, steps, threads = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if threads:
    torch.set_num_threads(threads)
t = {k: torch.from_numpy(v) for k, v in np.load(batch_path).items()}
labels = torch.full(t["input_ids"].shape, -100, dtype=torch.long)
labels.scatter_(1, t["masked_lm_positions"].long(), t["masked_lm_ids"].long())
hf = transformers.AlbertForPreTraining(transformers.AlbertConfig(**cfg)).train()
opt = torch.optim.AdamW(hf.parameters(), lr=1e-4)
def step():
    out = hf(input_ids=t["input_ids"].long(), attention_mask=t["input_mask"].long(),
             token_type_ids=t["segment_ids"].long(), labels=labels,
             sentence_order_label=t["next_sentence_labels"].long())
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    return out.loss.item()
step(); step()
start = time.perf_counter()
for _ in range(steps):
    step()
print("SECONDS_PER_STEP", (time.perf_counter() - start) / steps)
"""


def hf_torch_seconds(cfg, features: dict, steps: int, threads: int) -> float:
    """transformers' PyTorch AlbertForPreTraining (its MLM+SOP loss, AdamW) on the same batch,
    in a subprocess: triton (shipped with torch) and TensorFlow abort when loaded together."""
    import json
    import subprocess
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "batch.npz")
        np.savez(path, **features)
        hf_cfg = {**cfg.model_dump(), "hidden_act": "gelu_new"}
        proc = subprocess.run(
            [sys.executable, "-c", HF_TORCH_SCRIPT, json.dumps(hf_cfg), path, str(steps),
             str(threads)], capture_output=True, text=True,
            env=dict(os.environ, CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", "")))
        if proc.returncode:
            raise RuntimeError(f"Hugging Face side failed:\n{proc.stderr[-2000:]}")
        return float(proc.stdout.split("SECONDS_PER_STEP", 1)[1])


def flops_per_token(cfg, seq: int) -> float:
    """Training FLOPs per token: 6 x (parameters applied per token, with every shared layer
    counted each time it runs) + attention scores/context (12 x layers x seq x hidden)."""
    h, i, e = cfg.hidden_size, cfg.intermediate_size, cfg.embedding_size
    per_layer = 4 * h * h + 2 * h * i
    applied = cfg.num_hidden_layers * per_layer + e * h
    return 6.0 * applied + 12.0 * cfg.num_hidden_layers * seq * h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: default)")
    ap.add_argument("--cases", default="tiny512,base128")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--no-hf", action="store_true", help="skip the Hugging Face side")
    ap.add_argument("--batch", type=int, help="override every case's batch size")
    ap.add_argument("--mfu-peak-tflops", type=float,
                    help="device peak TFLOP/s for the MFU column (e.g. 989 for H100 bf16)")
    args = ap.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from albert_fast.config import ModelConfig

    device = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    print(f"device {device[0].name}; TF {tf.__version__}; precision {args.precision}; "
          f"HF side: {'none' if args.no_hf else 'transformers PyTorch (CPU)'}")
    print(f"{'case':10} {'batch':>5} {'seq':>4} {'ours steps/s':>13} {'ours tok/s':>11} "
          f"{'HF steps/s':>11} {'HF tok/s':>10} {'ours/HF':>8}" +
          ("  MFU" if args.mfu_peak_tflops else ""))
    for name in args.cases.split(","):
        overrides, batch, seq = CASES[name]
        batch = args.batch or batch
        cfg = ModelConfig(**overrides)
        features = batch_for(cfg, batch, seq)
        step, _ = ours_step(cfg, args.precision)
        t_ours = time_steps(step, features, args.steps)
        t_hf = None
        if not args.no_hf:
            t_hf = hf_torch_seconds(cfg, features, args.steps, args.threads)
        toks = batch * seq
        line = (f"{name:10} {batch:5d} {seq:4d} {1 / t_ours:13.3f} {toks / t_ours:11.0f} ")
        line += (f"{1 / t_hf:11.3f} {toks / t_hf:10.0f} {t_hf / t_ours:8.2f}" if t_hf
                 else f"{'-':>11} {'-':>10} {'-':>8}")
        if args.mfu_peak_tflops:
            achieved = flops_per_token(cfg, seq) * toks / t_ours / 1e12
            line += f"  {achieved / args.mfu_peak_tflops:.1%} ({achieved:.1f} TFLOP/s)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
