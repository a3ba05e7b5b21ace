#!/usr/bin/env bash
# The README's demo: the bundled corpus (examples/corpus: Twain in English, Grimm and Heinrich
# Mann in German) through every stage — prepare-corpus, train-tokenizer, create-data, pretrain
# (a tiny ALBERT on CPU), export-hf — driven by one config (configs/demo.yaml), ending with a
# fill-mask prediction through Hugging Face Transformers. Outputs go to demo_out/ (git-ignored).
# A second run skips every stage that is up to date (docs/run.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
PY=.venv/bin/python
RUN=demo_out/run

echo "== albert-fast run configs/demo.yaml"
"$PY" -m albert_fast run configs/demo.yaml

echo
echo "== the trained tokenizer on a few sentences (albert_fast.Tokenizer, Rust)"
"$PY" - "$RUN/tokenizer" <<'PYEOF'
import sys

from albert_fast import Tokenizer

tok = Tokenizer(sys.argv[1])  # spiece.model + the normalization in tokenizer_config.json
for s in [
    "Tom Sawyer whitewashed the fence in 1876, didn't he?",
    "Es war einmal ein König, der hatte drei Töchter.",
]:
    print(f"  {s}\n    pieces: {' '.join(tok.tokenize(s))}\n    ids:    {tok.encode(s)}")
PYEOF

echo
echo "== one pretraining instance, as the original create_pretraining_data.py logs it"
"$PY" -m albert_fast inspect "$RUN/data" -n 1
echo
echo "== dataset statistics"
"$PY" -m albert_fast inspect "$RUN/data" --stats
