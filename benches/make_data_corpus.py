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

import os
import random
import re
from pathlib import Path

import make_corpus  # benches/ is on sys.path: run as a script or imported

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
    return make_corpus.build(mb, langs, literature, seed, documents=documents, name="sentences")


def main() -> None:
    make_corpus.main(build, __doc__)


if __name__ == "__main__":
    main()
