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
import json
import sys
from pathlib import Path

tok_dir = Path(sys.argv[1])
sentences = [
    "The quick brown fox jumps over the lazy dog.",
    "Tom Sawyer whitewashed the fence in 1876, didn't he?",
    "Es war einmal ein König, der hatte drei Töchter.",
    "Die Bäume flüsterten im Märchenwald (sagt man).",
]
try:
    from albert_fast.tokenizer import Tokenizer  # the Rust encoder, when present
    tok = Tokenizer(tok_dir)
    encode, pieces = tok.encode, tok.tokenize
    print(f"albert_fast.Tokenizer({tok_dir})")
except ImportError:
    # Fallback: the sentencepiece package, after the same text normalization the tokenizer was
    # trained with (recorded in tokenizer_config.json).
    import sentencepiece as spm
    from albert_fast import _core

    cfg = json.loads((tok_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    sp = spm.SentencePieceProcessor(model_file=str(tok_dir / cfg["model_file"]))

    def norm(text):
        return _core.normalize_text(text, lowercase=cfg["lowercase"],
                                    strip_accents=cfg["strip_accents"], replace_quotes=True)

    encode = lambda text: sp.encode(norm(text))
    pieces = lambda text: sp.encode(norm(text), out_type=str)
    print(f"sentencepiece on {tok_dir / cfg['model_file']}")
for s in sentences:
    print(f"\n  {s}\n    pieces: {' '.join(pieces(s))}\n    ids:    {encode(s)}")
PYEOF

echo
echo "== the whole pipeline from one config: raw text -> Hugging Face model (configs/demo.yaml)"
# Every stage through its Python API, skipping what is up to date (docs/run.md). Stages whose API
# this build lacks are named, and the run stops there.
if "$PY" -c "import albert_fast.corpus, albert_fast.data" 2>/dev/null; then
    "$PY" -m albert_fast run configs/demo.yaml
else
    echo "(skipped: this build has no prepare-corpus/create-data Python API yet;" \
         "see docs/run.md)"
fi
