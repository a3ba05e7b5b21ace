#!/usr/bin/env bash
# The README's demo: albert_fast's stages on the bundled corpus (examples/corpus: Twain in
# English, Grimm and Heinrich Mann in German). Outputs go to demo_out/ (git-ignored).
# Later stages (create-data, pretrain, export-hf) append their steps here.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
PY=.venv/bin/python
OUT=demo_out
mkdir -p "$OUT"

echo
echo "== train-tokenizer: SentencePiece unigram with ALBERT's specials (configs/tiny.yaml: 2000 pieces)"
"$PY" -m albert_fast train-tokenizer examples/corpus -o "$OUT/tokenizer" --config configs/tiny.yaml
echo "first pieces of $OUT/tokenizer/spiece.vocab:"
head -n 16 "$OUT/tokenizer/spiece.vocab" | cut -f1 | paste -sd' ' -

echo
echo "== encode a few sentences with the trained tokenizer"
"$PY" - "$OUT/tokenizer" <<'PYEOF'
import sys

from albert_fast import Tokenizer

# Reads spiece.model and the normalization recorded in tokenizer_config.json.
tok = Tokenizer(sys.argv[1])
print(tok)
for s in [
    "The quick brown fox jumps over the lazy dog.",
    "Tom Sawyer whitewashed the fence in 1876, didn't he?",
    "Es war einmal ein König, der hatte drei Töchter.",
    "Die Bäume flüsterten im Märchenwald (sagt man).",
]:
    print(f"\n  {s}\n    pieces: {' '.join(tok.tokenize(s))}\n    ids:    {tok.encode(s)}")
PYEOF

echo
echo "== create-data: masked-LM + sentence-order instances -> TFRecords (configs/tiny.yaml)"
# examples/corpus is raw text (hard-wrapped lines, blank lines between paragraphs): each
# paragraph becomes a document, each line a "sentence". prepare-corpus makes proper input.
"$PY" -m albert_fast create-data examples/corpus --tokenizer "$OUT/tokenizer" -o "$OUT/data" \
    --config configs/tiny.yaml --eval-fraction 0.05 --no-progress
"$PY" -m albert_fast inspect "$OUT"/data/train-00000-of-*.tfrecord -n 1
