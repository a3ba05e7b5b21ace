#!/usr/bin/env bash
# ALBERT-base at 512 on one GPU, bf16, XLA: the same batches padded to 512 and cut to their
# sequence bins, then Hugging Face PyTorch AlbertForPreTraining (bf16 autocast, SDPA) on them;
# prints s/step, examples/s, tokens/s, real tokens/s, the ratios and MFU against the card's
# dense bf16 peak (H200/H100 SXM: 989 TFLOP/s). benches/bench_pretrain.py does the work.
#
#   1. Here (TensorFlow installed), once: the workload, 20 batches of 32 from the bench corpus
#      with the issue's length profile (documents of ~2 KB; gpu-workload.bins.json beside it
#      holds the data's bin shares for the data-weighted column)
#        python benches/bench_pretrain.py --save-workload benches/data/gpu-workload.npz \
#            --doc-kb 2 --batch 32 --count 20
#   2. On the GPU machine, from the repository root:
#        benches/gpu_bench.sh
#
# Ours is the trainer's compiled step (ours-tf-xla) where TensorFlow sees the GPU, else the same
# Keras model and LAMB on Keras' JAX backend under jax.jit (ours-jax). A machine without the
# package's Python dependencies takes them as wheels in .whl/ (installed to /tmp/site): keras,
# optree, namex, pydantic, pydantic-core, annotated-types, typing-inspection, plus the built
# extension python/albert_fast/_core.abi3.so (abi3: any CPython >= 3.11).
#
# Settings (environment): WORKLOAD, MODELS (base), PRECISION (bf16), DEVICE (gpu),
# PEAK_TFLOPS (989), IMPLS (ours,hf), REPEAT (2), OUT (benches/out). A CPU smoke run:
#   DEVICE=cpu MODELS=tiny PEAK_TFLOPS=1 WORKLOAD=... benches/gpu_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
out=${OUT:-benches/out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
[ "${DEVICE:-gpu}" = gpu ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
exec "$py" benches/bench_pretrain.py \
    --workload "${WORKLOAD:-benches/data/gpu-workload.npz}" --models "${MODELS:-base}" \
    --device "${DEVICE:-gpu}" --precision "${PRECISION:-bf16}" --impls "${IMPLS:-ours,hf}" \
    --hf-attn sdpa --peak-tflops "${PEAK_TFLOPS:-989}" --repeat "${REPEAT:-2}" \
    --json "$out/gpu.json"
