"""Builds a reproducible N-MB corpus in create-data's input format from
../shared/corpora/literature: one sentence per line, a blank line between documents.

The books are cut into paragraphs, paragraphs into sentences (a regex split after . ! ? before a
capital: simple, deterministic, good enough for throughput work), paragraphs grouped into
documents of 1-20 paragraphs, the documents shuffled with a fixed seed and repeated (reshuffled
each round) until the size is reached. The text repeats: say so wherever a result built on it
is reported.

    python benches/make_data_corpus.py --mb 40 --lang en,de
        -> benches/data/sentences-en-de-40mb.txt
"""

from __future__ import annotations

import argparse
import os
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
LITERATURE = Path(os.environ.get("ALBERT_FAST_LITERATURE", HERE.parent.parent / "shared" / "corpora" / "literature"))
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201c\u201d\u00bb\u00ab]?\s+(?=[\"'\u201e\u00bb\u00ab(]?[A-Z\u00c4\u00d6\u00dc])")


def documents(text: str, rng: random.Random) -> list[str]:
    """A book -> documents (sentence per line) of 1-20 paragraphs each."""
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if p]
    docs = []
    i = 0
    while i < len(paras):
        n = rng.randint(1, 20)
        sentences = [s.strip() for p in paras[i:i + n] for s in _SENTENCE_END.split(p) if s.strip()]
        docs.append("\n".join(sentences))
        i += n
    return docs


def build(mb: float, langs: list[str], literature: Path = LITERATURE, seed: int = 12345) -> Path:
    """Writes (once) and returns the corpus; the same arguments give the same bytes."""
    out = HERE / "data" / f"sentences-{'-'.join(langs)}-{mb:g}mb.txt"
    if out.exists():
        return out
    files = sorted(f for lang in langs for f in literature.glob(f"{lang}-*.txt"))
    if not files:
        raise SystemExit(f"no {langs} files in {literature}")
    rng = random.Random(seed)
    docs = [d for f in files for d in documents(f.read_text(encoding="utf-8"), rng)]
    target = int(mb * 1024 * 1024)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    written = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        while written < target:
            rng.shuffle(docs)
            for d in docs:
                fh.write(d + "\n\n")
                written += len(d.encode("utf-8")) + 2
                if written >= target:
                    break
    tmp.replace(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=40)
    ap.add_argument("--lang", default="en,de")
    ap.add_argument("--literature", type=Path, default=LITERATURE)
    args = ap.parse_args()
    print(build(args.mb, args.lang.split(","), args.literature))


if __name__ == "__main__":
    main()
