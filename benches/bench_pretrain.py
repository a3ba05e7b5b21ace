"""Pretraining throughput on real text, side by side in one run: the same batches through
albert_fast's training step padded to max_seq_length and cut to their sequence bins, with and
without XLA, and through Hugging Face transformers' PyTorch ``AlbertForPreTraining``. The figure
to read is real (non-padding) tokens per second.

    python benches/bench_pretrain.py                            # CPU: small and base, fp32
    python benches/bench_pretrain.py --models small --quality-steps 300   # + held-out loss
    python benches/bench_pretrain.py --doc-kb 2 --models small  # documents of ~2 KB
    python benches/bench_pretrain.py --profile-layouts files,0,2,16  # length profiles only
    benches/gpu_bench.sh                                        # GPU: base, bf16, XLA, MFU

Data: technical prose (benches/make_tech_corpus.py, Debian documentation) and literature
(benches/make_data_corpus.py), 4 MB each, a 30000-piece tokenizer and create-data with the
tutorial's flags (configs/tutorial.yaml: max_seq_length 512, 20 predictions, short_seq_prob
0.2, dupe_factor 2), 2% of the documents held out. How long the instances are depends on what
a document is (create-data's instances end short at document ends): ``--doc-kb N`` builds the
data from the raw texts through prepare-corpus instead, every paragraph a document (0) or
paragraphs grouped into documents of about N KB; ``--profile-layouts`` prints each layout's
length profile (share shorter than 512, mean real length, the bound of bins).

The workload is ``--count`` batches of ``--batch`` instances drawn by the trainer's binned input
pipeline, as many from each bin as its share of the data says (at least one); the padded runs
take the same instances padded back to 512, so every row processes the same real tokens. Besides real tokens per second and per
CPU-second over the workload (read the CPU-second ratios on a shared machine), each row has the
real tokens per CPU-second over the data: each batch width's CPU-seconds per instance weighted
by its bin's share of the training set.

Each implementation runs in its own process (TensorFlow, JAX and PyTorch do not share one):
``ours-tf`` is the trainer's compiled training loop (``pretrain._compiled_train_loop``, LAMB,
the reference's loss), ``ours-jax`` the same Keras model and LAMB on Keras' JAX backend under
``jax.jit`` (where TensorFlow has no GPU build installed), ``hf`` transformers'
``AlbertForPreTraining`` (its own MLM+SOP loss, ``torch.optim.AdamW``). Each first runs one
batch of every shape (compilation), then times the workload once. MFU: model FLOPs of the
computed positions (6 x parameters applied per token + attention + the MLM head at the masked
positions) / step time / ``--peak-tflops``.

``--quality-steps N`` also trains the small model with the trainer itself (``pretrain()``) for N
steps padded, binned, and padded with a second seed (the noise), and reports the held-out MLM
loss after the same number of instances.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(HERE))

MODELS = {
    # name: model overrides over ALBERT-base v2 (configs/albert_base.yaml)
    "tiny": dict(vocab_size=30000, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                 num_attention_heads=2, intermediate_size=128),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                  intermediate_size=1024),
    "base": dict(),
}
DEFAULT_BINS = (128, 256, 384)
DATA = HERE / "data" / "bench-pretrain"
TOKEN_FEATURES = ("input_ids", "input_mask", "segment_ids")


# --------------------------------------------------------------------------------------------
# Data and workload (TensorFlow)

def bench_data(mb: float = 4.0, doc_kb: float | None = None) -> Path:
    """create-data output (train + eval shards) of technical prose + literature, made once.

    ``doc_kb`` None: the documents of the first bench (a technical document = one rendered
    file, a literature document = 1-20 paragraphs of a book; sentence per line by a regex).
    Otherwise the raw texts as they come (``make_tech_corpus.py --format raw``: paragraphs
    between blank lines; the en/de books of the shared corpus, whole) go through prepare-corpus
    (Punkt) with ``--target-document-kb doc_kb``: 0 keeps every paragraph a document (the
    reference's rule, a blank line ends a document, applied to text that has one between
    paragraphs), N > 0 groups paragraphs into documents of about N KB."""
    import make_data_corpus
    import make_tech_corpus

    from albert_fast.config import load_config
    from albert_fast.create_data import create_pretraining_data
    from albert_fast.prepare_corpus import prepare_corpus
    from albert_fast.train_tokenizer import train_tokenizer

    name = f"tech-lit-{mb:g}mb" if doc_kb is None else f"tech-lit-raw-{mb:g}mb-doc{doc_kb:g}kb"
    out = DATA / name
    if (out / "data" / "manifest.json").is_file():
        return out / "data"
    cfg = load_config(REPO / "configs" / "tutorial.yaml")
    if doc_kb is None:
        texts = [make_tech_corpus.build(mb, "sentences"), make_data_corpus.build(mb, ["en", "de"])]
    else:
        books = sorted(f for lang in ("en", "de")
                       for f in make_data_corpus.LITERATURE.glob(f"{lang}-*.txt"))
        prepare_corpus([make_tech_corpus.build(mb, "raw"), *books], out / "corpus", config=cfg,
                       target_document_kb=doc_kb)
        texts = [out / "corpus"]
    train_tokenizer(texts, out / "tok", config=cfg, progress=False)
    create_pretraining_data(texts, out / "tok" / "spiece.model", out / "data", config=cfg,
                            eval_fraction=0.02)
    return out / "data"


def length_profile(data: Path, bins: tuple = ()) -> str:
    """Share of training instances shorter than max_seq_length, their mean real length, and
    the speed-up bounds (linear cost in length) of removing all padding and of ``bins``."""
    import glob

    from albert_fast.dataset import bin_lengths, lengths_of

    manifest = json.loads((data / "manifest.json").read_text())
    max_len = manifest["config"]["max_seq_length"]
    hist = lengths_of(sorted(glob.glob(str(data / "train-*"))))
    n = sum(hist.values())
    mean = sum(length * c for length, c in hist.items()) / n
    short = sum(c for length, c in hist.items() if length < max_len) / n
    totals = manifest["totals"]
    text = (f"{totals['documents']} documents ({totals['single_sentence_documents']} of one "
            f"sentence), {n} training instances: {short:.1%} shorter than {max_len}, mean real "
            f"length {mean:.0f} ({mean / max_len:.1%}); no-padding bound {max_len / mean:.2f}x")
    for b in bins:
        lengths = bin_lengths(b, max_len)
        cut = sum(c * next(x for x in lengths if length <= x) for length, c in hist.items()) / n
        text += f"; bins {','.join(map(str, lengths[:-1]))} bound {max_len / cut:.2f}x"
    return text


def make_workload(data: Path, batch: int, count: int, bins: tuple, seed: int = 1) -> list:
    """``count`` batches of the binned input pipeline, as many per bin as its share says but
    at least one of every bin (so each bin's step cost is measured; ``data_weighted`` weighs
    them by the data's own shares)."""
    import glob

    from albert_fast.dataset import bin_lengths, count_bins, make_dataset
    from albert_fast.records import feature_spec

    files = sorted(glob.glob(str(data / "train-*")))
    flags = json.loads((data / "manifest.json").read_text())["config"]
    max_len, preds = flags["max_seq_length"], flags["max_predictions_per_seq"]
    found, _ = count_bins(files, bin_lengths(bins, max_len))
    quota = {b: max(1, round(count * s)) for b, s in zip(found.lengths, found.shares)}
    quota[max_len] = max(1, quota[max_len] + count - sum(quota.values()))
    ds = make_dataset(files, feature_spec(max_len, preds), batch, True, seed=seed, bins=found,
                      deterministic=True)
    taken: dict = {b: [] for b in found.lengths}
    for features in ds:
        length = int(features["input_ids"].shape[1])
        if len(taken[length]) < quota[length]:
            taken[length].append({k: v.numpy() for k, v in features.items()
                                  if k != "token_boundary"})
        if all(len(taken[b]) >= quota[b] for b in taken):
            break
    batches = [b for length in found.lengths for b in taken[length]]
    return batches, max_len, found


def bin_profile(data: Path, found) -> dict:
    """Per bin of ``found``: its share of the training instances and their mean real length."""
    import glob

    from albert_fast.dataset import lengths_of

    hist = lengths_of(sorted(glob.glob(str(data / "train-*"))))
    real = [0.0] * len(found.lengths)
    for length, n in hist.items():
        real[next(k for k, b in enumerate(found.lengths) if length <= b)] += length * n
    return {"bin_lengths": list(found.lengths), "bin_shares": found.shares,
            "bin_real_mean": [r / c for r, c in zip(real, found.counts)]}


def data_weighted(profile: dict, batches: list, cpu_seconds: list) -> float:
    """Real tokens per CPU-second over the data rather than over the workload: the measured
    CPU-seconds per instance of each batch width, weighted by the bins' shares of the data
    (a padded workload has one width: every bin costs a 512-step)."""
    per_width: dict = {}
    for b, cpu in zip(batches, cpu_seconds):
        per_width.setdefault(b["input_ids"].shape[1], []).append(cpu / b["input_ids"].shape[0])
    cost = {w: sum(v) / len(v) for w, v in per_width.items()}
    widths = (profile["bin_lengths"] if len(cost) > 1
              else [next(iter(cost))] * len(profile["bin_lengths"]))
    real = sum(s * r for s, r in zip(profile["bin_shares"], profile["bin_real_mean"]))
    spent = sum(s * cost[w] for s, w in zip(profile["bin_shares"], widths))
    return real / spent


def pad_to(batch: dict, length: int) -> dict:
    import numpy as np

    return {k: (np.pad(v, [(0, 0), (0, length - v.shape[1])]) if k in TOKEN_FEATURES else v)
            for k, v in batch.items()}


def save_workload(path: Path, batches: list, max_len: int) -> None:
    import numpy as np

    arrays = {f"{i}/{k}": v for i, b in enumerate(batches) for k, v in b.items()}
    arrays["max_seq_length"] = np.array(max_len)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def load_workload(path: Path) -> tuple[list, int]:
    import numpy as np

    z = np.load(path)
    batches: dict = {}
    for key in z.files:
        if "/" in key:
            i, name = key.split("/", 1)
            batches.setdefault(int(i), {})[name] = z[key]
    return [batches[i] for i in sorted(batches)], int(z["max_seq_length"])


# --------------------------------------------------------------------------------------------
# FLOPs

def train_flops(model: dict, batch: int, seq: int, preds: int) -> float:
    """Training FLOPs of one step (forward + backward = 3 x forward): 6 x parameters applied
    per token (every shared layer counted each time it runs) + attention scores and context
    (12 x layers x seq x hidden per token) + the MLM head at the ``preds`` masked positions."""
    from albert_fast.config import ModelConfig

    c = ModelConfig(**model)
    h, i, e, v = c.hidden_size, c.intermediate_size, c.embedding_size, c.vocab_size
    per_token = 6.0 * (c.num_hidden_layers * (4 * h * h + 2 * h * i) + e * h)
    per_token += 12.0 * c.num_hidden_layers * seq * h
    head = 6.0 * preds * (h * e + e * v)
    return batch * (seq * per_token + head)


# --------------------------------------------------------------------------------------------
# Workers: one process per implementation; each prints RESULT {"warmup_s", "seconds": [...]}

def _timed(run_one, batches: list) -> dict:
    """Runs one batch of each shape (compilation), then the whole workload, timing each step."""
    seen, start = set(), time.perf_counter()
    for b in batches:
        shape = b["input_ids"].shape
        if shape not in seen:
            seen.add(shape)
            run_one(b)
    warmup = time.perf_counter() - start
    seconds, cpu_seconds = [], []
    cpu = time.process_time()  # all threads of the process: steadier on a shared machine
    for b in batches:
        start, start_cpu = time.perf_counter(), time.process_time()
        run_one(b)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - start_cpu)
    return {"warmup_s": warmup, "seconds": seconds, "cpu_s": time.process_time() - cpu,
            "cpu_seconds": cpu_seconds}


def worker_tf(model: dict, batches: list, precision: str, jit: bool, device: str) -> dict:
    """The trainer's compiled loop (one step per call) on each batch."""
    import tensorflow as tf

    from albert_fast.config import Config
    from albert_fast.pretrain import _compiled_train_loop, _model_and_optimizer
    from albert_fast.runtime import precision_policy

    if device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    cfg = Config.model_validate({"model": model, "pretraining": {
        "num_train_steps": 1000, "num_warmup_steps": 10, "learning_rate": 1e-4}})
    strategy = tf.distribute.get_strategy()
    with precision_policy(precision):
        model_, optimizer = _model_and_optimizer(cfg, strategy, precision)
        loop = _compiled_train_loop(model_, optimizer, strategy, precision, jit)
        # Iterators over each batch (warm-up and timed pass), made before the clock starts.
        iterators = {id(b): [iter(tf.data.Dataset.from_tensors(b)) for _ in range(2)]
                     for b in batches}

        def one(batch: dict) -> None:
            float(loop(iterators[id(batch)].pop(), tf.constant(1))["loss"])

        return _timed(one, batches)


def worker_jax(model: dict, batches: list, precision: str, device: str) -> dict:
    """The same Keras model and LAMB on Keras' JAX backend, one jax.jit step per shape."""
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    from keras import ops

    from albert_fast.config import ModelConfig
    from albert_fast.model import build_pretraining_model
    from albert_fast.optimization import create_optimizer

    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
    keras.mixed_precision.set_global_policy(
        {"fp32": "float32", "bf16": "mixed_bfloat16"}[precision])
    net = build_pretraining_model(ModelConfig(**model))
    opt = create_optimizer("lamb", 1e-4, 1000, 10)
    opt.build(net.trainable_variables)

    def loss_fn(tv, ntv, batch):
        # The reference's loss (losses.pretraining_losses) in keras.ops.
        out, ntv = net.stateless_call(tv, ntv, batch, training=True)
        logp = ops.log_softmax(ops.cast(out["mlm_logits"], "float32"), axis=-1)
        picked = ops.take_along_axis(logp, ops.expand_dims(batch["masked_lm_ids"], -1), -1)
        w = ops.cast(batch["masked_lm_weights"], "float32")
        mlm = -ops.sum(w * picked[..., 0]) / (ops.sum(w) + 1e-5)
        slogp = ops.log_softmax(ops.cast(out["sop_logits"], "float32"), axis=-1)
        sop = -ops.mean(ops.take_along_axis(
            slogp, ops.expand_dims(batch["next_sentence_labels"], -1), -1))
        return mlm + sop, ntv

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def step(tv, ntv, ov, batch):
        (loss, ntv), grads = grad_fn(tv, ntv, batch)
        tv, ov = opt.stateless_apply(ov, grads, tv)
        return loss, tv, ntv, ov

    state = [[v.value for v in net.trainable_variables],
             [v.value for v in net.non_trainable_variables], [v.value for v in opt.variables]]

    def one(batch: dict) -> None:
        loss, *rest = step(*state, batch)
        state[:] = rest
        float(loss)

    return _timed(one, batches)


HF_WORKER = r"""
import json, os, sys
os.environ.update(USE_TF="0", USE_FLAX="0", USE_TORCH="1")
sys.path.insert(0, sys.argv[1])
import bench_pretrain as bp
import torch, transformers
args = json.loads(sys.argv[2])
batches, _ = bp.load_workload(args["workload"])
dev = torch.device("cuda" if args["device"] == "gpu" else "cpu")
if args["threads"]:
    torch.set_num_threads(args["threads"])
cfg = transformers.AlbertConfig(**{**args["model"], "hidden_act": "gelu_new"})
hf = transformers.AlbertForPreTraining._from_config(cfg, attn_implementation=args["attn"])
hf = hf.to(dev).train()
opt = torch.optim.AdamW(hf.parameters(), lr=1e-4)
bf16 = args["precision"] == "bf16"
def one(b):
    t = {k: torch.from_numpy(v).to(dev) for k, v in b.items()}
    # -100 (ignored) everywhere but the real masked positions; padding slots point at [CLS].
    labels = torch.full(t["input_ids"].shape, -100, dtype=torch.long, device=dev)
    ids = torch.where(t["masked_lm_weights"] > 0, t["masked_lm_ids"].long(), -100)
    labels.scatter_(1, t["masked_lm_positions"].long(), ids)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        out = hf(input_ids=t["input_ids"].long(), attention_mask=t["input_mask"].long(),
                 token_type_ids=t["segment_ids"].long(), labels=labels,
                 sentence_order_label=t["next_sentence_labels"].long())
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    opt.step()
    out.loss.item()
print("RESULT", json.dumps(bp._timed(one, batches)))
"""


def run_worker(impl: str, args: dict) -> dict:
    """Runs one implementation in its own process on the saved workload."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), TF_CPP_MIN_LOG_LEVEL="3")
    if args["device"] == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    if impl == "hf":
        cmd = [sys.executable, "-c", HF_WORKER, str(HERE), json.dumps(args)]
    else:
        cmd = [sys.executable, __file__, "--worker", impl, "--worker-args", json.dumps(args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode or "RESULT" not in proc.stdout:
        raise RuntimeError(f"{impl} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.split("RESULT", 1)[1])


def worker_main(impl: str, args: dict) -> None:
    batches, _ = load_workload(Path(args["workload"]))
    if impl.startswith("ours-tf"):
        result = worker_tf(args["model"], batches, args["precision"], args["jit"],
                           args["device"])
    else:
        result = worker_jax(args["model"], batches, args["precision"], args["device"])
    print("RESULT", json.dumps(result))


def tf_has_gpu() -> bool:
    code = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return proc.returncode == 0 and proc.stdout.strip() not in ("", "0")


# --------------------------------------------------------------------------------------------
# Quality: the trainer itself, padded vs binned, held-out loss after the same instances

def quality(data: Path, model: dict, steps: int, batch: int, bins: tuple) -> list[dict]:
    from albert_fast.config import Config
    from albert_fast.pretrain import pretrain

    rows = []
    for name, seq_bins, seed in (("padded", [], 1), ("bins", list(bins), 1),
                                 ("padded, seed 2", [], 2)):
        cfg = Config.model_validate({
            "model": model, "data": {"max_seq_length": 512, "max_predictions_per_seq": 20},
            "pretraining": dict(optimizer="lamb", learning_rate=5e-3, num_train_steps=steps,
                                num_warmup_steps=max(1, steps // 10), train_batch_size=batch,
                                eval_batch_size=32, max_eval_steps=100,
                                iterations_per_loop=max(1, steps // 10),
                                save_checkpoints_steps=steps, sequence_bins=seq_bins,
                                jit_compile="false", random_seed=seed)})
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            r = pretrain(cfg, str(data), Path(tmp) / "run", deterministic=True,
                         progress=lambda line: None)
            wall = time.perf_counter() - start
        later = r.history[1:] or r.history  # the first loop traces and fills buffers
        rows.append({"run": name, "steps": r.step, "instances": r.step * batch,
                     "eval_mlm_loss": r.eval["masked_lm_loss"],
                     "eval_mlm_acc": r.eval["masked_lm_accuracy"],
                     "real_tokens_per_s": sum(h["real_tokens_per_sec"] for h in later) / len(later),
                     "examples_per_s": sum(h["examples_per_sec"] for h in later) / len(later),
                     "wall_s": wall})
        print(json.dumps(rows[-1]), flush=True)
    return rows


# --------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="small,base", help=f"of {', '.join(MODELS)}")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--count", type=int, default=10, help="batches in the workload")
    ap.add_argument("--bins", default=",".join(map(str, DEFAULT_BINS)))
    ap.add_argument("--doc-kb", type=float, default=None,
                    help="data from the raw texts via prepare-corpus --target-document-kb N "
                    "(0: every paragraph a document); default: the first bench's documents")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--impls", default="ours-tf,ours-tf-xla,hf",
                    help="ours-tf, ours-tf-xla, ours-jax (XLA), hf, or 'ours' (ours-tf-xla when "
                    "TensorFlow sees a GPU, else ours-jax)")
    ap.add_argument("--hf-attn", default="eager", choices=["eager", "sdpa"])
    ap.add_argument("--threads", type=int, default=0, help="PyTorch threads (0: default)")
    ap.add_argument("--peak-tflops", type=float, help="device dense peak for MFU (H200 bf16: 989)")
    ap.add_argument("--workload", type=Path, help="a saved workload (.npz); default: build one")
    ap.add_argument("--save-workload", type=Path, help="build the workload, save it and stop")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds over every configuration; each reports its fastest")
    ap.add_argument("--quality-steps", type=int, default=0)
    ap.add_argument("--profile-layouts",
                    help="comma-separated layouts ('files' or a --doc-kb value): build each "
                    "data set, print its length profile and stop")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-args", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_main(args.worker, json.loads(args.worker_args))

    bins = tuple(int(b) for b in args.bins.split(",") if b)
    if args.profile_layouts:
        every_64 = tuple(range(64, 512, 64))
        for layout in args.profile_layouts.split(","):
            data = bench_data(doc_kb=None if layout == "files" else float(layout))
            print(f"{layout}: {length_profile(data, (bins, every_64))}", flush=True)
        return
    workload = args.workload
    if workload is None or args.save_workload:
        data = bench_data(doc_kb=args.doc_kb)
        print(f"data {data}: {length_profile(data)}", flush=True)
        batches, max_len, found = make_workload(data, args.batch, args.count, bins)
        workload = args.save_workload or Path(tempfile.mkdtemp()) / "workload.npz"
        save_workload(workload, batches, max_len)
        workload.with_suffix(".bins.json").write_text(json.dumps(bin_profile(data, found)))
        print(f"workload: {len(batches)} batches of {args.batch}; bins {list(found.lengths)} "
              f"shares {[round(s, 3) for s in found.shares]}; {found.mean_length():.0f} "
              f"positions per instance binned vs {max_len} padded (bins bound "
              f"{max_len / found.mean_length():.2f}x)", flush=True)
        if args.save_workload:
            print(f"saved {workload}")
            return
    batches, max_len = load_workload(workload)
    profile_path = workload.with_suffix(".bins.json")
    profile = json.loads(profile_path.read_text()) if profile_path.is_file() else None
    padded = [pad_to(b, max_len) for b in batches]
    padded_path = workload.with_name(workload.stem + "-padded.npz")
    save_workload(padded_path, padded, max_len)
    impls = [i for i in args.impls.split(",") if i]  # --impls '': the quality runs alone
    if "ours" in impls:
        impls[impls.index("ours")] = "ours-tf-xla" if tf_has_gpu() else "ours-jax"
    real = sum(float(b["input_mask"].sum()) for b in batches)
    n_ex = sum(b["input_ids"].shape[0] for b in batches)
    preds = batches[0]["masked_lm_ids"].shape[1]
    print(f"device {args.device}; precision {args.precision}; {n_ex} instances, "
          f"{real:.0f} real tokens ({real / (n_ex * max_len):.1%} of {max_len}-padded)",
          flush=True)
    header = (f"{'model':6} {'impl':12} {'layout':7} {'s/step':>8} {'ex/s':>7} {'tok/s':>8} "
              f"{'real tok/s':>10} {'x padded':>8} {'x HF':>6} {'real tok/CPU-s':>14} "
              f"{'x padded':>8} {'data-wtd tok/CPU-s':>18} {'x padded':>8} {'compile s':>9}"
              + ("  MFU" if args.peak_tflops else ""))
    rows = []
    for name in args.models.split(",") if impls else []:
        model = MODELS[name]
        # Rounds alternate every configuration; each keeps its fastest round (the machine
        # may be shared: interference only ever slows a round down).
        best: dict = {}
        for _ in range(args.repeat):
            for impl in impls:
                for layout, path in (("padded", padded_path), ("bins", workload)):
                    wargs = {"model": model, "workload": str(path),
                             "precision": args.precision, "jit": impl.endswith("xla"),
                             "device": args.device, "attn": args.hf_attn,
                             "threads": args.threads}
                    try:
                        res = run_worker(impl, wargs)
                    except RuntimeError as err:  # one side failing leaves the others' rows
                        print(f"{name} {impl} {layout}: {err}", flush=True)
                        continue
                    print(f"  round: {name} {impl} {layout} {sum(res['seconds']):.2f} s "
                          f"(compile {res['warmup_s']:.1f} s)", flush=True)
                    key = (impl, layout)
                    if key not in best or sum(res["seconds"]) < sum(best[key]["seconds"]):
                        best[key] = res
        print(header, flush=True)
        for (impl, layout), res in best.items():
            shapes = padded if layout == "padded" else batches
            total = sum(res["seconds"])
            tokens = sum(b["input_ids"].size for b in shapes)
            flops = sum(train_flops(model, b["input_ids"].shape[0], b["input_ids"].shape[1],
                                    preds) for b in shapes)
            row = {"model": name, "impl": impl, "layout": layout, "rounds": args.repeat,
                   "s_per_step": total / len(shapes), "examples_per_s": n_ex / total,
                   "tokens_per_s": tokens / total, "real_tokens_per_s": real / total,
                   "compile_s": res["warmup_s"], "tflops": flops / total / 1e12,
                   "real_tokens_per_cpu_s": real / res["cpu_s"] if res.get("cpu_s") else None,
                   "data_weighted_per_cpu_s": (data_weighted(profile, shapes, res["cpu_seconds"])
                                               if profile and res.get("cpu_seconds") else None)}
            rows.append(row)
        for row in rows:
            if row["model"] != name:
                continue
            same = {(r["impl"], r["layout"]): r["real_tokens_per_s"] for r in rows
                    if r["model"] == name}
            padded_rate = same.get((row["impl"], "padded"))
            row["x_padded"] = row["real_tokens_per_s"] / padded_rate if padded_rate else 0.0
            hf = same.get(("hf", row["layout"]))
            row["x_hf"] = row["real_tokens_per_s"] / hf if hf else None
            ref = next((r for r in rows if r["model"] == name and r["impl"] == row["impl"]
                        and r["layout"] == "padded"), None)
            for key in ("real_tokens_per_cpu_s", "data_weighted_per_cpu_s"):
                base = ref and ref[key]
                row["x_padded_" + key] = row[key] / base if base and row[key] else None
            line = (f"{name:6} {row['impl']:12} {row['layout']:7} {row['s_per_step']:8.3f} "
                    f"{row['examples_per_s']:7.1f} {row['tokens_per_s']:8.0f} "
                    f"{row['real_tokens_per_s']:10.0f} {row['x_padded']:8.2f} "
                    f"{row['x_hf'] or 0:6.2f} {row['real_tokens_per_cpu_s'] or 0:14.0f} "
                    f"{row['x_padded_real_tokens_per_cpu_s'] or 0:8.2f} "
                    f"{row['data_weighted_per_cpu_s'] or 0:18.0f} "
                    f"{row['x_padded_data_weighted_per_cpu_s'] or 0:8.2f} "
                    f"{row['compile_s']:9.1f}")
            if args.peak_tflops:
                line += f"  {row['tflops'] / args.peak_tflops:.1%} ({row['tflops']:.3g} TFLOP/s)"
            print(line, flush=True)
    if args.quality_steps:
        data = bench_data(doc_kb=args.doc_kb)
        for name in args.models.split(","):
            rows += [dict(r, model=name) for r in
                     quality(data, MODELS[name], args.quality_steps, args.batch, bins)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
