"""Builds a reproducible benchmark corpus of N MB from ../shared/corpora/literature.

The books are cut into paragraphs (blank-line blocks), paragraphs are grouped into documents of
1-20 paragraphs, the documents are shuffled with a fixed seed and repeated (reshuffled each round)
until the size is reached. Documents are separated by blank lines; the paragraphs keep their own
line structure (the realistic mix of hard-wrapped and one-paragraph-per-line text). The text
repeats: say so wherever a result built on it is reported.

    python benches/make_corpus.py --mb 40 --lang en,de   ->  benches/data/literature-en-de-40mb.txt
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
LITERATURE = Path(os.environ.get("ALBERT_FAST_LITERATURE", HERE.parent.parent / "shared" / "corpora" / "literature"))


def paragraphs(text: str) -> list[str]:
    out, block = [], []
    for line in text.split("\n"):
        if line.strip():
            block.append(line)
        elif block:
            out.append("\n".join(block))
            block = []
    if block:
        out.append("\n".join(block))
    return out


def paragraph_documents(text: str, rng: random.Random) -> list[str]:
    """A book -> documents of 1-20 paragraphs each, paragraphs keeping their own lines."""
    paras = paragraphs(text)
    docs = []
    i = 0
    while i < len(paras):
        n = rng.randint(1, 20)
        docs.append("\n".join(paras[i : i + n]))
        i += n
    return docs


def build(
    mb: float,
    langs: list[str],
    literature: Path = LITERATURE,
    seed: int = 12345,
    *,
    documents: Callable[[str, random.Random], list[str]] = paragraph_documents,
    name: str = "literature",
) -> Path:
    """Writes (once) and returns the corpus file ``data/NAME-LANGS-MBmb.txt`` of the books cut
    by ``documents``; the same arguments give the same bytes."""
    out = HERE / "data" / f"{name}-{'-'.join(langs)}-{mb:g}mb.txt"
    if out.exists():
        return out
    files = sorted(f for lang in langs for f in literature.glob(f"{lang}-*.txt"))
    if not files:
        raise SystemExit(f"no {langs} files in {literature}")
    rng = random.Random(seed)
    docs = [d for f in files for d in documents(f.read_text(encoding="utf-8"), rng)]
    return write_repeated(docs, out, mb, rng)


def write_repeated(docs: list[str], out: Path, mb: float, rng: random.Random) -> Path:
    """Writes ``docs`` (a blank line after each), reshuffled with ``rng`` every round, until
    ``mb`` MiB are written, atomically (temp file, then rename). Shared by the benches' corpora."""
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


def main(build_corpus=None, doc: str | None = None) -> None:
    """The command line of this script and of make_data_corpus.py (which passes its own build)."""
    ap = argparse.ArgumentParser(description=(doc or __doc__).split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=40)
    ap.add_argument("--lang", default="en,de")
    ap.add_argument("--literature", type=Path, default=LITERATURE)
    args = ap.parse_args()
    print((build_corpus or build)(args.mb, args.lang.split(","), args.literature))


if __name__ == "__main__":
    main()
